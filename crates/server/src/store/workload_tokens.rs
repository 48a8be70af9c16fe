//! Workload tokens: short-lived API tokens (`cdw_...`) that a workload got by exchanging an
//! OIDC token from its own platform ([`crate::auth::Authenticator::exchange_workload`]).
//!
//! Only the hash is kept, with the user it acts as and when it expires; an expired token is
//! refused and swept at the next exchange. Deleting the user deletes their tokens
//! ([`Store::delete_user`]); disabling the user refuses them (the lookup returns the user's
//! `disabled`).

use super::users::{User, user_of};
use super::{Store, StoreError};

/// The most live workload tokens one user holds: one valid platform token may be exchanged
/// again and again, each exchange adding a row that lives for the rule's time to live, so
/// without a bound a leaked platform token (or a loop in a pipeline) grows the store without
/// end. Past it an exchange is refused ([`StoreError::TooManyTokens`]) until some expire; a
/// thousand covers a busy pipeline's jobs within one time to live. Counted inside the
/// exchange's transaction, exactly: SQLite's writers take turns, and on PostgreSQL a user's
/// exchanges take turns under an advisory lock of the user's.
pub const MAX_LIVE_WORKLOAD_TOKENS: i64 = 1000;

/// The most live workload tokens exchanged from one platform token: a job that loops (or a
/// leaked platform token) would otherwise take the user's whole [`MAX_LIVE_WORKLOAD_TOKENS`] in
/// a second and refuse every other job of the user until they expire. A few, not one: the CLI
/// exchanges the same platform token again when its workload token expires first, and a job
/// may run a few `cordium login`s side by side.
pub const MAX_LIVE_PER_PLATFORM_TOKEN: i64 = 8;

impl Store {
    /// Keeps a new workload token (its hash) acting as `owner` until `expires_at` (seconds
    /// since the epoch), exchanged from the platform token `source` identifies (`None` for a
    /// GitHub sign-in), and sweeps every token that expired before `now`; refused when the
    /// owner already holds [`MAX_LIVE_WORKLOAD_TOKENS`] or the platform token
    /// [`MAX_LIVE_PER_PLATFORM_TOKEN`].
    pub async fn add_workload_token(
        &self,
        token_hash: &str,
        owner: &str,
        source: Option<&str>,
        expires_at: u64,
        now: u64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        if self.backend == super::Backend::Postgres {
            // One user's exchanges take turns, so the counts below are exact; no events are
            // written here, so this is the transaction's only lock (see `store::events`).
            sqlx::query("SELECT pg_advisory_xact_lock(7246, hashtext($1))")
                .bind(owner)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM workload_tokens WHERE expires_at < $1")
            .bind(seconds(now))
            .execute(&mut *tx)
            .await?;
        if let Some(source) = source {
            let live: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM workload_tokens WHERE source = $1")
                    .bind(source)
                    .fetch_one(&mut *tx)
                    .await?;
            if live >= MAX_LIVE_PER_PLATFORM_TOKEN {
                return Err(StoreError::TooManyExchanges {
                    max: MAX_LIVE_PER_PLATFORM_TOKEN,
                });
            }
        }
        let live: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM workload_tokens WHERE owner = $1")
            .bind(owner)
            .fetch_one(&mut *tx)
            .await?;
        if live >= MAX_LIVE_WORKLOAD_TOKENS {
            return Err(StoreError::TooManyTokens {
                max: MAX_LIVE_WORKLOAD_TOKENS,
            });
        }
        sqlx::query(
            "INSERT INTO workload_tokens (token_hash, owner, expires_at, source) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(owner)
        .bind(seconds(expires_at))
        .bind(source.unwrap_or_default())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The user a workload token with this hash acts as, unless it expired before `now`, and
    /// when it expires.
    pub async fn user_by_workload_token(
        &self,
        token_hash: &str,
        now: u64,
    ) -> Result<Option<(User, u64)>, StoreError> {
        let row = sqlx::query("SELECT u.name, u.admin, u.disabled, w.expires_at FROM workload_tokens w JOIN users u ON u.name = w.owner WHERE w.token_hash = $1 AND w.expires_at >= $2")
            .bind(token_hash)
            .bind(seconds(now))
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let expires: i64 = sqlx::Row::try_get(&row, 3)?;
        Ok(Some((user_of(&row)?, u64::try_from(expires).unwrap_or(0))))
    }
}

impl Store {
    /// Whether user `name` exists and is not disabled.
    pub async fn user_exists_enabled(&self, name: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT disabled FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => sqlx::Row::try_get::<i64, _>(&r, 0)? == 0,
            None => false,
        })
    }
}

/// Seconds as the database's signed 64-bit integer (saturating: no real clock overflows it).
fn seconds(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX)
}
