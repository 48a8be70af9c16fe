//! End to end on real podman: repository clones, dotfiles and registry credentials, through
//! the API, against the lab's git server (smart HTTP over HTTPS) and its registry with
//! authentication ([`cordium_testkit::Lab`]), in the lab's image with git.

use super::podman::{PodmanEnv, assert_running, last, states};
use super::*;
use cordium_testkit::{lab, run};
use std::process::Command;

/// A history with a tag `v1` (a = 1), then main (a = 2, then 3) and a branch `dev` (a = dev)
/// forked at the second commit: three commits on main.
const HISTORY: &str = "echo 1 > a; commit one; git tag v1; echo 2 > a; commit two; \
     git checkout -q -b dev; echo dev > a; commit dev; git checkout -q main; echo 3 > a; commit three";

/// Polls `script` in the workspace until it prints `want` (one minute at most).
async fn eventually(env: &PodmanEnv, name: &str, script: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, out) = env.sh(name, script).await;
        if out == want {
            return;
        }
        if Instant::now() >= deadline {
            // The background fetch writes its errors to the workspace log.
            let log = run(
                env.podman()
                    .args(["logs", "--tail", "20", &env.container(name)]),
                "podman logs",
            );
            panic!("`{script}` printed {out:?}, not {want:?}; the log ends:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn clone_failure(seen: &[pb::WorkspaceStatus]) -> pb::Failure {
    let end = last(seen);
    assert_eq!(
        end.state(),
        pb::WorkspaceState::Stopped,
        "{:?}",
        states(seen)
    );
    assert!(states(seen).contains(&pb::WorkspaceState::Preparing));
    let failure = end.failure.clone().expect("a failure");
    assert_eq!(
        failure.r#type,
        Some(pb::failure::Type::RepoClone(pb::Empty {})),
        "{}",
        failure.message
    );
    failure
}

#[tokio::test(flavor = "multi_thread")]
async fn repositories_are_cloned_at_their_branch_checkout_and_path() {
    let git = lab().git_server();
    let url = git.repository("public/app.git", HISTORY);
    let two = git.rev_parse("public/app.git", "main~1");
    let env = PodmanEnv::new("cloner").await;
    let name = env
        .create_reaching_host(serde_json::json!({
            "image": {"registry": {"url": lab().git_image()}},
            "repository": {"url": url, "cloneOptions": {"branch": "dev"}},
            "additionalRepositories": [
                {"name": "tagged", "repository": {"url": url, "cloneOptions": {"checkout": "v1"}}},
                {"name": "pinned", "repository": {"url": url, "cloneOptions": {"checkout": two}}},
                {"name": "full", "clonePath": "/workspace/lib/full",
                 "repository": {"url": url, "cloneOptions": {"disableLazyUnshallow": true}}},
            ],
        }))
        .await;
    let seen = env.start(&name).await;
    assert_running(&seen);

    let (code, out) = env
        .sh(
            &name,
            "cd /workspace/repo && cat a && git rev-parse --abbrev-ref HEAD",
        )
        .await;
    assert_eq!(
        (code, out.as_str()),
        (0, "dev\ndev\n"),
        "the primary at its branch"
    );
    let (_, out) = env
        .sh(&name, "cat /workspace/additional-repos/tagged/a")
        .await;
    assert_eq!(out, "1\n", "an additional repository at a tag");
    let (_, out) = env
        .sh(
            &name,
            "cd /workspace/additional-repos/pinned && cat a && git rev-parse HEAD",
        )
        .await;
    assert_eq!(
        out,
        format!("2\n{two}\n"),
        "an additional repository at a commit"
    );
    let (_, out) = env
        .sh(
            &name,
            "cd /workspace/lib/full && cat a && git rev-list --count HEAD && test ! -e .git/shallow && echo complete",
        )
        .await;
    assert_eq!(
        out, "3\n3\ncomplete\n",
        "disableLazyUnshallow: the full history at once"
    );

    // Shallow first, the whole history in the background.
    eventually(
        &env,
        &name,
        "cd /workspace/repo && test ! -e .git/shallow && git rev-list --count HEAD",
        "3\n",
    )
    .await;
    eventually(
        &env,
        &name,
        "cd /workspace/additional-repos/tagged && test ! -e .git/shallow && git rev-list --count origin/main",
        "3\n",
    )
    .await;
    env.stop(&name).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_repository_is_a_repo_clone_failure() {
    let git = lab().git_server();
    let env = PodmanEnv::new("noclone").await;
    let name = env
        .create_reaching_host(serde_json::json!({
            "image": {"registry": {"url": lab().git_image()}},
            "repository": {"url": format!("{}/public/missing.git", git.url)},
        }))
        .await;
    let seen = env.start(&name).await;
    let failure = clone_failure(&seen);
    assert!(
        failure.message.contains("missing.git"),
        "{}",
        failure.message
    );
    assert_eq!(last(&seen).successful_runs, 0);

    let url = git.repository("public/present.git", "echo x > a; commit one");
    let name = env
        .create_reaching_host(serde_json::json!({
            "image": {"registry": {"url": lab().git_image()}},
            "repository": {"url": url},
            "additionalRepositories": [
                {"name": "gone", "repository": {"url": format!("{}/public/gone.git", git.url)}},
            ],
        }))
        .await;
    let seen = env.start(&name).await;
    let failure = clone_failure(&seen);
    assert!(failure.message.contains("gone.git"), "{}", failure.message);
}

#[tokio::test(flavor = "multi_thread")]
async fn clone_credentials_come_from_a_secret_and_stay_secret() {
    let git = lab().git_server();
    let url = git.repository("private/app.git", HISTORY);
    let env = PodmanEnv::new("gitauth").await;
    let spec = |secret: &str| {
        serde_json::json!({
            "image": {"registry": {"url": lab().git_image()}},
            "repository": {"url": url, "authentication": {"http": {
                "username": git.username, "password": {"fromSecret": secret},
            }}},
        })
    };
    let name = env.create_reaching_host(spec("git-password")).await;
    for (secret, value) in [
        ("git-password", git.password.clone()),
        ("wrong-password", format!("wrong-{}", random_suffix())),
    ] {
        ok(
            "CreateSecret",
            env.user
                .clone()
                .create_secret(super::secret("default.gitauth", secret, &value))
                .await,
        );
    }
    let seen = env.start(&name).await;
    assert_running(&seen);
    let (_, out) = env.sh(&name, "cat /workspace/repo/a").await;
    assert_eq!(out, "3\n");
    // The background unshallow authenticates too.
    eventually(
        &env,
        &name,
        "cd /workspace/repo && test ! -e .git/shallow && git rev-list --count HEAD",
        "3\n",
    )
    .await;

    let password = &git.password;
    let (_, out) = env
        .sh(&name, "cat /workspace/repo/.git/config; ls -a ~; cat ~/.gitconfig ~/.git-credentials 2>/dev/null; true")
        .await;
    assert!(!out.contains(password), "the password is stored: {out}");
    let container = env.container(&name);
    let inspect = run(env.podman().args(["inspect", &container]), "podman inspect");
    assert!(
        !inspect.contains(password),
        "the password is in podman inspect"
    );
    let logs = run(env.podman().args(["logs", &container]), "podman logs");
    assert!(
        !logs.contains(password),
        "the password is in the logs: {logs}"
    );
    let ps = run(Command::new("ps").args(["-eo", "args"]), "ps");
    assert!(!ps.contains(password), "the password is on a command line");
    let got = ok(
        "GetWorkspace",
        env.user.clone().get_workspace(r("", &name)).await,
    );
    assert!(!format!("{got:?}").contains(password));
    env.stop(&name).await;

    let wrong = env.create_reaching_host(spec("wrong-password")).await;
    let seen = env.start(&wrong).await;
    let failure = clone_failure(&seen);
    assert!(!failure.message.contains("wrong-"), "{}", failure.message);
}

#[tokio::test(flavor = "multi_thread")]
async fn dotfiles_are_cloned_and_installed_on_fresh_runs_only() {
    let git = lab().git_server();
    // install.sh is not executable, so setup.sh (later in upstream's list) is the one run.
    let url = git.repository(
        "public/dotfiles.git",
        "printf 'echo install >> /workspace/dotfiles.log\\n' > install.sh; \
         mkdir bootstrap; touch bootstrap/x; \
         printf '#!/bin/sh\\necho \"setup in $(pwd)\" >> /workspace/dotfiles.log\\n' > setup.sh; \
         chmod +x setup.sh; echo 'set -o vi' > .profile; commit dots",
    );
    let env = PodmanEnv::new("dotty").await;
    ok(
        "UpdateUserConfig",
        env.user
            .clone()
            .update_user_config(pb::UserConfig {
                metadata: None,
                spec: Some(spec(serde_json::json!({"dotfiles": {"url": url}}))),
            })
            .await,
    );
    let name = env
        .create_reaching_host(
            serde_json::json!({"image": {"registry": {"url": lab().git_image()}}}),
        )
        .await;
    let seen = env.start(&name).await;
    assert_running(&seen);
    let (_, out) = env
        .sh(&name, "cat ~/dotfiles/.profile /workspace/dotfiles.log")
        .await;
    assert_eq!(out, "set -o vi\nsetup in /home/cordium/dotfiles\n");
    env.stop(&name).await;

    let seen = env.start(&name).await;
    assert_running(&seen);
    let (_, out) = env
        .sh(&name, "cat /workspace/dotfiles.log ~/dotfiles/.profile")
        .await;
    assert_eq!(
        out, "setup in /home/cordium/dotfiles\nset -o vi\n",
        "dotfiles on fresh runs only, and ~/dotfiles survives the restart"
    );
    env.stop(&name).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn registry_credentials_come_from_a_secret_and_stay_secret() {
    let registry = lab().auth_registry();
    let env = PodmanEnv::new("regauth").await;
    let spec = |secret: Option<&str>| {
        let mut image = serde_json::json!({"url": registry.image});
        if let Some(secret) = secret {
            image["authentication"] = serde_json::json!({
                "username": registry.username, "password": {"fromSecret": secret},
            });
        }
        serde_json::json!({"image": {"registry": image}})
    };
    let name = env.create(spec(Some("registry-password"))).await;
    let wrong_value = format!("wrong-{}", random_suffix());
    for (secret, value) in [
        ("registry-password", registry.password.as_str()),
        ("wrong-password", wrong_value.as_str()),
    ] {
        ok(
            "CreateSecret",
            env.user
                .clone()
                .create_secret(super::secret("default.regauth", secret, value))
                .await,
        );
    }
    let seen = env.start(&name).await;
    assert_running(&seen);
    assert!(states(&seen).contains(&pb::WorkspaceState::PullingImage));
    let password = &registry.password;
    let container = env.container(&name);
    let inspect = run(env.podman().args(["inspect", &container]), "podman inspect");
    assert!(
        !inspect.contains(password),
        "the password is in podman inspect"
    );
    let logs = run(env.podman().args(["logs", &container]), "podman logs");
    assert!(!logs.contains(password));
    let auth = lab().state_dir().join("auth");
    let left: Vec<_> = std::fs::read_dir(&auth)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "authfiles are removed after the pull: {left:?}"
    );
    env.stop(&name).await;

    for (secret, what) in [
        (Some("wrong-password"), "a wrong password"),
        (None, "no credentials"),
    ] {
        let name = env.create(spec(secret)).await;
        let seen = env.start(&name).await;
        let end = last(&seen);
        assert_eq!(end.state(), pb::WorkspaceState::Stopped, "{what}");
        let failure = end.failure.clone().expect("a failure");
        assert_eq!(
            failure.r#type,
            Some(pb::failure::Type::ImagePull(pb::Empty {})),
            "{what}: {}",
            failure.message
        );
        assert!(
            !failure.message.contains(&wrong_value),
            "{}",
            failure.message
        );
    }
}
