//! The browser terminal: a WebSocket bridged to an ExecStream session (the stream core, the
//! same session `cordium shell` gets, with its limits, owner check and credential re-checks).
//!
//! `GET /api/workspaces/{name}/terminal?cols=&rows=` upgrades to a WebSocket after the
//! session is open (so a missing workspace answers 404, not a dead socket). Frames:
//! - browser → server: binary = terminal input bytes (Ctrl-C is 0x03, the terminal delivers
//!   it); text = JSON `{"resize":{"cols":C,"rows":R}}` or `{"signal":"SIGINT"}`;
//! - server → browser: binary = terminal output; text = JSON `{"exit":CODE}` or
//!   `{"error":MESSAGE}`, the last frame before the server closes.
//!
//! Messages are at most [`MAX_MESSAGE`] bytes; the server pings every [`super::KEEP_ALIVE`]
//! (the browser's pongs keep the connection's idle deadline away). Each new WebSocket is a new
//! shell: the page reconnects after a dropped connection by opening another.

use super::session::Authed;
use super::{Console, ConsoleError};
use crate::pb;
use crate::service::ExecStreamOut;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::response::Response;
use tokio::sync::mpsc;
use tokio_stream::StreamExt as _;

/// The largest WebSocket message taken from the browser (a paste is cut into such pieces by
/// the page).
pub(crate) const MAX_MESSAGE: usize = 64 << 10;

/// The terminal's first size.
#[derive(serde::Deserialize)]
pub(crate) struct Size {
    #[serde(default = "default_cols")]
    cols: u32,
    #[serde(default = "default_rows")]
    rows: u32,
}

fn default_cols() -> u32 {
    80
}

fn default_rows() -> u32 {
    24
}

/// A JSON control message from the browser.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Control {
    #[serde(default)]
    resize: Option<Size>,
    #[serde(default)]
    signal: Option<String>,
}

/// `GET /api/workspaces/{name}/terminal`.
pub(crate) async fn terminal(
    State(c): State<Console>,
    Authed(s): Authed,
    Path(name): Path<String>,
    Query(size): Query<Size>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ConsoleError> {
    let caller = c.api.auth.authenticate(&s.token).await?;
    let (tx, rx) = mpsc::channel(8);
    let open = pb::ExecStreamOpen {
        name,
        tty: true,
        size: Some(pb::TerminalSize {
            cols: size.cols,
            rows: size.rows,
        }),
        ..Default::default()
    };
    let frame = |f| pb::ExecStreamRequest { frame: Some(f) };
    // The channel is empty: the first send cannot wait.
    tx.send(frame(pb::exec_stream_request::Frame::Open(open)))
        .await
        .map_err(|_| ConsoleError::bad("terminal", "the session could not be opened"))?;
    let output = c.api.exec_stream(&caller, s.token.clone(), rx).await?;
    Ok(upgrade
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |socket| bridge(socket, tx, output)))
}

/// A control message as a session frame, or `None` if it says nothing the session takes.
fn control(text: &str) -> Option<pb::exec_stream_request::Frame> {
    use pb::exec_stream_request::Frame;
    let control: Control = serde_json::from_str(text).ok()?;
    if let Some(size) = control.resize {
        return Some(Frame::Resize(pb::TerminalSize {
            cols: size.cols,
            rows: size.rows,
        }));
    }
    let signal = pb::Signal::from_str_name(&control.signal?)?;
    Some(Frame::Signal(signal as i32))
}

/// Carries frames both ways until the process ends, the session fails or the browser goes.
async fn bridge(
    mut socket: WebSocket,
    tx: mpsc::Sender<pb::ExecStreamRequest>,
    mut output: ExecStreamOut,
) {
    use pb::exec_stream_request::Frame as In;
    use pb::exec_stream_response::Frame as Out;
    let mut ping = tokio::time::interval(super::KEEP_ALIVE);
    ping.tick().await;
    loop {
        tokio::select! {
            message = socket.recv() => {
                let frame = match message {
                    Some(Ok(Message::Binary(data))) => Some(In::Stdin(data.to_vec())),
                    Some(Ok(Message::Text(text))) => control(text.as_str()),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                };
                if let Some(frame) = frame
                    && tx.send(pb::ExecStreamRequest { frame: Some(frame) }).await.is_err()
                {
                    return;
                }
            }
            frame = output.next() => {
                let message = match frame {
                    Some(Ok(pb::ExecStreamResponse { frame: Some(Out::Stdout(d) | Out::Stderr(d)) })) => {
                        Message::Binary(d.into())
                    }
                    Some(Ok(pb::ExecStreamResponse { frame: Some(Out::ExitCode(code)) })) => {
                        let _ = socket.send(Message::Text(serde_json::json!({"exit": code}).to_string().into())).await;
                        let _ = socket.send(Message::Close(None)).await;
                        return;
                    }
                    Some(Ok(pb::ExecStreamResponse { frame: None })) => continue,
                    Some(Err(status)) => {
                        let text = serde_json::json!({"error": status.message()}).to_string();
                        let _ = socket.send(Message::Text(text.into())).await;
                        let _ = socket.send(Message::Close(None)).await;
                        return;
                    }
                    None => {
                        let _ = socket.send(Message::Close(None)).await;
                        return;
                    }
                };
                if socket.send(message).await.is_err() {
                    return;
                }
            }
            _ = ping.tick() => {
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
            }
        }
    }
}
