//! End to end on real podman: the lifecycle driver in the server, workspaces as containers,
//! images pulled from a local registry ([`cordium_testkit::lab`]).

use super::*;
use cordium_provisioner::podman::Podman;
use cordium_provisioner::runtime::Runtime;
use cordium_spec::Kind;
use cordium_testkit::{lab, run};
use std::process::Command;

/// A server running workspaces on podman, and a user of it.
pub(super) struct PodmanEnv {
    _data: Data,
    pub(super) server: Server,
    pub(super) user: Client,
    pub(super) token: String,
    pub(super) user_name: String,
}

/// The containers and volumes of the user's workspaces are removed when the test ends, passed
/// or failed: a persistent workspace keeps both by design (a stopped ephemeral one its
/// volumes), and podman's pool of locks (2,048) runs out after a few dozen runs of the suite on
/// one machine. Each test has a user of its own, and the Spaces of its workspaces end in
/// `.<user>`, so no other test's are touched.
impl Drop for PodmanEnv {
    fn drop(&mut self) {
        let suffix = format!(".{}", self.user_name);
        // `podman ps` names its objects `.Names`, `podman volume ls` `.Name`.
        let mine = |what: &[&str], name: &str, label: &str| -> Vec<String> {
            let format = format!("{{{{{name}}}}}\t{{{{index .Labels \"{label}\"}}}}");
            let Ok(listed) = lab()
                .podman()
                .args(what)
                .args(["--format", &format])
                .output()
            else {
                return Vec::new();
            };
            String::from_utf8_lossy(&listed.stdout)
                .lines()
                .filter_map(|line| line.split_once('\t'))
                .filter(|(_, space)| space.ends_with(&suffix))
                .map(|(name, _)| name.to_owned())
                .collect()
        };
        // Space Volumes carry their Space in a label of their own.
        for (list, name, label, remove) in [
            (
                &["ps", "-a"][..],
                ".Names",
                "cordium.space",
                &["rm", "-f", "-t", "0"][..],
            ),
            (
                &["volume", "ls"][..],
                ".Name",
                "cordium.space",
                &["volume", "rm", "-f"][..],
            ),
            (
                &["volume", "ls"][..],
                ".Name",
                "cordium.space-volume",
                &["volume", "rm", "-f"][..],
            ),
        ] {
            let names = mine(list, name, label);
            if !names.is_empty() {
                let _ = lab().podman().args(remove).args(&names).output();
            }
        }
    }
}

impl PodmanEnv {
    pub(super) async fn new(user: &str) -> Self {
        Self::with_driver(user, test_driver_options()).await
    }

    /// A server whose service `configure` changed first.
    pub(super) async fn configured(
        user: &str,
        configure: impl FnOnce(cordium_server::service::Api) -> cordium_server::service::Api,
    ) -> Self {
        Self::launch(user, test_driver_options(), configure).await
    }

    /// As [`PodmanEnv::new`], the driver running with `options`.
    pub(super) async fn with_driver(
        user: &str,
        options: cordium_server::driver::DriverOptions,
    ) -> Self {
        Self::launch(user, options, |api| api).await
    }

    /// As [`PodmanEnv::new`], the runtime labelling what it makes with the store's
    /// installation, as `cordium-server serve` does (other tests' runtimes label nothing, so
    /// no test's sweep can touch another's objects).
    pub(super) async fn labelled(user: &str) -> Self {
        let data = Data::new(Backend::Sqlite).await;
        let installation = cordium_server::store::Store::open(&data.raw_url())
            .await
            .expect("open the store")
            .installation()
            .to_owned();
        Self::launch_on(
            data,
            user,
            test_driver_options(),
            Some(installation),
            |api| api,
        )
        .await
    }

    /// A podman runtime of the lab labelling its objects with `installation`.
    pub(super) fn runtime(installation: Option<String>) -> Arc<dyn Runtime> {
        let mut options = lab().podman_options();
        options.installation = installation;
        Arc::new(Podman::new(options).expect("podman"))
    }

    async fn launch(
        user: &str,
        options: cordium_server::driver::DriverOptions,
        configure: impl FnOnce(cordium_server::service::Api) -> cordium_server::service::Api,
    ) -> Self {
        let data = Data::new(Backend::Sqlite).await;
        Self::launch_on(data, user, options, None, configure).await
    }

    async fn launch_on(
        data: Data,
        user: &str,
        options: cordium_server::driver::DriverOptions,
        installation: Option<String>,
        configure: impl FnOnce(cordium_server::service::Api) -> cordium_server::service::Api,
    ) -> Self {
        // Warnings and errors recorded, for the messages of tests whose wait ran out.
        crate::logged::record();
        let runtime = Self::runtime(installation);
        let driver = Some((runtime, options));
        let server = Server::start_driving(data.dir.path(), None, driver, configure).await;
        let token = server.user(user, false).await;
        Self {
            user: server.client(&token),
            _data: data,
            server,
            token,
            user_name: user.to_owned(),
        }
    }

    /// Creates Template `name` of `spec_json` in the user's default Space (made first, as
    /// a workspace's create makes it); returns the Space.
    pub(super) async fn default_template(
        &self,
        name: &str,
        spec_json: serde_json::Value,
    ) -> String {
        self.create(serde_json::json!({})).await;
        let space = format!("default.{}", self.user_name);
        ok(
            "CreateTemplate",
            self.user
                .clone()
                .create_template(template(&space, name, Some(spec_json)))
                .await,
        );
        space
    }

    pub(super) async fn create(&self, spec_json: serde_json::Value) -> String {
        self.create_from("", spec_json).await
    }

    /// Creates a workspace whose egress rules allow the host (podman's gateway), where the
    /// lab's git server and the agent test's sshd listen: `ALLOW_PUBLIC` does not reach it.
    pub(super) async fn create_reaching_host(&self, mut spec_json: serde_json::Value) -> String {
        spec_json["runtime"]["network"] = serde_json::json!({"egress": {"rules": [
            {"cidrs": [cordium_testkit::lab().gateway()], "action": "ALLOW"},
        ]}});
        self.create(spec_json).await
    }

    pub(super) async fn create_from(&self, template: &str, spec_json: serde_json::Value) -> String {
        let ws = ok(
            "CreateWorkspace",
            self.user
                .clone()
                .create_workspace(workspace("", template, Some(spec_json)))
                .await,
        );
        name_of(&ws.metadata)
    }

    /// WorkspaceLogs of `name` (followed: `follow`), as the environment's user.
    pub(super) async fn logs(
        &self,
        name: &str,
        follow: bool,
    ) -> tonic::Streaming<pb::WorkspaceLogChunk> {
        let request = pb::WorkspaceLogsRequest {
            name: name.into(),
            follow,
        };
        ok(
            "WorkspaceLogs",
            self.user.clone().workspace_logs(request).await,
        )
    }

    pub(super) async fn start(&self, name: &str) -> Vec<pb::WorkspaceStatus> {
        let mut events = self.watch(name).await;
        ok(
            "StartWorkspace",
            self.user
                .clone()
                .start_workspace(pb::StartWorkspaceRequest {
                    name: name.into(),
                    vars: Vec::new(),
                })
                .await,
        );
        until(&mut events, |s| {
            matches!(
                s.state(),
                pb::WorkspaceState::Running | pb::WorkspaceState::Stopped
            )
        })
        .await
    }

    /// Starts `name` and panics unless it reaches `RUNNING`.
    pub(super) async fn start_running(&self, name: &str) -> Vec<pb::WorkspaceStatus> {
        let seen = self.start(name).await;
        assert_running(&seen);
        seen
    }

    pub(super) async fn stop(&self, name: &str) -> Vec<pb::WorkspaceStatus> {
        let mut events = self.watch(name).await;
        ok(
            "StopWorkspace",
            self.user
                .clone()
                .stop_workspace(pb::StopWorkspaceRequest { name: name.into() })
                .await,
        );
        until(&mut events, |s| s.state() == pb::WorkspaceState::Stopped).await
    }

    pub(super) async fn watch(&self, name: &str) -> tonic::Streaming<pb::WorkspaceEvent> {
        ok(
            "WatchWorkspace",
            self.user
                .clone()
                .watch_workspace(pb::WatchWorkspaceRequest {
                    name: name.into(),
                    ..Default::default()
                })
                .await,
        )
    }

    /// Runs `script` in the workspace; returns (exit code, stdout).
    pub(super) async fn sh(&self, name: &str, script: &str) -> (i32, String) {
        let out = ok(
            "ExecWorkspace",
            self.user
                .clone()
                .exec_workspace(pb::ExecWorkspaceRequest {
                    name: name.into(),
                    command: vec!["sh".into(), "-c".into(), script.into()],
                    ..Default::default()
                })
                .await,
        );
        (
            out.exit_code,
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    pub(super) fn podman(&self) -> Command {
        lab().podman()
    }

    /// The podman container of workspace `name` (in the user's default Space).
    pub(super) fn container(&self, name: &str) -> String {
        cordium_provisioner::runtime::WorkspaceKey::new(format!("default.{}", self.user_name), name)
            .object_name()
    }
}

/// Statuses from `events` (the new side of each), up to and including the first that
/// satisfies `done`; panics after two minutes.
pub(super) async fn until(
    events: &mut tonic::Streaming<pb::WorkspaceEvent>,
    done: impl Fn(&pb::WorkspaceStatus) -> bool,
) -> Vec<pb::WorkspaceStatus> {
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(event) = next_within(events, left).await else {
            panic!(
                "no end state within two minutes; saw {:?}\nthe server's last warnings:\n{}",
                states(&seen),
                crate::logged::recent(20)
            );
        };
        let ws = match event.event {
            Some(pb::workspace_event::Event::Created(ws)) => ws,
            Some(pb::workspace_event::Event::Updated(u)) => u.new.unwrap_or_default(),
            _ => continue,
        };
        let status = ws.status.unwrap_or_default();
        let end = done(&status);
        seen.push(status);
        if end {
            return seen;
        }
    }
}

pub(super) fn states(seen: &[pb::WorkspaceStatus]) -> Vec<pb::WorkspaceState> {
    let mut states: Vec<pb::WorkspaceState> = seen.iter().map(|s| s.state()).collect();
    states.dedup();
    states
}

/// Panics with the failure unless the last status is `RUNNING`.
#[track_caller]
pub(super) fn assert_running(seen: &[pb::WorkspaceStatus]) {
    assert_eq!(
        last(seen).state(),
        pb::WorkspaceState::Running,
        "{:?}",
        last(seen).failure
    );
}

pub(super) fn last(seen: &[pb::WorkspaceStatus]) -> &pb::WorkspaceStatus {
    seen.last().expect("at least one status")
}

pub(super) fn task(name: &str, phase: &str, run: &str) -> serde_json::Value {
    serde_json::json!({"name": name, "type": phase, "run": run})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_persistent_workspace_keeps_its_volume_and_runs_on_create_once() {
    let env = PodmanEnv::new("persist").await;
    let name = env
        .create(serde_json::json!({
            "image": {"registry": {"url": lab().image}},
            "runtime": {"tasks": [
                task("mark", "ON_CREATE", "echo created >> /workspace/on-create.log"),
                task("boot", "POST_START", "echo started >> /workspace/post-start.log"),
                task("bye", "PRE_STOP", "echo stopped >> /workspace/pre-stop.log"),
            ]},
        }))
        .await;
    let seen = env.start(&name).await;
    assert_eq!(
        states(&seen),
        [
            pb::WorkspaceState::InitRequest,
            pb::WorkspaceState::Initializing,
            pb::WorkspaceState::PullingImage,
            pb::WorkspaceState::StartingRuntime,
            pb::WorkspaceState::Preparing,
            pb::WorkspaceState::Running,
        ]
    );
    assert_eq!(env.sh(&name, "echo kept > /workspace/kept").await.0, 0);

    let seen = env.stop(&name).await;
    assert!(
        states(&seen).contains(&pb::WorkspaceState::Stopping),
        "{:?}",
        states(&seen)
    );
    assert!(last(&seen).failure.is_none(), "{:?}", last(&seen).failure);
    let kept = env
        .podman()
        .args(["container", "exists", &env.container(&name)])
        .status()
        .expect("podman");
    assert!(kept.success(), "the container is kept on stop");

    let seen = env.start(&name).await;
    assert_eq!(last(&seen).state(), pb::WorkspaceState::Running);
    assert_eq!(last(&seen).successful_runs, 2);
    let (_, out) = env
        .sh(&name, "cat /workspace/kept /workspace/on-create.log /workspace/post-start.log /workspace/pre-stop.log")
        .await;
    assert_eq!(
        out, "kept\ncreated\nstarted\nstarted\nstopped\n",
        "ON_CREATE once, POST_START and PRE_STOP every run"
    );
    env.stop(&name).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ephemeral_workspace_starts_clean_and_runs_on_create_every_time() {
    let env = PodmanEnv::new("ephem").await;
    let name = env
        .create(serde_json::json!({
            "isEphemeral": true,
            "runtime": {"tasks": [task("mark", "ON_CREATE", "echo created >> /workspace/on-create.log")]},
        }))
        .await;
    env.start(&name).await;
    assert_eq!(env.sh(&name, "echo left > /workspace/left").await.0, 0);
    env.stop(&name).await;
    let seen = env.start(&name).await;
    assert_eq!(last(&seen).state(), pb::WorkspaceState::Running);
    let (code, out) = env
        .sh(
            &name,
            "cat /workspace/on-create.log; test -e /workspace/left",
        )
        .await;
    assert_eq!(out, "created\n", "a fresh volume, and ON_CREATE ran again");
    assert_ne!(code, 0, "the file from the first run is gone");
    env.stop(&name).await;
    let volume = format!("{}-workspace", env.container(&name));
    let exists = env
        .podman()
        .args(["volume", "exists", &volume])
        .status()
        .expect("podman");
    assert!(!exists.success(), "an ephemeral volume is deleted on stop");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_abort_task_is_a_task_failure_with_its_exit_code() {
    let env = PodmanEnv::new("abort").await;
    let name = env
        .create(serde_json::json!({
            "runtime": {"tasks": [
                {"name": "flaky", "type": "POST_START", "run": "exit 4"},
                {"name": "broken", "type": "POST_START", "run": "echo no; exit 3", "onFailure": "ON_FAILURE_ABORT"},
                {"name": "never", "type": "POST_START", "run": "touch /workspace/never"},
            ]},
        }))
        .await;
    let seen = env.start(&name).await;
    let end = last(&seen);
    assert_eq!(end.state(), pb::WorkspaceState::Stopped);
    let failure = end.failure.clone().expect("a failure");
    assert_eq!(
        failure.r#type,
        Some(pb::failure::Type::Task(pb::TaskFailure {
            name: "broken".into(),
            exit_code: 3
        })),
        "{}",
        failure.message
    );
    assert!(states(&seen).contains(&pb::WorkspaceState::Preparing));
    assert!(!states(&seen).contains(&pb::WorkspaceState::Running));
    assert_eq!(end.successful_runs, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_image_is_an_image_pull_failure() {
    let env = PodmanEnv::new("noimage").await;
    let missing = format!("{}/cordium-test/missing:1", lab().registry);
    let name = env
        .create(serde_json::json!({"image": {"registry": {"url": missing}}}))
        .await;
    let seen = env.start(&name).await;
    let end = last(&seen);
    assert_eq!(end.state(), pb::WorkspaceState::Stopped);
    let failure = end.failure.clone().expect("a failure");
    assert_eq!(
        failure.r#type,
        Some(pb::failure::Type::ImagePull(pb::Empty {})),
        "{}",
        failure.message
    );
    assert!(failure.message.contains("missing"), "{}", failure.message);
    assert!(states(&seen).contains(&pb::WorkspaceState::PullingImage));
}

#[tokio::test(flavor = "multi_thread")]
async fn secret_values_reach_the_container_and_nothing_else() {
    let env = PodmanEnv::new("secretive").await;
    let value = format!("s3cr3t-{}", random_suffix());
    let name = env
        .create(serde_json::json!({
            "runtime": {
                "envVars": [{"key": "API_KEY", "fromSecret": "api-key"}, {"key": "PLAIN", "value": "visible"}],
                "tasks": [task("use", "POST_START", "test -n \"$API_KEY\" && echo key is set")],
            },
        }))
        .await;
    ok(
        "CreateSecret",
        env.user
            .clone()
            .create_secret(secret("default.secretive", "api-key", &value))
            .await,
    );
    env.start_running(&name).await;
    let (_, out) = env.sh(&name, "echo \"$API_KEY\"; echo \"$PLAIN\"").await;
    assert_eq!(out, format!("{value}\nvisible\n"));

    let container = env.container(&name);
    let inspect = run(env.podman().args(["inspect", &container]), "podman inspect");
    assert!(
        inspect.contains("PLAIN=visible"),
        "literal variables are plain environment"
    );
    assert!(
        !inspect.contains(&value),
        "the secret value is in podman inspect"
    );
    // podman's secret store, a plain file on the host, keeps nothing past the container's
    // create.
    let secrets = run(
        env.podman().args(["secret", "ls", "--format", "{{.Name}}"]),
        "podman secret ls",
    );
    assert!(
        !secrets.lines().any(|s| s == format!("{container}-env")),
        "{secrets}"
    );
    let logs = run(env.podman().args(["logs", &container]), "podman logs");
    assert!(logs.contains("key is set"), "{logs}");
    assert!(!logs.contains(&value));
    let ps = run(Command::new("ps").args(["-eo", "args"]), "ps");
    assert!(
        !ps.contains(&value),
        "the secret value is on a command line"
    );

    let got = ok(
        "GetWorkspace",
        env.user.clone().get_workspace(r("", &name)).await,
    );
    assert!(!format!("{got:?}").contains(&value));
    let compiled = ok(
        "CompileWorkspace",
        env.user
            .clone()
            .compile_workspace(pb::CompileWorkspaceRequest {
                target: Some(pb::compile_workspace_request::Target::Name(name.clone())),
                ..Default::default()
            })
            .await,
    );
    assert!(!format!("{compiled:?}").contains(&value));
    let mut logs = env.logs(&name, false).await;
    let mut text = Vec::new();
    while let Some(chunk) = logs.message().await.expect("log stream") {
        text.extend(chunk.data);
    }
    assert!(contains_bytes(&text, b"key is set"));
    assert!(!contains_bytes(&text, value.as_bytes()));
    env.stop(&name).await;
}

/// A followed log ends like a watch once its credential is no longer valid (here: its token
/// is rotated), within a few re-check periods.
#[tokio::test(flavor = "multi_thread")]
async fn a_followed_log_ends_when_its_credential_does() {
    let env = PodmanEnv::new("tailer").await;
    let name = env.create(serde_json::json!({})).await;
    env.start(&name).await;
    let mut logs = env.logs(&name, true).await;
    // The token is rotated (not the user disabled, which would stop the run as well).
    revoke_token(&env, "tailer").await;
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match logs.message().await {
                Ok(Some(_)) => continue,
                Ok(None) => return None,
                Err(status) => return Some(status.code()),
            }
        }
    })
    .await
    .expect("the log ends within a few re-checks");
    assert_eq!(ended, Some(tonic::Code::Unauthenticated));
    restore_token(&env, "tailer").await;
    env.stop(&name).await;
}

/// Log reads count as sessions: past the user's cap the next is refused with the reason (each
/// is a `podman logs` process on the host; before, 150 followed logs of one user made 128),
/// and a log that ends gives its place back.
#[tokio::test(flavor = "multi_thread")]
async fn log_reads_count_against_the_users_session_cap() {
    let env = PodmanEnv::configured("logcap", |api| {
        api.with_stream_limits(cordium_server::service::StreamLimits {
            sessions_per_user: 1,
            ..Default::default()
        })
    })
    .await;
    let name = env.create(serde_json::json!({})).await;
    env.start(&name).await;
    let followed = env.logs(&name, true).await;
    let refused = env
        .user
        .clone()
        .workspace_logs(pb::WorkspaceLogsRequest {
            name: name.clone(),
            follow: false,
        })
        .await
        .expect_err("a second log read is refused");
    assert_eq!(
        refused.code(),
        tonic::Code::ResourceExhausted,
        "{refused:?}"
    );
    assert!(
        refused.message().contains("1 open sessions"),
        "{}",
        refused.message()
    );
    // The followed log's place comes back once it is dropped (noticed at its next chunk or
    // credential check, within a few seconds).
    drop(followed);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let again = env
            .user
            .clone()
            .workspace_logs(pb::WorkspaceLogsRequest {
                name: name.clone(),
                follow: false,
            })
            .await;
        match again {
            Ok(_) => break,
            Err(status) if Instant::now() < deadline => {
                assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(status) => panic!("the place was not given back: {status:?}"),
        }
    }
    env.stop(&name).await;
}

/// Rotates `user`'s API token to one nobody holds, as `cordium-server user token` does:
/// everything opened with the old one must end, while the user and their runs stay.
pub(super) async fn revoke_token(env: &PodmanEnv, user: &str) {
    let unheld = cordium_server::crypto::hash_token("cdm_revoked_for_this_test");
    env.server
        .store
        .rotate_token(user, &unheld)
        .await
        .expect("rotate the token");
}

/// Gives `user` back the token the test's clients hold.
pub(super) async fn restore_token(env: &PodmanEnv, user: &str) {
    let held = cordium_server::crypto::hash_token(&env.token);
    env.server
        .store
        .rotate_token(user, &held)
        .await
        .expect("restore the token");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_session_credential_acts_for_its_workspace_until_the_run_stops() {
    let env = PodmanEnv::new("session").await;
    let name = env.create(serde_json::json!({})).await;
    env.start(&name).await;
    let (_, token) = env.sh(&name, "printf %s \"$CORDIUM_SESSION_TOKEN\"").await;
    assert!(token.starts_with("cds_"), "{token:?}");
    assert_ne!(token, env.token);

    let session = env.server.client(&token);
    let compile = |n: &str| pb::CompileWorkspaceRequest {
        target: Some(pb::compile_workspace_request::Target::Name(n.into())),
        ..Default::default()
    };
    ok(
        "CompileWorkspace (session)",
        session.clone().compile_workspace(compile(&name)).await,
    );
    ok(
        "ReportWorkspaceActivity",
        session
            .clone()
            .report_workspace_activity(pb::ReportActivityRequest { name: name.clone() })
            .await,
    );
    let denied = session
        .clone()
        .get_workspace(r("", &name))
        .await
        .unwrap_err();
    assert_eq!(
        denied.code(),
        Code::PermissionDenied,
        "{}",
        denied.message()
    );
    let other = env.create(serde_json::json!({})).await;
    let denied = session
        .clone()
        .compile_workspace(compile(&other))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    env.stop(&name).await;
    let revoked = session
        .clone()
        .compile_workspace(compile(&name))
        .await
        .unwrap_err();
    assert_eq!(
        revoked.code(),
        Code::Unauthenticated,
        "{}",
        revoked.message()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prebuilt_template_starts_from_its_snapshot_without_on_create() {
    let env = PodmanEnv::new("prebuild").await;
    let space = env
        .default_template(
            "tools",
            serde_json::json!({
                "runtime": {"tasks": [
                    task("install", "ON_CREATE", "echo built > /workspace/built; echo x >> /workspace/on-create.log"),
                    {"name": "tool", "type": "ON_CREATE", "runAsRoot": true,
                     "run": "mkdir -p /opt/tool && echo v1 > /opt/tool/version"},
                    task("home", "ON_CREATE", "mkdir -p ~/.cache && echo cached > ~/.cache/built"),
                    task("boot", "POST_START", "echo started >> /workspace/post-start.log"),
                ]},
            }),
        )
        .await;
    build_and_wait(&env, &space, "tools").await;
    let name = env.create_from("tools", serde_json::json!({})).await;
    env.start_running(&name).await;
    let (_, out) = env
        .sh(
            &name,
            "cat /workspace/built /workspace/on-create.log /workspace/post-start.log /opt/tool/version ~/.cache/built; id -u; stat -c %u /workspace/built",
        )
        .await;
    assert_eq!(
        out, "built\nx\nstarted\nstarted\nv1\ncached\n1000\n1000\n",
        "the build's files (outside /workspace too), ON_CREATE only from the build, POST_START in the build and now"
    );
    env.stop(&name).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_stop_stops_the_workspace_when_its_foreground_tasks_are_done() {
    let env = PodmanEnv::new("autostop").await;
    let name = env
        .create(serde_json::json!({
            "runtime": {
                "autoStop": true,
                "tasks": [task("job", "POST_START", "echo job done")],
            },
        }))
        .await;
    let mut events = env.watch(&name).await;
    ok(
        "StartWorkspace",
        env.user
            .clone()
            .start_workspace(pb::StartWorkspaceRequest {
                name: name.clone(),
                vars: Vec::new(),
            })
            .await,
    );
    let seen = until(&mut events, |s| s.state() == pb::WorkspaceState::Stopped).await;
    assert_eq!(
        states(&seen),
        [
            pb::WorkspaceState::InitRequest,
            pb::WorkspaceState::Initializing,
            pb::WorkspaceState::PullingImage,
            pb::WorkspaceState::StartingRuntime,
            pb::WorkspaceState::Preparing,
            pb::WorkspaceState::Running,
            pb::WorkspaceState::Stopping,
            pb::WorkspaceState::Stopped,
        ]
    );
    let end = last(&seen);
    assert!(end.failure.is_none(), "{:?}", end.failure);
    assert_eq!(end.successful_runs, 1);
}

/// Starts and stops racing each other (four clients, twelve alternating calls each, answers
/// ignored) leave a workspace that settles and runs: no two runs' podman calls interleave, no
/// stop decided for one run is carried out on the next, podman's secret store stays whole,
/// and a stop request that no stop carried out is acted on again by the health check.
#[tokio::test(flavor = "multi_thread")]
async fn racing_starts_and_stops_leave_a_workspace_that_runs() {
    let env = PodmanEnv::new("racer").await;
    let name = env.create(serde_json::json!({})).await;
    let mut racers = tokio::task::JoinSet::new();
    for racer in 0..4 {
        let (user, name) = (env.user.clone(), name.clone());
        racers.spawn(async move {
            for call in 0..12 {
                let mut user = user.clone();
                if (racer + call) % 2 == 0 {
                    let request = pb::StartWorkspaceRequest {
                        name: name.clone(),
                        vars: Vec::new(),
                    };
                    let _ = user.start_workspace(request).await;
                } else {
                    let request = pb::StopWorkspaceRequest { name: name.clone() };
                    let _ = user.stop_workspace(request).await;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
    }
    while racers.join_next().await.is_some() {}
    // Settles STOPPED (a run that won is stopped), within the health check's patience.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let ws = ok(
            "GetWorkspace",
            env.user.clone().get_workspace(r("", &name)).await,
        );
        let status = ws.status.unwrap_or_default();
        assert!(Instant::now() < deadline, "never settled: {status:?}");
        match status.state() {
            pb::WorkspaceState::Stopped => break,
            pb::WorkspaceState::Running => {
                let request = pb::StopWorkspaceRequest { name: name.clone() };
                let _ = env.user.clone().stop_workspace(request).await;
            }
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    env.start_running(&name).await;
    env.stop(&name).await;
}

/// Disabling a user (here through the store, as `cordium-server user disable` does from
/// another process) stops their running workspaces at the next health check, saying why.
#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_owners_runs_are_stopped() {
    let env = PodmanEnv::new("offboarded").await;
    let name = env.create(serde_json::json!({})).await;
    env.start_running(&name).await;
    env.server
        .store
        .set_disabled(&env.user_name, true)
        .await
        .expect("disable");
    // Read from the store: the owner's own watch ends with their credential.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        let record = env
            .server
            .store
            .get(Kind::Workspace, "", &name)
            .await
            .expect("get")
            .expect("the workspace");
        let ws: pb::Workspace = prost::Message::decode(record.body.as_slice()).expect("decode");
        let status = ws.status.unwrap_or_default();
        if status.state() == pb::WorkspaceState::Stopped {
            break status;
        }
        assert!(Instant::now() < deadline, "still {:?}", status.state());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let failure = status.failure.expect("a failure");
    assert!(failure.message.contains("disabled"), "{}", failure.message);
    assert!(
        !run(
            env.podman().args(["ps", "--format", "{{.Names}}"]),
            "podman ps"
        )
        .lines()
        .any(|c| c == env.container(&name)),
        "the container no longer runs"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_container_that_dies_is_a_health_check_failure() {
    let env = PodmanEnv::new("health").await;
    let name = env.create(serde_json::json!({})).await;
    // A second running workspace: the check reads both containers in one inspect, and only
    // the dead one's answer may stop its workspace.
    let alive = env.create(serde_json::json!({})).await;
    env.start(&name).await;
    env.start(&alive).await;
    let mut events = env.watch(&name).await;
    // Killed, not removed: a removal races podman's own cleanup of a user-namespaced
    // container (a removed container is the sandbox tests' `ContainerGone`).
    run(
        env.podman().args(["kill", &env.container(&name)]),
        "podman kill",
    );
    let seen = until(&mut events, |s| s.state() == pb::WorkspaceState::Stopped).await;
    let failure = last(&seen).failure.clone().expect("a failure");
    assert_eq!(
        failure.r#type,
        Some(pb::failure::Type::HealthCheck(pb::Empty {})),
        "{}",
        failure.message
    );
    // Two more checks (one a second) have read the live container with the dead one's.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ws = ok(
        "GetWorkspace",
        env.user.clone().get_workspace(r("", &alive)).await,
    );
    let status = ws.status.expect("a status");
    assert_eq!(status.state(), pb::WorkspaceState::Running, "{status:?}");
    env.stop(&alive).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_inline_dockerfile_is_built_and_limits_reach_the_container() {
    let env = PodmanEnv::new("dockerfile").await;
    // The build's steps see no network but their loopback (`--network none`): on the bridge
    // they reached the host's services and other workspaces, outside every egress rule.
    let dockerfile = format!(
        "FROM {}\nRUN echo baked > /baked && ls /sys/class/net > /networks\n",
        lab().image
    );
    let name = env
        .create(serde_json::json!({
            "image": {"dockerfile": {"inline": dockerfile}},
            "limit": {"cpu": {"millicores": 500}, "memory": {"megabytes": 256}},
        }))
        .await;
    let seen = env.start_running(&name).await;
    assert!(states(&seen).contains(&pb::WorkspaceState::BuildingImage));
    assert!(!states(&seen).contains(&pb::WorkspaceState::PullingImage));
    assert_eq!(env.sh(&name, "cat /baked").await.1, "baked\n");
    assert_eq!(env.sh(&name, "cat /networks").await.1, "lo\n");
    // What a build must not ask of the host's builder is refused before anything runs.
    for (what, dockerfile) in [
        (
            "RUN --mount",
            format!(
                "FROM {}\nRUN --mount=type=bind,source=/,target=/h true\n",
                lab().image
            ),
        ),
        (
            "ADD of a URL",
            format!("FROM {}\nADD http://127.0.0.1:1/x /x\n", lab().image),
        ),
        (
            "ADD of a URL in a variable",
            format!(
                "FROM {}\nARG U=http://127.0.0.1:1/x\nADD $U /x\n",
                lab().image
            ),
        ),
        (
            "RUN --network=host",
            format!("FROM {}\nRUN --network=host true\n", lab().image),
        ),
        (
            "an image of the host's store",
            "FROM localhost/cordium/cdm-other:latest\nRUN true\n".to_owned(),
        ),
        (
            "RUN --mount behind a comment line",
            format!(
                "FROM {}\nRUN \\\n# hidden\n--mount=type=bind,source=/,target=/h true\n",
                lab().image
            ),
        ),
    ] {
        let refused = env
            .user
            .clone()
            .create_workspace(crate::workspace(
                "",
                "",
                Some(serde_json::json!({"image": {"dockerfile": {"inline": dockerfile}}})),
            ))
            .await
            .expect_err(what);
        assert_eq!(
            refused.code(),
            tonic::Code::InvalidArgument,
            "{what}: {refused:?}"
        );
        assert!(
            refused.message().contains("spec.image.dockerfile.inline")
                && refused.message().contains("[spec::dockerfile]"),
            "{what}: {}",
            refused.message()
        );
    }
    let limits = run(
        env.podman().args([
            "inspect",
            "--format",
            "{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}}",
            &env.container(&name),
        ]),
        "podman inspect",
    );
    assert_eq!(limits.trim(), format!("500000000 {}", 256 * 1024 * 1024));
    env.stop(&name).await;
}

/// Builds are off unless the operator allows them (a build runs as the host's root, and a base
/// image's triggers run in it unchecked); the refusal says what to do instead.
#[tokio::test(flavor = "multi_thread")]
async fn builds_are_off_unless_the_operator_allows_them() {
    let mut options = lab().podman_options();
    options.allow_builds = false;
    let podman = Podman::new(options).expect("podman");
    let key = cordium_provisioner::runtime::WorkspaceKey::new("default.unallowed", "b1");
    let dockerfile = format!("FROM {}\n", lab().image);
    let refused = podman.build_image(&key, &dockerfile).await;
    assert!(
        matches!(&refused, Err(cordium_provisioner::runtime::RuntimeError::ImageBuild { detail })
            if detail.contains("--podman-allow-builds") && detail.contains("image.registry")),
        "{refused:?}"
    );
    let allowed = Podman::new(lab().podman_options()).expect("podman");
    allowed
        .build_image(&key, &dockerfile)
        .await
        .expect("allowed, it builds");
}

/// A build is held to the Dockerfile rules when it runs, not only at validation (a Dockerfile
/// stored before a rule existed), and takes its base images from their registries, never from
/// the host's store (where another workspace's private image may be).
#[tokio::test(flavor = "multi_thread")]
async fn a_build_is_held_to_the_rules_and_pulls_its_base_images() {
    use cordium_provisioner::runtime::RuntimeError;
    let podman = Podman::new(lab().podman_options()).expect("podman");
    let key = cordium_provisioner::runtime::WorkspaceKey::new("default.rules", "r1");
    for (dockerfile, says) in [
        (
            format!("FROM {}\nADD http://127.0.0.1:1/x /x\n", lab().image),
            "`ADD` is not allowed",
        ),
        (
            format!(
                "FROM {}\nARG M=mount\nRUN --$M=type=bind,source=/,target=/h true\n",
                lab().image
            ),
            "`RUN` flags are not allowed",
        ),
        (
            "FROM localhost/cordium/cdm-other:latest\n".to_owned(),
            "not from the host's own images",
        ),
    ] {
        let refused = podman.build_image(&key, &dockerfile).await;
        assert!(
            matches!(&refused, Err(RuntimeError::ImageBuild { detail }) if detail.contains(says)),
            "{dockerfile}: {refused:?}"
        );
    }
    // An image only the host's store holds (under a registry's name) is not built from.
    let registry = lab().image.split('/').next().unwrap_or_default().to_owned();
    let local_only = format!("{registry}/cordium-test/local-only:1");
    run(
        lab()
            .podman()
            .args(["tag", "localhost/cordium-test/busybox:1", &local_only]),
        "podman tag",
    );
    let built = podman
        .build_image(&key, &format!("FROM {local_only}\nRUN true\n"))
        .await;
    run(lab().podman().args(["rmi", &local_only]), "podman rmi");
    assert!(
        matches!(&built, Err(RuntimeError::ImageBuild { detail }) if detail.contains("local-only")),
        "{built:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tasks_get_their_directory_environment_user_and_background() {
    let env = PodmanEnv::new("tasks").await;
    env.create(serde_json::json!({})).await; // makes the default Space
    ok(
        "CreateSecret",
        env.user
            .clone()
            .create_secret(secret("default.tasks", "task-token", "t0k3n"))
            .await,
    );
    let name = env
        .create(serde_json::json!({
            "runtime": {
                "envVars": [{"key": "WHO", "value": "workspace"}, {"key": "TOKEN", "fromSecret": "task-token"}],
                "tasks": [
                    {"name": "dir", "type": "POST_START", "workingDir": "/tmp",
                     "run": "pwd > /workspace/dir"},
                    {"name": "env", "type": "POST_START",
                     "envVars": [{"key": "WHO", "value": "task"}],
                     "run": "echo \"$WHO $TOKEN\" > /workspace/env"},
                    {"name": "root", "type": "POST_START", "runAsRoot": true,
                     "run": "id -u > /workspace/uid"},
                    {"name": "bg", "type": "POST_START", "isBackground": true,
                     "run": "sleep 1; echo later > /workspace/bg"},
                ],
            },
        }))
        .await;
    env.start_running(&name).await;
    let (_, out) = env
        .sh(
            &name,
            "cat /workspace/dir /workspace/env /workspace/uid; test -e /workspace/bg && echo early",
        )
        .await;
    assert_eq!(
        out, "/tmp\ntask t0k3n\n0\n",
        "the background task did not hold up RUNNING"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while env.sh(&name, "test -e /workspace/bg").await.0 != 0 {
        assert!(
            Instant::now() < deadline,
            "the background task never finished"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    env.stop(&name).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_prebuild_cancels_the_running_one() {
    let env = PodmanEnv::new("rebuild").await;
    let space = env
        .default_template(
            "slow",
            serde_json::json!({
                "runtime": {"tasks": [task("install", "ON_CREATE", "sleep 3; date +%s%N > /workspace/stamp")]},
            }),
        )
        .await;
    let build = || pb::BuildTemplateRequest {
        name: format!("{space}/slow"),
        ..Default::default()
    };
    let first = ok(
        "BuildTemplate",
        env.user.clone().build_template(build()).await,
    )
    .status
    .unwrap_or_default()
    .current_running_build_id;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = ok(
        "BuildTemplate",
        env.user.clone().build_template(build()).await,
    )
    .status
    .unwrap_or_default()
    .current_running_build_id;
    assert_ne!(first, second);
    let deadline = Instant::now() + Duration::from_secs(120);
    let ready = loop {
        let t = ok(
            "GetTemplate",
            env.user.clone().get_template(r(&space, "slow")).await,
        );
        let status = t.status.unwrap_or_default();
        if !status.current_ready_build_id.is_empty() {
            break status.current_ready_build_id;
        }
        assert!(Instant::now() < deadline, "no pre-build became ready");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(ready, second, "the second build is the ready one");
    let old = env
        .server
        .store
        .get(Kind::Workspace, "", &format!("build-{first}"))
        .await
        .unwrap()
        .expect("the first build workspace");
    let old: pb::Workspace = prost::Message::decode(old.body.as_slice()).unwrap();
    assert_eq!(
        old.status.unwrap_or_default().state(),
        pb::WorkspaceState::Stopped
    );
    let snapshot = |id: &str| {
        lab()
            .state_dir()
            .join("snapshots")
            .join(format!("snap-build-{id}.tar"))
    };
    assert!(snapshot(&second).exists(), "the ready build's snapshot");
    assert!(
        !snapshot(&first).exists(),
        "the cancelled build left no snapshot"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_owner_may_exec_into_a_workspace_or_read_its_log() {
    let env = PodmanEnv::new("holder").await;
    let name = env.create(serde_json::json!({})).await;
    crate::add_space_member(&env.server.store, "default.holder", "peer").await;
    let peer = env.server.client(&env.server.user("peer", false).await);

    ok(
        "GetWorkspace (member)",
        peer.clone().get_workspace(r("", &name)).await,
    );
    let exec = peer
        .clone()
        .exec_workspace(pb::ExecWorkspaceRequest {
            name: name.clone(),
            command: vec!["true".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(exec.code(), Code::PermissionDenied, "{}", exec.message());
    let logs = peer
        .clone()
        .workspace_logs(pb::WorkspaceLogsRequest {
            name: name.clone(),
            follow: false,
        })
        .await
        .unwrap_err();
    assert_eq!(logs.code(), Code::PermissionDenied, "{}", logs.message());
}

/// A volume labelled as a workspace's, made by hand; whether it still exists.
fn labelled_volume(name: &str, labels: &[String]) {
    let mut command = lab().podman();
    command.args(["volume", "create"]);
    for label in labels {
        command.args(["--label", label]);
    }
    let out = command.arg(name).output().expect("podman volume create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn volume_exists(name: &str) -> bool {
    lab()
        .podman()
        .args(["volume", "exists", name])
        .status()
        .expect("podman")
        .success()
}

/// A delete this driver did not hear of (its record gone and its delete recorded, its objects
/// left: another process's delete, `cordium-server user delete`, or a crash between the two)
/// is finished by the running driver's health check, and a driver that starts finds nothing
/// more to do. Nothing else is touched:
/// not a workspace whose record is merely missing (as after restoring a backup that predates
/// it), not a stored workspace's objects, not another installation's, although it names a
/// workspace this store has never had.
#[tokio::test(flavor = "multi_thread")]
async fn the_driver_removes_what_deleted_workspaces_left_and_nothing_else() {
    let env = PodmanEnv::labelled("sweep").await;
    let image = serde_json::json!({"image": {"registry": {"url": lab().image}}});
    let gone = env.create(image.clone()).await;
    env.start_running(&gone).await;
    let restored = env.create(image.clone()).await;
    env.start_running(&restored).await;
    let stored = env.create(image).await;
    let installation = env.server.store.installation().to_owned();
    let space = format!("default.{}", env.user_name);
    let key = |name: &str| cordium_provisioner::runtime::WorkspaceKey::new(&space, name);
    // The stored workspace has never run; a volume of it, labelled as the runtime labels.
    let stored_volume = format!("{}-extra", key(&stored).object_name());
    labelled_volume(
        &stored_volume,
        &[
            format!("cordium.space={space}"),
            format!("cordium.workspace={stored}"),
            format!("cordium.installation={installation}"),
        ],
    );
    // Another installation's workspace on the same host.
    let foreign = format!("cdm-{}-foreign", env.user_name);
    labelled_volume(
        &foreign,
        &[
            format!("cordium.space={space}"),
            "cordium.workspace=elsewhere".to_owned(),
            "cordium.installation=0000another0000".to_owned(),
        ],
    );
    let held = PodmanEnv::runtime(Some(installation.clone()))
        .held()
        .await
        .expect("held");
    for name in [&gone, &restored, &stored] {
        assert!(held.contains(&key(name)), "{name}: {held:?}");
    }
    assert!(
        !held.iter().any(|k| k.name == "elsewhere"),
        "another installation's: {held:?}"
    );

    // Deleted without an event, so the running driver never hears of it: the delete is
    // recorded, and only the health check's sweep can find it.
    env.server
        .store
        .delete(Kind::Workspace, "", &gone, false)
        .await
        .expect("delete the record");
    // Gone from the records without a delete, as in a backup that predates it.
    let pool = env._data.raw_pool().await;
    sqlx::query("DELETE FROM resources WHERE kind = 'Workspace' AND name = $1")
        .bind(&restored)
        .execute(&pool)
        .await
        .expect("lose the record");
    pool.close().await;
    let container = env.container(&gone);
    let workspace_volume = format!("{container}-workspace");
    let deadline = Instant::now() + Duration::from_secs(60);
    let container_exists = |name: &str| {
        lab()
            .podman()
            .args(["container", "exists", name])
            .status()
            .expect("podman")
            .success()
    };
    // Its container and every volume of it (removed one after the other).
    let home_volume = format!("{container}-home");
    while container_exists(&container)
        || volume_exists(&workspace_volume)
        || volume_exists(&home_volume)
    {
        assert!(
            Instant::now() < deadline,
            "the deleted workspace's objects are still there after a minute"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _restarted = Server::start_driving(
        env._data.dir.path(),
        None,
        Some((
            PodmanEnv::runtime(Some(installation)),
            test_driver_options(),
        )),
        |api| api,
    )
    .await;
    assert!(
        container_exists(&env.container(&restored)),
        "a workspace the store lost but did not delete keeps its objects"
    );
    assert!(volume_exists(&stored_volume), "a stored workspace's stay");
    assert!(volume_exists(&foreign), "another installation's stay");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !env
        .server
        .store
        .deleted_workspaces()
        .await
        .expect("deleted")
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "the finished delete is forgotten"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// ExecWorkspace holds a command's output in memory and answers it in one message: up to
/// 1 MiB of each output comes back whole; past it the command is stopped and the answer is
/// RESOURCE_EXHAUSTED, saying how to get large output, and the server's memory never holds
/// more (an endless writer ends too).
#[tokio::test(flavor = "multi_thread")]
async fn a_unary_exec_answers_at_most_a_mebibyte_of_each_output() {
    let env = PodmanEnv::new("bigout").await;
    let name = env
        .create(serde_json::json!({"image": {"registry": {"url": lab().image}}}))
        .await;
    env.start_running(&name).await;
    let (code, out) = env.sh(&name, "head -c 1048576 /dev/zero").await;
    assert_eq!((code, out.len()), (0, 1 << 20), "exactly the limit");
    for script in ["head -c 1048577 /dev/zero", "yes", "yes >&2"] {
        let refused = env
            .user
            .clone()
            .exec_workspace(pb::ExecWorkspaceRequest {
                name: name.clone(),
                command: vec!["sh".into(), "-c".into(), script.into()],
                ..Default::default()
            })
            .await
            .expect_err(script);
        assert_eq!(
            refused.code(),
            Code::ResourceExhausted,
            "{script}: {refused:?}"
        );
        assert!(
            refused.message().contains("more than 1 MiB") && refused.message().len() < 200,
            "{script}: {}",
            refused.message()
        );
    }
    // The endless writers are killed (by the session, once the answer is given up).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, running) = env.sh(&name, "ps -eo comm | grep -c '^yes$' || true").await;
        if running.trim() == "0" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "`yes` still runs: {running}\nthe server's last warnings:\n{}",
            crate::logged::recent(20)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Builds `template` in `space` and waits until the Template names a new ready build;
/// returns its id.
async fn build_and_wait(env: &PodmanEnv, space: &str, template: &str) -> String {
    let before = ok(
        "GetTemplate",
        env.user.clone().get_template(r(space, template)).await,
    )
    .status
    .unwrap_or_default()
    .current_ready_build_id;
    ok(
        "BuildTemplate",
        env.user
            .clone()
            .build_template(pb::BuildTemplateRequest {
                name: format!("{space}/{template}"),
                ..Default::default()
            })
            .await,
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let ready = ok(
            "GetTemplate",
            env.user.clone().get_template(r(space, template)).await,
        )
        .status
        .unwrap_or_default()
        .current_ready_build_id;
        if !ready.is_empty() && ready != before {
            return ready;
        }
        if Instant::now() > deadline {
            let mut builds = Vec::new();
            for r in env
                .server
                .store
                .list(Kind::Workspace, Some(""))
                .await
                .expect("list")
            {
                let ws: pb::Workspace =
                    prost::Message::decode(r.body.as_slice()).expect("a workspace");
                builds.push((r.name, ws.status));
            }
            panic!(
                "the pre-build never became ready: {builds:?}\nthe server's last warnings:\n{}",
                crate::logged::recent(20)
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A build whose snapshot outgrows its storage limit fails, saying so, and leaves no snapshot:
/// here its task replaces `/bin/sh`, which writes the snapshot, with one that writes without end.
#[tokio::test(flavor = "multi_thread")]
async fn a_prebuild_snapshot_is_bounded_by_the_storage_limit() {
    let env = PodmanEnv::new("hoardbuild").await;
    let plant = "printf '#!/bin/busybox sh\\nexec /bin/busybox head -c 30000000 /dev/zero\\n' > /tmp/sh \
                 && chmod 755 /tmp/sh && /bin/busybox mv -f /tmp/sh /bin/sh";
    let space = env
        .default_template(
            "bloated",
            serde_json::json!({
                "image": {"registry": {"url": lab().image}},
                "limit": {"storage": {"megabytes": 10}},
                "runtime": {"tasks": [
                    {"name": "plant", "type": "ON_CREATE", "runAsRoot": true, "run": plant},
                ]},
            }),
        )
        .await;
    let build = ok(
        "BuildTemplate",
        env.user
            .clone()
            .build_template(pb::BuildTemplateRequest {
                name: format!("{space}/bloated"),
                ..Default::default()
            })
            .await,
    );
    let running = build.status.unwrap_or_default().current_running_build_id;
    let name = format!("build-{running}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        let ws = ok(
            "GetWorkspace",
            env.user.clone().get_workspace(r("", &name)).await,
        );
        let status = ws.status.unwrap_or_default();
        if status.state() == pb::WorkspaceState::Stopped {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the build never stopped: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let failure = status.failure.expect("a failure");
    assert!(
        failure.message.contains("not saved") && failure.message.contains("10 MiB"),
        "{}",
        failure.message
    );
    let template = ok(
        "GetTemplate",
        env.user.clone().get_template(r(&space, "bloated")).await,
    );
    assert_eq!(
        template.status.unwrap_or_default().current_ready_build_id,
        ""
    );
    let id = name.trim_start_matches("build-");
    for part in [
        format!("snap-build-{id}.tar"),
        format!("snap-build-{id}.root.tar"),
    ] {
        let path = lab().state_dir().join("snapshots").join(&part);
        assert!(!path.exists(), "{part} was left");
    }
}

/// Build workspaces do not pile up: the next build of a Template deletes the builds that
/// ended, and deleting the Template deletes its builds and its pre-build snapshot.
#[tokio::test(flavor = "multi_thread")]
async fn ended_builds_and_a_deleted_templates_snapshot_are_removed() {
    let env = PodmanEnv::new("tidy").await;
    let space = env
        .default_template(
            "quick",
            serde_json::json!({
                "image": {"registry": {"url": lab().image}},
                "runtime": {"tasks": [task("mark", "ON_CREATE", "echo built > /workspace/built")]},
            }),
        )
        .await;
    let snapshot = |id: &str| {
        lab()
            .state_dir()
            .join("snapshots")
            .join(format!("snap-build-{id}.tar"))
    };
    let build = |id: &str| {
        let user = env.user.clone();
        let name = format!("build-{id}");
        async move { user.clone().get_workspace(r("", &name)).await }
    };
    let first = build_and_wait(&env, &space, "quick").await;
    ok("GetWorkspace (first build)", build(&first).await);
    let second = build_and_wait(&env, &space, "quick").await;
    fails(
        "GetWorkspace (first build, ended)",
        build(&first).await,
        &[Code::NotFound],
    );
    assert!(!snapshot(&first).exists(), "the replaced pre-build is gone");
    assert!(snapshot(&second).exists(), "the ready pre-build");
    ok("GetWorkspace (second build)", build(&second).await);

    ok(
        "DeleteTemplate",
        env.user.clone().delete_template(r(&space, "quick")).await,
    );
    fails(
        "GetWorkspace (second build, Template deleted)",
        build(&second).await,
        &[Code::NotFound],
    );
    assert!(
        !snapshot(&second).exists(),
        "the deleted Template's pre-build is gone"
    );

    // A Space's delete takes its Templates' pre-builds with it.
    let boxed = "box.tidy";
    ok(
        "CreateSpace",
        env.user
            .clone()
            .create_space(crate::space(boxed, None))
            .await,
    );
    ok(
        "CreateTemplate",
        env.user
            .clone()
            .create_template(template(
                boxed,
                "quick",
                Some(serde_json::json!({
                    "image": {"registry": {"url": lab().image}},
                    "runtime": {"tasks": [task("mark", "ON_CREATE", "echo built > /workspace/built")]},
                })),
            ))
            .await,
    );
    let third = build_and_wait(&env, boxed, "quick").await;
    assert!(snapshot(&third).exists(), "the ready pre-build");
    ok(
        "DeleteSpace",
        env.user.clone().delete_space(r("", boxed)).await,
    );
    assert!(
        !snapshot(&third).exists(),
        "the deleted Space's pre-build is gone"
    );
}

/// ExecWorkspace is a session like ExecStream's: a command quiet for longer than the idle
/// limit is ended (DEADLINE_EXCEEDED), and one that outlives its caller's credential is ended
/// at the next check (UNAUTHENTICATED); either way the command is killed.
#[tokio::test(flavor = "multi_thread")]
async fn a_unary_exec_ends_when_idle_or_when_its_credential_does() {
    let env = PodmanEnv::configured("longexec", |api| {
        api.with_stream_limits(cordium_server::service::StreamLimits {
            idle: Duration::from_secs(3),
            ..Default::default()
        })
    })
    .await;
    let name = env
        .create(serde_json::json!({"image": {"registry": {"url": lab().image}}}))
        .await;
    env.start_running(&name).await;
    let exec = |script: &str| {
        let user = env.user.clone();
        let request = pb::ExecWorkspaceRequest {
            name: name.clone(),
            command: vec!["sh".into(), "-c".into(), script.into()],
            ..Default::default()
        };
        async move { user.clone().exec_workspace(request).await }
    };
    let quiet = tokio::time::timeout(Duration::from_secs(60), exec("sleep 601"))
        .await
        .expect("ended long before the command would")
        .expect_err("ended");
    assert_eq!(quiet.code(), Code::DeadlineExceeded, "{quiet:?}");

    let talking = tokio::spawn(exec("while :; do echo .; sleep 1; done"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    revoke_token(&env, "longexec").await;
    let ended = tokio::time::timeout(Duration::from_secs(30), talking)
        .await
        .expect("ended within a few checks")
        .expect("joined")
        .expect_err("ended");
    restore_token(&env, "longexec").await;
    assert_eq!(ended.code(), Code::Unauthenticated, "{ended:?}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // The quiet command, and the talking one's shell (not the container's own sleep).
        let (_, running) = env
            .sh(
                &name,
                "ps -eo args | grep -c -e '^sleep 601$' -e '^sh -c while' || true",
            )
            .await;
        if running.trim() == "0" {
            break;
        }
        if Instant::now() >= deadline {
            let (_, ps) = env.sh(&name, "ps -eo pid,ppid,pgid,user,args").await;
            panic!("the commands still run: {ps}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
