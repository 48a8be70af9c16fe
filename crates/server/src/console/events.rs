//! Server-sent event streams: workspace states as they change, and a workspace's log.
//!
//! - `GET /api/events` is a WatchWorkspace of every workspace the user can see (the gRPC
//!   watch itself, with its credential re-checks, buffers and per-user cap), each event one
//!   SSE `message` of [`super::json::event`]. When the watch ends (the user fell behind, the
//!   credential was revoked) the stream sends an `end` event with the reason and closes; the
//!   page lists again and reconnects.
//! - `GET /api/workspaces/{name}/logs` follows the workspace's log (WorkspaceLogs with
//!   `follow`), each chunk one `message` holding the text (invalid UTF-8 replaced).
//!
//! Both write a comment every [`super::KEEP_ALIVE`] while quiet.

use super::session::Authed;
use super::{Console, ConsoleError, KEEP_ALIVE, call, json};
use crate::pb::{self, main_service_server::MainService};
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use std::convert::Infallible;
use tokio_stream::{Stream, StreamExt as _};

fn end(reason: &str) -> Event {
    Event::default().event("end").data(reason)
}

/// The items of `stream` as SSE messages (`to_event`), then one `end` event when it ends or
/// fails.
fn messages<T, S>(
    stream: S,
    to_event: fn(T) -> Event,
) -> impl Stream<Item = Result<Event, Infallible>> + Send
where
    S: Stream<Item = Result<T, tonic::Status>> + Send + 'static,
    T: Send + 'static,
{
    let mut failed = false;
    stream
        .map_while(move |item| {
            if failed {
                return None;
            }
            Some(match item {
                Ok(item) => to_event(item),
                Err(status) => {
                    failed = true;
                    end(status.message())
                }
            })
        })
        .chain(tokio_stream::once(end("the stream ended")))
        .map(Ok)
}

fn keep_alive() -> KeepAlive {
    KeepAlive::new().interval(KEEP_ALIVE)
}

/// `GET /api/events`: every visible workspace's events.
pub(crate) async fn workspace_events(
    State(c): State<Console>,
    Authed(s): Authed,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ConsoleError> {
    let request = pb::WatchWorkspaceRequest::default();
    let stream = call(&c.api, &s.token, request, async |api, r| {
        MainService::watch_workspace(&api, r).await
    })
    .await?;
    let to_event = |e: pb::WorkspaceEvent| Event::default().data(json::event(&e).to_string());
    Ok(Sse::new(messages(stream, to_event)).keep_alive(keep_alive()))
}

/// `GET /api/workspaces/{name}/logs`: the workspace's log, followed.
pub(crate) async fn logs(
    State(c): State<Console>,
    Authed(s): Authed,
    Path(name): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ConsoleError> {
    let request = pb::WorkspaceLogsRequest { name, follow: true };
    let stream = call(&c.api, &s.token, request, async |api, r| {
        MainService::workspace_logs(&api, r).await
    })
    .await?;
    let to_event = |chunk: pb::WorkspaceLogChunk| {
        Event::default()
            .data(serde_json::Value::from(String::from_utf8_lossy(&chunk.data)).to_string())
    };
    Ok(Sse::new(messages(stream, to_event)).keep_alive(keep_alive()))
}
