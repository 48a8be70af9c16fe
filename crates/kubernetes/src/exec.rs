//! How an [`ExecSpec`] becomes a Kubernetes exec: the command, what is written to its
//! standard input, and how its final status becomes an exit code. Pure, so testable without
//! an API server (the websocket itself is kube's).
//!
//! The environment travels on standard input, never in the command: the command is part of
//! the exec request's URL, which API server audit logs record, and the environment may hold
//! secrets. The wrapper script reads `export` lines from standard input, changes directory,
//! then runs the script with `sh -c`.
//!
//! Output sent to the workspace log goes to the container's own standard output and error
//! (`/proc/1/fd/1` and `/proc/1/fd/2`, writable because every process of the container runs as
//! the same user), so it appears in the Pod's log, which [`Runtime::logs`] streams. When they
//! are not writable the output is returned instead.
//!
//! The restricted security context forbids privilege escalation, so a task asking to run as
//! root runs as the container's user, after a warning in its output.
//!
//! [`Runtime::logs`]: cordium_provisioner::runtime::Runtime::logs

use cordium_provisioner::lifecycle::shell_quote;
use cordium_provisioner::runtime::{ExecSpec, ResolvedValue};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;

/// The command and standard input of one exec.
#[derive(Clone, PartialEq, Eq)]
pub struct ExecCommand {
    /// The command (`/bin/sh -c <wrapper> cordium-exec <script> <dir>`).
    pub command: Vec<String>,
    /// What to write to standard input before closing it: the environment, as `export` lines.
    pub stdin: Vec<u8>,
}

impl std::fmt::Debug for ExecCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecCommand")
            .field("command", &self.command)
            .field("stdin", &format_args!("<{} bytes>", self.stdin.len()))
            .finish()
    }
}

/// The first part of every wrapper: read the environment, change directory.
const PRELUDE: &str = r#"cordium_logged=
eval "$(cat)" || exit 127
if [ -n "$2" ]; then cd "$2" || exit 1; else cd "${HOME:-/}" 2>/dev/null || cd /; fi
"#;

/// Sends the rest of the wrapper's output to the container's log when it can.
const TO_LOG: &str = "if { true >/proc/1/fd/1 && true >/proc/1/fd/2; } 2>/dev/null; then \
exec >/proc/1/fd/1 2>/proc/1/fd/2; cordium_logged=1; fi\n";

/// The warning printed when a task asks for root.
const NO_ROOT: &str = "echo \"cordium: running as uid $(id -u): the restricted security \
context allows no root\" >&2\n";

/// The exec of `exec`. See the [module docs](self).
pub fn exec_command(exec: &ExecSpec) -> ExecCommand {
    let mut wrapper = PRELUDE.to_owned();
    if exec.to_log {
        wrapper.push_str(TO_LOG);
    }
    if exec.as_root {
        wrapper.push_str(NO_ROOT);
    }
    wrapper.push_str(if exec.detach {
        // A detached task must not hold the exec's output streams open.
        "if [ -n \"$cordium_logged\" ]; then /bin/sh -c \"$1\" </dev/null & \
         else /bin/sh -c \"$1\" </dev/null >/dev/null 2>&1 & fi\nexit 0\n"
    } else {
        "exec /bin/sh -c \"$1\" </dev/null\n"
    });
    let mut stdin = String::new();
    for (key, value) in &exec.env {
        let value = match value {
            ResolvedValue::Literal(value) => value.as_str(),
            ResolvedValue::Secret(value) => value.expose(),
        };
        stdin.push_str("export ");
        stdin.push_str(&shell_quote(&format!("{key}={value}")));
        stdin.push('\n');
    }
    ExecCommand {
        command: vec![
            "/bin/sh".to_owned(),
            "-c".to_owned(),
            wrapper,
            "cordium-exec".to_owned(),
            exec.script.clone(),
            exec.working_dir.clone().unwrap_or_default(),
        ],
        stdin: stdin.into_bytes(),
    }
}

/// The exit code an exec's final status reports: `Success` is 0, a `NonZeroExitCode`
/// failure carries the code in its `ExitCode` cause. `None` when the status says neither
/// (the exec itself failed).
pub fn exit_code(status: &Status) -> Option<i32> {
    match (status.status.as_deref(), status.reason.as_deref()) {
        (Some("Success"), _) => Some(0),
        (Some("Failure"), Some("NonZeroExitCode")) => status
            .details
            .as_ref()?
            .causes
            .as_ref()?
            .iter()
            .find(|cause| cause.reason.as_deref() == Some("ExitCode"))
            .and_then(|cause| cause.message.as_deref()?.parse().ok()),
        _ => None,
    }
}
