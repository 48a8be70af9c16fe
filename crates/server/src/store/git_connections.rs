//! Connected git accounts: a user's OAuth2 tokens for one GitProvider of one Space, sealed
//! (by the service, before they reach here: [`crate::crypto::git_token_identity`]), with
//! when the access token expires, the granted scopes and the provider's profile (login, name,
//! email) that runs use for `git config user.name`/`user.email`.

use super::{Store, StoreError};
use sqlx::Row as _;

/// One connected account, as stored (tokens sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitConnectionRow {
    /// The user.
    pub owner: String,
    /// The GitProvider's Space.
    pub space: String,
    /// The GitProvider's name.
    pub provider: String,
    /// The sealed access token.
    pub access_sealed: Vec<u8>,
    /// The sealed refresh token, when the provider gave one.
    pub refresh_sealed: Option<Vec<u8>>,
    /// When the access token expires (seconds since the epoch; 0: never).
    pub expires_at: u64,
    /// The granted scopes, space-separated.
    pub scopes: String,
    /// The account's login at the provider.
    pub login: String,
    /// The profile's name.
    pub name: String,
    /// The profile's (primary, verified) email.
    pub email: String,
}

fn row_of(r: &sqlx::any::AnyRow) -> Result<GitConnectionRow, sqlx::Error> {
    Ok(GitConnectionRow {
        owner: r.try_get(0)?,
        space: r.try_get(1)?,
        provider: r.try_get(2)?,
        access_sealed: r.try_get(3)?,
        refresh_sealed: r.try_get(4)?,
        expires_at: u64::try_from(r.try_get::<i64, _>(5)?).unwrap_or(0),
        scopes: r.try_get(6)?,
        login: r.try_get(7)?,
        name: r.try_get(8)?,
        email: r.try_get(9)?,
    })
}

impl Store {
    /// Stores (or replaces) a connection.
    pub async fn put_git_connection(&self, row: &GitConnectionRow) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "DELETE FROM git_connections WHERE owner = $1 AND space = $2 AND provider = $3",
        )
        .bind(&row.owner)
        .bind(&row.space)
        .bind(&row.provider)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO git_connections (owner, space, provider, access_sealed, refresh_sealed, expires_at, scopes, login, name, email) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&row.owner)
        .bind(&row.space)
        .bind(&row.provider)
        .bind(&row.access_sealed)
        .bind(&row.refresh_sealed)
        .bind(i64::try_from(row.expires_at).unwrap_or(i64::MAX))
        .bind(&row.scopes)
        .bind(&row.login)
        .bind(&row.name)
        .bind(&row.email)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// `owner`'s connection to `space`/`provider`.
    pub async fn git_connection(
        &self,
        owner: &str,
        space: &str,
        provider: &str,
    ) -> Result<Option<GitConnectionRow>, StoreError> {
        let row = sqlx::query(
            "SELECT owner, space, provider, access_sealed, refresh_sealed, expires_at, scopes, login, name, email FROM git_connections WHERE owner = $1 AND space = $2 AND provider = $3",
        )
        .bind(owner)
        .bind(space)
        .bind(provider)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| row_of(&r)).transpose()?)
    }

    /// Every connection of `owner`, by Space and provider.
    pub async fn git_connections(&self, owner: &str) -> Result<Vec<GitConnectionRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT owner, space, provider, access_sealed, refresh_sealed, expires_at, scopes, login, name, email FROM git_connections WHERE owner = $1 ORDER BY space, provider",
        )
        .bind(owner)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(row_of).collect::<Result<_, _>>()?)
    }

    /// Forgets `owner`'s connection to `space`/`provider`; whether there was one.
    pub async fn delete_git_connection(
        &self,
        owner: &str,
        space: &str,
        provider: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "DELETE FROM git_connections WHERE owner = $1 AND space = $2 AND provider = $3",
        )
        .bind(owner)
        .bind(space)
        .bind(provider)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
