//! The store: one interface over SQLite (embedded, the default) and PostgreSQL (several
//! replicas), through sqlx's `Any` driver.
//!
//! Every write is one transaction: a resource, its encrypted secret value and its watch event
//! are written together or not at all. SQLite runs in WAL mode with `synchronous=FULL`, so an
//! acknowledged write survives a crash (the group commit of creates syncs its log itself before
//! it answers, `store::group`); write transactions start with `BEGIN IMMEDIATE` so
//! concurrent writers queue instead of failing. Watch events are rows; on PostgreSQL every
//! replica hears of them through `LISTEN/NOTIFY` and reads them back, so a change made through
//! one replica reaches the watchers of all.

mod deleted;
mod events;
mod generations;
pub mod git_connections;
mod group;
mod installation;
mod lists;
mod migrations;
mod quota;
mod recent;
mod secret_values;
pub mod ssh_keys;
pub mod users;
pub mod workload_tokens;
mod write;

pub use events::{EVENT_BUFFER, EVENT_RETENTION, Event, EventBodies, EventKind, PRUNE_EVERY};
pub use generations::Counter;
pub use lists::After;
use quota::Tally;
pub use quota::{Counted, Quota};
use std::sync::Arc;
pub use users::{DeletedUser, User, UserError};
pub use write::{Precondition, Write};

use cordium_spec::Kind;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor as _, Row as _};
use tokio::sync::broadcast;

/// Problems of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A resource with this name exists.
    #[error("{} `{name}` already exists", kind.as_str())]
    AlreadyExists {
        /// The kind.
        kind: Kind,
        /// The name.
        name: String,
    },
    /// No such resource.
    #[error("{} `{name}` not found", kind.as_str())]
    NotFound {
        /// The kind.
        kind: Kind,
        /// The name.
        name: String,
    },
    /// The resource is not at the version the write expected: it changed since it was read,
    /// or the version was never its (one from the future).
    #[error(
        "{} `{name}` is not at version {expected} (changed since it was read, or never at that version); read it again and retry",
        kind.as_str()
    )]
    Conflict {
        /// The kind.
        kind: Kind,
        /// The name.
        name: String,
        /// The version the caller had.
        expected: i64,
    },
    /// The `kind` column holds a name no [`Kind`] has: the database was written by something
    /// else, and guessing a kind would read or delete the wrong resources.
    #[error("the store holds a resource of unknown kind `{0}`")]
    UnknownKind(String),
    /// The write would take its owner past a quota (checked inside the write's transaction,
    /// so concurrent writers cannot all pass a check made before any of them wrote).
    #[error("you have {} {}, the most allowed", quota.max, quota.counted.noun(*kind))]
    QuotaExceeded {
        /// The kind counted.
        kind: Kind,
        /// The quota that was reached.
        quota: Quota,
    },
    /// The user holds the most live short-lived tokens (workload exchanges and GitHub sign-ins
    /// alike) allowed ([`workload_tokens::MAX_LIVE_WORKLOAD_TOKENS`]); nothing was written.
    #[error(
        "you hold {max} live short-lived tokens (from workload exchanges and GitHub sign-ins), the most allowed; sign in again once some expire"
    )]
    TooManyTokens {
        /// The cap.
        max: i64,
    },
    /// The platform token was exchanged for the most live workload tokens one may hold
    /// ([`workload_tokens::MAX_LIVE_PER_PLATFORM_TOKEN`]); nothing was written.
    #[error(
        "this platform token already holds {max} live workload tokens, the most one may; keep using one (`cordium login` keeps it until it expires) or get a new platform token"
    )]
    TooManyExchanges {
        /// The cap.
        max: i64,
    },
    /// The database failed (the cause is the source, printed by whoever reports the chain).
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// The database failed the group commit this write was part of (`store::group`): the
    /// write did not happen.
    #[error("database error in a group commit")]
    Batch(#[source] Arc<sqlx::Error>),
    /// The write's group commit went away before it answered (`store::group`): the write
    /// did not happen, or its transaction was rolled back.
    #[error("the write was abandoned before it committed")]
    Abandoned,
    /// Too many writes are waiting for a group commit (`store::group`): this one was refused
    /// before it was queued, and did not happen.
    #[error("too many writes are waiting")]
    Busy,
}

/// The kind named by a `kind` column: a typed error for a name no kind has, never a default.
fn parse_kind(column: &str) -> Result<Kind, StoreError> {
    Kind::ALL
        .into_iter()
        .find(|k| k.as_str() == column)
        .ok_or_else(|| StoreError::UnknownKind(column.to_owned()))
}

/// Which database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite in a file.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A stored resource: its key columns and its protobuf-encoded body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The kind (the `kind` column holds its wire name).
    pub kind: Kind,
    /// The Space for Secrets and GitProviders, the owner for UserSecrets and UserConfigs, else
    /// empty.
    pub scope: String,
    /// The name.
    pub name: String,
    /// The owning user.
    pub owner: String,
    /// The Space the resource lives in (empty for Spaces and user-scoped kinds).
    pub space: String,
    /// The encoded protobuf message.
    pub body: Vec<u8>,
    /// Increases on every write. A write's expectation is its [`Precondition`], not this.
    pub version: i64,
    /// A Workspace whose state is not STOPPED (false for other kinds): a column, so the quota
    /// on active workspaces is one `COUNT` instead of decoding every workspace.
    pub active: bool,
}

/// The store.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    url: String,
    events: broadcast::Sender<Event>,
    generations: generations::Generations,
    /// The group commit of creates (SQLite).
    group: Option<group::Group>,
    /// Single resources and names as [`Store::get`] and [`Store::names`] read them.
    recent: recent::Recent,
    /// See [`Store::installation`] (`installation`).
    installation: Arc<str>,
}

impl Store {
    /// Opens (and migrates) the database at `url`: `sqlite://PATH` or `postgres://...`.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        let options = AnyPoolOptions::new().after_connect(move |conn, _| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    conn.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=30000; PRAGMA foreign_keys=ON;").await?;
                }
                Ok(())
            })
        });
        let options = match backend {
            // One writer at a time is how SQLite works; a larger pool only adds lock retries.
            Backend::Sqlite => options.max_connections(4),
            Backend::Postgres => options.max_connections(16),
        };
        let connect_url = match backend {
            Backend::Sqlite if !url.contains('?') => format!("{url}?mode=rwc"),
            _ => url.to_owned(),
        };
        let pool = options.connect(&connect_url).await?;
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let mut store = Self {
            pool,
            backend,
            url: url.to_owned(),
            events,
            generations: generations::Generations::default(),
            group: None,
            recent: recent::Recent::default(),
            installation: Arc::from(""),
        };
        store.migrate().await?;
        store.installation = installation::read(&store.pool).await?;
        if backend == Backend::Sqlite {
            store.group = Some(group::Group::open(&connect_url, store.events.clone()).await?);
        }
        store.spawn_pruner();
        if backend == Backend::Postgres {
            store.spawn_listener().await?;
        }
        Ok(store)
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// How many writes `counter` has seen in this process, or `None` while one is in flight:
    /// take it before a read, and the read is still current while it has not moved
    /// (`store::generations`).
    pub fn generation(&self, counter: Counter) -> Option<u64> {
        self.generations.settled(counter)
    }

    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    fn record(kind: Kind, row: &AnyRow) -> Result<Record, sqlx::Error> {
        Ok(Record {
            kind,
            scope: row.try_get("scope")?,
            name: row.try_get("name")?,
            owner: row.try_get("owner")?,
            space: row.try_get("space")?,
            body: row.try_get("body")?,
            version: row.try_get("version")?,
            active: row.try_get::<i64, _>("active")? != 0,
        })
    }

    /// Every resource of a kind, optionally only those in one scope, by name.
    pub async fn list(&self, kind: Kind, scope: Option<&str>) -> Result<Vec<Record>, StoreError> {
        let rows = match scope {
            Some(scope) => sqlx::query("SELECT scope, name, owner, space, body, version, active FROM resources WHERE kind = $1 AND scope = $2 ORDER BY name")
                .bind(kind.as_str())
                .bind(scope)
                .fetch_all(&self.pool)
                .await?,
            None => sqlx::query("SELECT scope, name, owner, space, body, version, active FROM resources WHERE kind = $1 ORDER BY scope, name")
                .bind(kind.as_str())
                .fetch_all(&self.pool)
                .await?,
        };
        Ok(rows
            .iter()
            .map(|r| Self::record(kind, r))
            .collect::<Result<_, _>>()?)
    }

    /// Every resource of a kind in a Space, by name.
    pub async fn list_in_space(&self, kind: Kind, space: &str) -> Result<Vec<Record>, StoreError> {
        let rows = sqlx::query("SELECT scope, name, owner, space, body, version, active FROM resources WHERE kind = $1 AND space = $2 ORDER BY name")
            .bind(kind.as_str())
            .bind(space)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| Self::record(kind, r))
            .collect::<Result<_, _>>()?)
    }

    /// How many resources of a kind a user owns.
    pub async fn count_owned(&self, kind: Kind, owner: &str) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) FROM resources WHERE kind = $1 AND owner = $2")
            .bind(kind.as_str())
            .bind(owner)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Every active workspace (not STOPPED), by name: what the driver's health check and
    /// scan act on, read through a partial index of the active ones (migration 11), so their
    /// cost follows the active workspaces, not the store.
    pub async fn active_workspaces(&self) -> Result<Vec<Record>, StoreError> {
        let rows = sqlx::query(ACTIVE_WORKSPACES).fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(|r| Self::record(Kind::Workspace, r))
            .collect::<Result<_, _>>()?)
    }

    /// How many of a user's workspaces are active (not STOPPED), by one query.
    pub async fn count_active_workspaces(&self, owner: &str) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM resources WHERE kind = $1 AND owner = $2 AND active <> 0",
        )
        .bind(Kind::Workspace.as_str())
        .bind(owner)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// Creates a resource; fails with `AlreadyExists` when the key is taken. On SQLite,
    /// concurrent creates share a transaction (`store::group`).
    pub async fn create(&self, write: Write<'_>) -> Result<(), StoreError> {
        match &self.group {
            Some(group) => self.create_grouped(group, write).await,
            None => self.create_all(&[write]).await,
        }
    }

    /// Creates several resources in one transaction: all of them, or none.
    pub async fn create_all(&self, writes: &[Write<'_>]) -> Result<(), StoreError> {
        let _writing = self
            .generations
            .writing(writes.iter().map(|w| w.record.kind));
        let mut tx = self.begin().await?;
        let mut tally = Tally::default();
        for write in writes {
            self.create_in(&mut tx, write, &mut tally).await?;
        }
        // Events last: their lock is the last one a transaction takes (`events`).
        let mut events = Vec::new();
        for write in writes.iter().filter(|w| w.event) {
            let r = write.record;
            events.push(
                self.insert_event(&mut tx, EventKind::Created, r, &r.body)
                    .await?,
            );
        }
        tx.commit().await?;
        for event in events {
            self.announce(Some(event));
        }
        Ok(())
    }

    /// Creates `write`'s resource inside `tx` (its watch event is the caller's to insert,
    /// after every other write of the transaction). `tally` carries the quota counts of
    /// earlier creates in the same transaction.
    ///
    /// A create is refused (`QuotaExceeded`, `AlreadyExists`) only before anything of it is
    /// written: the quota is counted first, and a taken key fails the first insert, which
    /// writes nothing, so the transaction holds none of the refused create; any other failure is
    /// a database error. (The group commit writes its batches its own way, `store::group`.)
    async fn create_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        write: &Write<'_>,
        tally: &mut Tally,
    ) -> Result<(), StoreError> {
        let r = write.record;
        for quota in write.quotas.into_iter().flatten() {
            self.check_quota(tx, r, quota, tally).await?;
        }
        let sql = format!(
            "INSERT INTO resources {NEW_ROW_COLUMNS} VALUES {}",
            placeholders(1, NEW_ROW_BINDS, "1", Marks::Numbered)
        );
        let inserted = bind_new_row(sqlx::query(sqlx::AssertSqlSafe(sql)), r)
            .execute(&mut **tx)
            .await;
        if let Err(e) = inserted {
            // The key is taken (by an earlier write, or a concurrent creator on another
            // connection that won the race for it).
            return Err(match &e {
                sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::AlreadyExists {
                    kind: r.kind,
                    name: r.name.clone(),
                },
                _ => e.into(),
            });
        }
        if let Some(secret) = write.secret {
            Self::put_secret(tx, r, secret).await?;
        }
        tally.created(r);
        Self::sync_members(tx, r, Some(&r.body)).await?;
        Ok(())
    }

    /// Replaces a resource, if the stored one meets the write's precondition. Returns the new
    /// version.
    pub async fn update(&self, write: Write<'_>) -> Result<i64, StoreError> {
        let r = write.record;
        let _writing = self.generations.writing([r.kind]);
        let mut tx = self.begin().await?;
        for quota in write.quotas.into_iter().flatten() {
            // Taken before the record is read, so the lock order is the same as a create's.
            self.check_quota(&mut tx, r, quota, &mut Tally::default())
                .await?;
        }
        let current = sqlx::query(
            "SELECT version FROM resources WHERE kind = $1 AND scope = $2 AND name = $3",
        )
        .bind(r.kind.as_str())
        .bind(&r.scope)
        .bind(&r.name)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(current) = current else {
            return Err(StoreError::NotFound {
                kind: r.kind,
                name: r.name.clone(),
            });
        };
        let version: i64 = current.try_get(0)?;
        if let Precondition::Version(expected) = write.precondition
            && expected != version
        {
            return Err(StoreError::Conflict {
                kind: r.kind,
                name: r.name.clone(),
                expected,
            });
        }
        sqlx::query("UPDATE resources SET body = $1, version = $2, owner = $3, space = $4, active = $5 WHERE kind = $6 AND scope = $7 AND name = $8")
            .bind(&r.body)
            .bind(version + 1)
            .bind(&r.owner)
            .bind(&r.space)
            .bind(i64::from(r.active))
            .bind(r.kind.as_str())
            .bind(&r.scope)
            .bind(&r.name)
            .execute(&mut *tx)
            .await?;
        if let Some(secret) = write.secret {
            Self::put_secret(&mut tx, r, secret).await?;
        }
        Self::sync_members(&mut tx, r, Some(&r.body)).await?;
        let event = if write.event {
            Some(
                self.insert_event(&mut tx, EventKind::Updated, r, &r.body)
                    .await?,
            )
        } else {
            None
        };
        tx.commit().await?;
        self.announce(event);
        Ok(version + 1)
    }

    /// Deletes a resource (and its secret value). Returns what was deleted.
    pub async fn delete(
        &self,
        kind: Kind,
        scope: &str,
        name: &str,
        event: bool,
    ) -> Result<Record, StoreError> {
        let _writing = self.generations.writing([kind]);
        let mut tx = self.begin().await?;
        let record = self.delete_in(&mut tx, kind, scope, name).await?;
        let announced = if event {
            Some(
                self.insert_event(&mut tx, EventKind::Deleted, &record, &record.body)
                    .await?,
            )
        } else {
            None
        };
        tx.commit().await?;
        self.announce(announced);
        Ok(record)
    }

    async fn delete_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        kind: Kind,
        scope: &str,
        name: &str,
    ) -> Result<Record, StoreError> {
        let row = sqlx::query("SELECT scope, name, owner, space, body, version, active FROM resources WHERE kind = $1 AND scope = $2 AND name = $3")
            .bind(kind.as_str())
            .bind(scope)
            .bind(name)
            .fetch_optional(&mut **tx)
            .await?;
        let Some(row) = row else {
            return Err(StoreError::NotFound {
                kind,
                name: name.into(),
            });
        };
        let record = Self::record(kind, &row)?;
        sqlx::query("DELETE FROM resources WHERE kind = $1 AND scope = $2 AND name = $3")
            .bind(kind.as_str())
            .bind(scope)
            .bind(name)
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM secret_values WHERE kind = $1 AND scope = $2 AND name = $3")
            .bind(kind.as_str())
            .bind(scope)
            .bind(name)
            .execute(&mut **tx)
            .await?;
        Self::sync_members(tx, &record, None).await?;
        Self::remember_deleted(tx, &record).await?;
        Ok(record)
    }

    /// Inserts the deletion events of the workspaces among `deleted`, after every other write
    /// of `tx` (the event lock is the last one a transaction takes, `events`).
    async fn insert_deleted_events(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        deleted: &[Record],
    ) -> Result<Vec<Event>, StoreError> {
        let mut events = Vec::new();
        for record in deleted.iter().filter(|r| r.kind == Kind::Workspace) {
            events.push(
                self.insert_event(tx, EventKind::Deleted, record, &record.body)
                    .await?,
            );
        }
        Ok(events)
    }

    /// Deletes a Space and everything in it, in one transaction.
    pub async fn delete_space(&self, space: &str) -> Result<Record, StoreError> {
        let _writing = self.generations.writing_everything();
        let mut tx = self.begin().await?;
        let inside = sqlx::query("SELECT kind, scope, name FROM resources WHERE space = $1")
            .bind(space)
            .fetch_all(&mut *tx)
            .await?;
        let mut deleted = Vec::new();
        for row in inside {
            let kind = parse_kind(&row.try_get::<String, _>(0)?)?;
            let (scope, name): (String, String) = (row.try_get(1)?, row.try_get(2)?);
            deleted.push(self.delete_in(&mut tx, kind, &scope, &name).await?);
        }
        let record = self.delete_in(&mut tx, Kind::Space, "", space).await?;
        let events = self.insert_deleted_events(&mut tx, &deleted).await?;
        tx.commit().await?;
        for e in events {
            self.announce(Some(e));
        }
        Ok(record)
    }
}

/// The query of [`Store::active_workspaces`] (public for the test of its plan). `active = 1`
/// is written out: a planner uses a partial index only for a query whose terms imply its
/// predicate, which a bound parameter does not.
pub const ACTIVE_WORKSPACES: &str = "SELECT scope, name, owner, space, body, version, active \
    FROM resources WHERE kind = 'Workspace' AND scope = '' AND active = 1 ORDER BY name";

/// Whether a workspace counts as active (any state but STOPPED): the one rule behind the
/// `active` column, used by every writer of workspace records and by the backfill.
pub fn workspace_is_active(workspace: &crate::pb::Workspace) -> bool {
    workspace.status.is_some()
        && crate::workspace_state::state_of(workspace) != Some(cordium_provisioner::State::Stopped)
}

/// The columns of a new resource row: [`bind_new_row`] binds all but the last, `version`,
/// which starts at 1.
const NEW_ROW_COLUMNS: &str = "(kind, scope, name, owner, space, body, active, version)";
/// How many values [`bind_new_row`] binds.
const NEW_ROW_BINDS: usize = 7;

/// Binds a new row's values for `r`, in the order of [`NEW_ROW_COLUMNS`].
fn bind_new_row<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    r: &'q Record,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    query
        .bind(r.kind.as_str())
        .bind(&r.scope)
        .bind(&r.name)
        .bind(&r.owner)
        .bind(&r.space)
        .bind(&r.body)
        .bind(i64::from(r.active))
}

/// How a statement's placeholders are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marks {
    /// `$1, $2, ...`: what both databases read.
    Numbered,
    /// `?, ?, ...` (SQLite only): bound in order. sqlx looks up a numbered placeholder's name
    /// for each value, and SQLite finds it by a walk of the statement's list of names, so a
    /// multi-row insert of 256 rows cost a quadratic number of steps to bind.
    Anonymous,
}

/// `count` rows of `width` placeholders each, every row followed by the constant `tail` when
/// it is not empty: `($1, $2, 1), ($3, $4, 1)` (a multi-row statement's values).
fn placeholders(count: usize, width: usize, tail: &str, marks: Marks) -> String {
    use std::fmt::Write as _;
    let mut sql = String::with_capacity(count * (width * 5 + tail.len() + 4));
    for row in 0..count {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..width {
            if column > 0 {
                sql.push_str(", ");
            }
            match marks {
                Marks::Numbered => {
                    let _ = write!(sql, "${}", row * width + column + 1);
                }
                Marks::Anonymous => sql.push('?'),
            }
        }
        if !tail.is_empty() {
            let _ = write!(sql, ", {tail}");
        }
        sql.push(')');
    }
    sql
}
