//! Reads that nearly every call repeats, remembered while no write of their kind moved the
//! store's generation (`crate::cache`): single resources ([`Store::get`]) and the names in a
//! scope ([`Store::names`]).

use super::{Counter, Record, Store, StoreError};
use crate::cache::Memo;
use cordium_spec::Kind;
use sqlx::Row as _;
use std::sync::Arc;

/// How many entries each memo keeps, and their bytes.
const RECENT_ENTRIES: usize = 8192;
const RECENT_BYTES: usize = 64 << 20;

/// Names in a scope, shared by the calls that read them.
type Names = Arc<Vec<String>>;

/// The memos, shared by every clone of the store.
#[derive(Debug, Clone)]
pub(super) struct Recent {
    records: Arc<Memo<(Kind, String, String), Option<Record>>>,
    names: Arc<Memo<(Kind, String), Names>>,
}

impl Default for Recent {
    fn default() -> Self {
        Self {
            records: Arc::new(Memo::new(RECENT_ENTRIES, RECENT_BYTES)),
            names: Arc::new(Memo::new(RECENT_ENTRIES, RECENT_BYTES)),
        }
    }
}

impl Store {
    /// One resource: remembered while no write of its kind happened since it was read here,
    /// for at most [`crate::cache::TTL`] (so another process's write shows within it).
    pub async fn get(
        &self,
        kind: Kind,
        scope: &str,
        name: &str,
    ) -> Result<Option<Record>, StoreError> {
        let generation = self.generation(Counter::Kind(kind));
        let key = (kind, scope.to_owned(), name.to_owned());
        if let Some(known) = self.recent.records.get(&key, generation) {
            return Ok(known);
        }
        let record = self.read(kind, scope, name).await?;
        let weight = scope.len() + name.len() + record.as_ref().map_or(0, |r| r.body.len());
        self.recent
            .records
            .put(key, record.clone(), generation, weight);
        Ok(record)
    }

    /// One resource, read from the database.
    async fn read(
        &self,
        kind: Kind,
        scope: &str,
        name: &str,
    ) -> Result<Option<Record>, StoreError> {
        let row = sqlx::query("SELECT scope, name, owner, space, body, version, active FROM resources WHERE kind = $1 AND scope = $2 AND name = $3")
            .bind(kind.as_str())
            .bind(scope)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| Self::record(kind, &r)).transpose()?)
    }

    /// The names of the resources of `kind` in `scope`, in order (a compile asks which
    /// Secrets exist): remembered like [`Store::get`]'s records.
    pub async fn names(&self, kind: Kind, scope: &str) -> Result<Names, StoreError> {
        let generation = self.generation(Counter::Kind(kind));
        let key = (kind, scope.to_owned());
        if let Some(known) = self.recent.names.get(&key, generation) {
            return Ok(known);
        }
        let rows =
            sqlx::query("SELECT name FROM resources WHERE kind = $1 AND scope = $2 ORDER BY name")
                .bind(kind.as_str())
                .bind(scope)
                .fetch_all(&self.pool)
                .await?;
        let names: Vec<String> = rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        let weight = scope.len() + names.iter().map(|n| n.len() + 24).sum::<usize>();
        let names = Arc::new(names);
        self.recent
            .names
            .put(key, names.clone(), generation, weight);
        Ok(names)
    }
}
