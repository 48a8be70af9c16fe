//! ExecWorkspace and WorkspaceLogs: reaching a running workspace's container, for its owner.

use super::Caller;
use super::api::Api;
use super::documents::bad_field;
use super::resource::Result;
use super::stream::Guard;
use super::workspace::Change;
use crate::pb;
use crate::store::Record;
use cordium_provisioner::runtime::{
    EXEC_OUTPUT_LIMIT, ProcessStream, ResolvedEnv, ResolvedValue, RuntimeError, SecretValue,
    StreamOutput, StreamSpec, WorkspaceKey,
};
use std::pin::Pin;
use tokio_stream::Stream;
use tonic::Status;

/// How many log chunks wait for a slow reader before the log waits for it.
const LOG_CHUNKS_IN_FLIGHT: usize = 16;

/// The stream WorkspaceLogs answers with.
pub(crate) type LogStream = Pin<Box<dyn Stream<Item = Result<pb::WorkspaceLogChunk>> + Send>>;

/// The most bytes of one argument or environment entry (Linux refuses a longer one to any
/// program: `MAX_ARG_STRLEN`), and of a request's command and environment together.
const MAX_ARG_BYTES: usize = 128 << 10;
const MAX_COMMAND_BYTES: usize = 512 << 10;

/// `KEY=VALUE` pairs (the field `field`) as an environment. Values are passed like secrets
/// (through podman's environment), so none is on a command line of the host. Each key is a
/// shell name, and no entry holds NUL or is longer than a program accepts: mistakes are the
/// caller's, named here, not a runtime's failure later.
pub(super) fn parse_env(pairs: &[String], field: &str) -> Result<ResolvedEnv> {
    let mut env = Vec::new();
    for (i, pair) in pairs.iter().enumerate() {
        let at = || format!("{field}[{i}]");
        let Some((key, value)) = pair.split_once('=') else {
            return Err(bad_field(&at(), "write `KEY=VALUE`"));
        };
        if !cordium_spec::validate::is_variable_name(key) {
            return Err(bad_field(&at(), cordium_spec::validate::VARIABLE_NAME_RULE));
        }
        if pair.len() > MAX_ARG_BYTES || pair.contains('\0') {
            return Err(bad_field(
                &at(),
                format!("at most {} KiB, without NUL", MAX_ARG_BYTES >> 10),
            ));
        }
        env.push((
            key.to_owned(),
            ResolvedValue::Secret(SecretValue::new(value)),
        ));
    }
    Ok(env)
}

/// Checks a working directory (the field `field`): a path of at most 4,096 bytes, without NUL.
pub(super) fn check_working_dir(dir: &str, field: &str) -> Result<()> {
    if dir.len() > 4096 || dir.contains('\0') {
        return Err(bad_field(
            field,
            "a path of at most 4,096 bytes, without NUL",
        ));
    }
    // Empty: the user's home. Else absolute: a relative one has nothing to be relative to
    // (and one such as `-x` would read as a flag wherever a command line carries it).
    if !dir.is_empty() && !dir.starts_with('/') {
        return Err(bad_field(
            field,
            "an absolute path inside the workspace, e.g. `/workspace`, or empty for the home folder",
        ));
    }
    Ok(())
}

/// Checks a command (the field `field`) and an environment `env` as a program receives them:
/// no NUL in an argument, none longer than [`MAX_ARG_BYTES`], at most [`MAX_COMMAND_BYTES`]
/// with the environment.
pub(super) fn check_command(command: &[String], field: &str, env: &[String]) -> Result<()> {
    if let Some(i) = command
        .iter()
        .position(|a| a.len() > MAX_ARG_BYTES || a.contains('\0'))
    {
        return Err(bad_field(
            &format!("{field}[{i}]"),
            format!(
                "an argument is at most {} KiB, without NUL",
                MAX_ARG_BYTES >> 10
            ),
        ));
    }
    let total: usize = command.iter().chain(env).map(|a| a.len() + 1).sum();
    if total > MAX_COMMAND_BYTES {
        return Err(bad_field(
            field,
            format!(
                "the command and its environment are {total} bytes; at most {} KiB",
                MAX_COMMAND_BYTES >> 10
            ),
        ));
    }
    Ok(())
}

/// A streamed process's answer to ExecWorkspace: its output, held up to
/// [`EXEC_OUTPUT_LIMIT`] bytes each, and its exit code. Past the limit the process is dropped,
/// which kills it in the container, and the answer is RESOURCE_EXHAUSTED. Each frame counts as
/// the session moving (`guard`'s idle limit).
async fn captured(process: ProcessStream, guard: &Guard) -> Result<pb::ExecWorkspaceResponse> {
    let ProcessStream { input, mut output } = process;
    // No stdin: the command reads end of file.
    drop(input);
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    while let Some(frame) = output.recv().await {
        guard.moved();
        let (held, bytes, stream) = match frame {
            StreamOutput::Stdout(bytes) => (&mut stdout, bytes, "stdout"),
            StreamOutput::Stderr(bytes) => (&mut stderr, bytes, "stderr"),
            StreamOutput::Exit(status) => {
                return Ok(pb::ExecWorkspaceResponse {
                    exit_code: status.code,
                    stdout,
                    stderr,
                });
            }
            StreamOutput::Failed(e) => return Err(runtime_status(e)),
        };
        if held.len() + bytes.len() > EXEC_OUTPUT_LIMIT {
            return Err(runtime_status(RuntimeError::OutputTooLarge { stream }));
        }
        held.extend_from_slice(&bytes);
    }
    Err(Status::unavailable(
        "the command's session ended without an exit status",
    ))
}

/// A runtime error as a status (never carries a secret: runtimes do not put values in errors).
pub(super) fn runtime_status(e: RuntimeError) -> Status {
    match e {
        RuntimeError::NotRunning { .. } | RuntimeError::PortClosed { .. } => {
            Status::failed_precondition(e.to_string())
        }
        RuntimeError::OutputTooLarge { .. } => Status::resource_exhausted(e.to_string()),
        RuntimeError::Refused { .. } => Status::invalid_argument(e.to_string()),
        other => Status::unavailable(other.to_string()),
    }
}

impl Api {
    /// A workspace the caller owns (or administers): what runs inside it sees the owner's
    /// secrets and session credential, so other members of its Space may not exec into it,
    /// forward its ports or read its log. As every workspace call answers: NotFound for who
    /// cannot see it, PermissionDenied for a member who can.
    pub(super) async fn own_workspace(&self, caller: &Caller, name: &str) -> Result<Record> {
        let (record, _) = self
            .changeable_workspace(caller, name, Change::Exec)
            .await?;
        Ok(record)
    }

    /// ExecWorkspace: runs a command in the workspace's container, on the stream core and as
    /// a session (as ExecStream does, without stdin: counted against the user's sessions, its
    /// credential checked again, idle and total time bounded), and answers its output whole.
    pub(crate) async fn exec_workspace(
        &self,
        caller: &Caller,
        token: String,
        req: pb::ExecWorkspaceRequest,
    ) -> Result<pb::ExecWorkspaceResponse> {
        let slot = self.session_slot(&caller.name)?;
        let record = self.own_workspace(caller, &req.name).await?;
        if req.command.is_empty() {
            return Err(bad_field("command", "name the program to run"));
        }
        check_command(&req.command, "command", &req.env)?;
        check_working_dir(&req.working_dir, "working_dir")?;
        let spec = StreamSpec {
            env: parse_env(&req.env, "env")?,
            working_dir: Some(req.working_dir).filter(|d| !d.is_empty()),
            ..StreamSpec::command(req.command)
        };
        let key = WorkspaceKey::new(&record.space, &record.name);
        let process = self
            .runtime()?
            .stream(&key, &spec)
            .await
            .map_err(runtime_status)?;
        // A session like ExecStream's: its credential checked again, its idle and total time
        // bounded; whatever ends it first drops the process, which kills the command.
        let guard = self.guard(caller, token, slot);
        tokio::select! {
            answer = captured(process, &guard) => answer,
            status = guard.watch() => Err(status),
        }
    }

    /// WorkspaceLogs: the container's output, optionally followed. Each log read, followed or
    /// not, counts as one of the user's sessions ([`Api::session_slot`]) until its stream ends:
    /// each is a `podman logs` process on the host, so without the cap one user could start
    /// them without end.
    pub(crate) async fn workspace_logs(
        &self,
        caller: &Caller,
        token: String,
        req: pb::WorkspaceLogsRequest,
    ) -> Result<LogStream> {
        let record = self.own_workspace(caller, &req.name).await?;
        let slot = self.session_slot(&caller.name)?;
        let key = WorkspaceKey::new(&record.space, &record.name);
        let stream = self
            .runtime()?
            .logs(&key, req.follow)
            .await
            .map_err(runtime_status)?;
        let chunks = Holding {
            stream: tokio_stream::StreamExt::map(stream, |chunk| {
                chunk
                    .map(|data| pb::WorkspaceLogChunk { data })
                    .map_err(runtime_status)
            }),
            _slot: slot,
        };
        if !req.follow {
            return Ok(Box::pin(chunks));
        }
        Ok(Box::pin(self.rechecked(caller.clone(), token, chunks)))
    }

    /// A followed log, ended like a watch: its credential is authenticated again every
    /// [`super::watch::RECHECK_EVERY`], and once it is revoked, rotated or expired the stream
    /// answers UNAUTHENTICATED and stops (the `podman logs` behind it with it). A client that
    /// goes away ends it at the next chunk or check.
    fn rechecked(
        &self,
        caller: Caller,
        token: String,
        mut chunks: impl Stream<Item = Result<pb::WorkspaceLogChunk>> + Send + Unpin + 'static,
    ) -> impl Stream<Item = Result<pb::WorkspaceLogChunk>> + Send + 'static {
        let (tx, rx) = tokio::sync::mpsc::channel(LOG_CHUNKS_IN_FLIGHT);
        let api = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(super::watch::RECHECK_EVERY);
            ticks.tick().await;
            loop {
                let next = tokio::select! {
                    chunk = tokio_stream::StreamExt::next(&mut chunks) => match chunk {
                        Some(chunk) => chunk,
                        None => return,
                    },
                    _ = ticks.tick() => {
                        match super::watch::still_valid(&api, &caller, &token, "log").await {
                            Ok(()) if !tx.is_closed() => continue,
                            Ok(()) => return,
                            Err(status) => Err(status),
                        }
                    }
                };
                let ended = next.is_err();
                if tx.send(next).await.is_err() || ended {
                    return;
                }
            }
        });
        tokio_stream::wrappers::ReceiverStream::new(rx)
    }
}

/// A stream that holds one of its user's session places ([`Api::session_slot`]) for as long
/// as it lives: the place is given back when the stream is dropped, however it ends.
struct Holding<S> {
    stream: S,
    _slot: super::watch::WatchSlot,
}

impl<S: Stream + Unpin> Stream for Holding<S> {
    type Item = S::Item;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<S::Item>> {
        Pin::new(&mut self.stream).poll_next(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::check_working_dir;

    /// A working folder is absolute or empty (probe 7: `-x` and `../..` went to podman).
    #[test]
    fn a_working_folder_is_absolute_or_the_home() {
        for ok in ["", "/", "/workspace", "/tmp/../workspace"] {
            assert!(check_working_dir(ok, "working_dir").is_ok(), "{ok}");
        }
        for bad in ["-x", "../../..", "workspace", "/a\0b"] {
            let refused = check_working_dir(bad, "open.working_dir").expect_err(bad);
            assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{bad}");
            assert!(
                refused.message().contains("open.working_dir"),
                "{refused:?}"
            );
        }
        let long = format!("/{}", "a".repeat(4096));
        assert!(check_working_dir(&long, "working_dir").is_err());
    }
}
