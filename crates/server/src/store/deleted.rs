//! Deleted workspaces whose runtime objects may remain: a workspace's delete records its name
//! and Space here in the same transaction, and the driver forgets it once the runtime removed
//! the objects. A delete cut short by a crash is finished by the driver's sweep from this
//! table, and only from it: a workspace the store does not know (its record lost to a restored
//! backup, or made by a copy of this database) is never taken for a deleted one.

use super::{Record, Store, StoreError};
use cordium_spec::Kind;
use sqlx::Row as _;

impl Store {
    /// Records the delete of `record`, if it is a workspace, inside `tx`.
    pub(super) async fn remember_deleted(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        record: &Record,
    ) -> Result<(), StoreError> {
        if record.kind != Kind::Workspace {
            return Ok(());
        }
        sqlx::query("DELETE FROM deleted_workspaces WHERE name = $1")
            .bind(&record.name)
            .execute(&mut **tx)
            .await?;
        sqlx::query("INSERT INTO deleted_workspaces (name, space) VALUES ($1, $2)")
            .bind(&record.name)
            .bind(&record.space)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// The deleted workspaces whose objects may remain: (Space, name).
    pub async fn deleted_workspaces(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT space, name FROM deleted_workspaces ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect()
    }

    /// Forgets the delete of workspace `name`: nothing of it remains in the runtime.
    pub async fn forget_deleted_workspace(&self, name: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM deleted_workspaces WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
