//! A connected GitHub account in a running workspace, on real podman: the workspace's git
//! clones a private repository from a GitHub-shaped HTTPS host that accepts only the
//! connected account's current token (`GitHostFake::serving_git`: `git http-backend` behind
//! the fake), commits with the profile's name and email, pushes, and fetches again after the
//! token expired and was refreshed; after `disconnect` a push fails. The tokens appear in no
//! `podman inspect`, log, process list, volume file or API response.

use super::*;
use crate::git_connect::{SPACE, connect, provider};
use crate::podman::until;
use crate::ssh::text;
use cordium_api::outbound::Outbound;
use cordium_server::git_oauth::GitHosts;
use cordium_server::pb::workspace_status::GitCredentials;
use cordium_server::service::GitConnect;
use cordium_testkit::oidc::{GitHostFake, TestCa};
use cordium_testkit::{lab, run};
use prost::Message as _;
use std::process::Command;

/// A bare repository `octocat/private.git` under `root` with one commit on `main`.
fn private_repository(root: &Path) -> PathBuf {
    let bare = root.join("octocat/private.git");
    let work = tempfile::tempdir().expect("work tree");
    let git = |args: &[&str], dir: &Path| {
        run(
            Command::new("git")
                .args(args)
                .current_dir(dir)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_AUTHOR_NAME", "Seed")
                .env("GIT_AUTHOR_EMAIL", "seed@example.test")
                .env("GIT_COMMITTER_NAME", "Seed")
                .env("GIT_COMMITTER_EMAIL", "seed@example.test"),
            "git (apt-get install git)",
        )
    };
    git(
        &["init", "--quiet", "--initial-branch", "main", "."],
        work.path(),
    );
    std::fs::write(work.path().join("README"), "private\n").expect("file");
    git(&["add", "README"], work.path());
    git(&["commit", "--quiet", "-m", "seed"], work.path());
    std::fs::create_dir_all(root.join("octocat")).expect("mkdir");
    git(
        &[
            "clone",
            "--quiet",
            "--bare",
            ".",
            bare.to_str().expect("utf-8"),
        ],
        work.path(),
    );
    bare
}

fn assert_absent(haystack: &[u8], tokens: &[String], place: &str) {
    for token in tokens {
        let needle = token.as_bytes();
        assert!(
            !haystack.windows(needle.len()).any(|w| w == needle),
            "a git token is in {place}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_workspace_clones_commits_pushes_and_fetches_with_the_connected_account() {
    let gateway = lab().gateway();
    let ca = TestCa::for_address(&gateway);
    let repositories = tempfile::tempdir().expect("repositories");
    let bare = private_repository(repositories.path());
    // Tokens live 60 s, inside the server's 300 s refresh margin: every credential request
    // refreshes, and the fake refuses each replaced token from then on.
    let github = GitHostFake::serving_git(
        &ca,
        ("gh-app", "gh-secret-value"),
        60,
        &gateway,
        repositories.path(),
    );

    let data = Data::new(Backend::Sqlite).await;
    let (agents, runtime) = crate::ssh::podman_with_agents(&data);
    let git = GitConnect::new(
        Outbound::new(Some(&ca.ca_file())).expect("outbound"),
        GitHosts {
            github: github.url.clone(),
            ..GitHosts::default()
        },
    );
    let api = cordium_server::server::open(data.dir.path(), None)
        .await
        .expect("open")
        .with_agents(agents)
        .with_git(git);
    let api = cordium_server::server::start_driver_with(api, runtime, Duration::from_secs(1));
    let server = Server::serve_api(api).await;
    let mut alice = server.client(&server.user("alice", false).await);
    ok(
        "CreateSpace",
        alice.create_space(crate::space(SPACE, None)).await,
    );
    let body = serde_json::json!({"github": {"clientID": "gh-app", "clientSecret": {"fromSecret": "gh-secret"}, "scopes": ["repo", "user:email"]}});
    provider(&mut alice, "gh", body, "gh-secret-value").await;
    ok(
        "CreateTemplate",
        alice
            .create_template(crate::template(
                SPACE,
                "with-git",
                Some(serde_json::json!({"gitProvider": "gh", "image": {"registry": {"url": lab().git_image()}}})),
            ))
            .await,
    );
    let connection = connect(&mut alice, &ca, "gh", "octocat").await;
    assert_eq!(connection.email, "octocat@example.test");

    let ws = ok(
        "CreateWorkspace",
        alice
            .create_workspace(crate::workspace(
                SPACE,
                "with-git",
                // The git host is a service on the host: egress reaches it only by a rule.
                Some(
                    serde_json::json!({"runtime": {"network": {"egress": {"rules": [
                        {"cidrs": [gateway.clone()], "action": "ALLOW"},
                    ]}}}}),
                ),
            ))
            .await,
    );
    let name = name_of(&ws.metadata);
    ok(
        "StartWorkspace",
        alice
            .start_workspace(pb::StartWorkspaceRequest {
                name: name.clone(),
                vars: Vec::new(),
            })
            .await,
    );
    let mut events = ok(
        "WatchWorkspace",
        alice
            .watch_workspace(pb::WatchWorkspaceRequest {
                name: name.clone(),
                ..Default::default()
            })
            .await,
    );
    let running = until(&mut events, |s| s.state() == pb::WorkspaceState::Running).await;
    assert_eq!(
        git_credentials(&running),
        GitCredentials::Ready,
        "a run of a connected account says its git has credentials"
    );

    let certificate = std::fs::read_to_string(ca.ca_file()).expect("ca");
    let url = format!("{}/octocat/private.git", github.url);
    let mut responses = Vec::new();
    let mut runner = alice.clone();
    let mut exec = async |script: String| {
        let answer = ok(
            "ExecWorkspace",
            runner
                .exec_workspace(pb::ExecWorkspaceRequest {
                    name: name.clone(),
                    command: vec!["sh".into(), "-c".into(), script],
                    env: vec![
                        "GIT_SSL_CAINFO=/tmp/test-ca.pem".into(),
                        "GIT_TERMINAL_PROMPT=0".into(),
                    ],
                    ..Default::default()
                })
                .await,
        );
        responses.push(answer.encode_to_vec());
        answer
    };
    // The CA is public: the workspace trusts the lab's host with it.
    let wrote = exec(format!(
        "cat > /tmp/test-ca.pem <<'EOF'\n{certificate}EOF\n"
    ))
    .await;
    assert_eq!(wrote.exit_code, 0, "{}", text(&wrote.stderr));

    let cloned = exec(format!(
        "set -e; cd /workspace; git clone -q {url} private; cd private; echo work > work.txt; git add work.txt; \
         git commit -qm work; git log -1 --format='%an <%ae>'; git push -q origin HEAD:main"
    ))
    .await;
    assert_eq!(cloned.exit_code, 0, "{}", text(&cloned.stderr));
    assert_eq!(
        text(&cloned.stdout),
        "The Octocat <octocat@example.test>\n",
        "the author from the profile"
    );
    let pushed = run(
        Command::new("git").arg("--git-dir").arg(&bare).args([
            "log",
            "-1",
            "--format=%s %ae",
            "main",
        ]),
        "git log",
    );
    assert_eq!(pushed, "work octocat@example.test\n");

    let before = github.issued().len();
    let fetched =
        exec("cd /workspace/private && git fetch -q && git status -sb | head -1".into()).await;
    assert_eq!(fetched.exit_code, 0, "{}", text(&fetched.stderr));
    let issued = github.issued();
    assert!(issued.len() > before, "the fetch used a refreshed token");
    // The first token was replaced: the host refuses it now.
    let refused = Command::new("git")
        .args(["-c", "credential.helper=", "ls-remote"])
        .arg(format!(
            "https://x-access-token:{}@127.0.0.1:{}/octocat/private.git",
            issued[0],
            github.url.rsplit(':').next().expect("port")
        ))
        .env("GIT_SSL_CAINFO", ca.ca_file())
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .expect("git ls-remote");
    assert!(!refused.status.success(), "a replaced token is refused");

    // Nowhere the tokens must not be.
    let container = format!("cdm-{name}");
    let inspect = run(
        lab().podman().args(["inspect", &container]),
        "podman inspect",
    );
    assert_absent(inspect.as_bytes(), &issued, "podman inspect");
    let logs = lab()
        .podman()
        .args(["logs", &container])
        .output()
        .expect("podman logs");
    assert_absent(&logs.stdout, &issued, "the container log");
    assert_absent(&logs.stderr, &issued, "the container log");
    let processes = run(
        lab().podman().args([
            "exec", "--user", "0:0", &container, "sh", "-c",
            "ps -ef; for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; tr '\\0' ' ' < $p/environ; done 2>/dev/null; true",
        ]),
        "podman exec as container root",
    );
    assert_absent(processes.as_bytes(), &issued, "the processes");
    for volume in ["workspace", "home"] {
        let mountpoint = run(
            lab().podman().args([
                "volume",
                "inspect",
                &format!("{container}-{volume}"),
                "--format",
                "{{.Mountpoint}}",
            ]),
            "podman volume inspect",
        );
        let mut stack = vec![PathBuf::from(mountpoint.trim())];
        while let Some(path) = stack.pop() {
            if path.is_dir() {
                for entry in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                    stack.push(entry.path());
                }
            } else if let Ok(bytes) = std::fs::read(&path) {
                assert_absent(&bytes, &issued, &format!("the volume ({})", path.display()));
            }
        }
    }

    // Disconnected: the next push has no credentials.
    ok(
        "DisconnectGitProvider",
        alice
            .disconnect_git_provider(pb::Ref {
                name: "gh".into(),
                space: SPACE.into(),
            })
            .await,
    );
    let after = exec(
        "cd /workspace/private && echo more >> work.txt && git commit -qam more && git push -q origin HEAD:main".into(),
    )
    .await;
    assert_ne!(after.exit_code, 0, "a push after disconnect fails");
    let listed = ok(
        "ListGitConnections",
        alice.list_git_connections(pb::Empty {}).await,
    );
    responses.push(listed.encode_to_vec());
    for response in &responses {
        assert_absent(response, &github.issued(), "an API response");
    }
    ok(
        "StopWorkspace",
        alice
            .stop_workspace(pb::StopWorkspaceRequest { name: name.clone() })
            .await,
    );
    until(&mut events, |s| s.state() == pb::WorkspaceState::Stopped).await;

    // Started again while disconnected, the run says the account is not connected.
    let run = restart(&mut alice, &mut events, &name).await;
    assert_eq!(git_credentials(&run), GitCredentials::NotConnected);
    // Connected again, then the provider goes down: the start is not held up past the
    // bounded check, and the run says its git has no credentials.
    connect(&mut alice, &ca, "gh", "octocat").await;
    drop(github);
    let run = restart(&mut alice, &mut events, &name).await;
    assert_eq!(git_credentials(&run), GitCredentials::Unavailable);
}

/// The git credentials the last status of a run says it has.
fn git_credentials(seen: &[pb::WorkspaceStatus]) -> GitCredentials {
    seen.last()
        .map_or(GitCredentials::Unset, pb::WorkspaceStatus::git_credentials)
}

/// Starts `name` until RUNNING, stops it until STOPPED, and returns the statuses of the run.
async fn restart(
    alice: &mut crate::Client,
    events: &mut tonic::Streaming<pb::WorkspaceEvent>,
    name: &str,
) -> Vec<pb::WorkspaceStatus> {
    let start = pb::StartWorkspaceRequest {
        name: name.to_owned(),
        vars: Vec::new(),
    };
    ok("StartWorkspace", alice.start_workspace(start).await);
    let run = until(events, |s| s.state() == pb::WorkspaceState::Running).await;
    let stop = pb::StopWorkspaceRequest {
        name: name.to_owned(),
    };
    ok("StopWorkspace", alice.stop_workspace(stop).await);
    until(events, |s| s.state() == pb::WorkspaceState::Stopped).await;
    run
}
