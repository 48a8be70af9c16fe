//! Running the `podman` command line: every invocation gets this backend's configuration
//! (`CONTAINERS_CONF`, and `CONTAINERS_REGISTRIES_CONF` when set), is killed if its caller
//! goes away, and fails with what podman said.

use super::{Podman, engine, last_line};
use crate::runtime::{RuntimeError, WorkspaceKey};
use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;

/// One turn per workspace for commands on its secret (see [`Podman::run_to_completion`]);
/// a workspace's entry goes when its objects are removed and no command holds it.
#[derive(Debug, Clone, Default)]
pub(super) struct Turns(Arc<std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>);

impl Turns {
    fn of(&self, key: &WorkspaceKey) -> Arc<tokio::sync::Mutex<()>> {
        match self.0.lock() {
            Ok(mut turns) => Arc::clone(turns.entry(key.object_name()).or_default()),
            // A poisoned map: a turn of its own (no worse than before turns existed).
            Err(_) => Arc::default(),
        }
    }

    /// Forgets `key`'s turn (its workspace's objects are removed), unless a command still
    /// holds or awaits it: that one's successor must wait for it.
    pub(super) fn forget(&self, key: &WorkspaceKey) {
        if let Ok(mut turns) = self.0.lock() {
            let name = key.object_name();
            if turns
                .get(&name)
                .is_some_and(|turn| Arc::strong_count(turn) == 1)
            {
                turns.remove(&name);
            }
        }
    }
}

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

    /// Runs podman with its standard output written to `file`, at most `max_bytes` of it
    /// (`stdin`, when given, is written meanwhile): past that, the output's pipe is closed and
    /// podman killed, and the run fails with [`RuntimeError::Engine`] naming the bound. For
    /// output made by the container's own programs (a build's snapshot), which may write
    /// without end. Returns the exit status and standard error; how many bytes were written.
    pub(super) async fn output_to_file(
        &self,
        mut command: Command,
        stdin: Option<&[u8]>,
        mut file: tokio::fs::File,
        max_bytes: u64,
    ) -> Result<(std::process::ExitStatus, Vec<u8>, u64), RuntimeError> {
        use tokio::io::AsyncReadExt as _;
        if stdin.is_some() {
            command.stdin(Stdio::piped());
        }
        let mut child = self.spawn(&mut command)?;
        let input = child.stdin.take();
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(engine("podman", "no output pipes"));
        };
        let feed = async move {
            if let (Some(data), Some(mut pipe)) = (stdin, input) {
                // A closed pipe is the command's business: its exit status says what happened.
                let _ = pipe.write_all(data).await;
            }
        };
        // The reader is dropped when the bound is passed, so podman's writes fail from then on.
        let copy = async move {
            let mut bounded = stdout.take(max_bytes.saturating_add(1));
            let written = tokio::io::copy(&mut bounded, &mut file).await;
            let flushed = file.flush().await;
            written.and_then(|n| flushed.map(|()| n))
        };
        // Standard error is read meanwhile, in a task of its own, so that podman is killed as
        // soon as the bound is passed rather than when it gives up writing.
        let stderr = tokio::spawn(crate::runtime::read_captured(stderr, "stderr"));
        let ((), written) = tokio::join!(feed, copy);
        let over = written.as_ref().is_ok_and(|n| *n > max_bytes);
        if over || written.is_err() {
            let _ = child.kill().await;
        }
        let written = written.map_err(|e| engine("writing podman's output", e.to_string()))?;
        if over {
            return Err(engine(
                "podman",
                format!("its output passed the bound of {} MiB", max_bytes >> 20),
            ));
        }
        let status = child
            .wait()
            .await
            .map_err(|e| engine("waiting for podman", e.to_string()))?;
        let stderr = stderr
            .await
            .map_err(|e| engine("reading podman's errors", e.to_string()))??;
        Ok((status, stderr, written))
    }

    /// Runs `podman <args>` as [`Podman::run`] does, but to its end even when the caller is
    /// cancelled (a stop cancelling a start): for commands that rewrite podman's plain-file
    /// state. The secret store's `secrets.json` is rewritten in place, so a podman killed in
    /// the middle leaves it empty, and every later secret command on the host fails with
    /// "unexpected end of JSON input".
    ///
    /// Commands on one workspace's secret run one at a time (`key`'s turn, held until the
    /// command ends, even past its caller): a cancelled start's create cannot land after the
    /// stop's removal, nor between the next start's removal and create.
    pub(super) async fn run_to_completion(
        &self,
        key: &WorkspaceKey,
        args: &[&str],
        stdin: Option<Vec<u8>>,
    ) -> Result<String, RuntimeError> {
        let turn = self.secret_turns.of(key).lock_owned().await;
        let mut command = self.command();
        command.args(args).kill_on_drop(false);
        if stdin.is_some() {
            command.stdin(Stdio::piped());
        }
        let mut child = self.spawn(&mut command)?;
        let operation = format!("podman {}", args.first().copied().unwrap_or_default());
        // A task of its own: dropping its handle leaves it running to the end.
        let finished = tokio::spawn(async move {
            let _turn = turn;
            if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
                let _ = pipe.write_all(&data).await;
            }
            child.wait_with_output().await
        });
        let out = finished
            .await
            .map_err(|e| engine(&operation, e.to_string()))?
            .map_err(|e| engine(&operation, e.to_string()))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(engine(&operation, last_line(&out.stderr)))
        }
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

    /// [`Podman::run`] of a listing (`ps`, `volume ls`), tried again a few times when it
    /// fails: podman lists names, then reads each, and fails when one went away in between
    /// (any workspace's delete, at any time).
    pub(super) async fn list(&self, args: &[&str]) -> Result<String, RuntimeError> {
        let mut listed = self.run(args, None).await;
        for _ in 0..3 {
            if listed.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            listed = self.run(args, None).await;
        }
        listed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turn_is_shared_kept_while_held_and_forgotten_when_free() {
        let turns = Turns::default();
        let key = WorkspaceKey::new("default.alice", "x7k");
        let held = turns.of(&key);
        assert!(
            Arc::ptr_eq(&held, &turns.of(&key)),
            "one turn per workspace"
        );
        turns.forget(&key);
        assert!(Arc::ptr_eq(&held, &turns.of(&key)), "held: kept");
        let weak = Arc::downgrade(&held);
        drop(held);
        turns.forget(&key);
        assert!(weak.upgrade().is_none(), "free: forgotten");
    }
}
