//! Group commit for creates on SQLite: concurrent creates share one transaction, so one
//! `fsync` acknowledges many of them.
//!
//! SQLite has one writer and `synchronous=FULL` syncs the log on every commit, so a create a
//! transaction costs a sync each and concurrent creates queue behind each other's syncs. Here
//! each create joins a queue and then waits for the writer's turn; whoever gets the turn
//! (the leader) takes the whole queue and commits it as one transaction, in rounds of
//! distinct keys and with a statement per step rather than per create (the round's taken keys,
//! one multi-row insert, one multi-row insert of events). A create refused (a taken name, a
//! quota) is refused before anything of it is written, so the others go on; a database
//! failure fails the whole batch, and none of it is stored. Each owner's quota is counted once
//! per batch (`quota::Tally`), and the counts are kept for the next batch while no other
//! connection committed in between (SQLite's `PRAGMA data_version`, read inside the batch's
//! transaction, says so exactly): under a stream of creates the owners' rows are not counted
//! again on every batch, which cost a scan of the owner's index that grew with the store.
//! Batches are written on a connection of their own whose commits do not sync the log
//! (`synchronous=NORMAL`); each batch's creates are answered only after the log that holds
//! them was synced (`fdatasync` of the `-wal` file), so an acknowledged create is as durable as
//! with `synchronous=FULL`. The sync runs after the writer's turn is given up: the next batch
//! writes while this one's log syncs, instead of waiting for it. Batches are synced, announced
//! to watchers and answered in commit order. (A batch is visible to readers from its commit,
//! a few milliseconds before it is acknowledged; a power loss in between loses it, unanswered.)
//! The leader's commit runs in a task of its own, so a caller that goes away mid-commit does
//! not take the others' answers with it.

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
use tokio::sync::oneshot;

/// The most creates one transaction takes; the rest wait for the next turn.
const MAX_BATCH: usize = 256;

/// A create waiting for its turn, with everything it writes owned.
#[derive(Debug)]
struct Pending {
    record: Record,
    secret: Option<Vec<u8>>,
    event: bool,
    quota: Option<Quota>,
    answer: oneshot::Sender<Result<(), StoreError>>,
}

/// The queue of creates, the writer's turn and the batches' connection, shared by every clone
/// of the store.
#[derive(Debug, Clone)]
pub(crate) struct Group(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    queue: Mutex<Vec<Pending>>,
    turn: tokio::sync::Mutex<()>,
    /// Taken by each batch at its commit, in commit order, until it is answered.
    syncing: tokio::sync::Mutex<()>,
    writer: Writer,
    /// The quota counts as of the last committed batch, and the `data_version` its
    /// transaction read; taken by each batch and put back once it committed.
    kept: Mutex<Option<Kept>>,
    /// Creates answered after the sync of their batch's log (for the tests).
    synced: AtomicU64,
    /// Batches that went on from the previous batch's counts (for the tests).
    reused: AtomicU64,
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

/// The batches' connection (one: SQLite has one writer) and the log file it commits to.
#[derive(Debug)]
struct Writer {
    pool: AnyPool,
    wal: PathBuf,
}

impl Group {
    /// The group commit of the SQLite database at `url` (as the store's pool connects to it):
    /// opens the batches' connection.
    pub(super) async fn open(url: &str) -> Result<Self, sqlx::Error> {
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .test_before_acquire(false)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    // NORMAL: the commit does not sync; `Writer::sync` does, before answers.
                    // Statement journals (a multi-row insert may fail halfway) in memory:
                    // in a file they cost a write system call per page a batch touches again.
                    conn.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;").await?;
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        let file: String = sqlx::query("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_one(&pool)
            .await?
            .try_get(0)?;
        Ok(Self(Arc::new(Shared {
            queue: Mutex::default(),
            turn: tokio::sync::Mutex::default(),
            syncing: tokio::sync::Mutex::default(),
            writer: Writer {
                pool,
                wal: PathBuf::from(format!("{file}-wal")),
            },
            kept: Mutex::default(),
            synced: AtomicU64::new(0),
            reused: AtomicU64::new(0),
        })))
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

    /// How many creates were answered after their batch's log was synced.
    #[cfg(test)]
    pub(super) fn synced(&self) -> u64 {
        self.0.synced.load(Ordering::Relaxed)
    }
}

impl Writer {
    /// Syncs the log: every commit before this call is then on disk. (The `-wal` file lives
    /// as long as a connection is open, and this one stays open.)
    async fn sync(&self) -> Result<(), sqlx::Error> {
        let wal = self.wal.clone();
        tokio::task::spawn_blocking(move || std::fs::File::open(wal)?.sync_data())
            .await
            .map_err(|e| sqlx::Error::Io(std::io::Error::other(e)))?
            .map_err(sqlx::Error::Io)
    }
}

impl Store {
    /// Creates `write`'s resource in the next group commit. Each waiter takes the writer's
    /// turn once: it returns at once if an earlier turn committed its create, else it commits
    /// the queue's oldest (its own among them, or it waits for a later turn that takes it),
    /// and gives up the turn once they committed, before their log is synced.
    /// A create whose caller went away stays queued and is committed by the next turn, as a
    /// request may be carried out after its caller stopped waiting.
    pub(super) async fn create_grouped(
        &self,
        group: &Group,
        write: Write<'_>,
    ) -> Result<(), StoreError> {
        let (answer, mut answered) = oneshot::channel();
        let pending = Pending {
            record: write.record.clone(),
            secret: write.secret.map(<[u8]>::to_vec),
            event: write.event,
            quota: write.quota,
            answer,
        };
        group.queue().push(pending);
        let turn = group.0.turn.lock().await;
        if let Ok(result) = answered.try_recv() {
            return result;
        }
        let batch: Vec<Pending> = {
            let mut queue = group.queue();
            let take = queue.len().min(MAX_BATCH);
            queue.drain(..take).collect()
        };
        let (store, group) = (self.clone(), group.clone());
        let (committed, written) = oneshot::channel();
        let commit =
            tokio::spawn(async move { store.commit_batch(&group, batch, committed).await });
        // Sent once the batch committed, dropped when it failed before.
        let _ = written.await;
        drop(turn);
        drop(commit);
        answered.await.unwrap_or(Err(StoreError::Abandoned))
    }

    /// Writes `batch` in one transaction, says so on `committed`, then syncs the log and
    /// answers each create. The batch is written in rounds of distinct keys (a second create
    /// of a key waits for the round after the first's, so it is refused as `AlreadyExists`
    /// exactly when the first was written).
    async fn commit_batch(
        &self,
        group: &Group,
        batch: Vec<Pending>,
        committed: oneshot::Sender<()>,
    ) {
        let writing = self
            .generations
            .writing(batch.iter().map(|p| p.record.kind));
        let writer = &group.0.writer;
        let mut tx = match writer.pool.begin_with("BEGIN IMMEDIATE").await {
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
        drop(writing);
        // Taken before the turn is given up, so batches are answered in commit order.
        let _syncing = group.0.syncing.lock().await;
        let _ = committed.send(());
        if let Err(e) = writer.sync().await {
            // Committed, but whether it is on disk is unknown: not acknowledged.
            return answer_all(written.into_iter().map(|(p, _)| p).collect(), e);
        }
        group
            .0
            .synced
            .fetch_add(written.len() as u64, Ordering::Relaxed);
        for (pending, event) in written {
            self.announce(event);
            let _ = pending.answer.send(Ok(()));
        }
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
            if let Some(quota) = pending.quota {
                match self.check_quota(tx, r, quota, tally).await {
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
            super::placeholders(admitted.len(), super::NEW_ROW_BINDS, "1")
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
async fn data_version(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
) -> Result<i64, sqlx::Error> {
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
        super::placeholders(count, 3, "")
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

/// Answers every create of `unwritten` with the database failure `cause`: none of them was
/// written.
fn answer_all(unwritten: Vec<Pending>, cause: sqlx::Error) {
    let cause = Arc::new(cause);
    for pending in unwritten {
        let _ = pending.answer.send(Err(StoreError::Batch(cause.clone())));
    }
}

impl Group {
    fn queue(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
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

    /// An owner's count goes on from one batch to the next, and is counted again once another
    /// connection committed: a delete through the store's pool frees a place at once.
    #[tokio::test]
    async fn kept_counts_are_counted_again_after_another_connection_wrote() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(&dir).await;
        let Some(group) = store.group.clone() else {
            panic!("SQLite has a group commit");
        };
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
        let refused = create("w2").await;
        assert!(
            matches!(refused, Err(StoreError::QuotaExceeded { .. })),
            "{refused:?}"
        );
        store
            .delete(Kind::Workspace, "", "w0", false)
            .await
            .expect("delete through the pool");
        create("w2").await.expect("the place the delete freed");
        let refused = create("w3").await;
        assert!(
            matches!(refused, Err(StoreError::QuotaExceeded { .. })),
            "{refused:?}"
        );
    }

    /// Concurrent creates are answered only after their batch's log was synced (the batches'
    /// connection does not sync at commit), and what was answered is stored.
    #[tokio::test]
    async fn every_acknowledged_create_was_synced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(&dir).await;
        let Some(group) = store.group.clone() else {
            panic!("SQLite has a group commit");
        };
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
