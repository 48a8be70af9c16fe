//! Following one workspace through WatchWorkspace, with a progress line per state, until it
//! reaches a state, stops, is deleted, or the user presses Ctrl-C.
//!
//! The caller opens the watch *before* the call that moves the workspace (StartWorkspace,
//! StopWorkspace), so no state is missed.

use super::connect::Client;
use super::error::ClientError;
use super::failure;
use super::interrupt::Interrupt;
use super::logs;
use super::progress::{Progress, TICK};
use crate::output::Output;
use cordium_api as pb;
use std::time::Duration;

/// How many lines of the workspace log a failure explanation shows.
const TAIL_LINES: usize = 20;

/// How long reading the log after a failure may take.
const TAIL_WITHIN: Duration = Duration::from_secs(5);

/// How a follow ended.
#[derive(Debug)]
pub(super) enum End {
    /// The workspace reached the state the follow waited for.
    Reached(Box<pb::Workspace>),
    /// It stopped first; a failure is in its status.
    Stopped(Box<pb::Workspace>),
    /// It was deleted.
    Deleted,
    /// Ctrl-C.
    Interrupted,
}

/// What a follow saw.
#[derive(Debug)]
pub(super) struct Followed {
    /// How it ended.
    pub(super) end: End,
    /// The end of the workspace log, read when a failure showed up while the container was
    /// still there (it is removed when the workspace stops); `None` when it could not be read
    /// or was not asked for.
    pub(super) log_tail: Option<Vec<String>>,
}

/// What to follow, and until what.
pub(super) struct Target<'a> {
    /// The workspace.
    pub(super) name: &'a str,
    /// The state that ends the follow (`RUNNING`, or `STOPPED`).
    pub(super) until: pb::WorkspaceState,
    /// Read the end of the log when a failure shows up.
    pub(super) tail_on_failure: bool,
}

/// The new side of a created or updated event.
fn new_side(event: pb::WorkspaceEvent) -> Option<Result<pb::Workspace, ()>> {
    use pb::workspace_event::Event;
    match event.event? {
        Event::Created(ws) => Some(Ok(ws)),
        Event::Updated(update) => update.new.map(Ok),
        Event::Deleted(_) => Some(Err(())),
    }
}

/// Follows `target` on `stream` (a watch of that workspace), drawing `progress`.
pub(super) async fn follow(
    client: &mut Client,
    stream: &mut tonic::Streaming<pb::WorkspaceEvent>,
    target: &Target<'_>,
    interrupt: &mut Interrupt,
    progress: &mut Progress,
    out: &mut Output,
) -> Result<Followed, ClientError> {
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut failure_seen = false;
    let mut log_tail = None;
    loop {
        let next = tokio::select! {
            () = interrupt.pressed() => {
                progress.abandon(out);
                return Ok(Followed { end: End::Interrupted, log_tail });
            }
            _ = ticker.tick(), if progress.is_live() => {
                progress.tick(out);
                continue;
            }
            next = stream.message() => next,
        };
        let event = match next {
            Ok(Some(event)) => event,
            Ok(None) => {
                progress.abandon(out);
                return Err(ClientError::Input(format!(
                    "the server ended the watch of workspace {} before it was {}",
                    target.name,
                    target.until.as_str_name()
                )));
            }
            Err(status) => {
                progress.abandon(out);
                return Err(client.error(status));
            }
        };
        let ws = match new_side(event) {
            Some(Ok(ws)) => ws,
            Some(Err(())) => {
                progress.abandon(out);
                return Ok(Followed {
                    end: End::Deleted,
                    log_tail,
                });
            }
            None => continue,
        };
        let status = ws.status.clone().unwrap_or_default();
        let state = status.state();
        if let (Some(f), false) = (&status.failure, failure_seen) {
            failure_seen = true;
            progress.fail(out, &failure::headline(f));
            if target.tail_on_failure && state != pb::WorkspaceState::Stopped {
                log_tail = logs::log_tail(client, target.name, TAIL_LINES, TAIL_WITHIN).await;
            }
        }
        progress.enter(out, state as i32);
        if state == target.until {
            return Ok(Followed {
                end: End::Reached(Box::new(ws)),
                log_tail,
            });
        }
        if state == pb::WorkspaceState::Stopped {
            return Ok(Followed {
                end: End::Stopped(Box::new(ws)),
                log_tail,
            });
        }
    }
}
