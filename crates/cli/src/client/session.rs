//! One ExecStream session, the way `exec`, `shell` and `cp` drive it: the `open` frame, then
//! input chunks (stdin) pumped by a task of their own, window size changes and signals as
//! they happen; output written as it arrives; the exit code last.
//!
//! Input and output never wait on each other: the stdin pump may wait for the server (a
//! process that does not read its input), while output keeps being read, so neither side can
//! deadlock the other. Control frames (resize, signal) are sent by tasks of their own for the
//! same reason.

use super::connect::Client;
use super::error::ClientError;
use super::terminal;
use crate::output::Output;
use cordium_api as pb;
use pb::exec_stream_request::Frame;
use tokio::io::AsyncWriteExt as _;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

/// Where the process's standard output goes.
pub(super) enum Sink<'a> {
    /// Our standard output.
    Output(&'a mut Output),
    /// A local process's input (a `tar x`); closed when the session ends.
    Writer(Box<dyn tokio::io::AsyncWrite + Unpin + Send>),
}

/// How the session ended.
pub(super) enum Ended {
    /// The process exited with this code.
    Exit(i32),
    /// This side was told to stop (SIGTERM or SIGHUP): the exit code a shell would report.
    Stopped(i32),
}

fn frame(frame: Frame) -> pb::ExecStreamRequest {
    pb::ExecStreamRequest { frame: Some(frame) }
}

/// Sends a control frame without holding up the caller.
fn control(tx: &mpsc::Sender<pb::ExecStreamRequest>, f: Frame) {
    let tx = tx.clone();
    tokio::spawn(async move {
        let _ = tx.send(frame(f)).await;
    });
}

fn terminal_size() -> pb::TerminalSize {
    let (cols, rows) = terminal::size().unwrap_or((80, 24));
    pb::TerminalSize {
        cols: u32::from(cols),
        rows: u32::from(rows),
    }
}

/// The `open` frame's terminal fields: with `tty`, this terminal's size and `TERM`.
pub(super) fn with_terminal(mut open: pb::ExecStreamOpen, tty: bool) -> pb::ExecStreamOpen {
    if tty {
        open.tty = true;
        open.size = Some(terminal_size());
        if let Ok(term) = std::env::var("TERM")
            && !open.env.iter().any(|e| e.starts_with("TERM="))
        {
            open.env.push(format!("TERM={term}"));
        }
    }
    open
}

/// Runs the session `open` describes. `stdin`: chunks for the process's input (`None`: it
/// gets none); `sink`: where its output goes (its standard error always goes to ours).
pub(super) async fn run(
    client: &mut Client,
    open: pb::ExecStreamOpen,
    stdin: Option<mpsc::Receiver<Vec<u8>>>,
    mut sink: Sink<'_>,
    out_err: &mut dyn FnMut(&[u8]),
) -> Result<Ended, ClientError> {
    let tty = open.tty;
    let (tx, rx) = mpsc::channel(8);
    tx.send(frame(Frame::Open(open)))
        .await
        .map_err(|_| ClientError::Usage("the session could not start".into()))?;
    let answer = client
        .api
        .exec_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await;
    let mut responses = client.answer(answer)?;
    let pump = {
        let tx = tx.clone();
        tokio::spawn(async move {
            let Some(mut stdin) = stdin else {
                let _ = tx.send(frame(Frame::CloseStdin(pb::Empty {}))).await;
                return;
            };
            while let Some(chunk) = stdin.recv().await {
                if tx.send(frame(Frame::Stdin(chunk))).await.is_err() {
                    return;
                }
            }
            let _ = tx.send(frame(Frame::CloseStdin(pb::Empty {}))).await;
        })
    };
    let signal_or_never = |kind: SignalKind| signal(kind).ok();
    let (mut winch, mut interrupt, mut term, mut hangup) = (
        signal_or_never(SignalKind::window_change()),
        // On a terminal in raw mode Ctrl-C is a byte in stdin; without one, it is SIGINT here.
        if tty {
            None
        } else {
            signal_or_never(SignalKind::interrupt())
        },
        signal_or_never(SignalKind::terminate()),
        signal_or_never(SignalKind::hangup()),
    );
    let mut interrupts = 0;
    let ended = loop {
        tokio::select! {
            message = responses.message() => {
                use pb::exec_stream_response::Frame as Out;
                let message = message.map_err(|status| client.error(status))?;
                match message.and_then(|m| m.frame) {
                    Some(Out::Stdout(data)) => match &mut sink {
                        Sink::Output(out) => {
                            out.out_raw(&data);
                            if out.is_closed() {
                                break Ended::Stopped(141);
                            }
                        }
                        Sink::Writer(writer) => {
                            if writer.write_all(&data).await.is_err() {
                                break Ended::Stopped(141);
                            }
                        }
                    },
                    Some(Out::Stderr(data)) => out_err(&data),
                    Some(Out::ExitCode(code)) => break Ended::Exit(code),
                    None => {
                        return Err(ClientError::Usage(
                            "the session ended without an exit code".into(),
                        ));
                    }
                }
            }
            Some(()) = recv(&mut winch), if tty => control(&tx, Frame::Resize(terminal_size())),
            Some(()) = recv(&mut interrupt) => {
                interrupts += 1;
                let signal = if interrupts >= 3 { pb::Signal::Sigkill } else { pb::Signal::Sigint };
                control(&tx, Frame::Signal(signal.into()));
            }
            Some(()) = recv(&mut term) => break Ended::Stopped(143),
            Some(()) = recv(&mut hangup) => break Ended::Stopped(129),
        }
    };
    pump.abort();
    if let Sink::Writer(mut writer) = sink {
        let _ = writer.shutdown().await;
    }
    Ok(ended)
}

/// The next signal of `signal`, or never when it could not be listened for.
async fn recv(signal: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match signal {
        Some(signal) => signal.recv().await,
        None => std::future::pending().await,
    }
}
