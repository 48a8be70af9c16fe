//! Group commit for creates on SQLite: concurrent creates share one transaction, so one
//! `fsync` acknowledges many of them.
//!
//! SQLite has one writer and `synchronous=FULL` syncs the log on every commit, so a create a
//! transaction costs a sync each and concurrent creates queue behind each other's syncs. Here
//! each create joins a queue and waits for its answer. One task at a time, the leader (started
//! by the create that finds none running), takes the queue batch after batch until it is
//! empty, and commits each batch as one transaction, in rounds of distinct keys and with a
//! statement per step rather than per create (the round's taken keys, one multi-row insert,
//! one multi-row insert of events). Waiters never pass a turn from one to the next: each is
//! woken once, by its answer. A create refused (a taken name, a quota) is refused before
//! anything of it is written, so the others go on; a database failure fails the whole batch,
//! and none of it is stored. Each owner's quota is counted once per batch (`quota::Tally`),
//! and the counts are kept for the next batch while no other connection committed in between
//! (SQLite's `PRAGMA data_version`, read inside the batch's transaction, says so exactly):
//! under a stream of creates the owners' rows are not counted again on every batch, which
//! cost a scan of the owner's index that grew with the store.
//!
//! Batches are written on a connection of their own whose commits do not sync the log
//! (`synchronous=NORMAL`); each batch's creates are answered only after the log that holds
//! them was synced (`fdatasync` of the `-wal` file), so an acknowledged create is as durable as
//! with `synchronous=FULL`. The syncs are made by a task of their own (the syncer): the
//! leader hands it each committed batch and writes the next one meanwhile, and one sync covers
//! every batch committed before it started. Batches are synced, announced to watchers and
//! answered in commit order. (A batch is visible to readers from its commit, a few
//! milliseconds before it is acknowledged; a power loss in between loses it, unanswered.)
//! The leader and the syncer are tasks of their own, so a caller that goes away does not take
//! the others' answers with it.

use super::events::Event;
use super::quota::Tally;
use super::{Quota, Record, Store, StoreError, Write};
use cordium_spec::Kind;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor as _, Row as _};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, mpsc, oneshot};

/// The most creates one transaction takes; the rest wait for the next batch.
const MAX_BATCH: usize = 256;

/// The most creates waiting for a batch, and the most bytes their records may hold: a create
/// whose caller went away stays queued (see [`Store::create_grouped`]), so without a bound a
/// client sending large creates and resetting them could grow the queue faster than the disk
/// drains it. Past either, a create is refused at once ([`StoreError::Busy`]).
const MAX_QUEUED: usize = 4 * MAX_BATCH;
const MAX_QUEUED_BYTES: usize = 64 << 20;

/// A create waiting for its batch, with everything it writes owned.
#[derive(Debug)]
struct Pending {
    record: Record,
    secret: Option<Vec<u8>>,
    event: bool,
    quotas: [Option<Quota>; 2],
    answer: oneshot::Sender<Result<(), StoreError>>,
}

/// A committed batch on its way to the syncer: each create and its watch event.
type Committed = Vec<(Pending, Option<Event>)>;

/// The queue of creates, the leader's state and the batches' connection, shared by every
/// clone of the store.
#[derive(Debug, Clone)]
pub(crate) struct Group(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    pool: AnyPool,
    /// Committed batches, in commit order, to the syncer.
    committed: mpsc::UnboundedSender<Committed>,
    /// The quota counts as of the last committed batch, and the `data_version` its
    /// transaction read; taken by each batch and put back once it committed. A version means
    /// something on its own connection only, so a new connection forgets them.
    kept: Arc<Mutex<Option<Kept>>>,
    /// Creates answered after the sync of their batch's log (for the tests).
    #[cfg(test)]
    synced: Arc<AtomicU64>,
    /// Batches that went on from the previous batch's counts (for the tests).
    reused: AtomicU64,
    /// Set by the syncer when a sync of the log failed; see [`SyncFailed`].
    sync_failed: SyncFailed,
}

/// Whether a sync of the log failed, and why. After a failed `fdatasync` the kernel may have
/// dropped the pages it could not write and marked them clean, so a later sync can succeed
/// without them, and SQLite's recovery stops at the first frame it cannot read: batches
/// acknowledged after the failure could be lost with it. So from the first failure on, no
/// create is written or acknowledged until the server restarts (and SQLite recovers the log),
/// as PostgreSQL stops on a failed sync.
type SyncFailed = Arc<std::sync::OnceLock<Arc<sqlx::Error>>>;

/// The creates waiting for a batch, the bytes their records hold, and whether a leader is
/// running (it takes them).
#[derive(Debug, Default)]
struct Queue {
    pending: Vec<Pending>,
    bytes: usize,
    leading: bool,
}

impl Pending {
    /// The bytes it holds, as [`MAX_QUEUED_BYTES`] counts them.
    fn weight(&self) -> usize {
        let r = &self.record;
        r.body.len()
            + r.name.len()
            + r.scope.len()
            + r.owner.len()
            + r.space.len()
            + self.secret.as_ref().map_or(0, Vec::len)
    }
}

/// The owners' counts a committed batch ended with, and the `PRAGMA data_version` its
/// transaction read: while the next transaction reads the same version, no other connection
/// committed in between (the batches' own commits do not move it), so the counts are exact.
#[derive(Debug)]
struct Kept {
    data_version: i64,
    tally: Tally,
}

/// The most owners whose counts are kept between batches; past it they are counted afresh.
const MAX_KEPT_OWNERS: usize = 4096;

impl Group {
    /// The group commit of the SQLite database at `url` (as the store's pool connects to it):
    /// opens the batches' connection and starts the syncer, which announces synced creates on
    /// `events`.
    pub(super) async fn open(
        url: &str,
        events: broadcast::Sender<Event>,
    ) -> Result<Self, sqlx::Error> {
        let kept: Arc<Mutex<Option<Kept>>> = Arc::default();
        let forget = kept.clone();
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .test_before_acquire(false)
            .after_connect(move |conn, _| {
                *forget
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
                Box::pin(async move {
                    // NORMAL: the commit does not sync; the syncer does, before answers.
                    // Statement journals (a multi-row insert may fail halfway) in memory:
                    // in a file they cost a write system call per page a batch touches again.
                    // Checkpoints are made by the committing connection, never in the
                    // background (so the log cannot outgrow them): this one's every 4,000
                    // pages rather than 1,000, so a page written by many batches is copied back
                    // once per checkpoint (the pool's connections keep 1,000, so an update or
                    // delete can still be the one that checkpoints).
                    conn.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY; PRAGMA wal_autocheckpoint=4000;").await?;
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        let file: String = sqlx::query("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_one(&pool)
            .await?
            .try_get(0)?;
        let (committed, batches) = mpsc::unbounded_channel();
        let synced = Arc::new(AtomicU64::new(0));
        let sync_failed = SyncFailed::default();
        let syncer = Syncer {
            wal: PathBuf::from(format!("{file}-wal")),
            events,
            synced: synced.clone(),
            failed: sync_failed.clone(),
        };
        tokio::spawn(syncer.run(batches));
        Ok(Self(Arc::new(Shared {
            queue: Mutex::default(),
            pool,
            committed,
            kept,
            #[cfg(test)]
            synced,
            reused: AtomicU64::new(0),
            sync_failed,
        })))
    }

    /// How many creates were answered after their batch's log was synced.
    #[cfg(test)]
    pub(super) fn synced(&self) -> u64 {
        self.0.synced.load(Ordering::Relaxed)
    }

    /// The counts kept from the last committed batch if no other connection committed since
    /// (`data_version` is what this batch's transaction read), else none.
    fn take_tally(&self, data_version: i64) -> Tally {
        let kept = self
            .0
            .kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        match kept {
            Some(kept) if kept.data_version == data_version => {
                self.0.reused.fetch_add(1, Ordering::Relaxed);
                kept.tally
            }
            _ => Tally::default(),
        }
    }

    /// Keeps a committed batch's counts for the next batch.
    fn keep_tally(&self, data_version: i64, tally: Tally) {
        if tally.owners() > MAX_KEPT_OWNERS {
            return;
        }
        *self
            .0
            .kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Kept {
            data_version,
            tally,
        });
    }

    /// How many batches went on from the previous batch's counts.
    #[cfg(test)]
    pub(super) fn reused(&self) -> u64 {
        self.0.reused.load(Ordering::Relaxed)
    }

    /// The next batch for the leader, or `None` when the queue is empty: the leader then
    /// stops, and the next create starts another.
    fn next_batch(&self) -> Option<Vec<Pending>> {
        let mut queue = self.queue();
        if queue.pending.is_empty() {
            queue.leading = false;
            return None;
        }
        let take = queue.pending.len().min(MAX_BATCH);
        let batch: Vec<Pending> = queue.pending.drain(..take).collect();
        queue.bytes -= batch.iter().map(Pending::weight).sum::<usize>();
        Some(batch)
    }
}

/// The syncer: syncs the log of committed batches and answers their creates, in commit order.
struct Syncer {
    /// The batches' log file (it lives as long as a connection is open, and the batches' stays
    /// open).
    wal: PathBuf,
    events: broadcast::Sender<Event>,
    synced: Arc<AtomicU64>,
    failed: SyncFailed,
}

impl Syncer {
    /// Takes every batch committed so far, syncs the log once for all of them, then announces
    /// and answers them; until the group is gone.
    async fn run(self, mut batches: mpsc::UnboundedReceiver<Committed>) {
        let mut ready = Vec::new();
        while batches.recv_many(&mut ready, usize::MAX).await > 0 {
            if self.failed.get().is_none() {
                let wal = self.wal.clone();
                let synced =
                    tokio::task::spawn_blocking(move || std::fs::File::open(wal)?.sync_data())
                        .await
                        .unwrap_or_else(|e| Err(std::io::Error::other(e)));
                if let Err(e) = synced {
                    tracing::error!(
                        "syncing the database's log failed ({e}); no create will be acknowledged until the server restarts"
                    );
                    let _ = self.failed.set(Arc::new(sqlx::Error::Io(e)));
                }
            }
            if let Some(cause) = self.failed.get() {
                // Committed, but whether it is on disk is unknown: not acknowledged.
                refuse_all(ready.drain(..).flatten().map(|(pending, _)| pending), cause);
                continue;
            }
            for (pending, event) in ready.drain(..).flatten() {
                self.synced.fetch_add(1, Ordering::Relaxed);
                if let Some(event) = event {
                    let _ = self.events.send(event);
                }
                let _ = pending.answer.send(Ok(()));
            }
        }
    }
}

/// Marks the leader stopped if its task ends before it said so (a panic, the runtime shutting
/// down), so the next create starts another.
struct Leading {
    group: Group,
    /// Whether the leader still runs as far as the queue knows.
    running: bool,
}

impl Drop for Leading {
    fn drop(&mut self) {
        if self.running {
            self.group.queue().leading = false;
        }
    }
}

impl Store {
    /// Creates `write`'s resource in the next group commit: queues it, starts a leader if none
    /// is running, and waits for the answer. A create whose caller went away stays queued and
    /// is committed all the same, as a request may be carried out after its caller stopped
    /// waiting.
    pub(super) async fn create_grouped(
        &self,
        group: &Group,
        write: Write<'_>,
    ) -> Result<(), StoreError> {
        if let Some(cause) = group.0.sync_failed.get() {
            return Err(StoreError::Batch(cause.clone()));
        }
        let (answer, answered) = oneshot::channel();
        let pending = Pending {
            record: write.record.clone(),
            secret: write.secret.map(<[u8]>::to_vec),
            event: write.event,
            quotas: write.quotas,
            answer,
        };
        let weight = pending.weight();
        let start = {
            let mut queue = group.queue();
            if queue.pending.len() >= MAX_QUEUED || queue.bytes + weight > MAX_QUEUED_BYTES {
                drop(queue);
                tracing::warn!("the create queue is full; a create was refused");
                return Err(StoreError::Busy);
            }
            queue.bytes += weight;
            queue.pending.push(pending);
            !std::mem::replace(&mut queue.leading, true)
        };
        if start {
            tokio::spawn(self.clone().lead(group.clone()));
        }
        answered.await.unwrap_or(Err(StoreError::Abandoned))
    }

    /// The leader: commits the queue batch after batch and hands each to the syncer, until the
    /// queue is empty.
    async fn lead(self, group: Group) {
        let mut leading = Leading {
            group,
            running: true,
        };
        while let Some(batch) = leading.group.next_batch() {
            if let Some(committed) = self.commit_batch(&leading.group, batch).await {
                // The syncer lives as long as the group; if it is gone, so are the waiters.
                let _ = leading.group.0.committed.send(committed);
            }
        }
        // `next_batch` marked the leader stopped, under the queue's lock: a create queued
        // since has started another, which this guard must not mark stopped.
        leading.running = false;
    }

    /// Writes `batch` in one transaction and returns its creates with their events once it
    /// committed (`None`: it failed, and each create was answered so). The batch is written in
    /// rounds of distinct keys (a second create of a key waits for the round after the
    /// first's, so it is refused as `AlreadyExists` exactly when the first was written).
    async fn commit_batch(&self, group: &Group, batch: Vec<Pending>) -> Option<Committed> {
        if let Some(cause) = group.0.sync_failed.get() {
            // Queued before the syncer found the failure: not written (see `SyncFailed`).
            refuse_all(batch, cause);
            return None;
        }
        let _writing = self
            .generations
            .writing(batch.iter().map(|p| p.record.kind));
        let mut tx = match group.0.pool.begin_with("BEGIN IMMEDIATE").await {
            Ok(tx) => tx,
            Err(e) => return answer_all(batch, e),
        };
        // Read inside the transaction, whose write lock keeps other connections from
        // committing until it ends.
        let data_version = match data_version(&mut tx).await {
            Ok(version) => version,
            Err(e) => return answer_all(batch, e),
        };
        let mut tally = group.take_tally(data_version);
        let mut written = Vec::with_capacity(batch.len());
        let mut rounds = rounds(batch).into_iter();
        while let Some(round) = rounds.next() {
            match self.create_round(&mut tx, round, &mut tally).await {
                Ok(done) => written.extend(done),
                Err((e, unwritten)) => {
                    let failed = written.into_iter().map(|(p, _)| p);
                    let unwritten = failed.chain(unwritten).chain(rounds.flatten());
                    return answer_all(unwritten.collect(), e);
                }
            }
        }
        if let Err(e) = tx.commit().await {
            return answer_all(written.into_iter().map(|(p, _)| p).collect(), e);
        }
        group.keep_tally(data_version, tally);
        Some(written)
    }

    /// Creates one round (no two creates of the same key) inside `tx`, with a statement per
    /// step rather than per create: the taken keys are read at once, each create then passes
    /// or fails its quota in order (a refused create is answered now and writes nothing), and
    /// the admitted ones are inserted together, their events too. A database failure returns
    /// every create of the round not yet answered.
    async fn create_round(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        round: Vec<Pending>,
        tally: &mut Tally,
    ) -> Result<Vec<(Pending, Option<Event>)>, (sqlx::Error, Vec<Pending>)> {
        let taken = match Self::taken_keys(tx, &round).await {
            Ok(taken) => taken,
            Err(e) => return Err((e, round)),
        };
        let mut admitted: Vec<Pending> = Vec::with_capacity(round.len());
        let mut round = round.into_iter();
        while let Some(pending) = round.next() {
            let r = &pending.record;
            if taken.contains(&(r.kind, r.scope.clone(), r.name.clone())) {
                let refused = StoreError::AlreadyExists {
                    kind: r.kind,
                    name: r.name.clone(),
                };
                let _ = pending.answer.send(Err(refused));
                continue;
            }
            let mut within = Ok(());
            for quota in pending.quotas.into_iter().flatten() {
                within = self.check_quota(tx, r, quota, tally).await;
                if within.is_err() {
                    break;
                }
            }
            match within {
                Ok(()) => {}
                Err(StoreError::Database(e)) => {
                    let unwritten = admitted.into_iter().chain([pending]).chain(round);
                    return Err((e, unwritten.collect()));
                }
                Err(refused) => {
                    let _ = pending.answer.send(Err(refused));
                    continue;
                }
            }
            tally.created(&pending.record);
            admitted.push(pending);
        }
        match self.write_admitted(tx, &admitted).await {
            Ok(events) => Ok(admitted.into_iter().zip(events).collect()),
            Err(e) => Err((into_sqlx(e), admitted)),
        }
    }

    /// The keys of `round` already stored, read with one statement: the round's keys joined to
    /// the table, so each is one search of the primary key. (`(kind, scope, name) IN (VALUES
    /// ...)` scans the whole key index on SQLite: a batch's cost grew with the store.)
    async fn taken_keys(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        round: &[Pending],
    ) -> Result<HashSet<(Kind, String, String)>, sqlx::Error> {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(taken_keys_sql(round.len())));
        for p in round {
            let r = &p.record;
            query = query.bind(r.kind.as_str()).bind(&r.scope).bind(&r.name);
        }
        let rows = query.fetch_all(&mut **tx).await?;
        let mut taken = HashSet::with_capacity(rows.len());
        for row in rows {
            let kind: String = row.try_get(0)?;
            // Only this round's kinds are asked for, so each is one of theirs.
            let Some(kind) = round
                .iter()
                .map(|p| p.record.kind)
                .find(|k| k.as_str() == kind)
            else {
                continue;
            };
            taken.insert((kind, row.try_get(1)?, row.try_get(2)?));
        }
        Ok(taken)
    }

    /// Inserts the admitted records with one statement, then each one's secret value and Space
    /// members, then their events with one statement; returns each record's event.
    async fn write_admitted(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        admitted: &[Pending],
    ) -> Result<Vec<Option<Event>>, StoreError> {
        if admitted.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "INSERT INTO resources {} VALUES {}",
            super::NEW_ROW_COLUMNS,
            super::placeholders(
                admitted.len(),
                super::NEW_ROW_BINDS,
                "1",
                super::Marks::Anonymous,
            )
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for p in admitted {
            query = super::bind_new_row(query, &p.record);
        }
        query.execute(&mut **tx).await?;
        for p in admitted {
            if let Some(secret) = &p.secret {
                Self::put_secret(tx, &p.record, secret).await?;
            }
            Self::sync_members(tx, &p.record, Some(&p.record.body)).await?;
        }
        let evented: Vec<&Record> = admitted
            .iter()
            .filter(|p| p.event)
            .map(|p| &p.record)
            .collect();
        let mut ids = self.insert_created_events(tx, &evented).await?.into_iter();
        Ok(admitted
            .iter()
            .map(|p| if p.event { ids.next() } else { None })
            .collect())
    }
}

/// The connection's `PRAGMA data_version`: it moves when another connection commits.
async fn data_version(tx: &mut sqlx::Transaction<'static, sqlx::Any>) -> Result<i64, sqlx::Error> {
    sqlx::query("PRAGMA data_version")
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)
}

/// The statement of [`Store::taken_keys`] for `count` keys.
fn taken_keys_sql(count: usize) -> String {
    format!(
        "SELECT r.kind, r.scope, r.name FROM (VALUES {}) AS v JOIN resources AS r \
         ON r.kind = v.column1 AND r.scope = v.column2 AND r.name = v.column3",
        super::placeholders(count, 3, "", super::Marks::Anonymous)
    )
}

/// `batch` split into rounds of distinct keys, each in batch order: the first create of every
/// key, then the second, and so on.
fn rounds(batch: Vec<Pending>) -> Vec<Vec<Pending>> {
    let mut rounds: Vec<Vec<Pending>> = Vec::new();
    let mut seen: HashMap<(Kind, String, String), usize> = HashMap::new();
    for pending in batch {
        let r = &pending.record;
        let n = seen
            .entry((r.kind, r.scope.clone(), r.name.clone()))
            .and_modify(|n| *n += 1)
            .or_insert(0);
        match rounds.get_mut(*n) {
            Some(round) => round.push(pending),
            None => rounds.push(vec![pending]),
        }
    }
    rounds
}

/// The database error behind `e`.
fn into_sqlx(e: StoreError) -> sqlx::Error {
    match e {
        StoreError::Database(e) => e,
        other => sqlx::Error::Protocol(other.to_string()),
    }
}

/// Answers every create of `unwritten` with the database failure `cause` (none of them was
/// written); `None`, as nothing committed.
fn answer_all(unwritten: Vec<Pending>, cause: sqlx::Error) -> Option<Committed> {
    refuse_all(unwritten, &Arc::new(cause));
    None
}

/// Answers every create of `pending` with the failure `cause`: none is acknowledged.
fn refuse_all(pending: impl IntoIterator<Item = Pending>, cause: &Arc<sqlx::Error>) {
    for pending in pending {
        let _ = pending.answer.send(Err(StoreError::Batch(cause.clone())));
    }
}

impl Group {
    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.0
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn open(dir: &tempfile::TempDir) -> Store {
        let url = format!("sqlite://{}", dir.path().join("db").display());
        Store::open(&url).await.expect("open")
    }

    /// A store in `dir` and its group commit.
    async fn open_grouped(dir: &tempfile::TempDir) -> (Store, Group) {
        let store = open(dir).await;
        let Some(group) = store.group.clone() else {
            panic!("SQLite has a group commit");
        };
        (store, group)
    }

    /// A workspace of alice's named `name`.
    fn workspace(name: &str) -> Record {
        Record {
            kind: Kind::Workspace,
            scope: String::new(),
            name: name.into(),
            owner: "alice".into(),
            space: "default.alice".into(),
            body: vec![1, 2, 3],
            version: 0,
            active: false,
        }
    }

    fn assert_over_quota(created: Result<(), StoreError>) {
        assert!(
            matches!(created, Err(StoreError::QuotaExceeded { .. })),
            "{created:?}"
        );
    }

    /// An owner's count goes on from one batch to the next, and is counted again once another
    /// connection committed: a delete through the store's pool frees a place at once.
    #[tokio::test]
    async fn kept_counts_are_counted_again_after_another_connection_wrote() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, group) = open_grouped(&dir).await;
        let quota = Quota {
            counted: super::super::Counted::Owned,
            max: 2,
        };
        let create = |name: &str| {
            let (store, record) = (store.clone(), workspace(name));
            async move { store.create(Write::new(&record).within(quota)).await }
        };
        create("w0").await.expect("the first");
        create("w1").await.expect("the second");
        assert!(group.reused() >= 1, "the second batch counted again");
        assert_over_quota(create("w2").await);
        store
            .delete(Kind::Workspace, "", "w0", false)
            .await
            .expect("delete through the pool");
        create("w2").await.expect("the place the delete freed");
        assert_over_quota(create("w3").await);
    }

    /// Concurrent creates are answered only after their batch's log was synced (the batches'
    /// connection does not sync at commit), and what was answered is stored.
    #[tokio::test]
    async fn every_acknowledged_create_was_synced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, group) = open_grouped(&dir).await;
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..64 {
            let store = store.clone();
            tasks.spawn(async move {
                let record = workspace(&format!("w{i}"));
                store.create(Write::new(&record).event(true)).await
            });
        }
        let mut acknowledged = 0;
        while let Some(done) = tasks.join_next().await {
            done.expect("task").expect("created");
            acknowledged += 1;
            assert!(group.synced() >= acknowledged, "answered before its sync");
        }
        assert_eq!(group.synced(), 64);
        let stored = store.list(Kind::Workspace, None).await.expect("list");
        assert_eq!(stored.len(), 64);
    }

    /// Once a sync of the log failed, no later create is acknowledged, even when the next sync
    /// would succeed (the kernel may have dropped the pages it failed to write), and none is
    /// queued; the failed one itself was committed but not acknowledged.
    #[tokio::test]
    async fn a_failed_sync_fails_every_later_create() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, group) = open_grouped(&dir).await;
        store
            .create(Write::new(&workspace("before")))
            .await
            .expect("created while the log syncs");
        // The syncer opens the log by its path to sync it: without the file, the sync fails.
        let wal = dir.path().join("db-wal");
        std::fs::remove_file(&wal).expect("the log exists");
        let failed = store.create(Write::new(&workspace("during"))).await;
        assert!(matches!(failed, Err(StoreError::Batch(_))), "{failed:?}");
        // A log that syncs again does not bring acknowledgements back.
        std::fs::write(&wal, b"").expect("a file that syncs");
        // (The database is not read again: its log was taken away under it.)
        let later = store.create(Write::new(&workspace("after"))).await;
        assert!(matches!(later, Err(StoreError::Batch(_))), "{later:?}");
        assert!(
            group.queue().pending.is_empty(),
            "refused before it was queued"
        );
        assert_eq!(
            group.synced(),
            1,
            "only the create before the failure was acknowledged"
        );
    }

    /// A full queue refuses a create at once, before anything of it is kept, and takes the
    /// next one again when it has drained.
    #[tokio::test]
    async fn a_full_queue_refuses_creates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, group) = open_grouped(&dir).await;
        {
            // As if the queue held its most bytes, with a leader busy taking them.
            let mut queue = group.queue();
            queue.bytes = MAX_QUEUED_BYTES;
            queue.leading = true;
        }
        let refused = store.create(Write::new(&workspace("full"))).await;
        assert!(matches!(refused, Err(StoreError::Busy)), "{refused:?}");
        assert!(group.queue().pending.is_empty());
        {
            let mut queue = group.queue();
            queue.bytes = 0;
            queue.leading = false;
        }
        store
            .create(Write::new(&workspace("drained")))
            .await
            .expect("taken again");
        assert_eq!(group.queue().bytes, 0, "a drained queue holds no bytes");
    }

    /// The taken keys are searched in the primary key, never found by a scan of the table or
    /// an index: a batch costs the same in a store of 100 rows or of 100,000.
    #[tokio::test]
    async fn taken_keys_are_searched_not_scanned() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(&dir).await;
        let sql = format!("EXPLAIN QUERY PLAN {}", taken_keys_sql(3));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for i in 0..3 {
            query = query.bind("Workspace").bind("").bind(format!("n{i}"));
        }
        let plan: Vec<String> = query
            .fetch_all(&store.pool)
            .await
            .expect("plan")
            .iter()
            .map(|row| row.try_get::<String, _>(3).expect("detail"))
            .collect();
        assert!(
            plan.iter().any(|step| step.starts_with("SEARCH r USING")),
            "{plan:?}"
        );
        assert!(
            !plan.iter().any(|step| step.starts_with("SCAN r")),
            "{plan:?}"
        );
    }
}
