//! End to end on real podman: `cordium run`, `exec`, `logs` and `stop`, the real binary
//! against the real server running workspaces with the podman backend.
//!
//! One server runs in this process for every test (as `cordium-server serve` does, with the
//! lifecycle driver on [`Podman`]), on the podman lab of [`cordium_testkit::lab`] (a local
//! registry and a busybox image, no internet). Each test is a different user, so their
//! workspaces (and default Spaces) never meet. podman, runc, busybox-static and
//! docker-registry must be installed: the tests fail, not skip, without them.

#[path = "support/lab.rs"]
mod lab_server;
/// `shell`, `exec -it`, bulk `exec`, `cp` and `port-forward` (tests/run/stream.rs).
#[path = "run/stream.rs"]
mod stream;
mod support;

use cordium_testkit::lab;
use lab_server::User;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, mpsc};
use std::time::Duration;
use support::{Run, finish};

/// Waits until workspace `name` of `user` has left nothing in podman (its container and
/// volume are removed after the delete, by the server's driver); panics after a minute.
fn wait_until_gone(user: &User, name: &str) {
    let key =
        cordium_provisioner::runtime::WorkspaceKey::new(format!("default.{}", user.name), name);
    let container = key.object_name();
    let volume = format!("{container}-workspace");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let exists = |what: &str, object: &str| {
            lab()
                .podman()
                .args([what, "exists", object])
                .status()
                .expect("podman")
                .success()
        };
        if !exists("container", &container) && !exists("volume", &volume) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{container} or {volume} is still there a minute after the delete"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[track_caller]
fn ok(run: Run) -> Run {
    assert_eq!(run.code, 0, "{run:?}");
    run
}

/// The states of the plain progress lines (`[  0.4s] PULLING_IMAGE`), in order.
fn states(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter_map(|line| {
            let (time, rest) = line.strip_prefix('[')?.split_once("] ")?;
            let timed = time.trim().ends_with('s');
            let state = rest.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
            (timed && state && !rest.is_empty()).then_some(rest)
        })
        .collect()
}

/// The workspace name `cordium run` printed on standard output.
fn name_of(run: &Run) -> String {
    let name = run.stdout.trim().to_owned();
    assert!((3..=6).contains(&name.len()), "{run:?}");
    name
}

const TASKS: &str = "\
apiVersion: cordium/v1
kind: Workspace
spec:
  runtime:
    tasks:
      - name: greet
        type: POST_START
        run: echo hello-from-the-task
";

#[test]
fn run_follows_to_running_then_exec_logs_and_stop_work() {
    let user = User::new("runner");
    let file = user.file("ws.yaml", TASKS);
    let r = ok(user.run(&[
        "run",
        "--file",
        &file,
        "--image",
        &lab().image,
        "--env",
        "X=from-run",
        "--port",
        "web:3000:default",
        "--cpu",
        "0.5",
        "--memory",
        "256Mi",
    ]));
    let name = name_of(&r);
    assert_eq!(
        states(&r.stderr),
        [
            "INIT_REQUEST",
            "INITIALIZING",
            "PULLING_IMAGE",
            "STARTING_RUNTIME",
            "PREPARING",
            "RUNNING"
        ],
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.starts_with(&format!(
            "[  0.0s] created workspace {name} (Space default.runner, Template default)\n"
        )),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains(&format!("workspace {name} is running (ready in ")),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains('\r') && !r.stderr.contains('\u{1b}'),
        "{:?}",
        r.stderr
    );

    // The flags reached the spec.
    let got = ok(user.run(&["get", "workspace", &name, "-o", "json"]));
    let ws: serde_json::Value = serde_json::from_str(&got.stdout).expect("JSON");
    assert_eq!(ws["spec"]["image"]["registry"]["url"], lab().image.as_str());
    assert_eq!(ws["spec"]["applications"][0]["isDefault"], true);
    assert_eq!(ws["spec"]["limit"]["cpu"]["millicores"], 500);
    assert_eq!(ws["spec"]["limit"]["memory"]["megabytes"], 256);
    assert_eq!(ws["spec"]["runtime"]["tasks"][0]["name"], "greet");

    // exec: output and exit code pass through; -e and -w reach the command.
    let r = user.run(&[
        "exec",
        &name,
        "--",
        "sh",
        "-c",
        "echo $X; echo oops >&2; exit 3",
    ]);
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(r.stdout, "from-run\n");
    assert_eq!(r.stderr, "oops\n");
    let r = ok(user.run(&[
        "exec",
        &name,
        "-e",
        "Y=extra",
        "-w",
        "/tmp",
        "--",
        "sh",
        "-c",
        "echo $Y; pwd",
    ]));
    assert_eq!(r.stdout, "extra\n/tmp\n");
    let r = ok(user.run(&["exec", &name, "--", "sh", "-c", "id -u; echo $HOME"]));
    assert_eq!(
        r.stdout, "1000\n/home/cordium\n",
        "the workspace user runs exec"
    );

    // logs: the POST_START task's output.
    let r = ok(user.run(&["logs", &name]));
    assert!(r.stdout.contains("hello-from-the-task"), "{r:?}");

    // logs --follow streams until the workspace stops.
    let (follower, lines) = user.spawn(&["logs", &name, "--follow"]);
    let first = lines
        .recv_timeout(Duration::from_secs(30))
        .expect("a log line");
    assert!(first.contains("hello-from-the-task"), "{first}");

    // stop --wait follows the stop and prints the stopped workspace.
    let r = ok(user.run(&["stop", &name, "--wait", "-o", "json"]));
    let ws: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
    assert_eq!(ws["status"]["state"], "STOPPED", "{r:?}");
    let seen = states(&r.stderr);
    assert_eq!(seen.first(), Some(&"STOPPING_REQUEST"), "{}", r.stderr);
    assert_eq!(seen.last(), Some(&"STOPPED"), "{}", r.stderr);
    let (done_tx, done) = mpsc::channel();
    std::thread::spawn(move || done_tx.send(finish(follower)));
    let r = done
        .recv_timeout(Duration::from_secs(30))
        .expect("logs --follow ends when the workspace stops");
    assert_eq!(r.code, 0, "{r:?}");

    // A stopped workspace has no running container to exec in or read logs from.
    let r = user.run(&["exec", &name, "--", "true"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.starts_with("error: FailedPrecondition: "), "{r:?}");

    // `run NAME` starts the existing workspace again, and reports a running one at once.
    let r = ok(user.run(&["run", &name, "--var", "A=b"]));
    assert_eq!(r.stdout, format!("{name}\n"));
    let seen = states(&r.stderr);
    assert_eq!(seen.first(), Some(&"INIT_REQUEST"), "{}", r.stderr);
    assert_eq!(seen.last(), Some(&"RUNNING"), "{}", r.stderr);
    let r = ok(user.run(&["run", &name]));
    assert_eq!(r.stdout, format!("{name}\n"));
    assert_eq!(states(&r.stderr), ["RUNNING"], "{}", r.stderr);
    let r = user.run(&["run", &name, "--var", "A=b"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("--var applies when it starts"), "{r:?}");
    let r = user.run(&["run", &name, "--image", "busybox"]);
    assert_eq!(r.code, 2, "{r:?}");
    ok(user.run(&["stop", &name, "--wait"]));
    ok(user.run(&["delete", "workspace", &name]));
    wait_until_gone(&user, &name);
}

#[test]
fn a_missing_image_is_explained() {
    let user = User::new("missing");
    let missing = format!("{}/cordium-test/missing:1", lab().registry);
    let r = user.run(&["run", "--image", &missing]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.stdout, "", "no name: it is not running");
    let name = r
        .stderr
        .split_once("created workspace ")
        .and_then(|(_, rest)| rest.split_once(' '))
        .map(|(name, _)| name.to_owned())
        .expect("the created line");
    let seen = states(&r.stderr);
    assert!(seen.contains(&"PULLING_IMAGE"), "{}", r.stderr);
    assert_eq!(seen.last(), Some(&"STOPPED"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("] failed: the image could not be pulled\n"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&format!(
            "error: workspace {name} did not start: the image could not be pulled\n"
        )),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("missing"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("help: check the image reference (--image, spec.image.registry.url)")
            && r.stderr
                .contains(&format!("`cordium start {name}` runs it again")),
        "{}",
        r.stderr
    );
    // Without --rm the workspace stays, stopped, with its failure.
    let got = ok(user.run(&["get", "workspace", &name, "-o", "json"]));
    let ws: serde_json::Value = serde_json::from_str(&got.stdout).expect("JSON");
    assert_eq!(ws["status"]["state"], "STOPPED");
    assert!(ws["status"]["failure"]["imagePull"].is_object(), "{ws}");
    ok(user.run(&["delete", "workspace", &name]));
    wait_until_gone(&user, &name);
}

#[test]
fn a_failing_task_is_explained_with_its_log_and_rm_deletes_the_workspace() {
    let user = User::new("failing");
    // The PRE_STOP task keeps the container a moment, so the log can be read after the
    // failure shows up.
    let file = user.file(
        "ws.yaml",
        "\
spec:
  runtime:
    tasks:
      - name: broken
        type: POST_START
        run: echo broken-output; exit 3
        onFailure: ON_FAILURE_ABORT
      - name: linger
        type: PRE_STOP
        run: sleep 2
",
    );
    let r = user.run(&["run", "-f", &file, "--image", &lab().image, "--rm"]);
    assert_eq!(r.code, 1, "{r:?}");
    let name = r
        .stderr
        .split_once("created workspace ")
        .and_then(|(_, rest)| rest.split_once(' '))
        .map(|(name, _)| name.to_owned())
        .expect("the created line");
    assert!(
        r.stderr.contains(&format!(
            "error: workspace {name} did not start: task `broken` exited with code 3\n"
        )),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("  | broken-output\n"), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("] deleted workspace {name}\n")),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("cordium start"), "{}", r.stderr);
    let r = user.run(&["get", "workspace", &name]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.starts_with("error: NotFound: "), "{r:?}");
    wait_until_gone(&user, &name);
}

#[test]
fn env_from_secret_and_rm_until_stopped() {
    let user = User::new("secretive");
    // The default Space exists once the user has a workspace.
    let empty = user.file("empty.yaml", "spec: {}\n");
    ok(user.run(&["create", "workspace", "-f", &empty]));
    let secret = user.file(
        "secret.yaml",
        "apiVersion: cordium/v1\nkind: Secret\nmetadata:\n  name: api-key\nspec: {}\n",
    );
    ok(user.run_with(
        &[
            "create",
            "secret",
            "-f",
            &secret,
            "--space",
            "default.secretive",
            "--value-stdin",
        ],
        Some("s3cr3t"),
    ));

    let (child, lines) = user.spawn(&[
        "run",
        "--image",
        &lab().image,
        "--env-from-secret",
        "API_KEY=api-key",
        "--rm",
    ]);
    let name = lines
        .recv_timeout(Duration::from_secs(120))
        .expect("the name, once it runs");
    let r = ok(user.run(&["exec", &name, "--", "sh", "-c", "echo \"$API_KEY\""]));
    assert_eq!(r.stdout, "s3cr3t\n");

    // stop (without --wait) returns at once; `run --rm` sees the stop, then deletes.
    let r = ok(user.run(&["stop", &name]));
    assert!(r.stdout.contains("state: STOPPING_REQUEST"), "{r:?}");
    let r = finish(child);
    assert_eq!(r.code, 0, "{r:?}");
    let seen = states(&r.stderr);
    assert_eq!(
        &seen[seen.len().saturating_sub(4)..],
        ["RUNNING", "STOPPING_REQUEST", "STOPPING", "STOPPED"].as_slice(),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&format!("] deleted workspace {name}\n")),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("s3cr3t"), "{}", r.stderr);
    let r = user.run(&["get", "workspace", &name]);
    assert_eq!(r.code, 1, "{r:?}");
    wait_until_gone(&user, &name);
}

#[test]
fn ctrl_c_with_rm_deletes_the_workspace() {
    let user = User::new("interrupted");
    let (child, lines) = user.spawn(&["run", "--image", &lab().image, "--rm"]);
    let name = lines
        .recv_timeout(Duration::from_secs(120))
        .expect("the name, once it runs");
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let r = finish(child);
    assert_eq!(r.code, 130, "{r:?}");
    assert!(
        r.stderr.contains(&format!("] deleted workspace {name}\n")),
        "{}",
        r.stderr
    );
    let r = user.run(&["get", "workspace", &name]);
    assert_eq!(r.code, 1, "{r:?}");
    wait_until_gone(&user, &name);
}

#[test]
fn run_checks_its_flags_before_calling_the_server() {
    let user = User::new("runner");
    let r = user.run(&["run", "--port", "web:x"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("is not PORT, NAME:PORT or NAME:PORT:default"),
        "{r:?}"
    );
    let r = user.run(&["run", "--memory", "1T"]);
    assert_eq!(r.code, 2, "{r:?}");
    // A value the spec refuses is reported like a document's mistake, against the flags.
    let r = user.run(&["run", "--port", "Bad_Name:80"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("spec.applications[0].name"), "{r:?}");
    assert!(r.stderr.contains("the `cordium run` flags"), "{r:?}");
    let r = user.run(&["exec", "abc"]);
    assert_eq!(r.code, 2, "{r:?}");
}
