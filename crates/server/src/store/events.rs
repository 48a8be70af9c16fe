//! Watch events: rows written in the same transaction as the workspace they describe,
//! announced after commit (SQLite) or through `LISTEN/NOTIFY` to every replica (PostgreSQL).

use super::{Backend, Record, Store, StoreError};
use sqlx::Row as _;
use tokio::sync::broadcast;

/// What happened to a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// Created.
    Created,
    /// Updated.
    Updated,
    /// Deleted.
    Deleted,
}

impl EventKind {
    fn code(self) -> i64 {
        match self {
            EventKind::Created => 1,
            EventKind::Updated => 2,
            EventKind::Deleted => 3,
        }
    }

    fn from_code(code: i64) -> Self {
        match code {
            1 => EventKind::Created,
            3 => EventKind::Deleted,
            _ => EventKind::Updated,
        }
    }
}

/// A change of a workspace, delivered to watchers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Increasing id.
    pub id: i64,
    /// What happened.
    pub kind: EventKind,
    /// The workspace name.
    pub name: String,
    /// Its owner.
    pub owner: String,
    /// Its Space.
    pub space: String,
    /// The body before (updates and deletes).
    pub old: Option<Vec<u8>>,
    /// The body after (creates and updates).
    pub new: Option<Vec<u8>>,
}

impl Store {
    pub(super) async fn insert_event(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        kind: EventKind,
        r: &Record,
        old: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<Event, StoreError> {
        let row = sqlx::query("INSERT INTO events (kind, name, owner, space, old, new) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
            .bind(kind.code())
            .bind(&r.name)
            .bind(&r.owner)
            .bind(&r.space)
            .bind(old)
            .bind(new)
            .fetch_one(&mut **tx)
            .await?;
        let id: i64 = row.try_get(0)?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_notify('cordium_events', $1)")
                .bind(id.to_string())
                .execute(&mut **tx)
                .await?;
        }
        Ok(Event {
            id,
            kind,
            name: r.name.clone(),
            owner: r.owner.clone(),
            space: r.space.clone(),
            old: old.map(<[u8]>::to_vec),
            new: new.map(<[u8]>::to_vec),
        })
    }

    /// After a commit: on SQLite, watchers hear of the event at once; on PostgreSQL, every
    /// replica (this one included) hears of it through its listener.
    pub(super) fn announce(&self, event: Option<Event>) {
        if let (Some(event), Backend::Sqlite) = (event, self.backend) {
            let _ = self.events.send(event);
        }
    }

    /// Subscribes to workspace events.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    pub(super) async fn spawn_listener(&self) -> Result<(), StoreError> {
        let mut listener = sqlx::postgres::PgListener::connect(&self.url).await?;
        listener.listen("cordium_events").await?;
        let store = self.clone();
        tokio::spawn(async move {
            loop {
                let id = match listener.recv().await {
                    Ok(n) => n.payload().parse::<i64>().ok(),
                    Err(e) => {
                        tracing::warn!("event listener: {e}; reconnecting");
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                        continue;
                    }
                };
                if let Some(id) = id {
                    match store.event(id).await {
                        Ok(Some(event)) => {
                            let _ = store.events.send(event);
                        }
                        Ok(None) => {}
                        Err(e) => tracing::warn!("event {id}: {e}"),
                    }
                }
            }
        });
        Ok(())
    }

    async fn event(&self, id: i64) -> Result<Option<Event>, StoreError> {
        let row =
            sqlx::query("SELECT kind, name, owner, space, old, new FROM events WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            Some(r) => Some(Event {
                id,
                kind: EventKind::from_code(r.try_get(0)?),
                name: r.try_get(1)?,
                owner: r.try_get(2)?,
                space: r.try_get(3)?,
                old: r.try_get(4)?,
                new: r.try_get(5)?,
            }),
            None => None,
        })
    }
}
