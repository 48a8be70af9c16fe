//! Watch events: rows written in the same transaction as the workspace they describe,
//! announced after commit (SQLite) or through `LISTEN/NOTIFY` to every replica (PostgreSQL).
//!
//! Memory and storage are bounded:
//! - The in-process broadcast carries an [`Event`]'s keys only (id, kind, name, owner, Space),
//!   never bodies: its [`EVENT_BUFFER`] slots hold a few hundred bytes each, whatever the size of
//!   the workspaces. A watcher reads the bodies of the events it delivers with
//!   [`Store::event_bodies`].
//! - A row keeps one body: the workspace after a create or update, before a delete. The body
//!   before an update is the body of the workspace's previous event (one indexed read), so an
//!   update of a 1 MB workspace adds 1 MB, not 2.
//! - Rows older than the retention window are pruned ([`Store::prune_events`]); the highest
//!   pruned id is kept, so a watch resuming after a pruned event is told to start from scratch.

use super::{Backend, Record, Store, StoreError};
use cordium_spec::Kind;
use sqlx::Row as _;
use tokio::sync::broadcast;

/// How many events the in-process broadcast holds for a receiver that has not read them yet:
/// keys only, so at most a few MB whatever the workspaces' size.
pub const EVENT_BUFFER: usize = 4096;

/// How long events are kept: a watch may resume after any event this young. An hour covers a
/// client's reconnects and restarts; older events are pruned every [`PRUNE_EVERY`].
pub const EVENT_RETENTION: std::time::Duration = std::time::Duration::from_secs(3600);

/// How often events older than [`EVENT_RETENTION`] are pruned.
pub const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(300);

/// The PostgreSQL advisory lock (single-key space) a transaction takes before it inserts an
/// event and holds until it ends: ids come from a sequence at insert, so without it a
/// transaction could take id N, another N+1 and commit first, and a watch that read N+1 (a
/// new watch's starting point, a resumed watch's page) would never see N. Under it, every id
/// below a committed one is committed or rolled back. Event-writing transactions thereby
/// commit one at a time. It must be the last lock a transaction takes, so no two
/// transactions wait for each other: quota locks come first, and a transaction that writes
/// several resources (`create_all`, `delete_space`, a user's delete) inserts its events after
/// every row write (so it holds every row lock it needs before it waits for this one).
const EVENT_ORDER_LOCK: i64 = 7245;

/// How many events the PostgreSQL listener reads from the table at a time.
const REPLAY_PAGE: i64 = 500;

/// What happened to a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// Created.
    Created,
    /// Updated.
    Updated,
    /// Deleted.
    Deleted,
}

impl EventKind {
    fn code(self) -> i64 {
        match self {
            EventKind::Created => 1,
            EventKind::Updated => 2,
            EventKind::Deleted => 3,
        }
    }

    fn from_code(code: i64) -> Self {
        match code {
            1 => EventKind::Created,
            3 => EventKind::Deleted,
            _ => EventKind::Updated,
        }
    }
}

/// A change of a workspace, delivered to watchers: its keys, without bodies (read them with
/// [`Store::event_bodies`]), so the broadcast's memory does not grow with workspace sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Increasing id.
    pub id: i64,
    /// What happened.
    pub kind: EventKind,
    /// The workspace name.
    pub name: String,
    /// Its owner.
    pub owner: String,
    /// Its Space.
    pub space: String,
}

/// The bodies of an event, read when it is delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventBodies {
    /// The body before (updates and deletes); `None` for an update whose previous event was
    /// pruned.
    pub old: Option<Vec<u8>>,
    /// The body after (creates and updates).
    pub new: Option<Vec<u8>>,
}

/// Seconds since the Unix epoch (0 if the clock is before it).
fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Store {
    /// Records an event: `body` is the workspace after a create or update, before a delete.
    pub(super) async fn insert_event(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        kind: EventKind,
        r: &Record,
        body: &[u8],
    ) -> Result<Event, StoreError> {
        let (old, new) = match kind {
            EventKind::Deleted => (Some(body), None),
            EventKind::Created | EventKind::Updated => (None, Some(body)),
        };
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(EVENT_ORDER_LOCK)
                .execute(&mut **tx)
                .await?;
        }
        let row = sqlx::query("INSERT INTO events (kind, name, owner, space, old, new, at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
            .bind(kind.code())
            .bind(&r.name)
            .bind(&r.owner)
            .bind(&r.space)
            .bind(old)
            .bind(new)
            .bind(now_secs())
            .fetch_one(&mut **tx)
            .await?;
        let id: i64 = row.try_get(0)?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_notify('cordium_events', $1)")
                .bind(id.to_string())
                .execute(&mut **tx)
                .await?;
        }
        Ok(Event {
            id,
            kind,
            name: r.name.clone(),
            owner: r.owner.clone(),
            space: r.space.clone(),
        })
    }

    /// Records the creation of each of `records` (a group commit's: SQLite only, where the
    /// announcement needs no NOTIFY) with one statement, and returns their events in the same
    /// order. Events are matched to records by name (a statement's returned rows come in no
    /// promised order); records that share a name are recorded one at a time.
    pub(super) async fn insert_created_events(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        records: &[&Record],
    ) -> Result<Vec<Event>, StoreError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let names: std::collections::HashSet<&str> =
            records.iter().map(|r| r.name.as_str()).collect();
        if names.len() < records.len() {
            let mut events = Vec::with_capacity(records.len());
            for r in records {
                events.push(
                    self.insert_event(tx, EventKind::Created, r, &r.body)
                        .await?,
                );
            }
            return Ok(events);
        }
        let sql = format!(
            "INSERT INTO events (kind, name, owner, space, new, at) VALUES {} RETURNING id, name",
            super::placeholders(records.len(), 6, "", super::Marks::Anonymous)
        );
        let at = now_secs();
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for r in records {
            query = query
                .bind(EventKind::Created.code())
                .bind(&r.name)
                .bind(&r.owner)
                .bind(&r.space)
                .bind(&r.body)
                .bind(at);
        }
        let mut ids = std::collections::HashMap::with_capacity(records.len());
        for row in query.fetch_all(&mut **tx).await? {
            let name: String = row.try_get(1)?;
            ids.insert(name, row.try_get::<i64, _>(0)?);
        }
        records
            .iter()
            .map(|r| match ids.get(&r.name) {
                Some(id) => Ok(Event {
                    id: *id,
                    kind: EventKind::Created,
                    name: r.name.clone(),
                    owner: r.owner.clone(),
                    space: r.space.clone(),
                }),
                None => Err(StoreError::Database(sqlx::Error::Protocol(format!(
                    "the event of `{}` was not returned by its insert",
                    r.name
                )))),
            })
            .collect()
    }

    /// After a commit: on SQLite, watchers hear of the event at once; on PostgreSQL, every
    /// replica (this one included) hears of it through its listener.
    pub(super) fn announce(&self, event: Option<Event>) {
        if let (Some(event), Backend::Sqlite) = (event, self.backend) {
            let _ = self.events.send(event);
        }
    }

    /// Subscribes to workspace events.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// How many receivers of events exist (watch streams, the driver): a watch that ended,
    /// its client gone, no longer counts.
    pub fn subscribers(&self) -> usize {
        self.events.receiver_count()
    }

    /// Prunes events older than [`EVENT_RETENTION`] every [`PRUNE_EVERY`], in the background.
    pub(super) fn spawn_pruner(&self) {
        let store = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(PRUNE_EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match store.prune_events(EVENT_RETENTION).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!("pruned {n} watch events"),
                    Err(e) => tracing::warn!("pruning watch events: {e}"),
                }
            }
        });
    }

    /// PostgreSQL: follows every replica's events through `LISTEN`, announcing each to this
    /// process's watchers in id order, once. A notification only wakes it: what it announces
    /// is read from the table (every event after the last one announced), so neither a failed
    /// read nor the notifications lost while its connection was down lose an event. (During
    /// an upgrade, a replica that does not take the event lock yet can still commit an id
    /// below one already announced; it is then skipped.)
    pub(super) async fn spawn_listener(&self) -> Result<(), StoreError> {
        let mut listener = Self::listen(&self.url).await?;
        // Listening before reading the newest id: an event committed in between is both
        // notified and at most this id, and is not delivered twice.
        let mut last = self.newest_event_id().await?;
        let store = self.clone();
        tokio::spawn(async move {
            loop {
                match listener.try_recv().await {
                    // Whatever the notification names, everything after `last` is read from
                    // the table in id order: an event whose read failed, or one a replica
                    // without the event lock (mid-upgrade) committed late, comes with the next.
                    Ok(Some(notification)) => {
                        let named = notification.payload().parse::<i64>().ok();
                        if named.is_some_and(|id| id <= last) {
                            continue;
                        }
                    }
                    // The connection was lost and is back, listening again.
                    Ok(None) => tracing::warn!("event listener: connection lost; reconnected"),
                    // A new listener on a new connection (the old one may be dead, or the
                    // server said why it ends it).
                    Err(e) => {
                        tracing::warn!("event listener: {e}; reconnecting");
                        listener = loop {
                            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                            match Self::listen(&store.url).await {
                                Ok(listener) => break listener,
                                Err(e) => tracing::warn!("event listener: {e}; retrying"),
                            }
                        };
                    }
                }
                // Whatever came after `last`, from the table (after a lost connection, the
                // notifications sent meanwhile are lost: new ones are heard again by now).
                if let Err(e) = store.replay_after(&mut last).await {
                    tracing::warn!("event listener: reading events after {last}: {e}");
                }
            }
        });
        Ok(())
    }

    /// A connection listening for events.
    async fn listen(url: &str) -> Result<sqlx::postgres::PgListener, sqlx::Error> {
        let mut listener = sqlx::postgres::PgListener::connect(url).await?;
        listener.listen("cordium_events").await?;
        Ok(listener)
    }

    /// Announces `event` to this process's watchers (PostgreSQL's listener), moving `last`.
    fn deliver(&self, event: Event, last: &mut i64) {
        // Another replica may have written: what this one remembers of workspaces is stale.
        self.generations.wrote_elsewhere(Kind::Workspace);
        *last = event.id;
        let _ = self.events.send(event);
    }

    /// Delivers every kept event after `last`, a page at a time.
    async fn replay_after(&self, last: &mut i64) -> Result<(), StoreError> {
        loop {
            let page = self.events_after(*last, REPLAY_PAGE).await?;
            let full = page.len() as i64 == REPLAY_PAGE;
            for event in page {
                self.deliver(event, last);
            }
            if !full {
                return Ok(());
            }
        }
    }

    fn event_of(row: &sqlx::any::AnyRow) -> Result<Event, StoreError> {
        Ok(Event {
            id: row.try_get(0)?,
            kind: EventKind::from_code(row.try_get(1)?),
            name: row.try_get(2)?,
            owner: row.try_get(3)?,
            space: row.try_get(4)?,
        })
    }

    /// Up to `limit` kept events after `after`, oldest first (keys only): a resumed watch's
    /// replay, read a page at a time.
    pub async fn events_after(&self, after: i64, limit: i64) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, name, owner, space FROM events WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::event_of).collect()
    }

    /// The newest event's id (0 when there is none): where a new watch starts.
    pub async fn newest_event_id(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT MAX(id) FROM events")
            .fetch_one(&self.pool)
            .await?;
        let newest: Option<i64> = row.try_get(0)?;
        let pruned = self.pruned_through().await?;
        Ok(newest.unwrap_or(0).max(pruned))
    }

    /// The highest pruned event id (0 when nothing was pruned): a watch may resume after any
    /// id at or above it.
    pub async fn pruned_through(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT MAX(through) FROM events_pruned")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<Option<i64>, _>(0)?.unwrap_or(0))
    }

    /// The bodies of event `event` (`None` when it was pruned): the old body of an update is
    /// the body of the workspace's previous kept event.
    pub async fn event_bodies(&self, event: &Event) -> Result<Option<EventBodies>, StoreError> {
        let row = sqlx::query("SELECT old, new FROM events WHERE id = $1")
            .bind(event.id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let (mut old, new): (Option<Vec<u8>>, Option<Vec<u8>>) = (row.try_get(0)?, row.try_get(1)?);
        if event.kind == EventKind::Updated && old.is_none() {
            // Rows written before bodies were kept once have `old`; newer ones take it from
            // the previous event.
            let previous = sqlx::query(
                "SELECT new FROM events WHERE name = $1 AND id < $2 ORDER BY id DESC LIMIT 1",
            )
            .bind(&event.name)
            .bind(event.id)
            .fetch_optional(&self.pool)
            .await?;
            old = match previous {
                Some(p) => p.try_get(0)?,
                None => None,
            };
        }
        Ok(Some(EventBodies { old, new }))
    }

    /// Deletes the events older than `retention` and remembers the highest id deleted, so a
    /// watch resuming after it is told to start from scratch. Returns how many were deleted.
    pub async fn prune_events(&self, retention: std::time::Duration) -> Result<u64, StoreError> {
        let keep = i64::try_from(retention.as_secs()).unwrap_or(i64::MAX);
        let cutoff = now_secs().saturating_sub(keep);
        let mut tx = self.begin().await?;
        let through: Option<i64> = sqlx::query("SELECT MAX(id) FROM events WHERE at <= $1")
            .bind(cutoff)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        let Some(through) = through else {
            return Ok(0);
        };
        let deleted = sqlx::query("DELETE FROM events WHERE id <= $1")
            .bind(through)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("UPDATE events_pruned SET through = $1 WHERE through < $1")
            .bind(through)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted)
    }
}
