//! ExecStream and PortForward: a process, or one TCP connection, inside a workspace, streamed
//! both ways over one gRPC call, on the runtime's stream core
//! ([`cordium_provisioner::runtime::stream`]).
//!
//! - **Who**: the workspace's owner and administrators; everyone else gets NotFound, as for a
//!   workspace that does not exist. The call's token is authenticated again every
//!   [`RECHECK_EVERY`] (the watch's check, [`still_valid`]); once it is revoked, rotated or
//!   expired the session ends with UNAUTHENTICATED and its process is killed.
//! - **How long**: the first frame (`open`) must come within [`OPEN_TIMEOUT`]; a session with
//!   no frame either way for [`StreamLimits::idle`] ends, and none lasts longer than
//!   [`StreamLimits::max`] (DEADLINE_EXCEEDED).
//! - **How many**: a user has at most [`StreamLimits::sessions_per_user`] sessions (exec, SSH
//!   and log reads together) and [`StreamLimits::connections_per_user`] forwarded connections
//!   open (RESOURCE_EXHAUSTED).
//! - **Memory**: each direction holds at most the runtime's bounded queue plus
//!   [`QUEUE`] frames here, each at most [`MAX_FRAME`] bytes (output) or the gRPC message
//!   limit (input); input is read only as fast as the process takes it, output only as fast
//!   as the client reads it (HTTP/2 flow control does the rest).

use super::Caller;
use super::api::Api;
use super::compile::{CompileRequest, compile_effective};
use super::documents::bad_field;
use super::exec::{check_command, check_working_dir, parse_env, runtime_status};
use super::resource::Result;
use super::watch::{RECHECK_EVERY, WatchSlot, still_valid};
use crate::pb;
use cordium_provisioner::runtime::stream::MAX_FRAME;
use cordium_provisioner::runtime::{
    ProcessStream, Signal, StreamInput, StreamOutput, StreamSpec, TermSize, WorkspaceKey,
};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tonic::{Status, Streaming};

/// The stream ExecStream answers with.
pub(crate) type ExecStreamOut = Pin<Box<dyn Stream<Item = Result<pb::ExecStreamResponse>> + Send>>;
/// The stream PortForward answers with.
pub(crate) type PortForwardOut =
    Pin<Box<dyn Stream<Item = Result<pb::PortForwardResponse>> + Send>>;

/// How long a client has to send its `open` frame.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(30);
/// Frames queued here for the client, per session.
const QUEUE: usize = 8;
/// The terminal size when the client gives none.
const DEFAULT_SIZE: TermSize = TermSize { cols: 80, rows: 24 };

/// The limits on interactive sessions (per user, per connection, idle and total time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// A session with no frame either way for this long ends.
    pub idle: Duration,
    /// No session lasts longer.
    pub max: Duration,
    /// Open sessions per user: ExecStream, unary exec, SSH sessions and log reads together.
    pub sessions_per_user: usize,
    /// Open forwarded connections per user.
    pub connections_per_user: usize,
}

impl Default for StreamLimits {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(60 * 60),
            max: Duration::from_secs(24 * 60 * 60),
            sessions_per_user: 32,
            connections_per_user: 512,
        }
    }
}

/// What every session keeps: its caller and token (checked again), when it last moved.
pub(super) struct Guard {
    api: Api,
    caller: Caller,
    token: String,
    started: Instant,
    /// Milliseconds after `started` of the last frame either way.
    last: Arc<AtomicU64>,
    _slot: WatchSlot,
}

impl Guard {
    /// Records a frame either way now.
    pub(super) fn moved(&self) {
        Self::touch(&self.last, self.started);
    }

    fn touch(last: &AtomicU64, started: Instant) {
        let now = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        last.store(now, Ordering::Relaxed);
    }

    /// Resolves with the status that ends the session: a deadline or the credential.
    pub(super) async fn watch(&self) -> Status {
        let limits = self.api.stream_limits;
        let mut ticks = tokio::time::interval(Duration::from_secs(1).min(limits.idle));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut checked = Instant::now();
        loop {
            ticks.tick().await;
            let idle = self
                .started
                .elapsed()
                .saturating_sub(Duration::from_millis(self.last.load(Ordering::Relaxed)));
            if idle >= limits.idle {
                return Status::deadline_exceeded(format!(
                    "the session was idle for {} s, the most allowed",
                    limits.idle.as_secs()
                ));
            }
            if self.started.elapsed() >= limits.max {
                return Status::deadline_exceeded(format!(
                    "the session lasted {} s, the most allowed",
                    limits.max.as_secs()
                ));
            }
            if checked.elapsed() >= RECHECK_EVERY {
                checked = Instant::now();
                if let Err(status) =
                    still_valid(&self.api, &self.caller, &self.token, "session").await
                {
                    return status;
                }
            }
        }
    }
}

/// A session's client frames: a gRPC stream, or (for the web console's WebSocket terminal and
/// application proxy) a channel fed by the console, so both reach the same session code.
pub(crate) trait Inbound<T>: Send + 'static {
    /// The next frame; `None` when the client ended its side.
    fn message(&mut self) -> impl std::future::Future<Output = Result<Option<T>>> + Send;
}

impl<T: Send + 'static> Inbound<T> for Streaming<T> {
    async fn message(&mut self) -> Result<Option<T>> {
        Streaming::message(self).await
    }
}

impl<T: Send + 'static> Inbound<T> for mpsc::Receiver<T> {
    async fn message(&mut self) -> Result<Option<T>> {
        Ok(self.recv().await)
    }
}

/// The first client frame, within [`OPEN_TIMEOUT`].
async fn first<T>(input: &mut impl Inbound<T>) -> Result<T> {
    match tokio::time::timeout(OPEN_TIMEOUT, input.message()).await {
        Ok(Ok(Some(frame))) => Ok(frame),
        Ok(Ok(None)) => Err(bad_field("open", "send the `open` frame first")),
        Ok(Err(status)) => Err(status),
        Err(_) => Err(Status::deadline_exceeded(format!(
            "no `open` frame within {} s",
            OPEN_TIMEOUT.as_secs()
        ))),
    }
}

fn term_size(size: Option<pb::TerminalSize>, field: &str) -> Result<TermSize> {
    let Some(size) = size else {
        return Ok(DEFAULT_SIZE);
    };
    let dimension = |value: u32, name: &str| {
        u16::try_from(value)
            .ok()
            .filter(|v| *v > 0)
            .ok_or_else(|| bad_field(&format!("{field}.{name}"), "between 1 and 65535"))
    };
    Ok(TermSize {
        cols: dimension(size.cols, "cols")?,
        rows: dimension(size.rows, "rows")?,
    })
}

fn signal(value: i32) -> Result<Signal> {
    use pb::Signal as S;
    Ok(match S::try_from(value).unwrap_or(S::Unset) {
        S::Sighup => Signal::Hangup,
        S::Sigint => Signal::Interrupt,
        S::Sigquit => Signal::Quit,
        S::Sigkill => Signal::Kill,
        S::Sigusr1 => Signal::User1,
        S::Sigusr2 => Signal::User2,
        S::Sigterm => Signal::Terminate,
        S::Unset => return Err(bad_field("signal", "name a signal, e.g. SIGTERM")),
    })
}

/// A client frame after `open`, for the runtime.
fn stream_input(frame: pb::ExecStreamRequest) -> Result<StreamInput> {
    use pb::exec_stream_request::Frame;
    match frame.frame {
        Some(Frame::Stdin(data)) => Ok(StreamInput::Stdin(data)),
        Some(Frame::Resize(size)) => Ok(StreamInput::Resize(term_size(Some(size), "resize")?)),
        Some(Frame::Signal(value)) => Ok(StreamInput::Signal(signal(value)?)),
        Some(Frame::CloseStdin(_)) => Ok(StreamInput::CloseStdin),
        Some(Frame::Open(_)) => Err(bad_field("open", "send it once, as the first frame")),
        None => Err(bad_field("frame", "set one of the frame's fields")),
    }
}

impl Api {
    /// Counts a new session of `user` (ExecStream, ExecWorkspace, an SSH session channel)
    /// against [`StreamLimits::sessions_per_user`]; the slot frees itself when dropped.
    pub(crate) fn session_slot(&self, user: &str) -> Result<WatchSlot> {
        Self::slot(
            &self.sessions,
            user,
            self.stream_limits.sessions_per_user,
            "sessions",
        )
    }

    /// Counts a new forwarded connection of `user` (PortForward, an SSH `-L` channel, an
    /// application through the console) against [`StreamLimits::connections_per_user`].
    pub(crate) fn connection_slot(&self, user: &str) -> Result<WatchSlot> {
        Self::slot(
            &self.connections,
            user,
            self.stream_limits.connections_per_user,
            "forwarded connections",
        )
    }

    fn slot(
        counts: &super::watch::WatchCounts,
        user: &str,
        max: usize,
        what: &str,
    ) -> Result<WatchSlot> {
        counts.acquire(user, max).ok_or_else(|| {
            Status::resource_exhausted(format!(
                "you have {max} open {what}, the most allowed; close one"
            ))
        })
    }

    /// The guard of a new session of `caller`, holding `slot`.
    pub(super) fn guard(&self, caller: &Caller, token: String, slot: WatchSlot) -> Guard {
        Guard {
            api: self.clone(),
            caller: caller.clone(),
            token,
            started: Instant::now(),
            last: Arc::new(AtomicU64::new(0)),
            _slot: slot,
        }
    }

    /// ExecStream. See the [module docs](self).
    pub(crate) async fn exec_stream(
        &self,
        caller: &Caller,
        token: String,
        mut input: impl Inbound<pb::ExecStreamRequest>,
    ) -> Result<ExecStreamOut> {
        let slot = self.session_slot(&caller.name)?;
        let Some(pb::exec_stream_request::Frame::Open(open)) = first(&mut input).await?.frame
        else {
            return Err(bad_field("open", "send the `open` frame first"));
        };
        let record = self.own_workspace(caller, &open.name).await?;
        check_command(&open.command, "open.command", &open.env)?;
        check_working_dir(&open.working_dir, "open.working_dir")?;
        let spec = StreamSpec {
            command: Some(open.command).filter(|c| !c.is_empty()),
            env: parse_env(&open.env, "open.env")?,
            working_dir: Some(open.working_dir).filter(|d| !d.is_empty()),
            user: None,
            tty: if open.tty {
                Some(term_size(open.size, "open.size")?)
            } else {
                None
            },
        };
        let key = WorkspaceKey::new(&record.space, &record.name);
        let process = self
            .runtime()?
            .stream(&key, &spec)
            .await
            .map_err(runtime_status)?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let guard = self.guard(caller, token, slot);
        tokio::spawn(run_exec(guard, input, process, tx));
        Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }

    /// PortForward. See the [module docs](self).
    pub(crate) async fn port_forward(
        &self,
        caller: &Caller,
        token: String,
        mut input: impl Inbound<pb::PortForwardRequest>,
    ) -> Result<PortForwardOut> {
        let slot = self.connection_slot(&caller.name)?;
        let Some(pb::port_forward_request::Frame::Open(open)) = first(&mut input).await?.frame
        else {
            return Err(bad_field("open", "send the `open` frame first"));
        };
        let record = self.own_workspace(caller, &open.name).await?;
        let port = self.forwarded_port(caller, &open).await?;
        let key = WorkspaceKey::new(&record.space, &record.name);
        let connection = self
            .runtime()?
            .connect(&key, port)
            .await
            .map_err(runtime_status)?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let guard = self.guard(caller, token, slot);
        tokio::spawn(run_forward(guard, input, connection, tx));
        Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }

    /// The port `open` names: an application's (from the compiled workspace), or its number.
    async fn forwarded_port(&self, caller: &Caller, open: &pb::PortForwardOpen) -> Result<u16> {
        if open.application.is_empty() {
            return u16::try_from(open.port)
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| {
                    bad_field(
                        "open.port",
                        "name an application or a port between 1 and 65535",
                    )
                });
        }
        let compiled =
            compile_effective(self, caller, CompileRequest::stored(&open.name, false)).await?;
        let applications = compiled.effective.spec.applications.unwrap_or_default();
        applications
            .iter()
            .find(|a| a.name == open.application)
            .map(|a| a.port)
            .ok_or_else(|| {
                let names: Vec<&str> = applications.iter().map(|a| a.name.as_str()).collect();
                bad_field(
                    "open.application",
                    format!(
                        "workspace `{}` has no application `{}` (it has: {})",
                        cordium_spec::shapes::shown(&open.name),
                        cordium_spec::shapes::shown(&open.application),
                        if names.is_empty() {
                            "none".to_owned()
                        } else {
                            names.join(", ")
                        }
                    ),
                )
            })
    }
}

/// Carries one exec session until the process ends, the client goes, or the guard says stop.
async fn run_exec(
    guard: Guard,
    mut input: impl Inbound<pb::ExecStreamRequest>,
    process: ProcessStream,
    tx: mpsc::Sender<Result<pb::ExecStreamResponse>>,
) {
    let ProcessStream {
        input: to_process,
        output: mut from_process,
    } = process;
    let (last, started) = (Arc::clone(&guard.last), guard.started);
    let touched = Arc::clone(&last);
    // Owns the process's input: when the client half-closes, it is dropped with this future,
    // which ends the process's stdin as a `close_stdin` frame would (a pipe, not a terminal).
    let inbound = async move {
        loop {
            let frame = match input.message().await {
                Ok(Some(frame)) => frame,
                Ok(None) => return Ok(()),
                Err(status) => return Err(status),
            };
            Guard::touch(&touched, started);
            let frame = stream_input(frame)?;
            if to_process.send(frame).await.is_err() {
                return Ok(());
            }
        }
    };
    let outbound = async {
        use pb::exec_stream_response::Frame;
        while let Some(frame) = from_process.recv().await {
            Guard::touch(&last, started);
            let (frame, end) = match frame {
                StreamOutput::Stdout(data) => (Ok(Frame::Stdout(data)), false),
                StreamOutput::Stderr(data) => (Ok(Frame::Stderr(data)), false),
                StreamOutput::Exit(status) => (Ok(Frame::ExitCode(status.code)), true),
                StreamOutput::Failed(e) => (Err(runtime_status(e)), true),
            };
            let message = frame.map(|f| pb::ExecStreamResponse { frame: Some(f) });
            if tx.send(message).await.is_err() || end {
                return;
            }
        }
    };
    finish(&guard, inbound, outbound, &tx).await;
    // Dropping the process stream kills what still runs.
}

/// Runs a session's two directions until the outbound one ends, the inbound one fails, the
/// guard ends it, or the client goes; the ending status, if any, is the client's last frame.
/// The inbound direction ending well (the client half-closed) does not end the session.
async fn finish<T>(
    guard: &Guard,
    inbound: impl std::future::Future<Output = Result<()>>,
    outbound: impl std::future::Future<Output = ()>,
    tx: &mpsc::Sender<Result<T>>,
) {
    let inbound = async {
        match inbound.await {
            Ok(()) => std::future::pending().await,
            Err(status) => status,
        }
    };
    tokio::select! {
        () = outbound => {}
        status = inbound => { let _ = tx.send(Err(status)).await; }
        status = guard.watch() => { let _ = tx.send(Err(status)).await; }
        () = tx.closed() => {}
    }
}

/// Carries one forwarded connection until both directions end, the client goes, or the guard
/// says stop.
async fn run_forward(
    guard: Guard,
    mut input: impl Inbound<pb::PortForwardRequest>,
    connection: cordium_provisioner::runtime::PortStream,
    tx: mpsc::Sender<Result<pb::PortForwardResponse>>,
) {
    let (mut read_half, mut write_half) = tokio::io::split(connection);
    let (last, started) = (Arc::clone(&guard.last), guard.started);
    let inbound = async {
        loop {
            match input.message().await {
                Ok(Some(pb::PortForwardRequest {
                    frame: Some(pb::port_forward_request::Frame::Data(data)),
                })) => {
                    Guard::touch(&last, started);
                    if write_half.write_all(&data).await.is_err() {
                        return Ok(());
                    }
                }
                Ok(Some(_)) => return Err(bad_field("data", "send bytes after `open`")),
                Ok(None) => {
                    let _ = write_half.shutdown().await;
                    return Ok(());
                }
                Err(status) => return Err(status),
            }
        }
    };
    let outbound = async {
        loop {
            let Ok(permit) = tx.reserve().await else {
                return;
            };
            let mut data = vec![0_u8; MAX_FRAME];
            match read_half.read(&mut data).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    data.truncate(n);
                    Guard::touch(&last, started);
                    permit.send(Ok(pb::PortForwardResponse { data }));
                }
            }
        }
    };
    finish(&guard, inbound, outbound, &tx).await;
}
