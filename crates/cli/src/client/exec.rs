//! `cordium exec` and `cordium shell`: a command, or the login shell, in a running workspace,
//! over one ExecStream session ([`super::session`]).

use super::connect::client;
use super::error::ClientError;
use super::session::{self, Ended, Sink};
use super::terminal::{self, RawMode};
use crate::args::{ExecArgs, OnServer, ServerArgs, SessionArgs};
use crate::output::Output;
use cordium_api as pb;

/// The exit code `cordium exec` passes on: the command's when it is one a process can have
/// (0 to 255), else 255 (e.g. -1: the command could not be run at all).
pub(super) fn exit_code(code: i32) -> i32 {
    if (0..=255).contains(&code) { code } else { 255 }
}

fn env(pairs: &[(String, String)]) -> Vec<String> {
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect()
}

/// `cordium exec NAME [-i] [-t] [-e KEY=VALUE]... [-w DIR] -- COMMAND...`: runs the command,
/// streams its output (byte for byte, stdout and stderr apart without -t), forwards standard
/// input (when it is not a terminal, or with -i), and returns its exit code.
pub(super) async fn exec(
    command: &OnServer<ExecArgs>,
    out: &mut Output,
) -> Result<i32, ClientError> {
    let args = &command.flags;
    let open = pb::ExecStreamOpen {
        command: args.command.clone(),
        ..open(&args.session)
    };
    let forward = args.interactive || args.tty || !terminal::stdin_is_terminal();
    interactive(&command.server, open, args.tty, forward, out).await
}

/// `cordium shell NAME`: the login shell on a terminal.
pub(super) async fn shell(
    command: &OnServer<SessionArgs>,
    out: &mut Output,
) -> Result<i32, ClientError> {
    interactive(&command.server, open(&command.flags), true, true, out).await
}

/// The `open` frame for `args`, without a command (the login shell).
fn open(args: &SessionArgs) -> pb::ExecStreamOpen {
    pb::ExecStreamOpen {
        name: args.name.clone(),
        env: env(&args.env),
        working_dir: args.workdir.clone().unwrap_or_default(),
        ..pb::ExecStreamOpen::default()
    }
}

/// Runs a session with this terminal (raw while it lasts, when `tty`) and standard input
/// (when `forward`).
async fn interactive(
    server: &ServerArgs,
    open: pb::ExecStreamOpen,
    tty: bool,
    forward: bool,
    out: &mut Output,
) -> Result<i32, ClientError> {
    let mut client = client(server).await?;
    let open = session::with_terminal(open, tty);
    let stdin = forward.then(terminal::stdin_chunks);
    // Restored when this returns, whichever way.
    let raw = if tty { RawMode::enter() } else { None };
    let mut err = |data: &[u8]| {
        use std::io::Write as _;
        let _ = std::io::stderr().write_all(data);
    };
    let ended = session::run(&mut client, open, stdin, Sink::Output(out), &mut err).await;
    drop(raw);
    out.flush();
    Ok(match ended? {
        Ended::Exit(code) => exit_code(code),
        Ended::Stopped(code) => code,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_a_process_can_have_pass_through() {
        assert_eq!(exit_code(0), 0);
        assert_eq!(exit_code(3), 3);
        assert_eq!(exit_code(255), 255);
        assert_eq!(exit_code(-1), 255);
        assert_eq!(exit_code(256), 255);
    }
}
