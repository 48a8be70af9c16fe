//! Workspaces: named by the server, kept in a Space, started and stopped by asking the
//! driver (through their state), watched as a stream of events (`watch`).

use super::Caller;
use super::api::{Api, DEFAULT_TEMPLATE};
use super::documents::{validate, validate_metadata, validate_run_vars};
use super::pages::{Page, Rows, collect, page_request};
use super::resource::{
    Built, Context, Place, Reach, Reached, Respec, Result, Updated, fresh_metadata, new_record,
    now, with_version,
};
use crate::names::{length_for_attempt, random_name};
use crate::pb;
use crate::store::{Precondition, StoreError, Write};
use crate::workspace_state::{state_of, to_pb, transition};
use cordium_provisioner::State;
use cordium_spec::Kind;
use std::collections::HashMap;
use std::sync::Arc;
use tonic::Status;

/// An update of a Workspace takes its metadata and spec; the status is the server's.
#[tonic::async_trait]
impl Updated for pb::Workspace {
    const KIND: Kind = Kind::Workspace;
    const EVENTS: bool = true;

    async fn build_updated(_cx: &Context<'_>, stored: Self, req: Self) -> Result<Built<Self>> {
        validate(Kind::Workspace, "", req.spec.as_deref())?;
        Ok(Built::plain(Self::respec(stored, req)))
    }
}

/// An update reaches a Workspace for its owner (or an administrator) only.
#[tonic::async_trait]
impl Reach for pb::Workspace {
    async fn reach(api: &Api, caller: &Caller, _: &str, name: &str) -> Result<Reached<Self>> {
        let (record, ws) = api
            .changeable_workspace(caller, name, Change::Update)
            .await?;
        let at = Place::global(name, &record.space);
        Ok((at, record, Arc::unwrap_or_clone(ws)))
    }
}

/// What a caller asks to do to a workspace that every member of its Space can see.
///
/// A run gets its owner's UserSecrets, git credentials and session credential, so what runs
/// (the spec, through an update) and when (a start) is the owner's decision alone, or an
/// administrator's, and so are reporting activity, which keeps a run from its idle stop,
/// and running commands in it.
/// Stopping and deleting are also the Space owner's, who may delete the whole Space anyway;
/// other members may only look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Change {
    /// UpdateWorkspace.
    Update,
    /// StartWorkspace.
    Start,
    /// StopWorkspace.
    Stop,
    /// DeleteWorkspace.
    Delete,
    /// ReportWorkspaceActivity, which keeps it from its idle stop.
    Activity,
    /// Running commands in it (ExecWorkspace, ExecStream, PortForward) or reading its log:
    /// what runs there sees the owner's secrets.
    Exec,
}

impl Change {
    /// What the caller asked, as the refusal says it.
    fn what(self) -> &'static str {
        match self {
            Change::Update => "change it",
            Change::Start => "start it",
            Change::Stop => "stop it",
            Change::Delete => "delete it",
            Change::Activity => "report its activity",
            Change::Exec => "run commands in it or read its log",
        }
    }

    fn space_owner_may(self) -> bool {
        matches!(self, Change::Stop | Change::Delete)
    }
}

/// A state move the transition table refuses: a bug of the caller, never of the request.
pub(crate) fn illegal_move(e: cordium_provisioner::Error) -> Status {
    Status::internal(e.to_string())
}

/// Whether `caller` may reach `space`, asked once per Space and remembered in `seen`.
pub(super) async fn reachable(
    api: &Api,
    caller: &Caller,
    seen: &mut HashMap<String, bool>,
    space: &str,
) -> bool {
    if let Some(known) = seen.get(space) {
        return *known;
    }
    let allowed = api.accessible_space(caller, space).await.is_ok();
    seen.insert(space.to_owned(), allowed);
    allowed
}

impl Api {
    /// The workspace, if the caller may make `change` to it ([`Change`]); NotFound for
    /// someone who cannot see it, PermissionDenied for a member who may only look.
    pub(super) async fn changeable_workspace(
        &self,
        caller: &Caller,
        name: &str,
        change: Change,
    ) -> Result<(crate::store::Record, Arc<pb::Workspace>)> {
        let (record, ws) = self.visible_workspace(caller, name).await?;
        if record.owner == caller.name || caller.admin {
            return Ok((record, ws));
        }
        let what = change.what();
        if change.space_owner_may() {
            if self.owns_space_of(caller, &record).await? {
                return Ok((record, ws));
            }
            return Err(Status::permission_denied(format!(
                "only the owner of workspace `{name}` or of its Space `{}` may {what}",
                record.space
            )));
        }
        Err(Status::permission_denied(format!(
            "only the owner of workspace `{name}` may {what}: its runs get the owner's secrets \
             and credentials"
        )))
    }

    /// CreateWorkspace: a fresh name, in the caller's default Space unless one is named.
    pub(crate) async fn create_workspace(
        &self,
        caller: &Caller,
        mut req: pb::Workspace,
    ) -> Result<pb::Workspace> {
        self.validated
            .validate(Kind::Workspace, "", req.spec.as_ref())?;
        validate_metadata(Kind::Workspace, req.metadata.as_ref())?;
        let (mut space, template) = req
            .status
            .as_ref()
            .map(|s| (s.space.clone(), s.template.clone()))
            .unwrap_or_default();
        if space.is_empty() {
            space = self.ensure_default_space(caller).await?;
        }
        let template = if template.is_empty() {
            DEFAULT_TEMPLATE.to_owned()
        } else {
            template
        };
        self.resolve_template(caller, &space, &template).await?;
        let quota = self.owned_quota().await?;
        let requested = req.metadata.take();
        // Moved into each attempt's workspace and taken back when its name was taken: a spec
        // is a tree of maps, and cloning it cost as much as writing it.
        let mut spec = req.spec.take();
        for attempt in 0..10_000 {
            let name = random_name(length_for_attempt(attempt))?;
            let mut ws = pb::Workspace {
                metadata: Some(fresh_metadata(requested.clone(), &name)?),
                spec: spec.take(),
                status: Some(pb::WorkspaceStatus {
                    state: to_pb(State::Stopped) as i32,
                    owner: caller.name.clone(),
                    space: space.clone(),
                    template: template.clone(),
                    state_changed_at: Some(now()),
                    ..Default::default()
                }),
            };
            let record = new_record(
                Kind::Workspace,
                &Place::global(&name, &space),
                &caller.name,
                &ws,
            );
            let write = Write::new(&record).event(true).within(quota);
            match self.store.create(write).await {
                Ok(()) => {
                    tracing::info!(user = %caller.name, workspace = %name, "workspace created");
                    return Ok(with_version(ws, 1));
                }
                Err(StoreError::AlreadyExists { .. }) => spec = ws.spec.take(),
                Err(e) => return Err(e.into()),
            }
        }
        Err(Status::resource_exhausted(
            "no free workspace name was found; try again",
        ))
    }

    /// GetWorkspace.
    pub(crate) async fn get_workspace(&self, caller: &Caller, r: pb::Ref) -> Result<pb::Workspace> {
        let (_, ws) = self.visible_workspace(caller, &r.name).await?;
        Ok(Arc::unwrap_or_clone(ws))
    }

    /// ListWorkspace: the caller's reachable workspaces (not builds), optionally of one Space
    /// or Template, a page at a time; read by Space, never other users' workspaces.
    pub(crate) async fn list_workspace(
        &self,
        caller: &Caller,
        filter: pb::ListRequest,
    ) -> Result<Page<pb::Workspace>> {
        let page = page_request(Kind::Workspace, &filter)?;
        if !filter.space.is_empty() && filter.space != format!("default.{}", caller.name) {
            // A Space the caller does not reach is not found, as ListTemplate and ListSecret
            // answer, rather than an empty list (their own default Space may not be made yet).
            self.accessible_space(caller, &filter.space).await?;
        }
        let rows = Rows::WorkspacesOf {
            user: &caller.name,
            space: &filter.space,
        };
        let keep = |r: &crate::store::Record| {
            let ws: pb::Workspace = super::resource::decode(r)?;
            let status = ws.status.clone().unwrap_or_default();
            let wanted = !status.is_build
                && (filter.template.is_empty() || status.template == filter.template);
            Ok(wanted.then_some(ws))
        };
        collect(&self.store, rows, page, keep).await
    }

    /// DeleteWorkspace.
    pub(crate) async fn delete_workspace(
        &self,
        caller: &Caller,
        r: pb::Ref,
    ) -> Result<pb::DeleteResponse> {
        let name = r.name.clone();
        self.changeable_workspace(caller, &name, Change::Delete)
            .await?;
        self.store.delete(Kind::Workspace, "", &name, true).await?;
        Ok(pb::DeleteResponse {})
    }

    /// StartWorkspace: asks the driver to start a STOPPED workspace, within the quota of
    /// active workspaces.
    pub(crate) async fn start_workspace(
        &self,
        caller: &Caller,
        req: pb::StartWorkspaceRequest,
    ) -> Result<pb::Workspace> {
        validate_run_vars(&req.vars)?;
        let (record, ws) = self
            .changeable_workspace(caller, &req.name, Change::Start)
            .await?;
        let mut ws = Arc::unwrap_or_clone(ws);
        match state_of(&ws) {
            Some(State::Stopped) => {}
            Some(State::StoppingRequest | State::Stopping) => {
                return Err(Status::failed_precondition(format!(
                    "workspace `{}` is stopping; start it once it is STOPPED",
                    req.name
                )));
            }
            _ => {
                return Err(Status::already_exists(format!(
                    "workspace `{}` is already running",
                    req.name
                )));
            }
        }
        // Counted for the workspace's owner, inside the write (a check before it would let
        // concurrent starts all pass).
        let quota = self.active_quota().await?;
        if let Some(status) = ws.status.as_mut() {
            transition(&req.name, status, State::InitRequest, None).map_err(illegal_move)?;
            status.failure = None;
            status.run_vars = req.vars;
        }
        self.write_workspace(&record, &ws, Precondition::Any, Some(quota))
            .await
    }

    /// StopWorkspace: asks the driver to stop a running workspace.
    pub(crate) async fn stop_workspace(
        &self,
        caller: &Caller,
        request: pb::StopWorkspaceRequest,
    ) -> Result<pb::Workspace> {
        let name = request.name.clone();
        let (record, ws) = self
            .changeable_workspace(caller, &name, Change::Stop)
            .await?;
        let mut ws = Arc::unwrap_or_clone(ws);
        match state_of(&ws) {
            Some(State::Stopped) => {
                return Err(Status::failed_precondition(format!(
                    "workspace `{name}` is already stopped"
                )));
            }
            Some(State::StoppingRequest | State::Stopping) => {
                return Ok(ws);
            }
            _ => {}
        }
        if let Some(status) = ws.status.as_mut() {
            transition(&name, status, State::StoppingRequest, None).map_err(illegal_move)?;
        }
        let ws = self.set_workspace(&record, &ws, Precondition::Any).await?;
        Ok(ws)
    }

    /// ReportWorkspaceActivity: a workspace (or its user) says it is in use.
    pub(crate) async fn report_workspace_activity(
        &self,
        caller: &Caller,
        request: pb::ReportActivityRequest,
    ) -> Result<pb::Empty> {
        let name = request.name;
        if caller.session.as_deref().is_some_and(|own| own != name) {
            return Err(Status::permission_denied(
                "a session credential may only report its own workspace's activity",
            ));
        }
        let (record, ws) = self
            .changeable_workspace(caller, &name, Change::Activity)
            .await?;
        let mut ws = Arc::unwrap_or_clone(ws);
        if let Some(status) = ws.status.as_mut() {
            status.last_activity_at = Some(now());
        }
        let precondition = Precondition::Version(record.version);
        self.set_workspace(&record, &ws, precondition).await?;
        Ok(pb::Empty {})
    }
}
