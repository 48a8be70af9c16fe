//! WatchWorkspace: a stream of the events of the workspaces the caller may reach, bounded in
//! every way a client could stretch it.
//!
//! - **Credential**: the token the watch was opened with is authenticated again every
//!   [`RECHECK_EVERY`] and before each event is sent; once it is revoked, rotated or expired
//!   (or names someone else) the stream ends with UNAUTHENTICATED.
//! - **Client gone**: the task following the store ends as soon as the client's stream is
//!   dropped (it waits on the sender's `closed()`), not at the next event.
//! - **Memory**: the store's broadcast carries event keys only; bodies are read when an event
//!   is sent. Each stream queues at most [`BUFFER_BYTES`] of encoded events (one event larger
//!   than that is still sent alone) and [`BUFFER_EVENTS`] events; a reader that falls behind
//!   is ended with RESOURCE_EXHAUSTED ("the watcher fell behind; watch again"), so a stuck
//!   stream pins at most that buffer plus its HTTP/2 window.
//! - **Count**: a user has at most [`MAX_WATCHES_PER_USER`] open watches (a connection has at
//!   most its HTTP/2 stream limit); past it, RESOURCE_EXHAUSTED.
//! - **Position**: a watch sends only the events after the moment it was opened (the newest
//!   event id then), or, with `resume_after`, the kept events after that id first; events are
//!   kept for [`crate::store::EVENT_RETENTION`], and resuming after a pruned one is OUT_OF_RANGE.

use super::Caller;
use super::api::Api;
use super::resource::Result;
use super::workspace::reachable;
use crate::pb;
use crate::store::{Event, EventBodies, EventKind};
use crate::throttle::Throttle;
use prost::Message as _;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_stream::Stream;
use tonic::{Code, Status};

/// The stream WatchWorkspace answers with.
pub(crate) type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WorkspaceEvent>> + Send>>;

/// How often an idle watch checks its credential again.
pub const RECHECK_EVERY: Duration = Duration::from_secs(5);
/// The encoded bytes one watch stream may hold for a client that has not read them.
pub const BUFFER_BYTES: usize = 4 << 20;
/// The events one watch stream may hold for a client that has not read them.
pub const BUFFER_EVENTS: usize = 1024;
/// Open watch streams per user.
pub const MAX_WATCHES_PER_USER: usize = 32;
/// Events read from the store at a time when replaying.
const REPLAY_PAGE: i64 = 256;
/// The warnings for a refused watch and a disconnected slow watcher: at most one each per
/// 5 s, since a client can cause either at will.
static WATCH_REFUSED: Throttle = Throttle::new(Duration::from_secs(5));
static FELL_BEHIND: Throttle = Throttle::new(Duration::from_secs(5));

/// The open streams of each user, counted to cap them: watches ([`MAX_WATCHES_PER_USER`]),
/// and, each in a count of its own, exec sessions and port connections.
#[derive(Debug, Clone, Default)]
pub(crate) struct WatchCounts(Arc<Mutex<HashMap<String, usize>>>);

/// One open stream of a user; released when dropped (with the client's stream).
#[derive(Debug)]
pub(crate) struct WatchSlot {
    counts: WatchCounts,
    user: String,
}

impl WatchCounts {
    /// A slot for one more stream of `user`, unless they have `max` open.
    pub(super) fn acquire(&self, user: &str, max: usize) -> Option<WatchSlot> {
        let mut counts = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = counts.entry(user.to_owned()).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(WatchSlot {
            counts: self.clone(),
            user: user.to_owned(),
        })
    }

    /// How many watches `user` has open.
    pub(crate) fn of(&self, user: &str) -> usize {
        let counts = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        counts.get(user).copied().unwrap_or(0)
    }
}

impl Drop for WatchSlot {
    fn drop(&mut self) {
        let mut counts = self
            .counts
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.user) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.user);
            }
        }
    }
}

/// Authenticates `token` again for a long-lived stream (a `what`) opened by `caller`:
/// UNAUTHENTICATED once it is revoked, rotated or expired, or names someone else. A store
/// that cannot be reached counts as valid (checked again at the next tick).
pub(super) async fn still_valid(api: &Api, caller: &Caller, token: &str, what: &str) -> Result<()> {
    // Read afresh, not remembered: a credential revoked by any process ends the stream.
    match api.auth.authenticate_fresh(token).await {
        Ok(now) if now.name == caller.name && now.session == caller.session => Ok(()),
        Ok(_) => Err(Status::unauthenticated(format!(
            "the credential this {what} was opened with now names someone else; open it again"
        ))),
        Err(s) if matches!(s.code(), Code::Unauthenticated | Code::PermissionDenied) => {
            Err(Status::unauthenticated(format!(
                "the credential this {what} was opened with is no longer valid: {}",
                s.message()
            )))
        }
        Err(_) => Ok(()),
    }
}

/// A store event as the API's WorkspaceEvent.
fn to_event(event: &Event, bodies: &EventBodies) -> Result<pb::WorkspaceEvent> {
    let ws = |body: &Option<Vec<u8>>| -> Result<pb::Workspace> {
        body.as_deref().map_or(Ok(pb::Workspace::default()), |b| {
            pb::Workspace::decode(b)
                .map_err(|e| Status::internal(format!("event {}: {e}", event.id)))
        })
    };
    use pb::workspace_event::Event as E;
    let inner = match event.kind {
        EventKind::Created => E::Created(ws(&bodies.new)?),
        EventKind::Updated => E::Updated(pb::WorkspaceUpdate {
            old: bodies.old.as_ref().map(|_| ws(&bodies.old)).transpose()?,
            new: Some(ws(&bodies.new)?),
        }),
        EventKind::Deleted => E::Deleted(ws(&bodies.old)?),
    };
    Ok(pb::WorkspaceEvent {
        event: Some(inner),
        id: event.id,
    })
}

fn fell_behind() -> Status {
    Status::resource_exhausted("the watcher fell behind; watch again")
}

/// OUT_OF_RANGE: the events after `after` were pruned up to `pruned`.
fn pruned_since(after: i64, pruned: i64) -> Status {
    Status::out_of_range(format!(
        "resume_after: the events after {after} were pruned (events are kept for {} minutes; \
         the oldest kept event follows {pruned}); list the workspaces and watch again from \
         scratch, without resume_after",
        crate::store::EVENT_RETENTION.as_secs() / 60
    ))
}

/// Why a watch's task ended.
enum Stop {
    /// The client went away.
    Gone,
    /// The stream ends with this status.
    Status(Status),
}

/// The client's side of a watch: the queued events, then the status that ended it.
struct Outbox {
    events: mpsc::Receiver<(pb::WorkspaceEvent, usize)>,
    queued: Arc<AtomicUsize>,
    end: Option<oneshot::Receiver<Status>>,
    done: bool,
    _slot: WatchSlot,
}

impl Outbox {
    /// The ending status, if the task sent one (then nothing queued is sent any more).
    fn ended(&mut self, cx: &mut Context<'_>) -> Option<Status> {
        let end = self.end.as_mut()?;
        match Pin::new(end).poll(cx) {
            Poll::Ready(Ok(status)) => Some(status),
            Poll::Ready(Err(_)) => {
                self.end = None;
                None
            }
            Poll::Pending => None,
        }
    }
}

impl Stream for Outbox {
    type Item = Result<pb::WorkspaceEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(status) = this.ended(cx) {
            this.done = true;
            this.events.close();
            return Poll::Ready(Some(Err(status)));
        }
        match this.events.poll_recv(cx) {
            Poll::Ready(Some((event, bytes))) => {
                this.queued.fetch_sub(bytes, Ordering::SeqCst);
                Poll::Ready(Some(Ok(event)))
            }
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(this.ended(cx).map(Err))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

use std::future::Future as _;

/// The task following the store for one watch.
struct Watch {
    api: Api,
    caller: Caller,
    token: String,
    only: String,
    access: HashMap<String, bool>,
    tx: mpsc::Sender<(pb::WorkspaceEvent, usize)>,
    queued: Arc<AtomicUsize>,
    /// Live events at or below this id were sent already (or precede the watch).
    floor: i64,
    /// The highest event id seen.
    high: i64,
}

impl Watch {
    /// Authenticates the watch's token again: UNAUTHENTICATED once it no longer is valid.
    async fn recheck(&self) -> std::result::Result<(), Stop> {
        still_valid(&self.api, &self.caller, &self.token, "watch")
            .await
            .map_err(Stop::Status)
    }

    /// Sends `event` if the caller may see it.
    async fn offer(&mut self, event: &Event) -> std::result::Result<(), Stop> {
        self.high = self.high.max(event.id);
        if !self.only.is_empty() && event.name != self.only {
            return Ok(());
        }
        // The owner always hears of their workspaces: when a Space is deleted with its
        // workspaces, the Space is gone by the time its delete events are checked here.
        let allowed = event.owner == self.caller.name
            || reachable(&self.api, &self.caller, &mut self.access, &event.space).await;
        if !allowed {
            return Ok(());
        }
        self.recheck().await?;
        let bodies = self
            .api
            .store
            .event_bodies(event)
            .await
            .map_err(|e| Stop::Status(e.into()))?;
        // Pruned since it was announced: too old to matter.
        let Some(bodies) = bodies else {
            return Ok(());
        };
        let message = to_event(event, &bodies).map_err(Stop::Status)?;
        let bytes = message.encoded_len().max(1);
        let queued = self.queued.load(Ordering::SeqCst);
        if queued > 0 && queued + bytes > BUFFER_BYTES {
            return Err(Stop::Status(fell_behind()));
        }
        self.queued.fetch_add(bytes, Ordering::SeqCst);
        match self.tx.try_send((message, bytes)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => Err(Stop::Status(fell_behind())),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(Stop::Gone),
        }
    }

    /// Sends the kept events after `self.high` from the table, a page at a time; OUT_OF_RANGE
    /// when some of them were pruned meanwhile (the watch must start from scratch).
    async fn catch_up(&mut self) -> std::result::Result<(), Stop> {
        loop {
            let pruned = self
                .api
                .store
                .pruned_through()
                .await
                .map_err(|e| Stop::Status(e.into()))?;
            if pruned > self.high {
                return Err(Stop::Status(pruned_since(self.high, pruned)));
            }
            let page = self
                .api
                .store
                .events_after(self.high, REPLAY_PAGE)
                .await
                .map_err(|e| Stop::Status(e.into()))?;
            for event in &page {
                self.offer(event).await?;
            }
            self.floor = self.high;
            if page.len() < usize::try_from(REPLAY_PAGE).unwrap_or(usize::MAX) {
                return Ok(());
            }
        }
    }

    async fn follow(mut self, mut events: broadcast::Receiver<Event>, replay: bool) -> Stop {
        if replay && let Err(stop) = self.catch_up().await {
            return stop;
        }
        let mut ticks = tokio::time::interval(RECHECK_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        let tx = self.tx.clone();
        loop {
            let step = tokio::select! {
                () = tx.closed() => Err(Stop::Gone),
                _ = ticks.tick() => {
                    // Space membership is looked up again after each check: a member removed
                    // from a Space stops hearing of its workspaces within one interval.
                    self.access.clear();
                    self.recheck().await
                }
                received = events.recv() => match received {
                    Ok(event) if event.id <= self.floor => Ok(()),
                    Ok(event) => self.offer(&event).await,
                    // The broadcast holds keys only; the rest are read from the table.
                    Err(broadcast::error::RecvError::Lagged(_)) => self.catch_up().await,
                    Err(broadcast::error::RecvError::Closed) => Err(Stop::Gone),
                },
            };
            if let Err(stop) = step {
                return stop;
            }
        }
    }
}

impl Api {
    /// WatchWorkspace: the events of the workspaces the caller may reach (or of one), after
    /// now or after `resume_after`, for as long as `token` (the caller's credential) is valid.
    pub(crate) async fn watch_workspace(
        &self,
        caller: &Caller,
        token: String,
        request: pb::WatchWorkspaceRequest,
    ) -> Result<WatchStream> {
        let only = request.name;
        if !only.is_empty() {
            self.visible_workspace(caller, &only).await?;
        }
        if request.resume_after < 0 {
            return Err(Status::invalid_argument(
                "resume_after: must be an event id (0 or more)",
            ));
        }
        let Some(slot) = self.watches.acquire(&caller.name, MAX_WATCHES_PER_USER) else {
            WATCH_REFUSED.warn(|left_out| {
                tracing::warn!(
                    user = %caller.name,
                    "watch refused: {MAX_WATCHES_PER_USER} open ({left_out} more refused, any user, since the last warning)"
                );
            });
            return Err(Status::resource_exhausted(format!(
                "you have {MAX_WATCHES_PER_USER} open watches, the most allowed; close one"
            )));
        };
        // Subscribed before the newest id is read, so no event falls between the two.
        let events = self.store.subscribe();
        let newest = self.store.newest_event_id().await?;
        let start = if request.resume_after > 0 {
            let pruned = self.store.pruned_through().await?;
            if request.resume_after < pruned {
                return Err(pruned_since(request.resume_after, pruned));
            }
            if request.resume_after > newest {
                return Err(Status::invalid_argument(format!(
                    "resume_after: {} is after the newest event ({newest})",
                    request.resume_after
                )));
            }
            // Nothing from before the caller's user was added: a former user of the same name
            // wrote it.
            request
                .resume_after
                .max(self.store.user_since(&caller.name).await?)
        } else {
            newest
        };
        let (tx, rx) = mpsc::channel(BUFFER_EVENTS);
        let (end_tx, end_rx) = oneshot::channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let watch = Watch {
            api: self.clone(),
            caller: caller.clone(),
            token,
            only,
            access: HashMap::new(),
            tx,
            queued: Arc::clone(&queued),
            floor: start,
            high: start,
        };
        let replay = request.resume_after > 0;
        let user = caller.name.clone();
        tokio::spawn(async move {
            if let Stop::Status(status) = watch.follow(events, replay).await {
                if status.code() == Code::ResourceExhausted {
                    FELL_BEHIND.warn(|left_out| {
                        tracing::warn!(
                            %user,
                            "a watcher fell behind and was disconnected ({left_out} more since the last warning)"
                        );
                    });
                }
                let _ = end_tx.send(status);
            }
        });
        Ok(Box::pin(Outbox {
            events: rx,
            queued,
            end: Some(end_rx),
            done: false,
            _slot: slot,
        }))
    }
}
