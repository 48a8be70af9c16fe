//! Group commit for creates on SQLite: concurrent creates share one transaction, so one
//! `fsync` acknowledges many of them.
//!
//! SQLite has one writer and `synchronous=FULL` syncs the log on every commit, so a create a
//! transaction costs a sync each and concurrent creates queue behind each other's syncs. Here
//! each create joins a queue and then waits for the writer's turn; whoever gets the turn
//! (the leader) takes the whole queue and commits it as one transaction. A create refused
//! (a taken name, a quota) wrote nothing (`Store::create_in` refuses before its first write),
//! so the others go on; a database failure fails the whole batch, and none of it is stored.
//! Each owner's quota is counted once per batch (`quota::Tally`).
//! Every create is answered only after the transaction that holds it committed: an
//! acknowledged create is as durable as before. The leader's commit runs in a task of its
//! own, so a caller that goes away mid-commit does not take the others' answers with it.

use super::quota::Tally;
use super::{Quota, Record, Store, StoreError, Write};
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

/// The queue of creates and the writer's turn, shared by every clone of the store.
#[derive(Debug, Default, Clone)]
pub(crate) struct Group(Arc<Shared>);

#[derive(Debug, Default)]
struct Shared {
    queue: Mutex<Vec<Pending>>,
    turn: tokio::sync::Mutex<()>,
}

impl Store {
    /// Creates `write`'s resource in the next group commit. Each waiter takes the writer's
    /// turn once: it returns at once if an earlier turn committed its create, else it commits
    /// the queue's oldest (its own among them, or it waits for a later turn that takes it).
    /// A create whose caller went away stays queued and is committed by the next turn, as a
    /// request may be carried out after its caller stopped waiting.
    pub(super) async fn create_grouped(&self, write: Write<'_>) -> Result<(), StoreError> {
        let (answer, mut answered) = oneshot::channel();
        let pending = Pending {
            record: write.record.clone(),
            secret: write.secret.map(<[u8]>::to_vec),
            event: write.event,
            quota: write.quota,
            answer,
        };
        self.group.queue().push(pending);
        let turn = self.group.0.turn.lock().await;
        if let Ok(result) = answered.try_recv() {
            return result;
        }
        let batch: Vec<Pending> = {
            let mut queue = self.group.queue();
            let take = queue.len().min(MAX_BATCH);
            queue.drain(..take).collect()
        };
        let store = self.clone();
        let _ = tokio::spawn(async move { store.commit_batch(batch).await }).await;
        drop(turn);
        answered.await.unwrap_or(Err(StoreError::Abandoned))
    }

    /// Writes `batch` in one transaction and answers each create.
    async fn commit_batch(&self, batch: Vec<Pending>) {
        let _writing = self
            .generations
            .writing(batch.iter().map(|p| p.record.kind));
        let mut tx = match self.begin().await {
            Ok(tx) => tx,
            Err(e) => return answer_all(batch, into_sqlx(e)),
        };
        let mut written = Vec::with_capacity(batch.len());
        let mut tally = Tally::default();
        let mut batch = batch.into_iter();
        while let Some(pending) = batch.next() {
            let write = Write {
                record: &pending.record,
                precondition: super::Precondition::Any,
                secret: pending.secret.as_deref(),
                event: pending.event,
                quota: pending.quota,
            };
            // A refused create wrote nothing (`Store::create_in`), so the others go on.
            match self.create_in(&mut tx, &write, &mut tally).await {
                Ok(event) => written.push((pending, event)),
                Err(StoreError::Database(e)) => {
                    let failed = written.into_iter().map(|(p, _)| p);
                    let unwritten = failed.chain(std::iter::once(pending)).chain(batch);
                    return answer_all(unwritten.collect(), e);
                }
                Err(refused) => {
                    let _ = pending.answer.send(Err(refused));
                }
            }
        }
        if let Err(e) = tx.commit().await {
            return answer_all(written.into_iter().map(|(p, _)| p).collect(), e);
        }
        for (pending, event) in written {
            self.announce(event);
            let _ = pending.answer.send(Ok(()));
        }
    }
}

/// The database error behind `e` (the transaction's start fails only with one).
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
