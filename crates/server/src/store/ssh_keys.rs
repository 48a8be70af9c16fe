//! SSH public keys: each row of `ssh_keys` lets its owner open their workspaces over SSH.
//!
//! A user registers a key (by its SHA-256 fingerprint) once; several users may register the
//! same key (a public key is public: were it unique server-wide, anyone could register
//! another's first and lock them out). A login names its workspace, so the key is looked up
//! among the workspace owner's. A user has at most [`MAX_KEYS_PER_USER`], counted in the
//! write's transaction. Deleting a user deletes their keys (`store::users`).

use super::{Store, StoreError};
use sqlx::Row as _;

/// How many keys one user may register: enough for every machine they work from, few
/// enough that listing them needs no pages.
pub const MAX_KEYS_PER_USER: i64 = 100;

/// A registered key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSshKey {
    /// The short id (`cordium ssh-key remove ID`).
    pub id: String,
    /// Whose it is.
    pub owner: String,
    /// `SHA256:...`.
    pub fingerprint: String,
    /// The OpenSSH one-line form.
    pub public_key: String,
    /// Seconds since the epoch.
    pub created_at: i64,
}

/// Why a key was not added.
#[derive(Debug, thiserror::Error)]
pub enum SshKeyError {
    /// The caller registered this key already.
    #[error("this key is registered already, to you")]
    Registered,
    /// The user has [`MAX_KEYS_PER_USER`] keys.
    #[error("you have {MAX_KEYS_PER_USER} SSH keys, the most one user may have; remove one first")]
    TooMany,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for SshKeyError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(StoreError::Database(e))
    }
}

fn key_of(row: &sqlx::any::AnyRow) -> Result<StoredSshKey, sqlx::Error> {
    Ok(StoredSshKey {
        id: row.try_get(0)?,
        owner: row.try_get(1)?,
        fingerprint: row.try_get(2)?,
        public_key: row.try_get(3)?,
        created_at: row.try_get(4)?,
    })
}

impl Store {
    /// Registers `key` for `key.owner`, unless the owner registered it already or has
    /// [`MAX_KEYS_PER_USER`].
    pub async fn add_ssh_key(&self, key: &StoredSshKey) -> Result<(), SshKeyError> {
        let mut tx = self.begin().await?;
        let taken = sqlx::query(
            "SELECT 1 FROM ssh_keys WHERE owner = $1 AND (fingerprint = $2 OR id = $3)",
        )
        .bind(&key.owner)
        .bind(&key.fingerprint)
        .bind(&key.id)
        .fetch_optional(&mut *tx)
        .await?;
        if taken.is_some() {
            return Err(SshKeyError::Registered);
        }
        let count: i64 = sqlx::query("SELECT COUNT(*) FROM ssh_keys WHERE owner = $1")
            .bind(&key.owner)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if count >= MAX_KEYS_PER_USER {
            return Err(SshKeyError::TooMany);
        }
        let inserted = sqlx::query(
            "INSERT INTO ssh_keys (id, owner, fingerprint, public_key, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&key.id)
        .bind(&key.owner)
        .bind(&key.fingerprint)
        .bind(&key.public_key)
        .bind(key.created_at)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(d)) if d.is_unique_violation() => {
                return Err(SshKeyError::Registered);
            }
            Err(e) => return Err(e.into()),
        }
        tx.commit().await?;
        Ok(())
    }

    /// `owner`'s keys, oldest first.
    pub async fn ssh_keys(&self, owner: &str) -> Result<Vec<StoredSshKey>, StoreError> {
        let rows = sqlx::query("SELECT id, owner, fingerprint, public_key, created_at FROM ssh_keys WHERE owner = $1 ORDER BY created_at, id")
            .bind(owner)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(key_of).collect::<Result<_, _>>()?)
    }

    /// Removes `owner`'s key `id`; false when they have none of that id.
    pub async fn remove_ssh_key(&self, owner: &str, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM ssh_keys WHERE owner = $1 AND id = $2")
            .bind(owner)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// `owner`'s key with this fingerprint and `owner` themself, if they registered it and
    /// are not disabled.
    pub async fn ssh_key_user(
        &self,
        owner: &str,
        fingerprint: &str,
    ) -> Result<Option<(StoredSshKey, super::User)>, StoreError> {
        let row = sqlx::query("SELECT k.id, k.owner, k.fingerprint, k.public_key, k.created_at, u.admin, u.disabled FROM ssh_keys k JOIN users u ON u.name = k.owner WHERE k.owner = $1 AND k.fingerprint = $2")
            .bind(owner)
            .bind(fingerprint)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let key = key_of(&row)?;
        let user = super::User {
            name: key.owner.clone(),
            admin: row.try_get::<i64, _>(5)? != 0,
            disabled: row.try_get::<i64, _>(6)? != 0,
        };
        Ok((!user.disabled).then_some((key, user)))
    }
}
