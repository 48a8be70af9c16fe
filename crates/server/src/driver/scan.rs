//! The driver's scan of every workspace: at its start (settling the runs a previous process
//! left) and whenever it falls behind the store's events; and the sweep of what the runtime
//! holds of workspaces the store no longer has.

use super::{Driver, unknown};
use crate::pb;
use crate::workspace_state::state_of;
use cordium_provisioner::State;
use cordium_spec::Kind;
use prost::Message as _;
use std::sync::Arc;

impl Driver {
    /// Acts on every active workspace (a STOPPED one asks for nothing); at `startup`, also
    /// settles runs a previous process left. Either way, removes what the runtime holds of
    /// workspaces the store no longer has: a delete that a crash cut short, or whose event a
    /// lagging driver missed.
    pub(super) async fn scan(self: &Arc<Self>, startup: bool) {
        self.sweep().await;
        let records = match self.api.store().active_workspaces().await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("listing workspaces: {e}");
                return;
            }
        };
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

    /// Removes the objects of each workspace the runtime holds that the store does not have.
    /// Looked up by name alone: names are unique in the store and name the runtime's objects,
    /// so a workspace of the same name in another Space still owns them. The runtime is listed
    /// first: a workspace's record is written before any of its objects, so one whose objects
    /// are listed is found, unless it was deleted since.
    async fn sweep(self: &Arc<Self>) {
        let held = match self.runtime.held().await {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!("listing the runtime's workspaces: {e}");
                return;
            }
        };
        for key in held {
            match self.api.store().get(Kind::Workspace, "", &key.name).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    tracing::info!(
                        workspace = %key.name,
                        space = %key.space,
                        "removing the objects of a workspace the store no longer has"
                    );
                    self.deleted(&key.space, &key.name);
                }
                Err(e) => tracing::warn!(workspace = %key.name, "sweep: {e}"),
            }
        }
    }
}
