//! The half of a streamed process every backend shares: reading the launcher's pid line, and
//! the task that carries a session between the backend's ends (pipes, a terminal, a
//! websocket) and the [`ProcessStream`]'s channels. A backend supplies how to resize and
//! signal ([`Control`]) and how to wait for or abandon the process ([`Waiter`]).

use super::stream::{MAX_FRAME, PID_MARKER, STREAM_QUEUE};
use super::{ExitStatus, ProcessStream, RuntimeError, Signal, StreamInput, StreamOutput, TermSize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// A process's output end.
pub type Reader = Box<dyn AsyncRead + Send + Unpin>;
/// A process's input end.
pub type Writer = Box<dyn AsyncWrite + Send + Unpin>;

/// The launcher's first line is at most this long.
const MARKER_LIMIT: usize = 64;

/// Changes a running process from outside: its terminal's size, signals.
#[async_trait::async_trait]
pub trait Control: Send + Sync + 'static {
    /// Sets the terminal's size (never called without a terminal).
    async fn resize(&self, size: TermSize);
    /// Sends `signal` to the process (and its process group).
    async fn signal(&self, signal: Signal);
}

/// Waits for a process, or gives it up.
#[async_trait::async_trait]
pub trait Waiter: Send + 'static {
    /// How the process ended (called once its output has ended).
    async fn wait(&mut self) -> Result<ExitStatus, RuntimeError>;
    /// Lets go of the process's local end (after it was killed).
    async fn abandon(&mut self);
}

/// The process's ends as the backend opened them.
pub struct Ends {
    /// Stdout (with a terminal: everything).
    pub stdout: Reader,
    /// Stderr (none with a terminal).
    pub stderr: Option<Reader>,
    /// Stdin.
    pub stdin: Option<Writer>,
    /// Whether the process runs on a terminal.
    pub tty: bool,
}

/// Reads the launcher's pid line from `stdout`; returns the pid and whatever output followed
/// it, or `None` (and what was read) when the output ended or said something else first.
pub async fn read_marker(stdout: &mut Reader) -> (Option<u32>, Vec<u8>) {
    let mut seen = Vec::new();
    let mut buf = [0_u8; MARKER_LIMIT];
    loop {
        let n = match stdout.read(&mut buf).await {
            Ok(0) | Err(_) => return (None, seen),
            Ok(n) => n,
        };
        seen.extend_from_slice(&buf[..n]);
        if let Some(end) = seen.iter().position(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(&seen[..end]).trim_end().to_owned();
            let pid = line.strip_prefix(PID_MARKER).and_then(|p| p.parse().ok());
            if pid.is_some() {
                return (pid, seen.split_off(end + 1));
            }
            return (None, seen);
        }
        if seen.len() > MARKER_LIMIT {
            return (None, seen);
        }
    }
}

/// Starts the task that carries a session: `rest` (output read with the pid line) first,
/// then the process's output, then its exit status; the client's input applied as it comes.
pub fn spawn(
    control: impl Control,
    waiter: impl Waiter,
    ends: Ends,
    rest: Vec<u8>,
) -> ProcessStream {
    let (input_tx, input_rx) = mpsc::channel(STREAM_QUEUE);
    let (output_tx, output_rx) = mpsc::channel(STREAM_QUEUE);
    tokio::spawn(run(control, waiter, ends, rest, input_rx, output_tx));
    ProcessStream {
        input: input_tx,
        output: output_rx,
    }
}

async fn run(
    control: impl Control,
    mut waiter: impl Waiter,
    ends: Ends,
    rest: Vec<u8>,
    input: mpsc::Receiver<StreamInput>,
    output: mpsc::Sender<StreamOutput>,
) {
    if !rest.is_empty() && output.send(StreamOutput::Stdout(rest)).await.is_err() {
        control.signal(Signal::Kill).await;
        waiter.abandon().await;
        return;
    }
    let Ends {
        stdout,
        stderr,
        stdin,
        tty,
    } = ends;
    let out = pump(stdout, output.clone(), StreamOutput::Stdout);
    let err = async {
        if let Some(stderr) = stderr {
            pump(stderr, output.clone(), StreamOutput::Stderr).await;
        }
    };
    let waiting = &mut waiter;
    let finished = async {
        tokio::join!(out, err);
        waiting.wait().await
    };
    let feed = feed(&control, input, stdin, tty);
    let abandoned = tokio::select! {
        status = finished => {
            let frame = match status {
                Ok(status) => StreamOutput::Exit(status),
                Err(e) => StreamOutput::Failed(e),
            };
            let _ = output.send(frame).await;
            false
        }
        () = output.closed() => true,
        () = feed => false,
    };
    if abandoned {
        control.signal(Signal::Kill).await;
        waiter.abandon().await;
    }
}

/// Applies the client's frames until its sender goes away; never returns after that.
async fn feed(
    control: &impl Control,
    mut input: mpsc::Receiver<StreamInput>,
    mut stdin: Option<Writer>,
    tty: bool,
) {
    while let Some(frame) = input.recv().await {
        match frame {
            StreamInput::Stdin(data) => {
                if let Some(pipe) = stdin.as_mut()
                    && (pipe.write_all(&data).await.is_err() || pipe.flush().await.is_err())
                {
                    stdin = None;
                }
            }
            StreamInput::CloseStdin if tty => {
                // A terminal has no end of input: its EOF character is the closest thing.
                if let Some(pipe) = stdin.as_mut() {
                    let _ = pipe.write_all(&[4]).await;
                    let _ = pipe.flush().await;
                }
            }
            StreamInput::CloseStdin => {
                if let Some(mut pipe) = stdin.take() {
                    let _ = pipe.shutdown().await;
                }
            }
            StreamInput::Resize(size) if tty => control.resize(size).await,
            StreamInput::Resize(_) => {}
            StreamInput::Signal(signal) => control.signal(signal).await,
        }
    }
    if !tty && let Some(mut pipe) = stdin.take() {
        let _ = pipe.shutdown().await;
    }
    std::future::pending::<()>().await;
}

/// Copies `reader` into `output` as frames made by `frame`, reading only while there is room
/// (a terminal's EIO after its other end closed is its end).
async fn pump(
    mut reader: Reader,
    output: mpsc::Sender<StreamOutput>,
    frame: fn(Vec<u8>) -> StreamOutput,
) {
    loop {
        let Ok(permit) = output.reserve().await else {
            return;
        };
        let mut buf = vec![0_u8; MAX_FRAME];
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                buf.truncate(n);
                permit.send(frame(buf));
            }
        }
    }
}
