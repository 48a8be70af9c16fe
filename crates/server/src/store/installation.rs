//! Which installation this store is: an id chosen when the database was created
//! (migration 10) and the same for every replica on it. Runtimes label the objects they make
//! with it, so the driver's sweep removes only this installation's objects of deleted
//! workspaces, never another's on the same host or cluster.

use super::{Store, StoreError};
use sqlx::AnyPool;
use std::sync::Arc;

/// The stored id.
pub(super) async fn read(pool: &AnyPool) -> Result<Arc<str>, StoreError> {
    let id: String = sqlx::query_scalar("SELECT id FROM installation")
        .fetch_one(pool)
        .await?;
    Ok(Arc::from(id))
}

impl Store {
    /// The id of this installation: 32 random hexadecimal digits chosen when the database
    /// was created, the same for every replica on it (see `store::installation`).
    pub fn installation(&self) -> &str {
        &self.installation
    }
}
