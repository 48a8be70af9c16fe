//! Streamed processes and port connections on Kubernetes (see
//! `cordium_provisioner::runtime::stream`): the Pod's exec subresource over a websocket
//! (kube's `ws`), with `tty` and the resize channel, and its portforward subresource.
//!
//! The environment never goes into the exec URL (API server audit logs record it): the
//! launcher reads one line of `export`s from standard input before it runs the command, the
//! values written as `printf %b` octal escapes so the line holds no newline. On a terminal the
//! launcher first turns echo and line editing off (`stty`), so that line is neither echoed
//! nor cut at the terminal's line limit, and turns them back on before the command runs.
//! Signals are a `kill` by a second exec (the protocol has no signal channel), as on podman.

use crate::objects::{CONTAINER, Names};
use crate::runtime::KubernetesRuntime;
use cordium_provisioner::runtime::session::{self, Control, Ends, Reader, Waiter, read_marker};
use cordium_provisioner::runtime::stream::{launcher_script, signal_script};
use cordium_provisioner::runtime::{
    ContainerState, ExitStatus, PortStream, ProcessStream, ResolvedEnv, ResolvedValue, Runtime,
    RuntimeError, Signal, StreamSpec, TermSize, WorkspaceKey,
};
use futures::SinkExt as _;
use kube::api::{AttachParams, AttachedProcess, TerminalSize};
use std::time::Duration;
use tokio::io::AsyncWriteExt as _;

/// How long a process may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Echo and line editing off while the environment line is read (on a terminal only).
const QUIET: &str = "[ -t 0 ] && stty -echo -icanon min 1 2>/dev/null";

/// Reads and applies the environment line, then restores the terminal.
const PRELUDE: &str = "IFS= read -r cordium_env; eval \"$cordium_env\"; unset cordium_env; \
[ -t 0 ] && stty echo icanon 2>/dev/null";

fn failed(pod: &str, e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Engine {
        operation: format!("exec in Pod {pod}"),
        detail: e.to_string(),
    }
}

/// `value` as `printf %b` input inside single quotes: every byte but a few safe ones as an
/// octal escape.
fn escaped(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"_.,/:=+- @%".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("\\0{b:03o}"));
        }
    }
    out
}

/// The environment as one line of shell (no newline inside; ends with one).
pub fn env_line(env: &ResolvedEnv) -> Result<String, RuntimeError> {
    let mut line = String::from(":");
    for (key, value) in env {
        let shell_name = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !shell_name {
            return Err(RuntimeError::Engine {
                operation: "setting the environment".to_owned(),
                detail: format!("`{key}` is not a variable name a shell can set"),
            });
        }
        let value = match value {
            ResolvedValue::Literal(v) => v.as_str(),
            ResolvedValue::Secret(v) => v.expose(),
        };
        line.push_str(&format!(
            "; {key}=$(printf '%bx' '{}'); {key}=${{{key}%x}}; export {key}",
            escaped(value)
        ));
    }
    line.push('\n');
    Ok(line)
}

/// The exec's command: the launcher, then the program and its arguments.
pub fn stream_command(spec: &StreamSpec) -> Vec<String> {
    let mut prelude = String::from(PRELUDE);
    if let Some(dir) = &spec.working_dir {
        prelude.push_str("; cd ");
        prelude.push_str(&cordium_provisioner::lifecycle::shell_quote(dir));
        prelude.push_str(" || exit 1");
    }
    let script = format!("{QUIET}; {}", launcher_script(&prelude, spec));
    let mut command = vec![
        "/bin/sh".to_owned(),
        "-c".to_owned(),
        script,
        "cordium-stream".to_owned(),
    ];
    command.extend(spec.command.iter().flatten().cloned());
    command
}

/// Starts `spec` in `key`'s Pod. See the [module docs](self).
pub(crate) async fn stream(
    runtime: &KubernetesRuntime,
    key: &WorkspaceKey,
    spec: &StreamSpec,
) -> Result<ProcessStream, RuntimeError> {
    let pod = Names::of(key).pod;
    if runtime.state(key).await? != ContainerState::Running {
        return Err(RuntimeError::NotRunning { name: pod });
    }
    let env = env_line(&spec.env)?;
    let params = AttachParams {
        container: Some(CONTAINER.to_owned()),
        stdin: true,
        stdout: true,
        stderr: spec.tty.is_none(),
        tty: spec.tty.is_some(),
        ..AttachParams::default()
    };
    let mut process = runtime
        .pods()
        .exec(&pod, stream_command(spec), &params)
        .await
        .map_err(|e| failed(&pod, e))?;
    let mut resizes = process.terminal_size();
    if let (Some(size), Some(tx)) = (spec.tty, resizes.as_mut()) {
        let _ = tx.send(terminal_size(size)).await;
    }
    let mut stdout: Reader = match process.stdout() {
        Some(stdout) => Box::new(stdout),
        None => return Err(failed(&pod, "no stdout")),
    };
    let stderr = process.stderr().map(|s| Box::new(s) as Reader);
    let mut stdin = process.stdin().ok_or_else(|| failed(&pod, "no stdin"))?;
    let (pid, rest) = match tokio::time::timeout(START_TIMEOUT, read_marker(&mut stdout)).await {
        Ok((Some(pid), rest)) => (pid, rest),
        Ok((None, seen)) => return Err(failed(&pod, String::from_utf8_lossy(&seen).trim())),
        Err(_) => return Err(failed(&pod, "the process did not start in time")),
    };
    stdin
        .write_all(env.as_bytes())
        .await
        .map_err(|e| failed(&pod, e))?;
    let control = KubeControl {
        runtime: runtime.clone(),
        pod: pod.clone(),
        pid,
        resizes: tokio::sync::Mutex::new(resizes),
    };
    let waiter = KubeWaiter {
        pod,
        process: Some(process),
    };
    let ends = Ends {
        stdout,
        stderr,
        stdin: Some(Box::new(stdin)),
        tty: spec.tty.is_some(),
    };
    Ok(session::spawn(control, waiter, ends, rest))
}

fn terminal_size(size: TermSize) -> TerminalSize {
    TerminalSize {
        width: size.cols,
        height: size.rows,
    }
}

/// Resizes (the exec's resize channel) and signals (a second exec) a process in a Pod.
struct KubeControl {
    runtime: KubernetesRuntime,
    pod: String,
    pid: u32,
    resizes: tokio::sync::Mutex<Option<futures::channel::mpsc::Sender<TerminalSize>>>,
}

#[async_trait::async_trait]
impl Control for KubeControl {
    async fn resize(&self, size: TermSize) {
        if let Some(tx) = self.resizes.lock().await.as_mut() {
            let _ = tx.send(terminal_size(size)).await;
        }
    }

    async fn signal(&self, signal: Signal) {
        let script = signal_script(signal, self.pid);
        let command = vec!["/bin/sh".to_owned(), "-c".to_owned(), script];
        // kube refuses an exec with no stream at all: stdout, left unread.
        let params = AttachParams {
            container: Some(CONTAINER.to_owned()),
            stdin: false,
            stdout: true,
            stderr: false,
            ..AttachParams::default()
        };
        match self.runtime.pods().exec(&self.pod, command, &params).await {
            Ok(process) => drop(process.join().await),
            Err(e) => {
                tracing::warn!(pod = %self.pod, error = %e, "cannot signal a streamed process")
            }
        }
    }
}

/// The exec's final status.
struct KubeWaiter {
    pod: String,
    process: Option<AttachedProcess>,
}

#[async_trait::async_trait]
impl Waiter for KubeWaiter {
    async fn wait(&mut self) -> Result<ExitStatus, RuntimeError> {
        let mut process = self
            .process
            .take()
            .ok_or_else(|| failed(&self.pod, "waited twice"))?;
        let status = match process.take_status() {
            Some(status) => status.await,
            None => None,
        };
        drop(process.join().await);
        let status = status.ok_or_else(|| failed(&self.pod, "the exec ended without a status"))?;
        crate::exec::exit_code(&status)
            .map(|code| ExitStatus { code })
            .ok_or_else(|| {
                failed(
                    &self.pod,
                    status.message.as_deref().unwrap_or("the exec failed"),
                )
            })
    }

    async fn abandon(&mut self) {
        if let Some(process) = self.process.take() {
            process.abort();
        }
    }
}

/// Connects to `port` in `key`'s Pod through the portforward subresource.
pub(crate) async fn connect(
    runtime: &KubernetesRuntime,
    key: &WorkspaceKey,
    port: u16,
) -> Result<PortStream, RuntimeError> {
    let pod = Names::of(key).pod;
    if runtime.state(key).await? != ContainerState::Running {
        return Err(RuntimeError::NotRunning { name: pod });
    }
    let mut forwarder = runtime
        .pods()
        .portforward(&pod, &[port])
        .await
        .map_err(|e| failed(&pod, e))?;
    let stream = forwarder
        .take_stream(port)
        .ok_or_else(|| failed(&pod, "no stream for the port"))?;
    // The forwarder's task carries the bytes; it ends when the stream is dropped.
    tokio::spawn(async move { drop(forwarder.join().await) });
    Ok(Box::pin(stream))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cordium_provisioner::runtime::SecretValue;

    #[test]
    fn the_environment_line_has_no_newline_and_keeps_values() {
        let env = vec![(
            "TOKEN".to_owned(),
            ResolvedValue::Secret(SecretValue::new("a'b\nc\n")),
        )];
        let line = env_line(&env).expect("a line");
        assert_eq!(line.matches('\n').count(), 1);
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(format!(
                "{}printf '%s|' \"$TOKEN\"",
                line.trim_end().to_owned() + "; "
            ))
            .output()
            .expect("sh");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "a'b\nc\n|");
        let bad = vec![("A B".to_owned(), ResolvedValue::Literal("x".to_owned()))];
        assert!(env_line(&bad).is_err());
    }
}
