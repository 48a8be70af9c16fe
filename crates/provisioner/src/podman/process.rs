//! Running the `podman` command line: every invocation gets this backend's configuration
//! (`CONTAINERS_CONF`, and `CONTAINERS_REGISTRIES_CONF` when set), is killed if its caller
//! goes away, and fails with what podman said.

use super::{Podman, engine, last_line};
use crate::runtime::RuntimeError;
use std::process::Stdio;
use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;

impl Podman {
    /// A `podman` command with this backend's configuration.
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.options.program);
        command
            .env("CONTAINERS_CONF", &self.containers_conf)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(path) = &self.registries_conf {
            command.env("CONTAINERS_REGISTRIES_CONF", path);
        }
        command
    }

    /// Starts `command`; failing to, names the program.
    fn spawn(&self, command: &mut Command) -> Result<tokio::process::Child, RuntimeError> {
        command.spawn().map_err(|e| {
            engine(
                "running podman",
                format!("{}: {e}", self.options.program.display()),
            )
        })
    }

    /// Runs podman with `args` (and `stdin`), returning its output whatever the exit code.
    pub(super) async fn output(
        &self,
        mut command: Command,
        stdin: Option<&[u8]>,
    ) -> Result<std::process::Output, RuntimeError> {
        if stdin.is_some() {
            command.stdin(Stdio::piped());
        }
        let mut child = self.spawn(&mut command)?;
        if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(data)
                .await
                .map_err(|e| engine("writing to podman", e.to_string()))?;
        }
        child
            .wait_with_output()
            .await
            .map_err(|e| engine("waiting for podman", e.to_string()))
    }

    /// Runs podman as [`Podman::output`] does, holding at most
    /// [`crate::runtime::EXEC_OUTPUT_LIMIT`] of each output: past it, the `podman exec` client
    /// is killed and the run fails. The command itself may run on inside the container (conmon
    /// keeps the session); only the lifecycle's own steps come here, and their output goes to
    /// the log. Users' commands take the stream core, whose sessions kill what they started.
    pub(super) async fn captured(
        &self,
        mut command: Command,
    ) -> Result<std::process::Output, RuntimeError> {
        let mut child = self.spawn(&mut command)?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(engine("podman exec", "no output pipes"));
        };
        let (stdout, stderr) = tokio::try_join!(
            crate::runtime::read_captured(stdout, "stdout"),
            crate::runtime::read_captured(stderr, "stderr"),
        )?;
        let status = child
            .wait()
            .await
            .map_err(|e| engine("waiting for podman", e.to_string()))?;
        Ok(std::process::Output {
            status,
            stdout,
            stderr,
        })
    }

    /// Runs `podman <args>`; a non-zero exit is an [`RuntimeError::Engine`] with its stderr.
    pub(super) async fn run(
        &self,
        args: &[&str],
        stdin: Option<&[u8]>,
    ) -> Result<String, RuntimeError> {
        let mut command = self.command();
        command.args(args);
        let out = self.output(command, stdin).await?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(engine(
                &format!("podman {}", args.first().copied().unwrap_or_default()),
                last_line(&out.stderr),
            ))
        }
    }
}
