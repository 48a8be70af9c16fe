//! The lifecycle driver: runs the workspaces whose state asks for it, in the server's process.
//!
//! It follows the store's workspace events (and scans every workspace when it starts or falls
//! behind):
//! - `INIT_REQUEST`: compile the workspace as its owner, decide the run ([`cordium_provisioner::RunFacts`]), plan
//!   it, fetch and decrypt the Secrets and UserSecrets the plan names, make a session
//!   credential, and run [`lifecycle::start`]; every state it enters is written through the
//!   store, so WatchWorkspace streams it, and only along the transition table
//!   ([`crate::workspace_state::transition`]: an illegal move is logged and not written). A failure is written with the state change that
//!   reports it, then the workspace is stopped.
//! - `STOPPING_REQUEST`: cancel a start still in progress (and wait for it to end), run
//!   [`lifecycle::stop`], revoke the session credential, write `STOPPED`. A stop already
//!   under way (autoStop, a failure, a build's end) is left to finish.
//! - deletion: remove everything the runtime holds for the workspace; and on every scan, what
//!   it holds of workspaces whose delete was recorded and not finished (`store::deleted`,
//!   among the objects labelled with this store's installation, [`Runtime::held`]), so a
//!   delete cut short by a crash is finished at the next start.
//! - health: every [`HEALTH_INTERVAL`], each `RUNNING` workspace's container is checked; one
//!   that no longer runs is stopped with a health-check failure (also at startup, for
//!   workspaces a previous process left `RUNNING`), and so is the run of a disabled owner;
//!   deletes recorded by another process (`cordium-server user delete`) are finished
//!   (`health`).
//!
//! A pre-build (`status.isBuild`) stops itself when its tasks are done; its volume becomes
//! the Template's snapshot (named after the build workspace, `build-<id>`), the Template's
//! ready build moves to it, and the previous snapshot is removed. A build that fails, is
//! cancelled or is stopped early leaves no snapshot.
//!
//! One driver per store: with several replicas, run the runtime on exactly one of them.

mod health;
mod order;
mod prepare;
mod scan;

use crate::pb;
use crate::service::Api;
use crate::store::{EventKind, Precondition, Record, StoreError, Write, workspace_is_active};
use crate::workspace_state::{current, state_of, transition};
use cordium_provisioner::lifecycle::{self, Progress, RunFailure, Secrets, StartRequest, Started};
use cordium_provisioner::runtime::{Runtime, WorkspaceKey};
use cordium_provisioner::{Failure, Plan, Recreate, State};
use cordium_spec::Kind;
use order::{Lifecycle, Waited};
use prost::Message;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// How often the driver checks that running workspaces still run.
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(10);

/// Runs workspaces on a [`Runtime`]. See the [module docs](self).
#[derive(Debug)]
pub struct Driver {
    api: Api,
    runtime: Arc<dyn Runtime>,
    health_interval: Duration,
    /// Replaces the plan's start timeout (`serve --startup-timeout`).
    startup_timeout: Option<Duration>,
    /// The last start or requested stop of each workspace, by name: the next one waits for it.
    starts: Mutex<HashMap<String, Lifecycle>>,
    /// Stops in progress, by workspace name.
    stops: Mutex<HashSet<String>>,
    /// Removals of deleted workspaces' objects in progress, by workspace name: the sweep (every
    /// health check while a delete is recorded) does not start another beside one.
    removing: Arc<Mutex<HashSet<String>>>,
}

/// How a [`Driver`] runs workspaces.
#[derive(Debug, Clone, Copy)]
pub struct DriverOptions {
    /// How often running workspaces' containers are checked ([`HEALTH_INTERVAL`]).
    pub health_interval: Duration,
    /// How long a start may take, replacing the plan's (60 minutes for builds and fresh runs,
    /// 20 otherwise); `None`: the plan's.
    pub startup_timeout: Option<Duration>,
}

impl Default for DriverOptions {
    fn default() -> Self {
        Self {
            health_interval: HEALTH_INTERVAL,
            startup_timeout: None,
        }
    }
}

/// Everything a run needs, worked out from the store.
struct Prepared {
    /// Why the run re-creates the kept container (a fresh run on kept volumes).
    recreate: Option<Recreate>,
    key: WorkspaceKey,
    plan: Plan,
    secrets: Secrets,
    snapshot: Option<String>,
    build: Option<BuildInfo>,
    /// The account whose git credentials the run gets (the Template's GitProvider).
    git: Option<crate::git_credentials::GitRun>,
}

/// The Template a pre-build is for.
struct BuildInfo {
    template: String,
    build_id: String,
}

/// The snapshot a pre-build leaves: named after its build workspace (`build-<id>`), which is
/// unique across the store.
pub(crate) fn snapshot_name(build_id: &str) -> String {
    format!("build-{build_id}")
}

fn unknown(message: impl std::fmt::Display) -> RunFailure {
    RunFailure {
        failure: Failure::Unknown,
        message: message.to_string(),
    }
}

/// The protobuf form of why a kept container is re-created.
fn pb_recreate(recreate: Option<Recreate>) -> pb::workspace_status::RecreateReason {
    match recreate {
        None => pb::workspace_status::RecreateReason::Unset,
        Some(Recreate::ContainerGone) => {
            pb::workspace_status::RecreateReason::RecreateContainerGone
        }
        Some(Recreate::ImageChanged) => pb::workspace_status::RecreateReason::RecreateImageChanged,
        Some(Recreate::SettingsChanged) => {
            pb::workspace_status::RecreateReason::RecreateSettingsChanged
        }
    }
}

/// The protobuf form of a failure.
pub fn pb_failure(failure: &RunFailure) -> pb::Failure {
    use pb::failure::Type;
    let empty = pb::Empty {};
    pb::Failure {
        message: failure.message.clone(),
        r#type: Some(match &failure.failure {
            Failure::ImagePull => Type::ImagePull(empty),
            Failure::ImageBuild => Type::ImageBuild(empty),
            Failure::RepositoryClone { .. } => Type::RepoClone(empty),
            Failure::Task { name, exit_code } => Type::Task(pb::TaskFailure {
                name: name.clone(),
                exit_code: *exit_code,
            }),
            Failure::HealthCheck => Type::HealthCheck(empty),
            Failure::StartupTimeout => Type::StartupTimeout(empty),
            Failure::RunContainer => Type::RunContainer(empty),
            Failure::Unknown => Type::Unknown(empty),
        }),
    }
}

/// Whether a run's foreground tasks all ran (a build is complete only then).
#[derive(Debug, Clone, Copy)]
struct TasksDone(bool);

/// The state a stop was decided in, and when the workspace entered it: the stop goes ahead
/// only while the workspace is still there. A health check saw a run `RUNNING`; a stop request
/// was `STOPPING_REQUEST`. Without it, a stop decided for one run, and delayed (behind the
/// start it cancels, or another stop), would stop the next run, and remove the SSH agent's
/// directory that run's container is being created with.
#[derive(Debug, Clone)]
struct Seen(State, Option<prost_types::Timestamp>);

/// A removal in progress (see [`Driver::deleted`]); ends when dropped.
struct Removing(Arc<Mutex<HashSet<String>>>, String);

impl Drop for Removing {
    fn drop(&mut self) {
        if let Ok(mut removing) = self.0.lock() {
            removing.remove(&self.1);
        }
    }
}

/// A stop in progress (see [`Driver::begin_stop`]); ends when dropped, even if the stop's task
/// is aborted.
struct StopGuard<'a> {
    driver: &'a Driver,
    name: String,
}

impl Drop for StopGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut stops) = self.driver.stops.lock() {
            stops.remove(&self.name);
        }
    }
}

/// Writes each state the lifecycle enters, along the transition table, unless a stop
/// overtook the start.
struct StoreProgress<'a> {
    driver: &'a Driver,
    name: &'a str,
    /// The failure the run stops after, if any: its moves are failure moves.
    failure: Option<&'a Failure>,
    /// Why a start re-creates the kept container, written with `INITIALIZING`.
    recreate: Option<Recreate>,
    /// Whether the run has git credentials, written with `INITIALIZING`.
    git_credentials: pb::workspace_status::GitCredentials,
}

#[async_trait::async_trait]
impl Progress for StoreProgress<'_> {
    async fn entered(&self, state: State) {
        let stopping = matches!(state, State::Stopping);
        let result = self
            .driver
            .update(self.name, |status| {
                let overtaken =
                    current(status).is_some_and(|s| s.is_stopping() || s == State::Stopped);
                if overtaken && !stopping {
                    return false;
                }
                if transition(self.name, status, state, self.failure).is_err() {
                    return false;
                }
                if state == State::Running {
                    // Counted with the state, so a watcher seeing RUNNING sees the count.
                    status.successful_runs += 1;
                }
                if state == State::Initializing {
                    status.set_recreate_reason(pb_recreate(self.recreate));
                    status.set_git_credentials(self.git_credentials);
                }
                true
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(workspace = self.name, "writing state {state}: {e}");
        }
    }
}

impl Driver {
    /// A driver for the workspaces in `api`'s store, checking health every
    /// [`HEALTH_INTERVAL`].
    pub fn new(api: Api, runtime: Arc<dyn Runtime>) -> Arc<Self> {
        Self::with_health_interval(api, runtime, HEALTH_INTERVAL)
    }

    /// As [`Driver::new`], checking health every `interval`.
    pub fn with_health_interval(
        api: Api,
        runtime: Arc<dyn Runtime>,
        interval: Duration,
    ) -> Arc<Self> {
        Self::with_options(
            api,
            runtime,
            DriverOptions {
                health_interval: interval,
                ..DriverOptions::default()
            },
        )
    }

    /// A driver with `options`.
    pub fn with_options(api: Api, runtime: Arc<dyn Runtime>, options: DriverOptions) -> Arc<Self> {
        Arc::new(Self {
            api,
            runtime,
            health_interval: options.health_interval,
            startup_timeout: options.startup_timeout,
            starts: Mutex::new(HashMap::new()),
            stops: Mutex::new(HashSet::new()),
            removing: Arc::default(),
        })
    }

    /// Follows the store until it closes.
    pub fn spawn(self: &Arc<Self>) -> JoinHandle<()> {
        let driver = Arc::clone(self);
        tokio::spawn(async move {
            let mut events = driver.api.store().subscribe();
            driver.scan(true).await;
            let health = Arc::clone(&driver);
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(health.health_interval);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticks.tick().await;
                    health.check_health().await;
                }
            });
            loop {
                match events.recv().await {
                    Ok(event) => match event.kind {
                        EventKind::Deleted => driver.deleted(&event.space, &event.name),
                        // Events carry keys only: the driver reads the body the event
                        // recorded (the state it announces, not a later one, which would be
                        // acted on before its own event arrives).
                        EventKind::Created | EventKind::Updated => {
                            match driver.api.store().event_bodies(&event).await {
                                Ok(bodies) => {
                                    if let Some(ws) = bodies
                                        .and_then(|b| b.new)
                                        .and_then(|b| pb::Workspace::decode(b.as_slice()).ok())
                                    {
                                        driver.act(&event.name, &ws);
                                    }
                                }
                                Err(e) => tracing::warn!(workspace = %event.name, "driver: {e}"),
                            }
                        }
                    },
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        driver.scan(false).await;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        })
    }

    /// Starts or stops `name` when its state asks for it.
    fn act(self: &Arc<Self>, name: &str, ws: &pb::Workspace) {
        let Ok(mut starts) = self.starts.lock() else {
            return;
        };
        match state_of(ws) {
            Some(State::InitRequest) => {
                // After the previous run's task (which may be writing its last state); a
                // repeated event finds the workspace past INIT_REQUEST and does nothing.
                let previous = starts.remove(name).map(Waited);
                let driver = Arc::clone(self);
                let owned = name.to_owned();
                starts.insert(
                    name.to_owned(),
                    Lifecycle::Start(tokio::spawn(async move {
                        if let Some(previous) = previous {
                            previous.finish().await;
                        }
                        driver.run(&owned).await;
                    })),
                );
            }
            Some(State::StoppingRequest) => {
                if self.stops.lock().is_ok_and(|stops| stops.contains(name)) {
                    // A stop is under way (autoStop, a failure, a build's end): it ends at
                    // STOPPED; cutting it short would leave it half done.
                    return;
                }
                let previous = starts.remove(name);
                let driver = Arc::clone(self);
                let owned = name.to_owned();
                let requested = Seen(
                    State::StoppingRequest,
                    ws.status.as_ref().and_then(|s| s.state_changed_at),
                );
                let stop = tokio::spawn(async move {
                    // A start is cancelled; an earlier requested stop is waited for (it
                    // goes ahead only if it was for the same request).
                    match previous {
                        Some(Lifecycle::Start(start)) => {
                            start.abort();
                            let _ = start.await;
                        }
                        Some(Lifecycle::Stop(stop)) => {
                            let _ = stop.await;
                        }
                        None => {}
                    }
                    driver.stop_after(&owned, None, Some(&requested)).await;
                });
                // The next start waits for this stop, and so for the start it cancels: two
                // runs' podman calls never interleave (one's removal of the container or its
                // secret under the other's create).
                starts.insert(name.to_owned(), Lifecycle::Stop(stop));
            }
            _ => {}
        }
    }

    fn deleted(self: &Arc<Self>, space: &str, name: &str) {
        if let Ok(mut starts) = self.starts.lock()
            && let Some(Lifecycle::Start(start)) = starts.remove(name)
        {
            start.abort();
        }
        self.api.stop_agent(name);
        if let Ok(mut removing) = self.removing.lock() {
            removing.insert(name.to_owned());
        }
        let driver = Arc::clone(self);
        let key = WorkspaceKey::new(space, name);
        tokio::spawn(async move {
            let _removing = Removing(Arc::clone(&driver.removing), key.name.clone());
            if let Err(e) = driver.api.store().revoke_sessions(&key.name).await {
                tracing::warn!(workspace = %key.name, "revoking sessions: {e}");
            }
            match driver.runtime.delete(&key).await {
                Ok(()) => {
                    if let Err(e) = driver.api.store().forget_deleted_workspace(&key.name).await {
                        tracing::warn!(workspace = %key.name, "forgetting its delete: {e}");
                    }
                }
                // Recorded still: the next scan tries again.
                Err(e) => tracing::warn!(workspace = %key.name, "removing the workspace: {e}"),
            }
        });
    }

    /// Reads, changes and writes a workspace's status, retrying on concurrent writes;
    /// `change` returns false to write nothing.
    async fn update(
        &self,
        name: &str,
        mut change: impl FnMut(&mut pb::WorkspaceStatus) -> bool,
    ) -> Result<Option<pb::Workspace>, StoreError> {
        for _ in 0..10 {
            let Some(record) = self.api.store().get(Kind::Workspace, "", name).await? else {
                return Ok(None);
            };
            let Ok(mut ws) = pb::Workspace::decode(record.body.as_slice()) else {
                return Ok(None);
            };
            let status = ws.status.get_or_insert_with(Default::default);
            let before = status.state;
            if !change(status) {
                return Ok(Some(ws));
            }
            if status.state != before {
                status.state_changed_at = Some(crate::service::now());
            }
            let written = Record {
                body: ws.encode_to_vec(),
                active: workspace_is_active(&ws),
                ..record.clone()
            };
            let write = Write::new(&written)
                .expecting(Precondition::Version(record.version))
                .event(true);
            match self.api.store().update(write).await {
                Ok(_) => return Ok(Some(ws)),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict {
            kind: Kind::Workspace,
            name: name.to_owned(),
            expected: 0,
        })
    }

    /// One start, then (for builds and `autoStop`) its stop; nothing unless the workspace is
    /// in `INIT_REQUEST`.
    async fn run(self: &Arc<Self>, name: &str) {
        let requested = match self.api.store().get(Kind::Workspace, "", name).await {
            Ok(Some(record)) => pb::Workspace::decode(record.body.as_slice())
                .is_ok_and(|ws| state_of(&ws) == Some(State::InitRequest)),
            _ => false,
        };
        if !requested {
            return;
        }
        let prepared = match self.prepare(name, true).await {
            Ok(p) => p,
            Err(failure) => {
                // Nothing of this run exists yet (preparing only reads): no stop to make, the
                // workspace goes from INIT_REQUEST straight to STOPPED with the failure.
                if let Some(_stopping) = self.begin_stop(name) {
                    self.stopped(name, Some(&failure)).await;
                }
                return;
            }
        };
        let git_credentials = self.api.start_agent(name, prepared.git.as_ref()).await;
        let progress = StoreProgress {
            driver: self,
            name,
            failure: None,
            recreate: prepared.recreate,
            git_credentials,
        };
        let request = StartRequest {
            key: &prepared.key,
            plan: &prepared.plan,
            secrets: &prepared.secrets,
            snapshot: prepared.snapshot.as_deref(),
            git_identity: None,
        };
        match lifecycle::start(self.runtime.as_ref(), &request, &progress).await {
            Ok(started) => {
                if started == Started::Done {
                    progress.entered(State::Running).await;
                    if let Some(_stopping) = self.begin_stop(name) {
                        self.finish(name, &prepared, None, TasksDone(true)).await;
                    }
                }
            }
            Err(failure) => {
                tracing::info!(workspace = name, "start failed: {failure}");
                if let Some(_stopping) = self.begin_stop(name) {
                    self.finish(name, &prepared, Some(&failure), TasksDone(false))
                        .await;
                }
            }
        }
    }

    /// Stops `name` (after `failure`, when given), preparing the stop from the store; a stop
    /// already in progress makes this one a no-op, and so does a workspace no longer as
    /// `seen` (a health check's stop of a run since replaced, a stop request another stop
    /// has finished).
    async fn stop_after(
        self: &Arc<Self>,
        name: &str,
        failure: Option<&RunFailure>,
        seen: Option<&Seen>,
    ) {
        let Some(_stopping) = self.begin_stop(name) else {
            return;
        };
        if let Some(Seen(state, changed_at)) = seen {
            let same_run = match self.api.store().get(Kind::Workspace, "", name).await {
                Ok(Some(record)) => pb::Workspace::decode(record.body.as_slice())
                    .ok()
                    .and_then(|ws| ws.status)
                    .is_some_and(|s| {
                        current(&s) == Some(*state) && &s.state_changed_at == changed_at
                    }),
                _ => false,
            };
            if !same_run {
                return;
            }
        }
        match self.prepare(name, false).await {
            Ok(prepared) => {
                self.finish(name, &prepared, failure, TasksDone(false))
                    .await
            }
            Err(e) => {
                // Nothing to run PRE_STOP with: remove the container, keep the volume.
                let Ok(Some(record)) = self.api.store().get(Kind::Workspace, "", name).await else {
                    return;
                };
                let key = WorkspaceKey::new(&record.space, &record.name);
                let _ = self
                    .runtime
                    .stop(&key, cordium_provisioner::VolumeOnStop::Keep, None)
                    .await;
                self.stopped(name, failure.or(Some(&e))).await;
            }
        }
    }

    /// Marks a stop of `name` as in progress until the guard drops; `None` when one already is.
    fn begin_stop(&self, name: &str) -> Option<StopGuard<'_>> {
        let mut stops = self.stops.lock().ok()?;
        stops.insert(name.to_owned()).then(|| StopGuard {
            driver: self,
            name: name.to_owned(),
        })
    }

    /// The stop of a run: PRE_STOP, the container and volume, the session, `STOPPED`. A
    /// build's volume becomes the Template's snapshot only when its tasks are done and nothing
    /// failed; otherwise it is deleted.
    async fn finish(
        &self,
        name: &str,
        prepared: &Prepared,
        failure: Option<&RunFailure>,
        TasksDone(tasks_done): TasksDone,
    ) {
        let progress = StoreProgress {
            driver: self,
            name,
            failure: failure.map(|f| &f.failure),
            recreate: None,
            git_credentials: pb::workspace_status::GitCredentials::Unset,
        };
        if let Some(failure) = failure {
            let record = pb_failure(failure);
            let _ = self
                .update(name, |s| {
                    s.failure = Some(record.clone());
                    true
                })
                .await;
        }
        let snapshot = prepared.build.as_ref().map(|b| snapshot_name(&b.build_id));
        // A failed, cancelled or stopped build leaves no snapshot.
        let complete_build = prepared.build.is_some() && tasks_done && failure.is_none();
        let mut stop_plan = prepared.plan.stop.clone();
        if !complete_build && stop_plan.volume == cordium_provisioner::VolumeOnStop::Snapshot {
            stop_plan.volume = cordium_provisioner::VolumeOnStop::Delete;
        }
        let stopped = lifecycle::stop(
            self.runtime.as_ref(),
            &prepared.key,
            &stop_plan,
            &prepared.secrets,
            snapshot.as_deref(),
            &progress,
        )
        .await;
        if let Err(e) = &stopped {
            tracing::warn!(workspace = name, "stop: {e}");
        }
        if let (true, Ok(()), Some(build), Some(snapshot)) =
            (complete_build, &stopped, &prepared.build, &snapshot)
        {
            self.build_ready(&prepared.key.space, build, snapshot).await;
        }
        // A build whose snapshot could not be saved (too large, too slow) failed: its status
        // says why, and the Template keeps its former pre-build.
        let unsaved = match &stopped {
            Err(e) if complete_build => Some(RunFailure {
                failure: Failure::Unknown,
                message: format!("the pre-build was not saved: {e}"),
            }),
            _ => None,
        };
        self.stopped(name, failure.or(unsaved.as_ref())).await;
    }

    async fn stopped(&self, name: &str, failure: Option<&RunFailure>) {
        self.api.stop_agent(name);
        if let Err(e) = self.api.store().revoke_sessions(name).await {
            tracing::warn!(workspace = name, "revoking sessions: {e}");
        }
        let record = failure.map(pb_failure);
        let _ = self
            .update(name, |s| {
                // Refused (and logged) when the table has no such move; the failure is kept.
                let _ = transition(name, s, State::Stopped, failure.map(|f| &f.failure));
                if let Some(f) = &record {
                    s.failure = Some(f.clone());
                }
                true
            })
            .await;
    }

    /// Makes `build` the Template's ready pre-build and removes the snapshot it replaces.
    async fn build_ready(&self, space: &str, build: &BuildInfo, snapshot: &str) {
        let store = self.api.store();
        for _ in 0..10 {
            let record = match store.get(Kind::Template, space, &build.template).await {
                Ok(Some(record)) => record,
                // Deleted during its build: nothing will use the snapshot.
                Ok(None) => {
                    let _ = self.runtime.delete_snapshot(snapshot).await;
                    return;
                }
                Err(e) => {
                    tracing::warn!("marking build {} ready: {e}", build.build_id);
                    return;
                }
            };
            let Ok(mut template) = pb::Template::decode(record.body.as_slice()) else {
                return;
            };
            let status = template.status.get_or_insert_with(Default::default);
            if status.current_running_build_id != build.build_id {
                // Cancelled or replaced by a newer build: this snapshot is not used.
                let _ = self.runtime.delete_snapshot(snapshot).await;
                return;
            }
            let previous =
                std::mem::replace(&mut status.current_ready_build_id, build.build_id.clone());
            status.current_running_build_id.clear();
            let written = Record {
                body: template.encode_to_vec(),
                ..record.clone()
            };
            let write = Write::new(&written).expecting(Precondition::Version(record.version));
            match store.update(write).await {
                Ok(_) => {
                    if !previous.is_empty() && previous != build.build_id {
                        let old = snapshot_name(&previous);
                        let _ = self.runtime.delete_snapshot(&old).await;
                    }
                    return;
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => {
                    tracing::warn!("marking build {} ready: {e}", build.build_id);
                    return;
                }
            }
        }
    }
}
