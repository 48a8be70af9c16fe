//! The exec wrapper, run by a real `/bin/sh` exactly as the container would run it, and exit
//! codes read from exec statuses.

use cordium_kubernetes::exec::{exec_command, exit_code};
use cordium_provisioner::runtime::{ExecSpec, ResolvedValue, SecretValue};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use std::io::Write as _;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn run(exec: &ExecSpec) -> Output {
    let command = exec_command(exec);
    let mut child = Command::new(&command.command[0])
        .args(&command.command[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&command.stdin)
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

#[test]
fn the_wrapper_sets_the_environment_and_directory_and_keeps_the_exit_code() {
    let mut exec = ExecSpec::captured("printf '%s|%s|%s' \"$PLAIN\" \"$TOKEN\" \"$(pwd)\"; exit 3");
    exec.env = vec![
        (
            "PLAIN".to_owned(),
            ResolvedValue::Literal("it's a \"value\" with $dollars".to_owned()),
        ),
        (
            "TOKEN".to_owned(),
            ResolvedValue::Secret(SecretValue::new("s3cr3t'\nline")),
        ),
    ];
    exec.working_dir = Some("/tmp".to_owned());
    let out = run(&exec);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "it's a \"value\" with $dollars|s3cr3t'\nline|/tmp"
    );
    let command = exec_command(&exec);
    assert!(
        !command.command.iter().any(|part| part.contains("s3cr3t")),
        "a secret is in the command"
    );
    assert!(!format!("{command:?}").contains("s3cr3t"));
}

#[test]
fn a_missing_directory_fails_before_the_script() {
    let mut exec = ExecSpec::captured("echo ran");
    exec.working_dir = Some("/nonexistent/cordium".to_owned());
    let out = run(&exec);
    assert_ne!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
}

#[test]
fn a_root_task_is_warned_about() {
    let mut exec = ExecSpec::captured("true");
    exec.as_root = true;
    let out = run(&exec);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("restricted security context"));
}

#[test]
fn a_detached_task_returns_at_once() {
    let mut exec = ExecSpec::captured("sleep 3; exit 4");
    exec.detach = true;
    let started = Instant::now();
    let out = run(&exec);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

fn status(value: serde_json::Value) -> Status {
    serde_json::from_value(value).expect("status")
}

#[test]
fn exit_codes_come_from_the_exec_status() {
    assert_eq!(
        exit_code(&status(serde_json::json!({"status": "Success"}))),
        Some(0)
    );
    assert_eq!(
        exit_code(&status(serde_json::json!({
            "status": "Failure", "reason": "NonZeroExitCode",
            "message": "command terminated with non-zero exit code: exit status 42",
            "details": {"causes": [{"reason": "ExitCode", "message": "42"}]}
        }))),
        Some(42)
    );
    assert_eq!(
        exit_code(&status(serde_json::json!({
            "status": "Failure", "reason": "InternalError", "message": "container not found"
        }))),
        None
    );
}
