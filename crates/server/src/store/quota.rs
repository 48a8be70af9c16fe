//! Quotas checked inside the write they limit: the owner's rows counted in the write's
//! transaction, after the owner's quota lock, so concurrent writers queue for the count.

use super::{Backend, Record, Store, StoreError};
use cordium_spec::Kind;
use sqlx::Row as _;
use std::collections::HashMap;

/// What a quota counts: the owner's records of the written record's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Counted {
    /// All of them (`maxPerUser`).
    Owned,
    /// The active ones (`maxActivePerUser`), not counting the written record itself.
    Active,
}

impl Counted {
    /// What is counted, in the plural: `Templates`, `active workspaces`.
    pub(super) fn noun(self, kind: Kind) -> String {
        let plural = match kind {
            Kind::Workspace => "workspaces".to_owned(),
            other => format!("{}s", other.as_str()),
        };
        match self {
            Counted::Owned => plural,
            Counted::Active => format!("active {plural}"),
        }
    }
}

/// A limit a write must stay within: fewer than `max` counted records of the owner before the
/// write. The count is taken inside the write's transaction, after the owner's quota lock (on
/// PostgreSQL an advisory lock per owner; SQLite's `BEGIN IMMEDIATE` already serializes
/// writers), so N concurrent writes never pass a check that only one of them may pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// What is counted.
    pub counted: Counted,
    /// The most allowed.
    pub max: i64,
}

/// The owners' record counts one transaction has taken so far, kept up to date by its
/// creates: a transaction of many creates (a group commit) counts each owner once, and sees
/// the creates it admitted before writing them (a batch writes them all at the end).
#[derive(Debug, Default)]
pub(super) struct Tally(HashMap<(Kind, String, Counted), i64>);

impl Tally {
    /// How many counts it holds.
    pub(super) fn owners(&self) -> usize {
        self.0.len()
    }

    /// Records that `r` was created in the transaction: one more owned, and one more active
    /// when it is (a build workspace is created active).
    pub(super) fn created(&mut self, r: &Record) {
        let counted = [Some(Counted::Owned), r.active.then_some(Counted::Active)];
        for counted in counted.into_iter().flatten() {
            if let Some(count) = self.0.get_mut(&(r.kind, r.owner.clone(), counted)) {
                *count += 1;
            }
        }
    }
}

impl Store {
    /// Refuses the write of `r` unless its owner has fewer than `quota.max` counted records of
    /// its kind (besides `r` itself), counted inside `tx` after the owner's quota lock (once
    /// per owner, count and transaction: `tally` keeps the count since).
    pub(super) async fn check_quota(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        r: &Record,
        quota: Quota,
        tally: &mut Tally,
    ) -> Result<(), StoreError> {
        let key = (r.kind, r.owner.clone(), quota.counted);
        if let Some(count) = tally.0.get(&key) {
            return if *count >= quota.max {
                Err(StoreError::QuotaExceeded {
                    kind: r.kind,
                    quota,
                })
            } else {
                Ok(())
            };
        }
        if self.backend == Backend::Postgres {
            // Two int4 keys: a key space apart from the migrations' single bigint key.
            sqlx::query("SELECT pg_advisory_xact_lock(7244, hashtext($1))")
                .bind(&r.owner)
                .execute(&mut **tx)
                .await?;
        }
        let row =
            match quota.counted {
                Counted::Owned => {
                    sqlx::query("SELECT COUNT(*) FROM resources WHERE kind = $1 AND owner = $2")
                        .bind(r.kind.as_str())
                        .bind(&r.owner)
                        .fetch_one(&mut **tx)
                        .await?
                }
                Counted::Active => sqlx::query(
                    "SELECT COUNT(*) FROM resources WHERE kind = $1 AND owner = $2 AND active <> 0 \
                 AND NOT (scope = $3 AND name = $4)",
                )
                .bind(r.kind.as_str())
                .bind(&r.owner)
                .bind(&r.scope)
                .bind(&r.name)
                .fetch_one(&mut **tx)
                .await?,
            };
        let count: i64 = row.try_get(0)?;
        tally.0.insert(key, count);
        if count >= quota.max {
            return Err(StoreError::QuotaExceeded {
                kind: r.kind,
                quota,
            });
        }
        Ok(())
    }
}
