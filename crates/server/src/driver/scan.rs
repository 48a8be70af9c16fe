//! The driver's scan of every workspace: at its start (settling the runs a previous process
//! left) and whenever it falls behind the store's events; and the sweep that finishes the
//! deletes a crash cut short.

use super::{Driver, unknown};
use crate::pb;
use crate::workspace_state::state_of;
use cordium_provisioner::State;
use cordium_spec::Kind;
use prost::Message as _;
use std::sync::Arc;

impl Driver {
    /// Acts on every active workspace (a STOPPED one asks for nothing); at `startup`, also
    /// settles runs a previous process left. Either way, finishes the deletes that a crash cut
    /// short or whose events a lagging driver missed ([`Driver::sweep`]).
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

    /// Finishes the deletes a crash cut short: the objects of each workspace whose delete the
    /// store recorded (`store::deleted`) and that the runtime holds for this installation are
    /// removed; a recorded delete of which the runtime holds nothing is forgotten. Nothing else
    /// is touched: a workspace the store merely does not know (a restored backup, a copy of
    /// the database) keeps its objects. The runtime is listed first, so objects made after the
    /// listing (a new workspace of a recorded name starting) are not taken for the old ones.
    pub(super) async fn sweep(self: &Arc<Self>) {
        let held = match self.runtime.held().await {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!("listing the runtime's workspaces: {e}");
                return;
            }
        };
        let store = self.api.store();
        let deleted = match store.deleted_workspaces().await {
            Ok(deleted) => deleted,
            Err(e) => {
                tracing::warn!("listing deleted workspaces: {e}");
                return;
            }
        };
        for (space, name) in deleted {
            let holds = held.iter().any(|key| key.name == name);
            // A workspace of the same name created since owns the objects now.
            let recreated = match store.get(Kind::Workspace, "", &name).await {
                Ok(found) => found.is_some(),
                Err(e) => {
                    tracing::warn!(workspace = %name, "sweep: {e}");
                    continue;
                }
            };
            let in_progress = self
                .removing
                .lock()
                .is_ok_and(|removing| removing.contains(&name));
            if in_progress {
                continue;
            }
            if holds && !recreated {
                tracing::info!(
                    workspace = %name,
                    %space,
                    "finishing the delete of a workspace: removing its objects"
                );
                self.deleted(&space, &name);
            } else if let Err(e) = store.forget_deleted_workspace(&name).await {
                tracing::warn!(workspace = %name, "forgetting its delete: {e}");
            }
        }
    }
}
