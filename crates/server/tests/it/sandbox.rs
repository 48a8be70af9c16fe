//! The sandbox on real podman (issue 16): every process but `runAsRoot` tasks runs as uid 1000
//! in a user namespace of its own with exactly the compiled capabilities; a persistent
//! workspace keeps its whole filesystem; the read-only root and volume mounts are enforced;
//! image builds and start timeouts fail as they should; a relative `--data-dir` works.

use super::podman::{PodmanEnv, last, states, task, until};
use super::*;
use cordium_testkit::{lab, run};
use std::process::Command;

/// Capability numbers (linux/capability.h) of the names the tests use.
const CAPABILITY_BITS: [(&str, u32); 13] = [
    ("CHOWN", 0),
    ("DAC_OVERRIDE", 1),
    ("FOWNER", 3),
    ("FSETID", 4),
    ("KILL", 5),
    ("SETGID", 6),
    ("SETUID", 7),
    ("SETPCAP", 8),
    ("NET_BIND_SERVICE", 10),
    ("NET_RAW", 13),
    ("SYS_CHROOT", 18),
    ("SYS_PTRACE", 19),
    ("SETFCAP", 31),
];

/// The `/proc/PID/status` mask of the compiled set of `add` and `drop`.
fn compiled_mask(add: &[&str], drop: &[&str]) -> u64 {
    let owned = |v: &[&str]| v.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>();
    let cordium_provisioner::Capabilities::Exactly(set) =
        cordium_provisioner::capabilities(&owned(add), &owned(drop))
    else {
        panic!("an exact set");
    };
    set.iter()
        .map(|name| {
            let bit = CAPABILITY_BITS
                .iter()
                .find(|(n, _)| n == name)
                .unwrap_or_else(|| panic!("no bit for {name}"))
                .1;
            1_u64 << bit
        })
        .sum()
}

/// The value of `field` in a `/proc/PID/status` text.
fn status_field<'a>(status: &'a str, field: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {field} in {status}"))
        .trim()
}

/// `cmd`'s output, which must succeed.
fn podman_out(env: &PodmanEnv, args: &[&str]) -> String {
    run(env.podman().args(args), &format!("podman {args:?}"))
}

/// `podman rm` of a stopped container. podman's own clean-up of it (conmon's `podman container
/// cleanup`) may still hold its shm mount for a moment after it exited, and the removal then
/// fails with "device or resource busy": that is retried, for at most 10 s. A busy removal
/// may still have removed the container (the failure was unmounting), so after one, "no such
/// container" means it is gone.
async fn remove_behind_cordiums_back(env: &PodmanEnv, container: &str) {
    let mut was_busy = false;
    for _ in 0..100 {
        let out = env
            .podman()
            .args(["rm", container])
            .output()
            .expect("podman runs");
        if out.status.success() {
            return;
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        if was_busy && stderr.contains("no such container") {
            return;
        }
        assert!(
            stderr.contains("resource busy"),
            "podman rm failed: {stderr}"
        );
        was_busy = true;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("podman rm: the container stayed busy for 10 s");
}

#[tokio::test(flavor = "multi_thread")]
async fn processes_run_as_uid_1000_in_their_own_user_namespace_with_the_compiled_capabilities() {
    let env = PodmanEnv::new("rootless").await;
    let name = env
        .create(serde_json::json!({
            "runtime": {
                "cmd": "id -u > /workspace/main-uid; trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done",
                "capabilities": {"add": ["SYS_PTRACE"], "drop": ["KILL"]},
                "tasks": [
                    task("user", "POST_START", "id -u > /workspace/task-uid"),
                    {"name": "root", "type": "POST_START", "runAsRoot": true,
                     "run": "id -u > /workspace/root-uid; echo $HOME > /workspace/root-home"},
                ],
            },
        }))
        .await;
    env.start_running(&name).await;
    let (_, out) = env
        .sh(
            &name,
            "cat /workspace/main-uid /workspace/task-uid /workspace/root-uid /workspace/root-home; id -u; echo $HOME",
        )
        .await;
    assert_eq!(out, "1000\n1000\n0\n/root\n1000\n/home/cordium\n");

    let (_, status) = env.sh(&name, "cat /proc/1/status").await;
    let expected = compiled_mask(&["SYS_PTRACE"], &["KILL"]);
    for field in ["CapEff", "CapPrm", "CapBnd"] {
        let mask = u64::from_str_radix(status_field(&status, field), 16).expect("a hex mask");
        assert_eq!(mask, expected, "{field}: {mask:x} against {expected:x}");
    }
    assert_eq!(status_field(&status, "NoNewPrivs"), "1");
    assert_eq!(
        status_field(&status, "Seccomp"),
        "2",
        "the default seccomp filter"
    );
    assert_eq!(
        status_field(&status, "Uid").split_whitespace().next(),
        Some("1000")
    );

    // On the host, no process of the container is root.
    let container = env.container(&name);
    let pids = podman_out(&env, &["top", &container, "hpid"]);
    let pids: Vec<&str> = pids.lines().skip(1).map(str::trim).collect();
    assert!(!pids.is_empty());
    let uids = run(
        Command::new("ps").args(["-o", "uid=", "-p", &pids.join(",")]),
        "ps",
    );
    // procps prints uids past 2^31 as negative 32-bit numbers.
    let uids: Vec<i64> = uids
        .split_whitespace()
        .map(|u| u.parse().expect("a uid"))
        .collect();
    assert_eq!(uids.len(), pids.len(), "{uids:?} {pids:?}");
    assert!(
        uids.iter().all(|u| *u != 0 && *u != 1000),
        "host uids {uids:?}"
    );
    let host_users = podman_out(&env, &["top", &container, "huser"]);
    for user in host_users.lines().skip(1) {
        let uid: u64 = user.trim().parse().expect("a numeric host user");
        assert!(uid >= 65536, "host uid {uid} is not a subordinate id");
    }
    env.stop(&name).await;
}

/// ON_CREATE tasks writing outside `/workspace`: as root into `/usr/local/share`, as the
/// user into HOME; each run appends to `~/.cache/runs`.
fn on_create_outside_the_workspace() -> serde_json::Value {
    serde_json::json!([
        {"name": "marker", "type": "ON_CREATE", "runAsRoot": true,
         "run": "mkdir -p /usr/local/share && echo m > /usr/local/share/marker"},
        task("cache", "ON_CREATE", "mkdir -p ~/.cache && echo x > ~/.cache/x && echo run >> ~/.cache/runs"),
    ])
}

const OUTSIDE: &str = "cat /usr/local/share/marker ~/.cache/x ~/.cache/runs";

#[tokio::test(flavor = "multi_thread")]
async fn a_persistent_workspace_keeps_its_container_and_says_why_when_it_cannot() {
    let env = PodmanEnv::new("keeper").await;
    let name = env
        .create(serde_json::json!({"runtime": {"tasks": on_create_outside_the_workspace()}}))
        .await;
    env.start(&name).await;
    assert_eq!(env.sh(&name, "echo kept > /workspace/kept").await.0, 0);
    const TOKEN: &str = "printf %s \"$CORDIUM_SESSION_TOKEN\"";
    let first_token = env.sh(&name, TOKEN).await.1;
    env.stop(&name).await;
    let container = env.container(&name);
    let state = podman_out(
        &env,
        &["inspect", "--format", "{{.State.Status}}", &container],
    );
    assert_eq!(state.trim(), "exited", "the stopped container is kept");

    let seen = env.start_running(&name).await;
    let end = last(&seen);
    assert_eq!(
        end.recreate_reason(),
        pb::workspace_status::RecreateReason::Unset
    );
    assert_eq!(
        env.sh(&name, OUTSIDE).await.1,
        "m\nx\nrun\n",
        "the filesystem resumed; ON_CREATE did not run again"
    );
    let second_token = env.sh(&name, TOKEN).await.1;
    assert!(second_token.starts_with("cds_"), "{second_token:?}");
    assert_ne!(
        second_token, first_token,
        "the restarted container has this run's secrets"
    );

    // The container removed behind Cordium's back: the run is fresh, and says why; the
    // volumes (/workspace and HOME) are kept.
    env.stop(&name).await;
    remove_behind_cordiums_back(&env, &container).await;
    let seen = env.start_running(&name).await;
    let end = last(&seen);
    assert_eq!(
        end.recreate_reason(),
        pb::workspace_status::RecreateReason::RecreateContainerGone
    );
    assert!(states(&seen).contains(&pb::WorkspaceState::PullingImage));
    assert_eq!(
        env.sh(&name, &format!("{OUTSIDE}; cat /workspace/kept"))
            .await
            .1,
        "m\nx\nrun\nrun\nkept\n",
        "ON_CREATE ran again on the kept volumes"
    );
    env.stop(&name).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ephemeral_workspace_loses_what_it_wrote_outside_the_workspace() {
    let env = PodmanEnv::new("forget").await;
    let name = env.create(serde_json::json!({"isEphemeral": true})).await;
    env.start(&name).await;
    let container = env.container(&name);
    run(
        env.podman().args([
            "exec",
            "--user",
            "0",
            &container,
            "sh",
            "-c",
            "mkdir -p /usr/local/share && echo m > /usr/local/share/marker",
        ]),
        "podman exec",
    );
    assert_eq!(
        env.sh(&name, "mkdir -p ~/.cache && echo x > ~/.cache/x")
            .await
            .0,
        0
    );
    assert_eq!(
        env.sh(&name, OUTSIDE).await.0,
        1,
        "only ~/.cache/runs is missing"
    );
    env.stop(&name).await;
    env.start(&name).await;
    let (code, _) = env
        .sh(
            &name,
            "test -e /usr/local/share/marker || test -e ~/.cache/x",
        )
        .await;
    assert_ne!(code, 0, "neither file survived the restart");
    env.stop(&name).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_root_and_volume_mounts_are_enforced() {
    let env = PodmanEnv::new("readonly").await;
    let remove_volumes = || {
        for volume in ["reference", "scratch"] {
            let _ = env
                .podman()
                .args([
                    "volume",
                    "rm",
                    "--force",
                    &cordium_provisioner::runtime::space_volume_name("default.readonly", volume),
                ])
                .status();
        }
    };
    // New volumes: a volume is chowned to the user namespace of the first container that
    // mounts it (see the podman backend's known limits).
    remove_volumes();
    let name = env
        .create(serde_json::json!({
            "runtime": {
                "filesystem": {"readOnly": true},
                "volumeMounts": [
                    {"volumeRef": {"name": "reference"}, "mountPath": "/reference", "readOnly": true},
                    {"volumeRef": {"name": "scratch"}, "mountPath": "/scratch"},
                ],
            },
        }))
        .await;
    env.start_running(&name).await;
    for path in ["/etc/x", "/usr/x", "/reference/x"] {
        let (code, _) = env.sh(&name, &format!("touch {path}")).await;
        assert_ne!(code, 0, "{path} is writable");
    }
    for path in ["/workspace/x", "/tmp/x", "~/x", "/run/x"] {
        let (code, _) = env.sh(&name, &format!("touch {path}")).await;
        assert_eq!(code, 0, "{path} is not writable");
    }
    let (code, _) = env.sh(&name, "echo s > /scratch/x && cat /scratch/x").await;
    assert_eq!(code, 0, "a volume mounted without readOnly is writable");
    env.stop(&name).await;
    remove_volumes();
}

/// A Space Volume outlives its workspaces but not its Space: a Space made again under a
/// deleted one's name (here the default Space, made again by the next create) starts with
/// none of its volumes' files, so a new user of a deleted user's name never reads them.
#[tokio::test(flavor = "multi_thread")]
async fn a_space_made_again_under_a_deleted_ones_name_starts_without_its_volumes() {
    let env = PodmanEnv::new("revols").await;
    let space = "default.revols";
    let spec = serde_json::json!({"runtime": {"volumeMounts": [
        {"volumeRef": {"name": "kept"}, "mountPath": "/kept"},
    ]}});
    let first = env.create(spec.clone()).await;
    env.start_running(&first).await;
    let (code, _) = env.sh(&first, "echo the-old-owners-file > /kept/f").await;
    assert_eq!(code, 0);
    env.stop(&first).await;
    ok(
        "DeleteWorkspace",
        env.user.clone().delete_workspace(r("", &first)).await,
    );
    ok(
        "DeleteSpace",
        env.user.clone().delete_space(r("", space)).await,
    );
    let volume = cordium_provisioner::runtime::space_volume_name(space, "kept");
    // `volume exists`, not a listing: `podman volume ls` fails when another test removes a
    // volume while it lists.
    let left = env
        .podman()
        .args(["volume", "exists", &volume])
        .status()
        .expect("podman volume exists");
    assert!(
        left.success(),
        "the deleted Space's volume is still there until a Space of the name is made"
    );

    let second = env.create(spec).await;
    env.start_running(&second).await;
    let (_, seen) = env
        .sh(&second, "cat /kept/f 2>/dev/null || echo none")
        .await;
    assert_eq!(seen.trim(), "none", "the new Space's volume starts empty");
    env.stop(&second).await;
}

/// The failure of a start that ended `STOPPED`.
fn failure_of(seen: &[pb::WorkspaceStatus]) -> pb::Failure {
    let end = last(seen);
    assert_eq!(end.state(), pb::WorkspaceState::Stopped);
    end.failure.clone().expect("a failure")
}

/// A capability that would let container root undo its egress rules fails the start, naming
/// it, before any container exists.
#[tokio::test(flavor = "multi_thread")]
async fn a_capability_past_the_grantable_set_fails_the_start() {
    crate::logged::record();
    let env = PodmanEnv::new("netadmin").await;
    let name = env
        .create(serde_json::json!({"runtime": {"capabilities": {"add": ["NET_ADMIN"]}}}))
        .await;
    let seen = env.start(&name).await;
    let failure = failure_of(&seen);
    assert!(
        failure.message.contains("`NET_ADMIN`"),
        "{}",
        failure.message
    );
    let containers = podman_out(&env, &["ps", "-a", "--format", "{{.Names}}"]);
    assert!(
        !containers.lines().any(|c| c == env.container(&name)),
        "{containers}"
    );
    // Nothing of the run existed: it goes from INIT_REQUEST to STOPPED, with no stop (whose
    // STOPPING the state table refuses from INIT_REQUEST, logged as an ERROR).
    assert_eq!(
        crate::logged::errors_about(&name),
        Vec::<String>::new(),
        "no ERROR about the workspace"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_dockerfile_step_is_an_image_build_failure() {
    let env = PodmanEnv::new("badbuild").await;
    let dockerfile = format!("FROM {}\nRUN false\n", lab().image);
    let name = env
        .create(serde_json::json!({"image": {"dockerfile": {"inline": dockerfile}}}))
        .await;
    let seen = env.start(&name).await;
    let failure = failure_of(&seen);
    assert_eq!(
        failure.r#type,
        Some(pb::failure::Type::ImageBuild(pb::Empty {})),
        "{}",
        failure.message
    );
    assert!(states(&seen).contains(&pb::WorkspaceState::BuildingImage));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_start_longer_than_the_startup_timeout_fails_with_startup_timeout() {
    let env = PodmanEnv::with_driver(
        "slowstart",
        cordium_server::driver::DriverOptions {
            health_interval: Duration::from_secs(1),
            startup_timeout: Some(Duration::from_secs(15)),
        },
    )
    .await;
    let name = env
        .create(serde_json::json!({"runtime": {"tasks": [task("slow", "POST_START", "sleep 60")]}}))
        .await;
    let began = Instant::now();
    let seen = env.start(&name).await;
    let failure = failure_of(&seen);
    assert_eq!(
        failure.r#type,
        Some(pb::failure::Type::StartupTimeout(pb::Empty {})),
        "{}",
        failure.message
    );
    assert!(failure.message.contains("15 s"), "{}", failure.message);
    assert!(
        began.elapsed() < Duration::from_secs(60),
        "the task was not waited for"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_with_a_relative_data_dir_builds_an_inline_dockerfile() {
    let cwd = tempfile::tempdir().expect("tempdir");
    let command = || {
        let mut cmd = base_command(Path::new("data"), None);
        cmd.current_dir(cwd.path());
        cmd
    };
    let mut add = command();
    add.args(["user", "add", "relative"]);
    let token = run(&mut add, "cordium-server user add").trim().to_owned();
    let mut serve = command();
    serve.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--runtime",
        "podman",
        "--podman-insecure-registry",
        &lab().registry,
        "--default-image",
        &lab().image,
        // Builds are off unless the operator allows them.
        "--podman-allow-builds",
    ]);
    let process = Process::spawn_command(serve);
    let user = client(&connect(process.addr).await, &token);
    let dockerfile = format!("FROM {}\nRUN echo baked > /baked\n", lab().image);
    let ws = ok(
        "CreateWorkspace",
        user.clone()
            .create_workspace(workspace(
                "",
                "",
                Some(serde_json::json!({"image": {"dockerfile": {"inline": dockerfile}}})),
            ))
            .await,
    );
    let name = name_of(&ws.metadata);
    let watch = |user: &Client| {
        let mut user = user.clone();
        let name = name.clone();
        async move {
            ok(
                "WatchWorkspace",
                user.watch_workspace(pb::WatchWorkspaceRequest {
                    name,
                    ..Default::default()
                })
                .await,
            )
        }
    };
    let mut events = watch(&user).await;
    ok(
        "StartWorkspace",
        user.clone()
            .start_workspace(pb::StartWorkspaceRequest {
                name: name.clone(),
                vars: Vec::new(),
            })
            .await,
    );
    let seen = until(&mut events, |s| {
        matches!(
            s.state(),
            pb::WorkspaceState::Running | pb::WorkspaceState::Stopped
        )
    })
    .await;
    let end = last(&seen);
    assert_eq!(
        end.state(),
        pb::WorkspaceState::Running,
        "{:?}\n{}",
        end.failure,
        process.stderr()
    );
    let mut events = watch(&user).await;
    ok(
        "StopWorkspace",
        user.clone()
            .stop_workspace(pb::StopWorkspaceRequest { name: name.clone() })
            .await,
    );
    until(&mut events, |s| s.state() == pb::WorkspaceState::Stopped).await;
    // Nothing of podman runs any more when the server is killed.
    ok(
        "DeleteWorkspace",
        user.clone().delete_workspace(r("", &name)).await,
    );
    let container =
        cordium_provisioner::runtime::WorkspaceKey::new("default.relative", &name).object_name();
    let deadline = Instant::now() + Duration::from_secs(60);
    while lab()
        .podman()
        .args(["container", "exists", &container])
        .status()
        .expect("podman")
        .success()
    {
        assert!(Instant::now() < deadline, "{container} was not removed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A workspace that writes its log without end does not fill the host: the log file stays
/// within `LOG_SIZE_MAX`.
#[tokio::test(flavor = "multi_thread")]
async fn a_container_log_is_bounded() {
    let env = PodmanEnv::new("chatty").await;
    let name = env.create(serde_json::json!({})).await;
    env.start_running(&name).await;
    let max = cordium_provisioner::podman::LOG_SIZE_MAX;
    let lines = max / 1000 + 16_384; // 16 MB past the bound, in lines of 1,000 bytes
    let (code, _) = env
        .sh(
            &name,
            &format!(
                "head -c {} /dev/zero | tr '\\0' x | fold -w 999 > /tmp/.cordium-log; \
                 echo cordium-log-end > /tmp/.cordium-log",
                lines * 1000
            ),
        )
        .await;
    assert_eq!(code, 0);
    let path = podman_out(
        &env,
        &[
            "inspect",
            "--format",
            "{{.HostConfig.LogConfig.Path}}",
            &env.container(&name),
        ],
    );
    // The last line reached the log: everything before it passed through it too.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let log = std::fs::read(path.trim()).expect("the log file");
        let tail = &log[log.len().saturating_sub(4096)..];
        if String::from_utf8_lossy(tail).contains("cordium-log-end") {
            let size = log.len() as u64;
            assert!(size <= max, "{size} bytes against at most {max}");
            break;
        }
        assert!(Instant::now() < deadline, "the log never got its last line");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    env.stop(&name).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn writing_past_the_storage_limit_stops_the_workspace_with_a_clear_failure() {
    let env = PodmanEnv::new("hoarder").await;
    // Into a volume, into the root filesystem (its writable layer, not a volume), and into a
    // Space Volume it mounts (shared, so counted whole against each workspace mounting it).
    for file in ["/workspace/big", "/tmp/big", "/shared/big"] {
        writing_past_the_storage_limit_stops(&env, file).await;
    }
}

async fn writing_past_the_storage_limit_stops(env: &PodmanEnv, file: &str) {
    let mut spec = serde_json::json!({"limit": {"storage": {"megabytes": 10}}});
    if file.starts_with("/shared/") {
        // A volume of its own name: a Space Volume belongs to the user namespace of the first
        // container that mounts it.
        spec["runtime"] = serde_json::json!({"volumeMounts": [
            {"volumeRef": {"name": format!("hoard-{}", crate::random_suffix())}, "mountPath": "/shared"},
        ]});
    }
    let name = env.create(spec).await;
    env.start_running(&name).await;
    let mut events = env.watch(&name).await;
    let (code, _) = env
        .sh(
            &name,
            &format!("dd if=/dev/zero of={file} bs=1M count=16 2>/dev/null"),
        )
        .await;
    assert_eq!(
        code, 0,
        "the write itself is not refused (ext4 has no volume quotas)"
    );
    let seen = until(&mut events, |s| s.state() == pb::WorkspaceState::Stopped).await;
    let failure = failure_of(&seen);
    assert_eq!(
        failure.r#type,
        Some(pb::failure::Type::HealthCheck(pb::Empty {})),
        "{}",
        failure.message
    );
    assert!(
        failure.message.contains("storage limit is exceeded")
            && failure.message.contains("of 10 MiB")
            && !failure.message.contains("Ok("),
        "{file}: {}",
        failure.message
    );
}
