//! SSH channels on the runtime's stream core: a session channel becomes one streamed process
//! (`Runtime::stream`), a `direct-tcpip` channel one port connection (`Runtime::connect`).
//!
//! A session waits for its request: `pty-req` (kept for the process), `env` (`LANG` and
//! `LC_*` only), then `shell` (the user's login shell), `exec` (`sh -c COMMAND`) or the
//! `sftp` subsystem (the image's OpenSSH `sftp-server`, looked for at the usual paths; scp
//! uses it too). Then stdin, window changes, signals and EOF go in; stdout, stderr and the
//! exit status come out. Backpressure is the stream core's and SSH's own: output is sent only
//! as fast as the client's window opens, input only as fast as the process reads it.
//!
//! Each session counts against the user's session cap and each forward against the user's
//! forwarded-connection cap, shared with ExecStream and PortForward
//! ([`crate::service::StreamLimits`]).

use super::login::Login;
use crate::service::Api;
use cordium_provisioner::runtime::{
    ResolvedEnv, ResolvedValue, RuntimeError, Signal, StreamInput, StreamOutput, StreamSpec,
    TermSize,
};
use russh::server::{ChannelOpenHandle, Msg};
use russh::{Channel, ChannelMsg, ChannelOpenFailure, Sig};

/// The subsystem name of SFTP.
pub const SFTP: &str = "sftp";

/// Runs OpenSSH's `sftp-server` from wherever the image's distribution puts it.
const SFTP_SERVER: &str = "for p in /usr/lib/openssh/sftp-server /usr/libexec/openssh/sftp-server \
/usr/lib/ssh/sftp-server /usr/libexec/sftp-server /usr/lib/sftp-server; do \
[ -x \"$p\" ] && exec \"$p\"; done; \
command -v sftp-server >/dev/null 2>&1 && exec sftp-server; \
echo 'cordium: this workspace has no sftp-server (install openssh-sftp-server in its image)' >&2; exit 127";

/// The environment variables a client may send (as OpenSSH's default `AcceptEnv`).
fn accepted_env(name: &str) -> bool {
    name == "LANG" || name.starts_with("LC_")
}

/// A terminal size from SSH's `u32`s (clamped; 0 means the client did not say).
fn term_size(cols: u32, rows: u32) -> TermSize {
    let clamp = |v: u32, default: u16| match u16::try_from(v) {
        Ok(0) => default,
        Ok(v) => v,
        Err(_) => u16::MAX,
    };
    TermSize {
        cols: clamp(cols, 80),
        rows: clamp(rows, 24),
    }
}

/// The stream core's signal for an SSH one (`None`: not deliverable).
fn signal(sig: &Sig) -> Option<Signal> {
    Some(match sig {
        Sig::HUP => Signal::Hangup,
        Sig::INT => Signal::Interrupt,
        Sig::QUIT => Signal::Quit,
        Sig::KILL => Signal::Kill,
        Sig::TERM => Signal::Terminate,
        Sig::USR1 => Signal::User1,
        Sig::Custom(name) => return Signal::from_name(name),
        _ => return None,
    })
}

/// The one line a client sees when its workspace cannot take the session.
fn refusal(login: &Login, e: &RuntimeError) -> String {
    match e {
        RuntimeError::NotRunning { .. } => format!(
            "cordium: workspace `{0}` is not running; start it with `cordium start {0}`\r\n",
            login.workspace.name
        ),
        other => format!("cordium: {other}\r\n"),
    }
}

/// How long a session channel has to ask for a shell, a command or a subsystem; past it, it is
/// closed. As long as gRPC's `open` frame has ([`crate::service::OPEN_TIMEOUT`]).
pub const REQUEST_TIMEOUT: std::time::Duration = crate::service::OPEN_TIMEOUT;

/// The most variables a session keeps from its client, and the longest value: past them a
/// request is ignored, as one OpenSSH does not accept (a client may send any number).
const MAX_CLIENT_ENV: usize = 64;
const MAX_CLIENT_ENV_VALUE: usize = 4096;

/// Keeps `name=value` from the client, within [`MAX_CLIENT_ENV`] and
/// [`MAX_CLIENT_ENV_VALUE`], and without NUL (which no process environment can hold).
fn keep_env(env: &mut ResolvedEnv, name: String, value: String) {
    let fits =
        env.len() < MAX_CLIENT_ENV && value.len() <= MAX_CLIENT_ENV_VALUE && !value.contains('\0');
    if fits {
        env.push((name, ResolvedValue::Literal(value)));
    }
}

/// Serves one session channel until its process ends or the client closes it.
pub async fn session(api: Api, login: Login, mut channel: Channel<Msg>) {
    let mut tty = None;
    let mut env = Vec::new();
    let deadline = tokio::time::Instant::now() + REQUEST_TIMEOUT;
    let spec = loop {
        let Ok(message) = tokio::time::timeout_at(deadline, channel.wait()).await else {
            let _ = channel
                .extended_data(
                    1,
                    &b"cordium: no shell, command or subsystem was asked for in time\r\n"[..],
                )
                .await;
            let _ = channel.close().await;
            return;
        };
        match message {
            Some(ChannelMsg::RequestPty {
                term,
                col_width,
                row_height,
                ..
            }) => {
                tty = Some(term_size(col_width, row_height));
                keep_env(&mut env, "TERM".to_owned(), term);
            }
            Some(ChannelMsg::SetEnv {
                variable_name,
                variable_value,
                ..
            }) if accepted_env(&variable_name) => {
                keep_env(&mut env, variable_name, variable_value);
            }
            Some(ChannelMsg::RequestShell { .. }) => break StreamSpec::command(Vec::new()),
            Some(ChannelMsg::Exec { command, .. }) => {
                let command = String::from_utf8_lossy(&command).into_owned();
                break StreamSpec::command(vec!["sh".into(), "-c".into(), command]);
            }
            Some(ChannelMsg::RequestSubsystem { name, .. }) if name == SFTP => {
                tty = None;
                break StreamSpec::command(vec!["sh".into(), "-c".into(), SFTP_SERVER.into()]);
            }
            Some(ChannelMsg::Close | ChannelMsg::Eof) | None => return,
            Some(_) => {}
        }
    };
    let spec = StreamSpec {
        command: spec.command.filter(|c| !c.is_empty()),
        env,
        tty,
        ..spec
    };
    // The slot counts the session with the user's ExecStream sessions for as long as this
    // function runs.
    let started = async {
        let slot = api
            .session_slot(&login.user)
            .map_err(|status| format!("cordium: {}\r\n", status.message()))?;
        let runtime = api
            .runtime()
            .map_err(|_| "cordium: this server runs no workspaces\r\n".to_owned())?;
        let process = runtime
            .stream(&login.workspace, &spec)
            .await
            .map_err(|e| refusal(&login, &e))?;
        Ok::<_, String>((process, slot))
    }
    .await;
    let (process, _slot) = match started {
        Ok(started) => started,
        Err(line) => {
            let _ = channel.extended_data(1, line.as_bytes()).await;
            let _ = channel.exit_status(1).await;
            let _ = channel.eof().await;
            let _ = channel.close().await;
            return;
        }
    };
    let (mut read, write) = channel.split();
    let input = process.input;
    let mut output = process.output;
    let pump_in = async move {
        let mut input = Some(input);
        while let Some(msg) = read.wait().await {
            let frame = match msg {
                ChannelMsg::Data { data } => StreamInput::Stdin(data.to_vec()),
                ChannelMsg::WindowChange {
                    col_width,
                    row_height,
                    ..
                } => StreamInput::Resize(term_size(col_width, row_height)),
                ChannelMsg::Signal { signal: sig } => match signal(&sig) {
                    Some(s) => StreamInput::Signal(s),
                    None => continue,
                },
                ChannelMsg::Eof => {
                    // Stdin ends; the process runs on and its output still comes.
                    if let Some(sender) = input.take() {
                        let _ = sender.send(StreamInput::CloseStdin).await;
                    }
                    continue;
                }
                ChannelMsg::Close => break,
                _ => continue,
            };
            if let Some(sender) = &input
                && sender.send(frame).await.is_err()
            {
                input = None;
            }
        }
    };
    let pump_out = async {
        let mut status = 255;
        while let Some(frame) = output.recv().await {
            let sent = match frame {
                StreamOutput::Stdout(bytes) => write.data(&bytes[..]).await,
                StreamOutput::Stderr(bytes) => write.extended_data(1, &bytes[..]).await,
                StreamOutput::Exit(exit) => {
                    status = u32::try_from(exit.code).unwrap_or(255);
                    break;
                }
                StreamOutput::Failed(e) => {
                    let _ = write
                        .extended_data(1, format!("cordium: {e}\r\n").as_bytes())
                        .await;
                    break;
                }
            };
            if sent.is_err() {
                return;
            }
        }
        let _ = write.exit_status(status).await;
        let _ = write.eof().await;
        let _ = write.close().await;
    };
    // The client closing the channel ends the session (dropping the output kills the
    // process); the process ending ends it too.
    tokio::select! {
        () = pump_in => {}
        () = pump_out => {}
    }
}

/// Whether `host` names the workspace itself (its loopback).
fn is_loopback(host: &str) -> bool {
    matches!(
        host,
        "localhost" | "127.0.0.1" | "::1" | "[::1]" | "0.0.0.0"
    )
}

/// Serves one `direct-tcpip` channel: a connection to `port` on the workspace's loopback,
/// refused (as OpenSSH refuses, "connect failed") when nothing listens there.
pub async fn forward(
    api: &Api,
    login: &Login,
    host: &str,
    port: u32,
    channel: Channel<Msg>,
    reply: ChannelOpenHandle,
) {
    let Ok(port) = u16::try_from(port) else {
        reply.reject(ChannelOpenFailure::ConnectFailed).await;
        return;
    };
    if !is_loopback(host) {
        reply
            .reject(ChannelOpenFailure::AdministrativelyProhibited)
            .await;
        return;
    }
    // Counted with the user's PortForward connections until the copy ends.
    let Ok(slot) = api.connection_slot(&login.user) else {
        reply.reject(ChannelOpenFailure::ResourceShortage).await;
        return;
    };
    let connected = match api.runtime() {
        Ok(runtime) => runtime.connect(&login.workspace, port).await,
        Err(_) => {
            reply.reject(ChannelOpenFailure::ConnectFailed).await;
            return;
        }
    };
    let mut target = match connected {
        Ok(target) => target,
        Err(e) => {
            tracing::debug!(workspace = %login.workspace.name, port, "ssh -L: {e}");
            reply.reject(ChannelOpenFailure::ConnectFailed).await;
            return;
        }
    };
    reply.accept().await;
    tokio::spawn(async move {
        let _slot = slot;
        let mut stream = channel.into_stream();
        let _ = tokio::io::copy_bidirectional(&mut stream, &mut target).await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_signals_are_translated() {
        assert_eq!(term_size(0, 0), TermSize { cols: 80, rows: 24 });
        assert_eq!(
            term_size(100_000, 40),
            TermSize {
                cols: u16::MAX,
                rows: 40
            }
        );
        assert_eq!(signal(&Sig::TERM), Some(Signal::Terminate));
        assert_eq!(signal(&Sig::PIPE), None);
        assert!(accepted_env("LC_ALL") && !accepted_env("LD_PRELOAD"));
    }

    #[test]
    fn a_client_sends_at_most_64_short_variables() {
        let mut env = Vec::new();
        for i in 0..100 {
            keep_env(&mut env, format!("LC_{i}"), "C".into());
        }
        assert_eq!(env.len(), MAX_CLIENT_ENV);
        let mut env = Vec::new();
        keep_env(
            &mut env,
            "LANG".into(),
            "x".repeat(MAX_CLIENT_ENV_VALUE + 1),
        );
        keep_env(&mut env, "LC_ALL".into(), "a\0b".into());
        keep_env(&mut env, "TERM".into(), "xterm".into());
        assert_eq!(env.len(), 1);
    }
}
