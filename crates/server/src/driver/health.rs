//! The driver's health check, every [`HEALTH_INTERVAL`](super::HEALTH_INTERVAL): what changed
//! under the runs without an event of this process to say so.
//!
//! - A `RUNNING` workspace whose container no longer runs is stopped with a health-check
//!   failure. The containers' states are read together (`Runtime::states`: one podman
//!   process, not one per workspace).
//! - A `RUNNING` workspace whose owner is disabled is stopped, saying so: `cordium-server user
//!   disable` may run in another process, and a disabled user's run must not go on holding
//!   their secrets, their SSH agent and their git credentials.
//! - A `STOPPING_REQUEST` older than half a minute with no stop under way is acted on again,
//!   so a request lost to racing starts and stops is not left standing.
//! - Workspace deletes recorded by another process (`cordium-server user delete`) are finished
//!   ([`Driver::sweep`]), when the store records any.

use super::{Driver, Seen};
use crate::pb;
use crate::workspace_state::state_of;
use cordium_provisioner::lifecycle::RunFailure;
use cordium_provisioner::runtime::{ContainerState, RuntimeError, WorkspaceKey};
use cordium_provisioner::{Failure, State};
use prost::Message as _;
use std::sync::Arc;

impl Driver {
    /// One health check (see the [module docs](self)).
    pub(super) async fn check_health(self: &Arc<Self>) {
        let store = self.api.store();
        if store
            .deleted_workspaces()
            .await
            .is_ok_and(|d| !d.is_empty())
        {
            self.sweep().await;
        }
        let Ok(records) = store.active_workspaces().await else {
            return;
        };
        let mut running: Vec<(crate::store::Record, Seen)> = Vec::new();
        for record in records {
            let Ok(ws) = pb::Workspace::decode(record.body.as_slice()) else {
                continue;
            };
            match state_of(&ws) {
                Some(State::Running) => {
                    let changed_at = ws.status.and_then(|s| s.state_changed_at);
                    running.push((record, Seen(State::Running, changed_at)));
                }
                Some(State::StoppingRequest) if requested_long_ago(&ws) => {
                    // A stop request no stop carried out (one lost to racing starts and
                    // stops): acted on again; a stop under way is left to finish.
                    self.act(&record.name, &ws);
                }
                _ => {}
            }
        }
        let mut owners: Vec<&str> = running.iter().map(|(r, _)| r.owner.as_str()).collect();
        owners.sort_unstable();
        owners.dedup();
        let disabled = store.disabled_among(&owners).await.unwrap_or_default();
        let keys: Vec<WorkspaceKey> = running
            .iter()
            .map(|(record, _)| WorkspaceKey::new(&record.space, &record.name))
            .collect();
        let states = self.runtime.states(&keys).await;
        for ((record, seen), state) in running.into_iter().zip(states) {
            let failure = if disabled.contains(&record.owner) {
                RunFailure {
                    failure: Failure::Unknown,
                    message: format!("stopped: its owner `{}` is disabled", record.owner),
                }
            } else if let Some(message) = why_not_running(&state) {
                RunFailure {
                    failure: Failure::HealthCheck,
                    message,
                }
            } else {
                continue;
            };
            let driver = Arc::clone(self);
            // Only the run that was seen: not one started since.
            tokio::spawn(async move {
                driver
                    .stop_after(&record.name, Some(&failure), Some(&seen))
                    .await
            });
        }
    }
}

/// How long a stop request may wait for its stop before the health check acts on it again.
const STOP_REQUEST_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

/// Whether `ws` entered its state more than [`STOP_REQUEST_PATIENCE`] ago.
fn requested_long_ago(ws: &pb::Workspace) -> bool {
    let Some(at) = ws.status.as_ref().and_then(|s| s.state_changed_at) else {
        return false;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    u64::try_from(at.seconds)
        .is_ok_and(|at| now.saturating_sub(at) > STOP_REQUEST_PATIENCE.as_secs())
}

/// Why a `RUNNING` workspace's container, read as `state`, fails the health check; `None`
/// when it runs, or could not be read (the next check reads it again).
fn why_not_running(state: &Result<ContainerState, RuntimeError>) -> Option<String> {
    match state {
        Ok(ContainerState::Failed(why) | ContainerState::ImagePullFailed(why)) => {
            Some(format!("the workspace's container stopped running: {why}"))
        }
        Ok(ContainerState::Absent) => Some("the workspace's container is gone".to_owned()),
        Ok(ContainerState::Pending) => Some("the workspace's container is not running".to_owned()),
        Ok(ContainerState::Running) | Err(_) => None,
    }
}
