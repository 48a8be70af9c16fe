//! Sealed values of Secrets and UserSecrets: kept apart from the resource bodies (which API
//! reads return), written in the same transaction as their resource, and read only when a run
//! unseals them.

use super::{Record, Store, StoreError};
use cordium_spec::Kind;
use sqlx::Row as _;

impl Store {
    /// Replaces the sealed value of `r` inside `tx`.
    pub(super) async fn put_secret(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        r: &Record,
        ciphertext: &[u8],
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM secret_values WHERE kind = $1 AND scope = $2 AND name = $3")
            .bind(r.kind.as_str())
            .bind(&r.scope)
            .bind(&r.name)
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "INSERT INTO secret_values (kind, scope, name, ciphertext) VALUES ($1, $2, $3, $4)",
        )
        .bind(r.kind.as_str())
        .bind(&r.scope)
        .bind(&r.name)
        .bind(ciphertext)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The encrypted value of a Secret or UserSecret.
    pub async fn secret_ciphertext(
        &self,
        kind: Kind,
        scope: &str,
        name: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query(
            "SELECT ciphertext FROM secret_values WHERE kind = $1 AND scope = $2 AND name = $3",
        )
        .bind(kind.as_str())
        .bind(scope)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }
}
