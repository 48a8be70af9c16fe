//! Users, their credentials and their OIDC identities.
//!
//! - A user is a row of `users`: a name, the hash of their API token, whether they administer
//!   the cluster, whether they are disabled. Adding a name that exists is an error (a new person
//!   must never receive an old person's resources); [`Store::rotate_token`] replaces a token.
//! - An OIDC identity is a row of `identities`: (issuer, subject) -> user name. A user signing in
//!   with OIDC for the first time gets a user row of their own (with no API token) and an
//!   identity row, in one transaction ([`Store::sign_up`]); the name claim only proposes the
//!   name, see [`candidate_names`]. An operator binds an identity to an existing user explicitly
//!   with [`Store::link_identity`].
//! - A disabled user's API token, OIDC identity and session credentials are all refused
//!   (the lookups here say so and the authenticator refuses).
//! - [`Store::delete_user`] removes the user and everything that was theirs, in one transaction,
//!   or refuses while a workspace of theirs is active (the runtime still runs it).

use super::{Store, StoreError};
use cordium_spec::Kind;
use sqlx::Row as _;

/// The `token_hash` of a user who has no API token (made by an OIDC sign-in). Token hashes are
/// lowercase hex ([`crate::crypto::hash_token`]), so no presented token ever matches it; the
/// name keeps it unique.
fn no_token(name: &str) -> String {
    format!("none:{name}")
}

/// How many derived names (`alice-2` ... `alice-20`) a first sign-in tries when the proposed
/// name is taken, before refusing and asking for an operator's link.
pub const MAX_DERIVED_NAMES: u32 = 20;

/// Problems with users.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// `user add` of a name that exists.
    #[error(
        "user `{0}` already exists; `cordium-server user token {0}` gives them a new API token, `cordium-server user delete {0}` removes them and everything they own"
    )]
    AlreadyExists(String),
    /// A name no user may have ([`RESERVED_NAMES`]).
    #[error(
        "the user name `{0}` is reserved (organization Spaces are named `<name>.cordium`); choose another"
    )]
    Reserved(String),
    /// No such user.
    #[error("no user `{0}`")]
    NotFound(String),
    /// The identity is bound to another user already.
    #[error(
        "the identity (issuer `{issuer}`, subject `{subject}`) is bound to user `{bound}`; delete that user first to bind it to another"
    )]
    IdentityTaken {
        /// The issuer.
        issuer: String,
        /// The subject.
        subject: String,
        /// The user it is bound to.
        bound: String,
    },
    /// Neither the proposed name nor any derived one is free.
    #[error(
        "no free user name for `{proposed}` (tried `{proposed}` and `{proposed}-2` to `{proposed}-{MAX_DERIVED_NAMES}`)"
    )]
    NoFreeName {
        /// The name the token proposed.
        proposed: String,
    },
    /// Delete refused: the runtime still runs these workspaces.
    #[error(
        "user `{name}` cannot be deleted while these workspaces run: {}; stop them first",
        workspaces.join(", ")
    )]
    StillRunning {
        /// The user.
        name: String,
        /// The active workspaces (theirs, or in their Spaces).
        workspaces: Vec<String>,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for UserError {
    fn from(e: sqlx::Error) -> Self {
        UserError::Store(StoreError::Database(e))
    }
}

/// A user, as the authenticator needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The name.
    pub name: String,
    /// Whether they administer the cluster.
    pub admin: bool,
    /// Whether every credential of theirs is refused.
    pub disabled: bool,
}

/// What [`Store::delete_user`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeletedUser {
    /// Resources removed (their own, and everything in the Spaces they owned).
    pub resources: usize,
    /// Session credentials revoked.
    pub sessions: u64,
}

pub(super) fn user_of(row: &sqlx::any::AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        name: row.try_get(0)?,
        admin: row.try_get::<i64, _>(1)? != 0,
        disabled: row.try_get::<i64, _>(2)? != 0,
    })
}

/// Names no user may have: a user's Spaces are `<name>.<user>`, and `<name>.cordium` are the
/// organization's, so a user `cordium` would own names administrators make for everyone.
pub const RESERVED_NAMES: &[&str] = &["cordium"];

/// Whether no user may be named `name`.
pub fn is_reserved(name: &str) -> bool {
    RESERVED_NAMES.contains(&name)
}

/// The names a first sign-in proposing `proposed` may get, in order: the name itself, then
/// `proposed-2` up to `proposed-`[`MAX_DERIVED_NAMES`] (the base cut so each stays a valid
/// name of at most 40 characters), reserved ones left out. The first one no user holds is
/// taken: the claim never joins an existing user.
pub fn candidate_names(proposed: &str) -> Vec<String> {
    let mut names = vec![proposed.to_owned()];
    for n in 2..=MAX_DERIVED_NAMES {
        let suffix = format!("-{n}");
        let mut keep = 40usize.saturating_sub(suffix.len()).min(proposed.len());
        // Names are ASCII once checked; a cut never splits a character whatever it is given.
        while !proposed.is_char_boundary(keep) {
            keep -= 1;
        }
        let base = proposed[..keep].trim_end_matches('-');
        names.push(format!("{base}{suffix}"));
    }
    names.retain(|name| !is_reserved(name));
    names
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

impl Store {
    /// The newest event when the user `name` was added (0 for a user unknown, or added before
    /// this was recorded): what came before is no business of theirs, even in Spaces or
    /// workspaces of the same names (those of a deleted user of the same name, say).
    pub async fn user_since(&self, name: &str) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT since FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => row.try_get(0)?,
            None => 0,
        })
    }

    /// Adds a user with the hash of their API token; `AlreadyExists` when the name is taken.
    pub async fn add_user(
        &self,
        name: &str,
        token_hash: &str,
        admin: bool,
    ) -> Result<(), UserError> {
        if is_reserved(name) {
            return Err(UserError::Reserved(name.to_owned()));
        }
        let _writing = self.generations.writing_identities();
        let inserted = sqlx::query(
            "INSERT INTO users (name, token_hash, admin, disabled, since) \
             VALUES ($1, $2, $3, 0, (SELECT COALESCE(MAX(id), 0) FROM events))",
        )
        .bind(name)
        .bind(token_hash)
        .bind(i64::from(admin))
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(UserError::AlreadyExists(name.to_owned())),
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces the API token of an existing user (the old one stops working at once).
    pub async fn rotate_token(&self, name: &str, token_hash: &str) -> Result<(), UserError> {
        let _writing = self.generations.writing_identities();
        let done = sqlx::query("UPDATE users SET token_hash = $1 WHERE name = $2")
            .bind(token_hash)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Self::one_row(done.rows_affected(), name)
    }

    /// Makes a user an administrator, or not.
    pub async fn set_admin(&self, name: &str, admin: bool) -> Result<(), UserError> {
        self.set_flag(name, "UPDATE users SET admin = $1 WHERE name = $2", admin)
            .await
    }

    /// Disables a user (every credential refused) or enables them again.
    pub async fn set_disabled(&self, name: &str, disabled: bool) -> Result<(), UserError> {
        self.set_flag(
            name,
            "UPDATE users SET disabled = $1 WHERE name = $2",
            disabled,
        )
        .await
    }

    /// Which of `names` are disabled users: the driver stops their runs (a user disabled by
    /// another process, `cordium-server user disable`, is seen at its next health check).
    /// Read 500 names a statement.
    pub async fn disabled_among(
        &self,
        names: &[&str],
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut disabled = std::collections::HashSet::new();
        for chunk in names.chunks(500) {
            let sql = format!(
                "SELECT name FROM users WHERE disabled <> 0 AND name IN (VALUES {})",
                super::placeholders(chunk.len(), 1, "", super::Marks::Numbered)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for name in chunk {
                query = query.bind(*name);
            }
            for row in query.fetch_all(&self.pool).await? {
                disabled.insert(row.try_get::<String, _>(0)?);
            }
        }
        Ok(disabled)
    }

    /// Runs `update` (setting one yes/no column to `$1` for the user `$2`) for `name`.
    async fn set_flag(
        &self,
        name: &str,
        update: &'static str,
        value: bool,
    ) -> Result<(), UserError> {
        let _writing = self.generations.writing_identities();
        let done = sqlx::query(update)
            .bind(i64::from(value))
            .bind(name)
            .execute(&self.pool)
            .await?;
        Self::one_row(done.rows_affected(), name)
    }

    /// `NotFound` unless user `name` exists (read in `tx`, so the answer holds for the write).
    async fn require_user(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        name: &str,
    ) -> Result<(), UserError> {
        let exists = sqlx::query("SELECT 1 FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut **tx)
            .await?;
        match exists {
            Some(_) => Ok(()),
            None => Err(UserError::NotFound(name.to_owned())),
        }
    }

    fn one_row(affected: u64, name: &str) -> Result<(), UserError> {
        if affected == 0 {
            Err(UserError::NotFound(name.to_owned()))
        } else {
            Ok(())
        }
    }

    /// The user whose API token has this hash.
    pub async fn user_by_token_hash(&self, token_hash: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query("SELECT name, admin, disabled FROM users WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| user_of(&r)).transpose()?)
    }

    /// The user bound to the OIDC identity (issuer, subject), if any.
    pub async fn user_by_identity(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<User>, StoreError> {
        let row = sqlx::query("SELECT u.name, u.admin, u.disabled FROM identities i JOIN users u ON u.name = i.name WHERE i.issuer = $1 AND i.subject = $2")
            .bind(issuer)
            .bind(subject)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| user_of(&r)).transpose()?)
    }

    /// Whether a user of this name exists and administers the cluster.
    pub async fn user_is_admin(&self, name: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT admin FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.try_get::<i64, _>(0)? != 0,
            None => false,
        })
    }

    /// The first sign-in of the OIDC identity (issuer, subject): makes a user (no API token, not
    /// an administrator) named by the first free name of [`candidate_names`] of `proposed`, and
    /// binds the identity to it, in one transaction. When the identity was bound meanwhile
    /// (a concurrent first sign-in), that user is returned; when a concurrent sign-up took the
    /// chosen name (PostgreSQL, where writers do not queue), the next free name is tried.
    pub async fn sign_up(
        &self,
        issuer: &str,
        subject: &str,
        proposed: &str,
    ) -> Result<User, UserError> {
        let _writing = self.generations.writing_identities();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_sign_up(issuer, subject, proposed).await {
                Err(UserError::Store(StoreError::Database(e)))
                    if is_unique_violation(&e) && attempt < MAX_DERIVED_NAMES =>
                {
                    if let Some(user) = self.user_by_identity(issuer, subject).await? {
                        return Ok(user);
                    }
                }
                other => return other,
            }
        }
    }

    /// One attempt of [`Store::sign_up`]; a unique violation means a concurrent sign-up won.
    async fn try_sign_up(
        &self,
        issuer: &str,
        subject: &str,
        proposed: &str,
    ) -> Result<User, UserError> {
        let mut tx = self.begin().await?;
        let bound = sqlx::query("SELECT u.name, u.admin, u.disabled FROM identities i JOIN users u ON u.name = i.name WHERE i.issuer = $1 AND i.subject = $2")
            .bind(issuer)
            .bind(subject)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(row) = bound {
            return Ok(user_of(&row)?);
        }
        let mut chosen = None;
        for name in candidate_names(proposed) {
            // A name is taken by a user, and by anyone who owns something without a user row
            // (OIDC users from before identities existed): a new identity must not inherit it.
            let taken = sqlx::query(
                "SELECT 1 FROM users WHERE name = $1
                 UNION ALL SELECT 1 FROM resources WHERE owner = $1
                 UNION ALL SELECT 1 FROM resources WHERE kind IN ('UserSecret', 'UserConfig') AND scope = $1
                 LIMIT 1",
            )
            .bind(&name)
            .fetch_optional(&mut *tx)
            .await?;
            if taken.is_none() {
                chosen = Some(name);
                break;
            }
        }
        let Some(name) = chosen else {
            return Err(UserError::NoFreeName {
                proposed: proposed.to_owned(),
            });
        };
        let written = async {
            sqlx::query(
                "INSERT INTO users (name, token_hash, admin, disabled, since) \
                 VALUES ($1, $2, 0, 0, (SELECT COALESCE(MAX(id), 0) FROM events))",
            )
            .bind(&name)
            .bind(no_token(&name))
            .execute(&mut *tx)
            .await?;
            sqlx::query("INSERT INTO identities (issuer, subject, name) VALUES ($1, $2, $3)")
                .bind(issuer)
                .bind(subject)
                .bind(&name)
                .execute(&mut *tx)
                .await
        }
        .await;
        written?;
        tx.commit().await?;
        Ok(User {
            name,
            admin: false,
            disabled: false,
        })
    }

    /// Binds the OIDC identity (issuer, subject) to the existing user `name`: the operator's
    /// explicit way to let an identity act as a user (an administrator, say). Binding an
    /// identity to the user it is bound to already does nothing.
    pub async fn link_identity(
        &self,
        name: &str,
        issuer: &str,
        subject: &str,
    ) -> Result<(), UserError> {
        let _writing = self.generations.writing_identities();
        let mut tx = self.begin().await?;
        Self::require_user(&mut tx, name).await?;
        let bound = sqlx::query("SELECT name FROM identities WHERE issuer = $1 AND subject = $2")
            .bind(issuer)
            .bind(subject)
            .fetch_optional(&mut *tx)
            .await?;
        match bound {
            Some(row) => {
                let bound: String = row.try_get(0)?;
                if bound != name {
                    return Err(UserError::IdentityTaken {
                        issuer: issuer.to_owned(),
                        subject: subject.to_owned(),
                        bound,
                    });
                }
            }
            None => {
                sqlx::query("INSERT INTO identities (issuer, subject, name) VALUES ($1, $2, $3)")
                    .bind(issuer)
                    .bind(subject)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records a session credential (by its hash) for a run of `workspace`.
    pub async fn add_session(
        &self,
        token_hash: &str,
        workspace: &str,
        owner: &str,
    ) -> Result<(), StoreError> {
        let _writing = self.generations.writing_identities();
        sqlx::query("INSERT INTO sessions (token_hash, workspace, owner) VALUES ($1, $2, $3)")
            .bind(token_hash)
            .bind(workspace)
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The workspace and owner of the session credential with this hash, while its owner is a
    /// user who is not disabled.
    pub async fn session_by_token_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        let row = sqlx::query("SELECT s.workspace, s.owner FROM sessions s JOIN users u ON u.name = s.owner WHERE s.token_hash = $1 AND u.disabled = 0")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some((r.try_get(0)?, r.try_get(1)?)),
            None => None,
        })
    }

    /// Revokes every session credential of `workspace`.
    pub async fn revoke_sessions(&self, workspace: &str) -> Result<(), StoreError> {
        let _writing = self.generations.writing_identities();
        sqlx::query("DELETE FROM sessions WHERE workspace = $1")
            .bind(workspace)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Removes `name` from the members of every Space, so that a user later given the name is
    /// no member of anything. Reads every Space: bounded by the store, fine for an operator's
    /// command.
    async fn forget_membership(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        name: &str,
    ) -> Result<(), UserError> {
        use prost::Message as _;
        let spaces = sqlx::query("SELECT scope, name, body FROM resources WHERE kind = $1")
            .bind(Kind::Space.as_str())
            .fetch_all(&mut **tx)
            .await?;
        for row in spaces {
            let body: Vec<u8> = row.try_get(2)?;
            let Ok(mut space) = crate::pb::Space::decode(body.as_slice()) else {
                continue;
            };
            let Some(status) = space.status.as_mut() else {
                continue;
            };
            if !status.members.iter().any(|m| m == name) {
                continue;
            }
            status.members.retain(|m| m != name);
            sqlx::query("UPDATE resources SET body = $1, version = version + 1 WHERE kind = $2 AND scope = $3 AND name = $4")
                .bind(space.encode_to_vec())
                .bind(Kind::Space.as_str())
                .bind(row.try_get::<String, _>(0)?)
                .bind(row.try_get::<String, _>(1)?)
                .execute(&mut **tx)
                .await?;
        }
        // The membership index lists read (`store::lists`) follows the bodies.
        sqlx::query("DELETE FROM space_members WHERE member = $1")
            .bind(name)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Deletes user `name` and everything that was theirs, in one transaction: every resource
    /// they own (workspaces anywhere, Templates, Secrets and GitProviders they made, their
    /// UserSecrets and UserConfig; not the ClusterConfig an administrator wrote), every Space they own with everything in it (other users'
    /// workspaces included), their session credentials, SSH keys, workload tokens, git connections and OIDC identities, and their membership of other Spaces. A user later
    /// added under the same name starts with nothing. Refused with `StillRunning` while any of
    /// those workspaces is active (not STOPPED): the runtime still runs it.
    pub async fn delete_user(&self, name: &str) -> Result<DeletedUser, UserError> {
        let _writing = self.generations.writing_everything();
        let mut tx = self.begin().await?;
        Self::require_user(&mut tx, name).await?;
        let running = sqlx::query("SELECT name FROM resources WHERE kind = $1 AND active <> 0 AND (owner = $2 OR space IN (SELECT name FROM resources WHERE kind = $3 AND owner = $2)) ORDER BY name")
            .bind(Kind::Workspace.as_str())
            .bind(name)
            .bind(Kind::Space.as_str())
            .fetch_all(&mut *tx)
            .await?;
        if !running.is_empty() {
            return Err(UserError::StillRunning {
                name: name.to_owned(),
                workspaces: running
                    .iter()
                    .map(|r| r.try_get(0))
                    .collect::<Result<_, _>>()?,
            });
        }
        // Everything in their Spaces first, then everything they own (their Spaces included).
        let doomed = sqlx::query("SELECT kind, scope, name FROM resources WHERE space IN (SELECT name FROM resources WHERE kind = $1 AND owner = $2) UNION SELECT kind, scope, name FROM resources WHERE (owner = $2 AND kind <> $5) OR (kind IN ($3, $4) AND scope = $2)")
            .bind(Kind::Space.as_str())
            .bind(name)
            .bind(Kind::UserSecret.as_str())
            .bind(Kind::UserConfig.as_str())
            .bind(Kind::ClusterConfig.as_str())
            .fetch_all(&mut *tx)
            .await?;
        let mut keys = Vec::with_capacity(doomed.len());
        for row in doomed {
            let kind = super::parse_kind(&row.try_get::<String, _>(0)?)?;
            keys.push((
                kind,
                row.try_get::<String, _>(1)?,
                row.try_get::<String, _>(2)?,
            ));
        }
        // Spaces last, so nothing is left inside a deleted Space.
        keys.sort_by_key(|(kind, _, _)| *kind == Kind::Space);
        let mut deleted = Vec::with_capacity(keys.len());
        let mut workspaces = Vec::new();
        for (kind, scope, resource) in &keys {
            deleted.push(self.delete_in(&mut tx, *kind, scope, resource).await?);
            if *kind == Kind::Workspace {
                workspaces.push(resource.clone());
            }
        }
        Self::forget_membership(&mut tx, name).await?;
        let mut sessions = sqlx::query("DELETE FROM sessions WHERE owner = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        for workspace in &workspaces {
            sessions += sqlx::query("DELETE FROM sessions WHERE workspace = $1")
                .bind(workspace)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        sqlx::query("DELETE FROM ssh_keys WHERE owner = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM git_connections WHERE owner = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        // Short-lived tokens (workload and GitHub sign-ins) name their user: left behind they
        // would act as a later user of the same name.
        sqlx::query("DELETE FROM workload_tokens WHERE owner = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM identities WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM users WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let events = self.insert_deleted_events(&mut tx, &deleted).await?;
        tx.commit().await?;
        for event in events {
            self.announce(Some(event));
        }
        Ok(DeletedUser {
            resources: keys.len(),
            sessions,
        })
    }
}
