//! Lists read a page at a time, by indexed queries over the caller's rows only: a user's
//! Spaces (owned, by the `owner` index, or joined, by `space_members`), the resources of those
//! Spaces, a user's own resources. Each page starts after a key (the last of the previous
//! page) and is ordered by it, so paging never skips or repeats a row.

use super::{Record, Store, StoreError};
use cordium_spec::Kind;
use prost::Message as _;

/// Where a page starts: after this key (`scope`, `name`); empty strings start at the
/// beginning (every stored name is non-empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct After {
    /// The scope column of the last row of the previous page.
    pub scope: String,
    /// The name of the last row of the previous page.
    pub name: String,
}

impl After {
    /// The key of `record`, to start the next page after it.
    pub fn of(record: &Record) -> Self {
        Self {
            scope: record.scope.clone(),
            name: record.name.clone(),
        }
    }
}

/// The names of the Spaces `$N` (the user) may reach: owned, or listed as a member. Both
/// halves read by index (`resources_owner`, `space_members` primary key).
fn reachable_spaces(owner: usize, member: usize) -> String {
    format!(
        "SELECT name FROM resources WHERE kind = 'Space' AND owner = ${owner} \
         UNION SELECT space FROM space_members WHERE member = ${member}"
    )
}

const COLUMNS: &str = "scope, name, owner, space, body, version, active";

impl Store {
    fn records(kind: Kind, rows: &[sqlx::any::AnyRow]) -> Result<Vec<Record>, StoreError> {
        Ok(rows
            .iter()
            .map(|r| Self::record(kind, r))
            .collect::<Result<_, _>>()?)
    }

    /// Up to `limit` resources of `kind` in `scope` after `after.name`, by name (the primary
    /// key's order).
    pub async fn page_in_scope(
        &self,
        kind: Kind,
        scope: &str,
        after: &After,
        limit: i64,
    ) -> Result<Vec<Record>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM resources WHERE kind = $1 AND scope = $2 AND name > $3 \
             ORDER BY name LIMIT $4"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(kind.as_str())
            .bind(scope)
            .bind(&after.name)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Self::records(kind, &rows)
    }

    /// Up to `limit` resources of a Space-scoped `kind` in the Spaces `user` may reach, after
    /// `after`, by (Space, name).
    pub async fn page_in_spaces_of(
        &self,
        kind: Kind,
        user: &str,
        after: &After,
        limit: i64,
    ) -> Result<Vec<Record>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM resources WHERE kind = $1 AND scope IN ({}) \
             AND (scope > $4 OR (scope = $5 AND name > $6)) ORDER BY scope, name LIMIT $7",
            reachable_spaces(2, 3)
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(kind.as_str())
            .bind(user)
            .bind(user)
            .bind(&after.scope)
            .bind(&after.scope)
            .bind(&after.name)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Self::records(kind, &rows)
    }

    /// Up to `limit` of the Spaces `user` owns or is a member of, after `after.name`, by name.
    pub async fn page_spaces_of(
        &self,
        user: &str,
        after: &After,
        limit: i64,
    ) -> Result<Vec<Record>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM resources WHERE kind = 'Space' AND scope = '' AND name IN ({}) \
             AND name > $3 ORDER BY name LIMIT $4",
            reachable_spaces(1, 2)
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user)
            .bind(user)
            .bind(&after.name)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Self::records(Kind::Space, &rows)
    }

    /// Up to `limit` of the Workspaces in the Spaces `user` may reach (only in `space`, if
    /// not empty), after `after.name`, by name. Read by the `(kind, space, name)` index: the
    /// `scope` term is written `scope || '' = ''` so that no planner takes the primary key
    /// `(kind, scope, name)` for its order by name, which walks every workspace in the store
    /// (on SQLite a 2-item answer among 100,000 others took 230 times as long).
    pub async fn page_workspaces_of(
        &self,
        user: &str,
        space: &str,
        after: &After,
        limit: i64,
    ) -> Result<Vec<Record>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM resources WHERE kind = 'Workspace' AND scope || '' = '' \
             AND space IN ({}) AND ($3 = '' OR space = $4) AND name > $5 \
             ORDER BY name LIMIT $6",
            reachable_spaces(1, 2)
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user)
            .bind(user)
            .bind(space)
            .bind(space)
            .bind(&after.name)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Self::records(Kind::Workspace, &rows)
    }

    /// Keeps `space_members` in step with a Space's body (`None`: the Space is deleted),
    /// inside the write's transaction.
    pub(super) async fn sync_members(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        record: &Record,
        body: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        if record.kind != Kind::Space {
            return Ok(());
        }
        sqlx::query("DELETE FROM space_members WHERE space = $1")
            .bind(&record.name)
            .execute(&mut **tx)
            .await?;
        let members = body
            .and_then(|b| crate::pb::Space::decode(b).ok())
            .and_then(|s| s.status)
            .map(|s| s.members)
            .unwrap_or_default();
        let unique: std::collections::BTreeSet<String> = members.into_iter().collect();
        for member in unique {
            sqlx::query("INSERT INTO space_members (space, member) VALUES ($1, $2)")
                .bind(&record.name)
                .bind(member)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Fills `space_members` from the Spaces written before the table existed.
    pub(super) async fn backfill_members(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    ) -> Result<(), StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM resources WHERE kind = 'Space'"
        )))
        .fetch_all(&mut **tx)
        .await?;
        for row in rows {
            let record = Self::record(Kind::Space, &row)?;
            Self::sync_members(tx, &record, Some(&record.body)).await?;
        }
        Ok(())
    }
}
