//! The driver's scan of every workspace: at its start (settling the runs a previous process
//! left) and whenever it falls behind the store's events; and the sweep of what the runtime
//! holds of workspaces the store no longer has.

use super::{Driver, unknown};
use crate::pb;
use crate::workspace_state::state_of;
use cordium_provisioner::State;
use cordium_spec::Kind;
use prost::Message as _;
use std::collections::HashSet;
use std::sync::Arc;

impl Driver {
    /// Acts on every workspace; at `startup`, also settles runs a previous process left.
    /// Either way, removes what the runtime holds of workspaces the store no longer has: a
    /// delete that a crash cut short, or whose event a lagging driver missed.
    pub(super) async fn scan(self: &Arc<Self>, startup: bool) {
        // Listed before the store, so a workspace created meanwhile is in the store's list
        // if its objects are in this one (its record is written before any object).
        let held = self.runtime.held().await.unwrap_or_else(|e| {
            tracing::warn!("listing the runtime's workspaces: {e}");
            Vec::new()
        });
        let records = match self.api.store().list(Kind::Workspace, Some("")).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("listing workspaces: {e}");
                return;
            }
        };
        let stored: HashSet<&str> = records.iter().map(|r| r.name.as_str()).collect();
        // By name alone: names are unique in the store and name the runtime's objects, so a
        // workspace of the same name in another Space still owns them.
        for orphan in held
            .iter()
            .filter(|key| !stored.contains(key.name.as_str()))
        {
            tracing::info!(
                workspace = %orphan.name,
                space = %orphan.space,
                "removing the objects of a workspace the store no longer has"
            );
            self.deleted(&orphan.space, &orphan.name);
        }
        for record in records {
            let Ok(ws) = pb::Workspace::decode(record.body.as_slice()) else {
                continue;
            };
            let state = state_of(&ws);
            let interrupted = matches!(
                state,
                Some(
                    State::Initializing
                        | State::PullingImage
                        | State::BuildingImage
                        | State::StartingRuntime
                        | State::Preparing
                        | State::Stopping
                )
            );
            if startup && state == Some(State::Running) {
                // Checked by the first health check, which runs at once.
                continue;
            }
            if startup && interrupted {
                let driver = Arc::clone(self);
                let name = record.name.clone();
                tokio::spawn(async move {
                    let failure = unknown("the server restarted during the run");
                    driver.stop_after(&name, Some(&failure), None).await;
                });
            } else {
                self.act(&record.name, &ws);
            }
        }
    }
}
