//! The store's schema: a versioned list of migrations, applied in one transaction (on
//! PostgreSQL under an advisory lock, so replicas starting together do not race).

use super::{Backend, Store, StoreError, workspace_is_active};
use cordium_spec::Kind;
use prost::Message as _;
use sqlx::Row as _;

/// One step of the schema. A backfill belongs to the migration whose table or column it
/// fills, so renumbering a migration moves its backfill with it.
struct Migration {
    /// Its place in the order; the versions are 1..N.
    version: i64,
    /// The script for SQLite.
    sqlite: &'static str,
    /// The script for PostgreSQL.
    postgres: &'static str,
    /// What fills the new schema from the rows already stored, in the same transaction.
    backfill: Option<Backfill>,
}

/// Fills a new column or table from the rows stored before it existed.
#[derive(Clone, Copy)]
enum Backfill {
    /// `resources.active`, from each workspace's state (`Store::backfill_active`).
    Active,
    /// `space_members`, from each Space's member list (`Store::backfill_members`).
    Members,
}

/// Every migration, in order.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sqlite: "CREATE TABLE users (name TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, admin INTEGER NOT NULL);
     CREATE TABLE resources (kind TEXT NOT NULL, scope TEXT NOT NULL, name TEXT NOT NULL, owner TEXT NOT NULL, space TEXT NOT NULL, body BLOB NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (kind, scope, name));
     CREATE INDEX resources_space ON resources (space);
     CREATE TABLE secret_values (kind TEXT NOT NULL, scope TEXT NOT NULL, name TEXT NOT NULL, ciphertext BLOB NOT NULL, PRIMARY KEY (kind, scope, name));
     CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, kind INTEGER NOT NULL, name TEXT NOT NULL, owner TEXT NOT NULL, space TEXT NOT NULL, old BLOB, new BLOB);",
        postgres: "CREATE TABLE users (name TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, admin INTEGER NOT NULL);
     CREATE TABLE resources (kind TEXT NOT NULL, scope TEXT NOT NULL, name TEXT NOT NULL, owner TEXT NOT NULL, space TEXT NOT NULL, body BYTEA NOT NULL, version BIGINT NOT NULL, PRIMARY KEY (kind, scope, name));
     CREATE INDEX resources_space ON resources (space);
     CREATE TABLE secret_values (kind TEXT NOT NULL, scope TEXT NOT NULL, name TEXT NOT NULL, ciphertext BYTEA NOT NULL, PRIMARY KEY (kind, scope, name));
     CREATE TABLE events (id BIGSERIAL PRIMARY KEY, kind BIGINT NOT NULL, name TEXT NOT NULL, owner TEXT NOT NULL, space TEXT NOT NULL, old BYTEA, new BYTEA);",
        backfill: None,
    },
    // Quotas count a user's workspaces on every create.
    Migration {
        version: 2,
        sqlite: "CREATE INDEX resources_owner ON resources (kind, owner)",
        postgres: "CREATE INDEX resources_owner ON resources (kind, owner)",
        backfill: None,
    },
    // Session credentials: one per workspace run, revoked when the run stops.
    Migration {
        version: 3,
        sqlite: "CREATE TABLE sessions (token_hash TEXT PRIMARY KEY, workspace TEXT NOT NULL, owner TEXT NOT NULL);
         CREATE INDEX sessions_workspace ON sessions (workspace)",
        postgres: "CREATE TABLE sessions (token_hash TEXT PRIMARY KEY, workspace TEXT NOT NULL, owner TEXT NOT NULL);
         CREATE INDEX sessions_workspace ON sessions (workspace)",
        backfill: None,
    },
    // Active workspaces are counted by a query; `backfill_active` sets the column of
    // workspaces written before it existed.
    Migration {
        version: 4,
        sqlite: "ALTER TABLE resources ADD COLUMN active INTEGER NOT NULL DEFAULT 0;
         CREATE INDEX resources_active ON resources (kind, owner, active)",
        postgres: "ALTER TABLE resources ADD COLUMN active BIGINT NOT NULL DEFAULT 0;
         CREATE INDEX resources_active ON resources (kind, owner, active)",
        backfill: Some(Backfill::Active),
    },
    // Identity (`store::users`): users can be disabled, and OIDC identities are keyed by
    // (issuer, subject) and bound to one user, never matched by a name claim.
    Migration {
        version: 5,
        sqlite: "ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
         CREATE TABLE identities (issuer TEXT NOT NULL, subject TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (issuer, subject));
         CREATE INDEX identities_name ON identities (name);
         CREATE INDEX sessions_owner ON sessions (owner)",
        postgres: "ALTER TABLE users ADD COLUMN disabled BIGINT NOT NULL DEFAULT 0;
         CREATE TABLE identities (issuer TEXT NOT NULL, subject TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (issuer, subject));
         CREATE INDEX identities_name ON identities (name);
         CREATE INDEX sessions_owner ON sessions (owner)",
        backfill: None,
    },
    // Watch events: a time for pruning, the highest pruned id (a resumed watch after it starts
    // from scratch), and the previous event of a workspace found by name (an update keeps
    // only its new body; its old one is the previous event's).
    Migration {
        version: 6,
        sqlite: "ALTER TABLE events ADD COLUMN at INTEGER NOT NULL DEFAULT 0;
         CREATE INDEX events_at ON events (at);
         CREATE INDEX events_name ON events (name, id);
         CREATE TABLE events_pruned (through BIGINT NOT NULL);
         INSERT INTO events_pruned (through) VALUES (0)",
        postgres: "ALTER TABLE events ADD COLUMN at BIGINT NOT NULL DEFAULT 0;
         CREATE INDEX events_at ON events (at);
         CREATE INDEX events_name ON events (name, id);
         CREATE TABLE events_pruned (through BIGINT NOT NULL);
         INSERT INTO events_pruned (through) VALUES (0)",
        backfill: None,
    },
    // Lists read only the caller's rows: the members of each Space (kept in step with the
    // Space's body on every write; `backfill_members` fills it), and workspaces by Space.
    Migration {
        version: 7,
        sqlite: "CREATE TABLE space_members (space TEXT NOT NULL, member TEXT NOT NULL, PRIMARY KEY (member, space));
         CREATE INDEX space_members_space ON space_members (space);
         CREATE INDEX resources_kind_space ON resources (kind, space, name)",
        postgres: "CREATE TABLE space_members (space TEXT NOT NULL, member TEXT NOT NULL, PRIMARY KEY (member, space));
         CREATE INDEX space_members_space ON space_members (space);
         CREATE INDEX resources_kind_space ON resources (kind, space, name)",
        backfill: Some(Backfill::Members),
    },
    // SSH public keys (`store::ssh_keys`): each opens its owner's workspaces (unique per
    // user since migration 15).
    Migration {
        version: 8,
        sqlite: "CREATE TABLE ssh_keys (id TEXT PRIMARY KEY, owner TEXT NOT NULL, fingerprint TEXT NOT NULL UNIQUE, public_key TEXT NOT NULL, created_at BIGINT NOT NULL);
         CREATE INDEX ssh_keys_owner ON ssh_keys (owner)",
        postgres: "CREATE TABLE ssh_keys (id TEXT PRIMARY KEY, owner TEXT NOT NULL, fingerprint TEXT NOT NULL UNIQUE, public_key TEXT NOT NULL, created_at BIGINT NOT NULL);
         CREATE INDEX ssh_keys_owner ON ssh_keys (owner)",
        backfill: None,
    },
    // Identity (`store::workload_tokens`, `store::git_connections`): short-lived API tokens
    // (hash only) that a workload's platform token was exchanged for, each acting as one user
    // until it expires; and users' connected git accounts (OAuth2 tokens sealed, the profile).
    Migration {
        version: 9,
        sqlite: "CREATE TABLE workload_tokens (token_hash TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at BIGINT NOT NULL);
         CREATE INDEX workload_tokens_owner ON workload_tokens (owner);
         CREATE TABLE git_connections (owner TEXT NOT NULL, space TEXT NOT NULL, provider TEXT NOT NULL, access_sealed BLOB NOT NULL, refresh_sealed BLOB, expires_at BIGINT NOT NULL, scopes TEXT NOT NULL, login TEXT NOT NULL, name TEXT NOT NULL, email TEXT NOT NULL, PRIMARY KEY (owner, space, provider))",
        postgres: "CREATE TABLE workload_tokens (token_hash TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at BIGINT NOT NULL);
         CREATE INDEX workload_tokens_owner ON workload_tokens (owner);
         CREATE TABLE git_connections (owner TEXT NOT NULL, space TEXT NOT NULL, provider TEXT NOT NULL, access_sealed BYTEA NOT NULL, refresh_sealed BYTEA, expires_at BIGINT NOT NULL, scopes TEXT NOT NULL, login TEXT NOT NULL, name TEXT NOT NULL, email TEXT NOT NULL, PRIMARY KEY (owner, space, provider))",
        backfill: None,
    },
    // The installation's id (`Store::installation`): runtimes label the objects they make
    // with it, and the driver finishes the deletes a crash cut short among those only, never
    // touching another installation's on the same host or cluster.
    Migration {
        version: 10,
        sqlite: "CREATE TABLE installation (id TEXT NOT NULL);
         INSERT INTO installation (id) SELECT lower(hex(randomblob(16)))",
        postgres: "CREATE TABLE installation (id TEXT NOT NULL);
         INSERT INTO installation (id) SELECT md5(random()::text || clock_timestamp()::text)",
        backfill: None,
    },
    // The driver's health check and scan read the active workspaces only.
    Migration {
        version: 11,
        sqlite: "CREATE INDEX resources_active_names ON resources (kind, scope, name) WHERE active = 1",
        postgres: "CREATE INDEX resources_active_names ON resources (kind, scope, name) WHERE active = 1",
        backfill: None,
    },
    // The members backfill again: a store upgraded while it was tied to migration 5 (whose
    // table came with 7) had the table made and never filled. Filling it is idempotent.
    Migration {
        version: 12,
        sqlite: "",
        postgres: "",
        backfill: Some(Backfill::Members),
    },
    // Deleted workspaces whose runtime objects may remain (`store::deleted`): the driver's
    // sweep removes only those, so a store restored from a backup (or copied) never has the
    // objects of workspaces it does not know removed.
    Migration {
        version: 13,
        sqlite: "CREATE TABLE deleted_workspaces (name TEXT PRIMARY KEY, space TEXT NOT NULL)",
        postgres: "CREATE TABLE deleted_workspaces (name TEXT PRIMARY KEY, space TEXT NOT NULL)",
        backfill: None,
    },
    // The newest event when each user was added: their watches replay nothing older, which a
    // former user of the same name (or a former Space of the same name) wrote.
    Migration {
        version: 14,
        sqlite: "ALTER TABLE users ADD COLUMN since BIGINT NOT NULL DEFAULT 0",
        postgres: "ALTER TABLE users ADD COLUMN since BIGINT NOT NULL DEFAULT 0",
        backfill: None,
    },
    // An SSH key (and its id, made from it) is unique per user, not server-wide: public keys
    // are public, and a key anyone could register first would lock its owner out (a login
    // finds the key among the workspace owner's).
    Migration {
        version: 15,
        sqlite: "CREATE TABLE ssh_keys_by_owner (id TEXT NOT NULL, owner TEXT NOT NULL, fingerprint TEXT NOT NULL, public_key TEXT NOT NULL, created_at BIGINT NOT NULL, PRIMARY KEY (owner, id), UNIQUE (owner, fingerprint));
         INSERT INTO ssh_keys_by_owner SELECT id, owner, fingerprint, public_key, created_at FROM ssh_keys;
         DROP TABLE ssh_keys;
         ALTER TABLE ssh_keys_by_owner RENAME TO ssh_keys;
         CREATE INDEX ssh_keys_owner ON ssh_keys (owner)",
        postgres: "ALTER TABLE ssh_keys DROP CONSTRAINT ssh_keys_fingerprint_key;
         ALTER TABLE ssh_keys DROP CONSTRAINT ssh_keys_pkey;
         ALTER TABLE ssh_keys ADD PRIMARY KEY (owner, id);
         CREATE UNIQUE INDEX ssh_keys_owner_fingerprint ON ssh_keys (owner, fingerprint)",
        backfill: None,
    },
    // The platform token each workload token was exchanged from (a hash of what identifies
    // it; empty for a GitHub sign-in): one platform token holds at most a few live tokens
    // (`store::workload_tokens::MAX_LIVE_PER_PLATFORM_TOKEN`).
    Migration {
        version: 16,
        sqlite: "ALTER TABLE workload_tokens ADD COLUMN source TEXT NOT NULL DEFAULT '';
         CREATE INDEX workload_tokens_source ON workload_tokens (source)",
        postgres: "ALTER TABLE workload_tokens ADD COLUMN source TEXT NOT NULL DEFAULT '';
         CREATE INDEX workload_tokens_source ON workload_tokens (source)",
        backfill: None,
    },
];

impl Store {
    /// Applies the migrations this database has not had yet.
    pub(super) async fn migrate(&self) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        if self.backend == Backend::Postgres {
            // Replicas starting together migrate one at a time.
            sqlx::query("SELECT pg_advisory_xact_lock(7243)")
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("CREATE TABLE IF NOT EXISTS cordium_schema (version BIGINT NOT NULL)")
            .execute(&mut *tx)
            .await?;
        let current: Option<i64> = sqlx::query("SELECT MAX(version) FROM cordium_schema")
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        let current = current.unwrap_or(0);
        for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
            let script = match self.backend {
                Backend::Sqlite => migration.sqlite,
                Backend::Postgres => migration.postgres,
            };
            for statement in script.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
                    .execute(&mut *tx)
                    .await?;
            }
            match migration.backfill {
                Some(Backfill::Active) => Self::backfill_active(&mut tx).await?,
                Some(Backfill::Members) => Self::backfill_members(&mut tx).await?,
                None => {}
            }
            sqlx::query("INSERT INTO cordium_schema (version) VALUES ($1)")
                .bind(migration.version)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Sets `active` on the workspaces written before the column existed, from their state.
    async fn backfill_active(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    ) -> Result<(), StoreError> {
        let rows = sqlx::query("SELECT scope, name, body FROM resources WHERE kind = $1")
            .bind(Kind::Workspace.as_str())
            .fetch_all(&mut **tx)
            .await?;
        for row in rows {
            let body: Vec<u8> = row.try_get(2)?;
            let active = crate::pb::Workspace::decode(body.as_slice())
                .is_ok_and(|ws| workspace_is_active(&ws));
            if active {
                sqlx::query(
                    "UPDATE resources SET active = 1 WHERE kind = $1 AND scope = $2 AND name = $3",
                )
                .bind(Kind::Workspace.as_str())
                .bind(row.try_get::<String, _>(0)?)
                .bind(row.try_get::<String, _>(1)?)
                .execute(&mut **tx)
                .await?;
            }
        }
        Ok(())
    }
}
