//! `cordium.v1.MainService`: the resource rules, on top of the store.

use super::documents::{bad_field, validate};
use super::{Caller, not_found};
use crate::auth::Authenticator;
use crate::crypto::{SecretBox, new_ssh_key};
use crate::names::{length_for_attempt, random_name};
use crate::pb::{self, main_service_server::MainService};
use crate::store::{Event, EventKind, Record, Store, StoreError, Write};
use crate::workspace_state::{state_of, to_pb, transition};
use cordium_provisioner::State;
use cordium_provisioner::lifecycle::shell_quote;
use cordium_provisioner::runtime::{
    ExecSpec, ResolvedValue, Runtime, RuntimeError, SecretValue, WorkspaceKey,
};
use cordium_spec::Kind;
use cordium_spec::shapes::check_name;
use prost::Message;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

type Result<T> = std::result::Result<T, Status>;

/// The default Template every Space has.
pub(crate) const DEFAULT_TEMPLATE: &str = "default";

/// The MainService implementation.
#[derive(Debug, Clone)]
pub struct Api {
    pub(crate) store: Store,
    pub(crate) secrets: SecretBox,
    pub(crate) auth: Authenticator,
    /// The runtime workspaces run on, for exec and logs (`None`: this server provisions
    /// nothing).
    pub(crate) runtime: Option<Arc<dyn Runtime>>,
}

/// Messages that carry `Metadata`.
pub(crate) trait Resource: Message + Default + Clone {
    fn meta(&mut self) -> &mut Option<pb::Metadata>;
}

macro_rules! resource {
    ($($t:ty),*) => {$(
        impl Resource for $t {
            fn meta(&mut self) -> &mut Option<pb::Metadata> {
                &mut self.metadata
            }
        }
    )*};
}
resource!(
    pb::Space,
    pb::Template,
    pb::Workspace,
    pb::Secret,
    pb::UserSecret,
    pb::GitProvider,
    pb::UserConfig,
    pb::ClusterConfig
);

pub(crate) fn now() -> prost_types::Timestamp {
    prost_types::Timestamp::from(std::time::SystemTime::now())
}

fn new_uid() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| Status::internal(format!("no randomness: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Metadata of a new resource: what the caller may set, plus identity and times.
fn fresh_metadata(requested: Option<pb::Metadata>, name: &str) -> Result<pb::Metadata> {
    let m = requested.unwrap_or_default();
    Ok(pb::Metadata {
        name: name.to_owned(),
        uid: new_uid()?,
        display_name: m.display_name,
        description: m.description,
        labels: m.labels,
        annotations: m.annotations,
        created_at: Some(now()),
        updated_at: Some(now()),
        resource_version: 0,
    })
}

/// Metadata of an updated resource: identity and creation kept from `stored`.
fn updated_metadata(stored: Option<pb::Metadata>, requested: Option<pb::Metadata>) -> pb::Metadata {
    let s = stored.unwrap_or_default();
    let r = requested.unwrap_or_default();
    pb::Metadata {
        name: s.name,
        uid: s.uid,
        display_name: r.display_name,
        description: r.description,
        labels: r.labels,
        annotations: r.annotations,
        created_at: s.created_at,
        updated_at: Some(now()),
        resource_version: 0,
    }
}

pub(crate) fn decode<M: Resource>(record: &Record) -> Result<M> {
    let mut m = M::decode(record.body.as_slice())
        .map_err(|e| Status::internal(format!("stored {} is unreadable: {e}", record.kind)))?;
    if let Some(meta) = m.meta() {
        meta.resource_version = record.version;
    }
    Ok(m)
}

fn requested_version<M: Resource>(m: &mut M) -> i64 {
    m.meta().as_ref().map_or(0, |m| m.resource_version)
}

fn requested_name<M: Resource>(m: &mut M) -> String {
    m.meta()
        .as_ref()
        .map(|m| m.name.clone())
        .unwrap_or_default()
}

fn new_record(
    kind: &'static str,
    scope: &str,
    name: &str,
    owner: &str,
    space: &str,
    body: &impl Message,
    version: i64,
) -> Record {
    Record {
        kind,
        scope: scope.into(),
        name: name.into(),
        owner: owner.into(),
        space: space.into(),
        body: body.encode_to_vec(),
        version,
    }
}

fn with_version<M: Resource>(mut m: M, version: i64) -> M {
    if let Some(meta) = m.meta() {
        meta.resource_version = version;
    }
    m
}

fn require_name(kind: &str, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(bad_field("metadata.name", format!("a {kind} needs a name")));
    }
    check_name(name).map_err(|e| {
        bad_field(
            "metadata.name",
            format!("{} ({})", e.message, e.help.unwrap_or_default()),
        )
    })
}

fn secret_bytes(data: Option<pb::SecretData>) -> Option<Vec<u8>> {
    match data?.value? {
        pb::secret_data::Value::Text(t) => Some(t.into_bytes()),
        pb::secret_data::Value::Bytes(b) => Some(b),
    }
}

impl Api {
    /// A service over `store`, sealing secrets with `secrets`, authenticating with `auth`.
    pub fn new(store: Store, secrets: SecretBox, auth: Authenticator) -> Self {
        Self {
            store,
            secrets,
            auth,
            runtime: None,
        }
    }

    /// The same service, reaching workspaces' containers (exec, logs) through `runtime`.
    pub fn with_runtime(mut self, runtime: Arc<dyn Runtime>) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// The runtime, or `FailedPrecondition` when this server runs no workspaces.
    fn runtime(&self) -> Result<&Arc<dyn Runtime>> {
        self.runtime.as_ref().ok_or_else(|| {
            Status::failed_precondition(
                "this server runs no workspaces (start it with `--runtime podman` or `kubernetes`)",
            )
        })
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The authenticated user: `authorization: Bearer <API token or OIDC ID token>`. A
    /// workspace's session credential is refused: it may only use the calls that take
    /// [`Api::any_caller`].
    pub(crate) async fn caller<T>(&self, request: &Request<T>) -> Result<Caller> {
        let caller = self.any_caller(request).await?;
        if caller.session.is_some() {
            return Err(Status::permission_denied(
                "a session credential may only read its own workspace's effective spec \
                 (CompileWorkspace) and report its activity (ReportWorkspaceActivity)",
            ));
        }
        Ok(caller)
    }

    /// The authenticated caller, a user or a workspace's session.
    pub(crate) async fn any_caller<T>(&self, request: &Request<T>) -> Result<Caller> {
        let header = request.metadata().get("authorization").ok_or_else(|| {
            Status::unauthenticated("no `authorization: Bearer <token>` metadata")
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .ok_or_else(|| {
                Status::unauthenticated("the authorization metadata must be `Bearer <token>`")
            })?;
        self.auth.authenticate(token.trim()).await
    }

    /// The Space if the caller owns it or is a member; NotFound otherwise.
    pub(crate) async fn accessible_space(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<(Record, pb::Space)> {
        let Some(record) = self.store.get("Space", "", name).await? else {
            return Err(not_found("Space", name));
        };
        let space: pb::Space = decode(&record)?;
        if can_access(caller, &space) {
            Ok((record, space))
        } else {
            Err(not_found("Space", name))
        }
    }

    async fn owned_space(&self, caller: &Caller, name: &str) -> Result<(Record, pb::Space)> {
        let (record, space) = self.accessible_space(caller, name).await?;
        if record.owner != caller.name {
            return Err(Status::permission_denied(format!(
                "only the owner of Space `{name}` may change or delete it"
            )));
        }
        Ok((record, space))
    }

    pub(crate) async fn visible_workspace(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<(Record, pb::Workspace)> {
        let Some(record) = self.store.get("Workspace", "", name).await? else {
            return Err(not_found("Workspace", name));
        };
        self.accessible_space(caller, &record.space)
            .await
            .map_err(|_| not_found("Workspace", name))?;
        let ws = decode(&record)?;
        Ok((record, ws))
    }

    /// A workspace the caller owns (or administers): what runs inside it sees the owner's
    /// secrets and session credential, so other members of its Space may not exec into it or
    /// read its log.
    async fn own_workspace(&self, caller: &Caller, name: &str) -> Result<Record> {
        let (record, _) = self.visible_workspace(caller, name).await?;
        if record.owner != caller.name && !caller.admin {
            return Err(Status::permission_denied(format!(
                "only the owner of workspace `{name}` may run commands in it or read its log"
            )));
        }
        Ok(record)
    }

    /// Creates `default.<user>` with its default Template when it does not exist.
    async fn ensure_default_space(&self, caller: &Caller) -> Result<String> {
        let name = format!("default.{}", caller.name);
        if self.store.get("Space", "", &name).await?.is_none() {
            let space = pb::Space {
                metadata: Some(pb::Metadata {
                    display_name: "Default Space".into(),
                    ..fresh_metadata(None, &name)?
                }),
                spec: None,
                status: Some(pb::SpaceStatus {
                    owner: caller.name.clone(),
                    r#type: pb::SpaceType::User as i32,
                    members: Vec::new(),
                }),
            };
            match self.create_space_with_template(caller, &name, &space).await {
                Ok(()) | Err(StoreError::AlreadyExists { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(name)
    }

    async fn create_space_with_template(
        &self,
        caller: &Caller,
        name: &str,
        space: &pb::Space,
    ) -> std::result::Result<(), StoreError> {
        let template = pb::Template {
            metadata: fresh_metadata(None, DEFAULT_TEMPLATE).ok(),
            spec: None,
            status: Some(pb::TemplateStatus {
                space: name.into(),
                owner: caller.name.clone(),
                ..Default::default()
            }),
        };
        let space_record = new_record("Space", "", name, &caller.name, "", space, 0);
        let template_record = new_record(
            "Template",
            name,
            DEFAULT_TEMPLATE,
            &caller.name,
            name,
            &template,
            0,
        );
        self.store
            .create_all(&[
                Write {
                    record: &space_record,
                    secret: None,
                    event: false,
                },
                Write {
                    record: &template_record,
                    secret: None,
                    event: false,
                },
            ])
            .await
    }

    pub(crate) async fn cluster_config(&self) -> Result<Option<pb::ClusterConfig>> {
        match self.store.get("ClusterConfig", "", "cluster").await? {
            Some(r) => Ok(Some(decode(&r)?)),
            None => Ok(None),
        }
    }

    async fn quota(&self, field: &str, default: i64) -> Result<i64> {
        let value = self
            .cluster_config()
            .await?
            .and_then(|c| c.spec)
            .map(|s| super::documents::struct_to_json(&s))
            .and_then(|j| {
                j.pointer(&format!("/workspace/limit/{field}"))
                    .and_then(serde_json::Value::as_i64)
            });
        Ok(value
            .filter(|v| *v > 0 && *v < 1_000_000)
            .unwrap_or(default))
    }

    /// Writes `resource` over `record` (only if still at `version`, unless 0), and returns it
    /// with its new version.
    async fn replace<M: Resource>(
        &self,
        record: Record,
        resource: M,
        version: i64,
        secret: Option<&[u8]>,
        event: bool,
    ) -> Result<M> {
        let new = Record {
            body: resource.encode_to_vec(),
            version,
            ..record
        };
        let v = self
            .store
            .update(Write {
                record: &new,
                secret,
                event,
            })
            .await?;
        Ok(with_version(resource, v))
    }

    /// Writes a workspace's new status (any version), with a watch event.
    async fn set_workspace(&self, record: &Record, ws: &pb::Workspace) -> Result<pb::Workspace> {
        let mut ws = ws.clone();
        if let Some(meta) = ws.meta() {
            meta.updated_at = Some(now());
            meta.resource_version = 0;
        }
        self.replace(record.clone(), ws, record.version, None, true)
            .await
    }

    pub(crate) async fn resolve_template(
        &self,
        caller: &Caller,
        space: &str,
        template: &str,
    ) -> Result<(Record, pb::Template)> {
        self.accessible_space(caller, space).await?;
        let Some(record) = self.store.get("Template", space, template).await? else {
            return Err(not_found("Template", template));
        };
        Ok((record.clone(), decode(&record)?))
    }
}

pub(crate) fn can_access(caller: &Caller, space: &pb::Space) -> bool {
    space
        .status
        .as_ref()
        .is_some_and(|s| s.owner == caller.name || s.members.contains(&caller.name))
}

/// A state move the transition table refuses: a bug of the caller, never of the request.
fn illegal_move(e: cordium_provisioner::Error) -> Status {
    Status::internal(e.to_string())
}

type LogStream = Pin<Box<dyn Stream<Item = Result<pb::WorkspaceLogChunk>> + Send>>;

/// A runtime error as a status (never carries a secret: runtimes do not put values in errors).
fn runtime_status(e: RuntimeError) -> Status {
    match e {
        RuntimeError::NotRunning { .. } => Status::failed_precondition(e.to_string()),
        other => Status::unavailable(other.to_string()),
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WorkspaceEvent>> + Send>>;

#[tonic::async_trait]
impl MainService for Api {
    async fn create_space(&self, request: Request<pb::Space>) -> Result<Response<pb::Space>> {
        let caller = self.caller(&request).await?;
        let mut space = request.into_inner();
        let name = requested_name(&mut space);
        let kind = match name.split_once('.') {
            Some((_, "cordium")) => pb::SpaceType::Organization,
            Some((_, owner)) if owner == caller.name => pb::SpaceType::User,
            _ => {
                return Err(bad_field(
                    "metadata.name",
                    format!(
                        "a Space is named `<name>.{}` (yours) or `<name>.cordium` (an organization's)",
                        caller.name
                    ),
                ));
            }
        };
        if kind == pb::SpaceType::Organization && !caller.admin {
            return Err(Status::permission_denied(
                "only administrators create organization Spaces (`<name>.cordium`)",
            ));
        }
        validate(Kind::Space, &name, space.spec.as_ref())?;
        let out = pb::Space {
            metadata: Some(fresh_metadata(space.metadata.take(), &name)?),
            spec: space.spec,
            status: Some(pb::SpaceStatus {
                owner: caller.name.clone(),
                r#type: kind as i32,
                members: Vec::new(),
            }),
        };
        self.create_space_with_template(&caller, &name, &out)
            .await?;
        tracing::info!(user = %caller.name, space = %name, "space created");
        Ok(Response::new(with_version(out, 1)))
    }

    async fn get_space(&self, request: Request<pb::Ref>) -> Result<Response<pb::Space>> {
        let caller = self.caller(&request).await?;
        let (_, space) = self
            .accessible_space(&caller, &request.get_ref().name)
            .await?;
        Ok(Response::new(space))
    }

    async fn list_space(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::SpaceList>> {
        let caller = self.caller(&request).await?;
        let mut items = Vec::new();
        for r in self.store.list("Space", Some("")).await? {
            let space: pb::Space = decode(&r)?;
            if can_access(&caller, &space) {
                items.push(space);
            }
        }
        Ok(Response::new(pb::SpaceList { items }))
    }

    async fn update_space(&self, request: Request<pb::Space>) -> Result<Response<pb::Space>> {
        let caller = self.caller(&request).await?;
        let mut req = request.into_inner();
        let name = requested_name(&mut req);
        let (record, stored) = self.owned_space(&caller, &name).await?;
        validate(Kind::Space, &name, req.spec.as_ref())?;
        let version = requested_version(&mut req);
        let out = pb::Space {
            metadata: Some(updated_metadata(stored.metadata, req.metadata)),
            spec: req.spec,
            status: stored.status,
        };
        Ok(Response::new(
            self.replace(record, out, version, None, false).await?,
        ))
    }

    async fn delete_space(
        &self,
        request: Request<pb::Ref>,
    ) -> Result<Response<pb::DeleteResponse>> {
        let caller = self.caller(&request).await?;
        let name = request.get_ref().name.clone();
        self.owned_space(&caller, &name).await?;
        self.store.delete_space(&name).await?;
        tracing::info!(user = %caller.name, space = %name, "space deleted with everything in it");
        Ok(Response::new(pb::DeleteResponse {}))
    }

    async fn create_template(
        &self,
        request: Request<pb::Template>,
    ) -> Result<Response<pb::Template>> {
        let caller = self.caller(&request).await?;
        let mut req = request.into_inner();
        let name = requested_name(&mut req);
        let space = req
            .status
            .as_ref()
            .map(|s| s.space.clone())
            .unwrap_or_default();
        if space.is_empty() {
            return Err(bad_field(
                "status.space",
                "name the Space the Template belongs to",
            ));
        }
        self.accessible_space(&caller, &space).await?;
        validate(Kind::Template, &name, req.spec.as_ref())?;
        require_name("Template", &name)?;
        self.check_git_provider(&space, req.spec.as_ref()).await?;
        let out = pb::Template {
            metadata: Some(fresh_metadata(req.metadata.take(), &name)?),
            spec: req.spec,
            status: Some(pb::TemplateStatus {
                space: space.clone(),
                owner: caller.name.clone(),
                ..Default::default()
            }),
        };
        self.store
            .create(Write {
                record: &new_record("Template", &space, &name, &caller.name, &space, &out, 0),
                secret: None,
                event: false,
            })
            .await?;
        Ok(Response::new(with_version(out, 1)))
    }

    async fn get_template(&self, request: Request<pb::Ref>) -> Result<Response<pb::Template>> {
        let caller = self.caller(&request).await?;
        let r = request.get_ref();
        let (_, t) = self.resolve_template(&caller, &r.space, &r.name).await?;
        Ok(Response::new(t))
    }

    async fn list_template(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::TemplateList>> {
        let caller = self.caller(&request).await?;
        let items = self
            .list_scoped::<pb::Template>(&caller, "Template", &request.get_ref().space)
            .await?;
        Ok(Response::new(pb::TemplateList { items }))
    }

    async fn update_template(
        &self,
        request: Request<pb::Template>,
    ) -> Result<Response<pb::Template>> {
        let caller = self.caller(&request).await?;
        let mut req = request.into_inner();
        let name = requested_name(&mut req);
        let space = req
            .status
            .as_ref()
            .map(|s| s.space.clone())
            .unwrap_or_default();
        let (record, stored) = self.resolve_template(&caller, &space, &name).await?;
        validate(Kind::Template, &name, req.spec.as_ref())?;
        self.check_git_provider(&space, req.spec.as_ref()).await?;
        let version = requested_version(&mut req);
        let out = pb::Template {
            metadata: Some(updated_metadata(stored.metadata, req.metadata)),
            spec: req.spec,
            status: stored.status,
        };
        Ok(Response::new(
            self.replace(record, out, version, None, false).await?,
        ))
    }

    async fn delete_template(
        &self,
        request: Request<pb::Ref>,
    ) -> Result<Response<pb::DeleteResponse>> {
        let caller = self.caller(&request).await?;
        let r = request.into_inner();
        self.resolve_template(&caller, &r.space, &r.name).await?;
        if r.name == DEFAULT_TEMPLATE {
            return Err(Status::failed_precondition(
                "the default Template of a Space cannot be deleted",
            ));
        }
        self.store
            .delete("Template", &r.space, &r.name, false)
            .await?;
        Ok(Response::new(pb::DeleteResponse {}))
    }

    async fn build_template(
        &self,
        request: Request<pb::BuildTemplateRequest>,
    ) -> Result<Response<pb::Template>> {
        let caller = self.caller(&request).await?;
        let req = request.into_inner();
        let (space, name) = split_template_ref(&req.name)?;
        let (record, mut template) = self.resolve_template(&caller, &space, &name).await?;
        if req.tags.len() > 10
            || req
                .tags
                .iter()
                .any(|t| !(2..=16).contains(&t.len()) || !t.is_ascii())
        {
            return Err(bad_field(
                "tags",
                "at most 10, each 2 to 16 ASCII characters",
            ));
        }
        self.cancel_running_build(&template).await?;
        let build_id = random_name(6)?;
        let ws_name = format!("build-{build_id}");
        let mut ws = pb::Workspace {
            metadata: Some(fresh_metadata(None, &ws_name)?),
            spec: None,
            status: Some(pb::WorkspaceStatus {
                state: to_pb(State::Stopped) as i32,
                owner: caller.name.clone(),
                space: space.clone(),
                template: name.clone(),
                is_build: true,
                state_changed_at: Some(now()),
                ..Default::default()
            }),
        };
        // A build is created started.
        if let Some(status) = ws.status.as_mut() {
            transition(&ws_name, status, State::InitRequest, None).map_err(illegal_move)?;
        }
        if let Some(status) = template.status.as_mut() {
            status.current_running_build_id = build_id;
        }
        // The Template first, at the version read: a build finishing meanwhile (which moves
        // `currentReadyBuildId`) makes this call fail with Aborted instead of being undone.
        let version = record.version;
        let template = self.replace(record, template, version, None, false).await?;
        let ws_record = new_record("Workspace", "", &ws_name, &caller.name, &space, &ws, 0);
        self.store
            .create(Write {
                record: &ws_record,
                secret: None,
                event: true,
            })
            .await?;
        Ok(Response::new(template))
    }

    async fn cancel_build_template(
        &self,
        request: Request<pb::Ref>,
    ) -> Result<Response<pb::Template>> {
        let caller = self.caller(&request).await?;
        let r = request.into_inner();
        let (record, mut template) = self.resolve_template(&caller, &r.space, &r.name).await?;
        self.cancel_running_build(&template).await?;
        if let Some(status) = template.status.as_mut() {
            status.current_running_build_id.clear();
        }
        let version = record.version;
        Ok(Response::new(
            self.replace(record, template, version, None, false).await?,
        ))
    }

    async fn create_workspace(
        &self,
        request: Request<pb::Workspace>,
    ) -> Result<Response<pb::Workspace>> {
        let caller = self.caller(&request).await?;
        let mut req = request.into_inner();
        validate(Kind::Workspace, "", req.spec.as_ref())?;
        let (mut space, template) = req
            .status
            .as_ref()
            .map(|s| (s.space.clone(), s.template.clone()))
            .unwrap_or_default();
        if space.is_empty() {
            space = self.ensure_default_space(&caller).await?;
        }
        let template = if template.is_empty() {
            DEFAULT_TEMPLATE.to_owned()
        } else {
            template
        };
        self.resolve_template(&caller, &space, &template).await?;
        let max = self.quota("maxPerUser", 1000).await?;
        if self.store.count_owned("Workspace", &caller.name).await? >= max {
            return Err(Status::resource_exhausted(format!(
                "you have {max} workspaces, the most allowed"
            )));
        }
        let requested = req.metadata.take();
        for attempt in 0..10_000 {
            let name = random_name(length_for_attempt(attempt))?;
            let ws = pb::Workspace {
                metadata: Some(fresh_metadata(requested.clone(), &name)?),
                spec: req.spec.clone(),
                status: Some(pb::WorkspaceStatus {
                    state: to_pb(State::Stopped) as i32,
                    owner: caller.name.clone(),
                    space: space.clone(),
                    template: template.clone(),
                    state_changed_at: Some(now()),
                    ..Default::default()
                }),
            };
            match self
                .store
                .create(Write {
                    record: &new_record("Workspace", "", &name, &caller.name, &space, &ws, 0),
                    secret: None,
                    event: true,
                })
                .await
            {
                Ok(()) => {
                    tracing::info!(user = %caller.name, workspace = %name, "workspace created");
                    return Ok(Response::new(with_version(ws, 1)));
                }
                Err(StoreError::AlreadyExists { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Status::resource_exhausted(
            "no free workspace name was found; try again",
        ))
    }

    async fn get_workspace(&self, request: Request<pb::Ref>) -> Result<Response<pb::Workspace>> {
        let caller = self.caller(&request).await?;
        let (_, ws) = self
            .visible_workspace(&caller, &request.get_ref().name)
            .await?;
        Ok(Response::new(ws))
    }

    async fn list_workspace(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::WorkspaceList>> {
        let caller = self.caller(&request).await?;
        let filter = request.into_inner();
        let mut access: HashMap<String, bool> = HashMap::new();
        let mut items = Vec::new();
        for r in self.store.list("Workspace", Some("")).await? {
            if !filter.space.is_empty() && r.space != filter.space {
                continue;
            }
            let allowed = match access.get(&r.space) {
                Some(a) => *a,
                None => {
                    let a = self.accessible_space(&caller, &r.space).await.is_ok();
                    access.insert(r.space.clone(), a);
                    a
                }
            };
            if !allowed {
                continue;
            }
            let ws: pb::Workspace = decode(&r)?;
            let status = ws.status.clone().unwrap_or_default();
            if status.is_build
                || (!filter.template.is_empty() && status.template != filter.template)
            {
                continue;
            }
            items.push(ws);
        }
        Ok(Response::new(pb::WorkspaceList { items }))
    }

    async fn update_workspace(
        &self,
        request: Request<pb::Workspace>,
    ) -> Result<Response<pb::Workspace>> {
        let caller = self.caller(&request).await?;
        let mut req = request.into_inner();
        let name = requested_name(&mut req);
        let (record, stored) = self.visible_workspace(&caller, &name).await?;
        validate(Kind::Workspace, "", req.spec.as_ref())?;
        let version = requested_version(&mut req);
        let out = pb::Workspace {
            metadata: Some(updated_metadata(stored.metadata, req.metadata)),
            spec: req.spec,
            status: stored.status,
        };
        Ok(Response::new(
            self.replace(record, out, version, None, true).await?,
        ))
    }

    async fn delete_workspace(
        &self,
        request: Request<pb::Ref>,
    ) -> Result<Response<pb::DeleteResponse>> {
        let caller = self.caller(&request).await?;
        let name = request.get_ref().name.clone();
        self.visible_workspace(&caller, &name).await?;
        self.store.delete("Workspace", "", &name, true).await?;
        Ok(Response::new(pb::DeleteResponse {}))
    }

    async fn start_workspace(
        &self,
        request: Request<pb::StartWorkspaceRequest>,
    ) -> Result<Response<pb::Workspace>> {
        let caller = self.caller(&request).await?;
        let req = request.into_inner();
        let (record, mut ws) = self.visible_workspace(&caller, &req.name).await?;
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
        let max_active = self.quota("maxActivePerUser", 128).await?;
        let mut active = 0;
        for r in self.store.list("Workspace", Some("")).await? {
            if r.owner == caller.name
                && state_of(&decode::<pb::Workspace>(&r)?) != Some(State::Stopped)
            {
                active += 1;
            }
        }
        if active >= max_active {
            return Err(Status::resource_exhausted(format!(
                "you have {max_active} active workspaces, the most allowed"
            )));
        }
        if let Some(status) = ws.status.as_mut() {
            transition(&req.name, status, State::InitRequest, None).map_err(illegal_move)?;
            status.failure = None;
            status.run_vars = req.vars;
        }
        let ws = self
            .set_workspace(
                &Record {
                    version: 0,
                    ..record
                },
                &ws,
            )
            .await?;
        Ok(Response::new(ws))
    }

    async fn stop_workspace(
        &self,
        request: Request<pb::StopWorkspaceRequest>,
    ) -> Result<Response<pb::Workspace>> {
        let caller = self.caller(&request).await?;
        let name = request.get_ref().name.clone();
        let (record, mut ws) = self.visible_workspace(&caller, &name).await?;
        match state_of(&ws) {
            Some(State::Stopped) => {
                return Err(Status::failed_precondition(format!(
                    "workspace `{name}` is already stopped"
                )));
            }
            Some(State::StoppingRequest | State::Stopping) => {
                return Ok(Response::new(ws));
            }
            _ => {}
        }
        if let Some(status) = ws.status.as_mut() {
            transition(&name, status, State::StoppingRequest, None).map_err(illegal_move)?;
        }
        let ws = self
            .set_workspace(
                &Record {
                    version: 0,
                    ..record
                },
                &ws,
            )
            .await?;
        Ok(Response::new(ws))
    }

    type WatchWorkspaceStream = WatchStream;

    async fn watch_workspace(
        &self,
        request: Request<pb::WatchWorkspaceRequest>,
    ) -> Result<Response<Self::WatchWorkspaceStream>> {
        let caller = self.caller(&request).await?;
        let only = request.into_inner().name;
        if !only.is_empty() {
            self.visible_workspace(&caller, &only).await?;
        }
        let mut events = self.store.subscribe();
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let api = self.clone();
        tokio::spawn(async move {
            let mut access: HashMap<String, bool> = HashMap::new();
            loop {
                let event = match events.recv().await {
                    Ok(e) => e,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        let _ = tx
                            .send(Err(Status::data_loss(format!(
                                "{n} events were missed; watch again"
                            ))))
                            .await;
                        return;
                    }
                    Err(_) => return,
                };
                if !only.is_empty() && event.name != only {
                    continue;
                }
                // The owner always hears of their workspaces: when a Space is deleted with its
                // workspaces, the Space is gone by the time its delete events are checked here.
                let allowed = event.owner == caller.name
                    || match access.get(&event.space) {
                        Some(a) => *a,
                        None => {
                            let a = api.accessible_space(&caller, &event.space).await.is_ok();
                            access.insert(event.space.clone(), a);
                            a
                        }
                    };
                if !allowed {
                    continue;
                }
                if tx.send(to_event(&event)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn compile_workspace(
        &self,
        request: Request<pb::CompileWorkspaceRequest>,
    ) -> Result<Response<pb::CompileWorkspaceResponse>> {
        let caller = self.any_caller(&request).await?;
        let req = request.into_inner();
        if let Some(own) = &caller.session {
            let named = match &req.target {
                Some(pb::compile_workspace_request::Target::Name(name)) => name == own,
                _ => false,
            };
            if !named {
                return Err(Status::permission_denied(format!(
                    "a session credential may only compile its own workspace `{own}`"
                )));
            }
        }
        super::compile::compile(self, &caller, req)
            .await
            .map(Response::new)
    }

    async fn exec_workspace(
        &self,
        request: Request<pb::ExecWorkspaceRequest>,
    ) -> Result<Response<pb::ExecWorkspaceResponse>> {
        let caller = self.caller(&request).await?;
        let req = request.into_inner();
        let record = self.own_workspace(&caller, &req.name).await?;
        if req.command.is_empty() {
            return Err(bad_field("command", "name the program to run"));
        }
        let mut env = Vec::new();
        for (i, pair) in req.env.iter().enumerate() {
            let Some((key, value)) = pair.split_once('=') else {
                return Err(bad_field(&format!("env[{i}]"), "write `KEY=VALUE`"));
            };
            // Passed like a secret (through podman's environment), so the value is on no
            // command line of the host.
            env.push((
                key.to_owned(),
                ResolvedValue::Secret(SecretValue::new(value)),
            ));
        }
        let script = format!(
            "exec {}",
            req.command
                .iter()
                .map(|a| shell_quote(a))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let exec = ExecSpec {
            env,
            working_dir: Some(req.working_dir).filter(|d| !d.is_empty()),
            ..ExecSpec::captured(script)
        };
        let key = WorkspaceKey::new(&record.space, &record.name);
        let out = self
            .runtime()?
            .exec(&key, &exec)
            .await
            .map_err(runtime_status)?;
        Ok(Response::new(pb::ExecWorkspaceResponse {
            exit_code: out.exit_code,
            stdout: out.stdout,
            stderr: out.stderr,
        }))
    }

    type WorkspaceLogsStream = LogStream;

    async fn workspace_logs(
        &self,
        request: Request<pb::WorkspaceLogsRequest>,
    ) -> Result<Response<Self::WorkspaceLogsStream>> {
        let caller = self.caller(&request).await?;
        let req = request.into_inner();
        let record = self.own_workspace(&caller, &req.name).await?;
        let key = WorkspaceKey::new(&record.space, &record.name);
        let stream = self
            .runtime()?
            .logs(&key, req.follow)
            .await
            .map_err(runtime_status)?;
        Ok(Response::new(Box::pin(tokio_stream::StreamExt::map(
            stream,
            |chunk| {
                chunk
                    .map(|data| pb::WorkspaceLogChunk { data })
                    .map_err(runtime_status)
            },
        ))))
    }

    async fn report_workspace_activity(
        &self,
        request: Request<pb::ReportActivityRequest>,
    ) -> Result<Response<pb::Empty>> {
        let caller = self.any_caller(&request).await?;
        let name = request.into_inner().name;
        if caller.session.as_deref().is_some_and(|own| own != name) {
            return Err(Status::permission_denied(
                "a session credential may only report its own workspace's activity",
            ));
        }
        let (record, mut ws) = self.visible_workspace(&caller, &name).await?;
        if let Some(status) = ws.status.as_mut() {
            status.last_activity_at = Some(now());
        }
        self.set_workspace(&record, &ws).await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn create_secret(&self, request: Request<pb::Secret>) -> Result<Response<pb::Secret>> {
        let caller = self.caller(&request).await?;
        let mut req = request.into_inner();
        let name = requested_name(&mut req);
        let space = req
            .status
            .as_ref()
            .map(|s| s.space.clone())
            .unwrap_or_default();
        self.accessible_space(&caller, &space).await?;
        require_name("Secret", &name)?;
        let value = secret_bytes(req.data.take())
            .ok_or_else(|| bad_field("data", "a Secret needs a value"))?;
        let sealed = self
            .secrets
            .seal(&value, &format!("Secret/{space}/{name}"))?;
        let out = pb::Secret {
            metadata: Some(fresh_metadata(req.metadata.take(), &name)?),
            data: None,
            status: Some(pb::SecretStatus {
                space: space.clone(),
                owner: caller.name.clone(),
            }),
        };
        self.store
            .create(Write {
                record: &new_record("Secret", &space, &name, &caller.name, &space, &out, 0),
                secret: Some(&sealed),
                event: false,
            })
            .await?;
        tracing::info!(user = %caller.name, space = %space, secret = %name, "secret created");
        Ok(Response::new(with_version(out, 1)))
    }

    async fn get_secret(&self, request: Request<pb::Ref>) -> Result<Response<pb::Secret>> {
        let caller = self.caller(&request).await?;
        let r = request.into_inner();
        self.accessible_space(&caller, &r.space).await?;
        let record = self
            .store
            .get("Secret", &r.space, &r.name)
            .await?
            .ok_or_else(|| not_found("Secret", &r.name))?;
        Ok(Response::new(decode(&record)?))
    }

    async fn list_secret(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::SecretList>> {
        let caller = self.caller(&request).await?;
        let items = self
            .list_scoped::<pb::Secret>(&caller, "Secret", &request.get_ref().space)
            .await?;
        Ok(Response::new(pb::SecretList { items }))
    }

    async fn update_secret(&self, request: Request<pb::Secret>) -> Result<Response<pb::Secret>> {
        let caller = self.caller(&request).await?;
        let mut req = request.into_inner();
        let name = requested_name(&mut req);
        let space = req
            .status
            .as_ref()
            .map(|s| s.space.clone())
            .unwrap_or_default();
        self.accessible_space(&caller, &space).await?;
        let record = self
            .store
            .get("Secret", &space, &name)
            .await?
            .ok_or_else(|| not_found("Secret", &name))?;
        let stored: pb::Secret = decode(&record)?;
        let sealed = match secret_bytes(req.data.take()) {
            Some(v) => Some(self.secrets.seal(&v, &format!("Secret/{space}/{name}"))?),
            None => None,
        };
        let version = requested_version(&mut req);
        let out = pb::Secret {
            metadata: Some(updated_metadata(stored.metadata, req.metadata)),
            data: None,
            status: stored.status,
        };
        Ok(Response::new(
            self.replace(record, out, version, sealed.as_deref(), false)
                .await?,
        ))
    }

    async fn delete_secret(
        &self,
        request: Request<pb::Ref>,
    ) -> Result<Response<pb::DeleteResponse>> {
        let caller = self.caller(&request).await?;
        let r = request.into_inner();
        self.accessible_space(&caller, &r.space).await?;
        self.store
            .delete("Secret", &r.space, &r.name, false)
            .await?;
        Ok(Response::new(pb::DeleteResponse {}))
    }

    async fn create_user_secret(
        &self,
        request: Request<pb::UserSecret>,
    ) -> Result<Response<pb::UserSecret>> {
        let caller = self.caller(&request).await?;
        let mut req = request.into_inner();
        let name = requested_name(&mut req);
        require_name("UserSecret", &name)?;
        let identity = format!("UserSecret/{}/{name}", caller.name);
        let (sealed, public) = match req.r#type() {
            pb::UserSecretType::SshKey => {
                if req.data.is_some() {
                    return Err(bad_field(
                        "data",
                        "an SSH_KEY UserSecret is generated by the server and takes no data",
                    ));
                }
                let (private, public) = new_ssh_key(&format!("{}@cordium", caller.name))?;
                (self.secrets.seal(&private, &identity)?, public)
            }
            pb::UserSecretType::Default => {
                let value = secret_bytes(req.data.take())
                    .ok_or_else(|| bad_field("data", "a DEFAULT UserSecret needs a value"))?;
                (self.secrets.seal(&value, &identity)?, String::new())
            }
        };
        let out = pb::UserSecret {
            metadata: Some(fresh_metadata(req.metadata.take(), &name)?),
            r#type: req.r#type,
            data: None,
            status: Some(pb::UserSecretStatus {
                owner: caller.name.clone(),
                ssh_public_key: public,
            }),
        };
        self.store
            .create(Write {
                record: &new_record("UserSecret", &caller.name, &name, &caller.name, "", &out, 0),
                secret: Some(&sealed),
                event: false,
            })
            .await?;
        Ok(Response::new(with_version(out, 1)))
    }

    async fn get_user_secret(&self, request: Request<pb::Ref>) -> Result<Response<pb::UserSecret>> {
        let caller = self.caller(&request).await?;
        let record = self
            .store
            .get("UserSecret", &caller.name, &request.get_ref().name)
            .await?
            .ok_or_else(|| not_found("UserSecret", &request.get_ref().name))?;
        Ok(Response::new(decode(&record)?))
    }

    async fn list_user_secret(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::UserSecretList>> {
        let caller = self.caller(&request).await?;
        let items = self
            .store
            .list("UserSecret", Some(&caller.name))
            .await?
            .iter()
            .map(decode)
            .collect::<Result<_>>()?;
        Ok(Response::new(pb::UserSecretList { items }))
    }

    async fn update_user_secret(
        &self,
        request: Request<pb::UserSecret>,
    ) -> Result<Response<pb::UserSecret>> {
        let caller = self.caller(&request).await?;
        let mut req = request.into_inner();
        let name = requested_name(&mut req);
        let record = self
            .store
            .get("UserSecret", &caller.name, &name)
            .await?
            .ok_or_else(|| not_found("UserSecret", &name))?;
        let stored: pb::UserSecret = decode(&record)?;
        let sealed = match secret_bytes(req.data.take()) {
            Some(_) if stored.r#type() == pb::UserSecretType::SshKey => {
                return Err(bad_field("data", "an SSH_KEY UserSecret takes no data"));
            }
            Some(v) => Some(
                self.secrets
                    .seal(&v, &format!("UserSecret/{}/{name}", caller.name))?,
            ),
            None => None,
        };
        let version = requested_version(&mut req);
        let out = pb::UserSecret {
            metadata: Some(updated_metadata(stored.metadata, req.metadata)),
            r#type: stored.r#type,
            data: None,
            status: stored.status,
        };
        Ok(Response::new(
            self.replace(record, out, version, sealed.as_deref(), false)
                .await?,
        ))
    }

    async fn delete_user_secret(
        &self,
        request: Request<pb::Ref>,
    ) -> Result<Response<pb::DeleteResponse>> {
        let caller = self.caller(&request).await?;
        self.store
            .delete("UserSecret", &caller.name, &request.get_ref().name, false)
            .await?;
        Ok(Response::new(pb::DeleteResponse {}))
    }

    async fn create_git_provider(
        &self,
        request: Request<pb::GitProvider>,
    ) -> Result<Response<pb::GitProvider>> {
        let caller = self.caller(&request).await?;
        let mut req = request.into_inner();
        let name = requested_name(&mut req);
        let space = req
            .status
            .as_ref()
            .map(|s| s.space.clone())
            .unwrap_or_default();
        self.accessible_space(&caller, &space).await?;
        require_name("GitProvider", &name)?;
        validate(Kind::GitProvider, &name, req.spec.as_ref())?;
        let out = pb::GitProvider {
            metadata: Some(fresh_metadata(req.metadata.take(), &name)?),
            spec: req.spec,
            status: Some(pb::SecretStatus {
                space: space.clone(),
                owner: caller.name.clone(),
            }),
        };
        self.store
            .create(Write {
                record: &new_record("GitProvider", &space, &name, &caller.name, &space, &out, 0),
                secret: None,
                event: false,
            })
            .await?;
        Ok(Response::new(with_version(out, 1)))
    }

    async fn get_git_provider(
        &self,
        request: Request<pb::Ref>,
    ) -> Result<Response<pb::GitProvider>> {
        let caller = self.caller(&request).await?;
        let r = request.into_inner();
        self.accessible_space(&caller, &r.space).await?;
        let record = self
            .store
            .get("GitProvider", &r.space, &r.name)
            .await?
            .ok_or_else(|| not_found("GitProvider", &r.name))?;
        Ok(Response::new(decode(&record)?))
    }

    async fn list_git_provider(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::GitProviderList>> {
        let caller = self.caller(&request).await?;
        let items = self
            .list_scoped::<pb::GitProvider>(&caller, "GitProvider", &request.get_ref().space)
            .await?;
        Ok(Response::new(pb::GitProviderList { items }))
    }

    async fn update_git_provider(
        &self,
        request: Request<pb::GitProvider>,
    ) -> Result<Response<pb::GitProvider>> {
        let caller = self.caller(&request).await?;
        let mut req = request.into_inner();
        let name = requested_name(&mut req);
        let space = req
            .status
            .as_ref()
            .map(|s| s.space.clone())
            .unwrap_or_default();
        self.accessible_space(&caller, &space).await?;
        let record = self
            .store
            .get("GitProvider", &space, &name)
            .await?
            .ok_or_else(|| not_found("GitProvider", &name))?;
        let stored: pb::GitProvider = decode(&record)?;
        validate(Kind::GitProvider, &name, req.spec.as_ref())?;
        let version = requested_version(&mut req);
        let out = pb::GitProvider {
            metadata: Some(updated_metadata(stored.metadata, req.metadata)),
            spec: req.spec,
            status: stored.status,
        };
        Ok(Response::new(
            self.replace(record, out, version, None, false).await?,
        ))
    }

    async fn delete_git_provider(
        &self,
        request: Request<pb::Ref>,
    ) -> Result<Response<pb::DeleteResponse>> {
        let caller = self.caller(&request).await?;
        let r = request.into_inner();
        self.accessible_space(&caller, &r.space).await?;
        self.store
            .delete("GitProvider", &r.space, &r.name, false)
            .await?;
        Ok(Response::new(pb::DeleteResponse {}))
    }

    async fn get_user_config(
        &self,
        request: Request<pb::Empty>,
    ) -> Result<Response<pb::UserConfig>> {
        let caller = self.caller(&request).await?;
        Ok(Response::new(self.user_config(&caller).await?))
    }

    async fn update_user_config(
        &self,
        request: Request<pb::UserConfig>,
    ) -> Result<Response<pb::UserConfig>> {
        let caller = self.caller(&request).await?;
        let mut req = request.into_inner();
        validate(Kind::UserConfig, &caller.name, req.spec.as_ref())?;
        let stored = self.user_config(&caller).await?;
        let version = requested_version(&mut req);
        let out = pb::UserConfig {
            metadata: Some(updated_metadata(stored.metadata, req.metadata)),
            spec: req.spec,
        };
        let new = new_record(
            "UserConfig",
            &caller.name,
            &caller.name,
            &caller.name,
            "",
            &out,
            version,
        );
        let v = self
            .store
            .update(Write {
                record: &new,
                secret: None,
                event: false,
            })
            .await?;
        Ok(Response::new(with_version(out, v)))
    }
}

fn split_template_ref(reference: &str) -> Result<(String, String)> {
    match reference.split_once('/') {
        Some((space, name)) if !space.is_empty() && !name.is_empty() => {
            Ok((space.into(), name.into()))
        }
        _ => Err(bad_field(
            "name",
            "write the Template as `<space>/<template>`",
        )),
    }
}

fn to_event(event: &Event) -> Result<pb::WorkspaceEvent> {
    let ws = |body: &Option<Vec<u8>>| -> Result<pb::Workspace> {
        body.as_deref().map_or(Ok(pb::Workspace::default()), |b| {
            pb::Workspace::decode(b)
                .map_err(|e| Status::internal(format!("event {}: {e}", event.id)))
        })
    };
    use pb::workspace_event::Event as E;
    let inner = match event.kind {
        EventKind::Created => E::Created(ws(&event.new)?),
        EventKind::Updated => E::Updated(pb::WorkspaceUpdate {
            old: Some(ws(&event.old)?),
            new: Some(ws(&event.new)?),
        }),
        EventKind::Deleted => E::Deleted(ws(&event.old)?),
    };
    Ok(pb::WorkspaceEvent { event: Some(inner) })
}

impl Api {
    /// Resources of a Space-scoped kind: in `space` (checked), or in every Space the caller
    /// can see.
    async fn list_scoped<M: Resource>(
        &self,
        caller: &Caller,
        kind: &'static str,
        space: &str,
    ) -> Result<Vec<M>> {
        let spaces: Vec<String> = if space.is_empty() {
            let mut names = Vec::new();
            for r in self.store.list("Space", Some("")).await? {
                if can_access(caller, &decode::<pb::Space>(&r)?) {
                    names.push(r.name);
                }
            }
            names
        } else {
            self.accessible_space(caller, space).await?;
            vec![space.to_owned()]
        };
        let mut items = Vec::new();
        for s in spaces {
            for r in self.store.list(kind, Some(&s)).await? {
                items.push(decode(&r)?);
            }
        }
        Ok(items)
    }

    pub(crate) async fn user_config(&self, caller: &Caller) -> Result<pb::UserConfig> {
        if let Some(r) = self
            .store
            .get("UserConfig", &caller.name, &caller.name)
            .await?
        {
            return decode(&r);
        }
        let config = pb::UserConfig {
            metadata: Some(fresh_metadata(None, &caller.name)?),
            spec: None,
        };
        match self
            .store
            .create(Write {
                record: &new_record(
                    "UserConfig",
                    &caller.name,
                    &caller.name,
                    &caller.name,
                    "",
                    &config,
                    0,
                ),
                secret: None,
                event: false,
            })
            .await
        {
            Ok(()) => Ok(with_version(config, 1)),
            Err(StoreError::AlreadyExists { .. }) => {
                let r = self
                    .store
                    .get("UserConfig", &caller.name, &caller.name)
                    .await?
                    .ok_or_else(|| Status::internal("user config vanished"))?;
                decode(&r)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn check_git_provider(
        &self,
        space: &str,
        spec: Option<&prost_types::Struct>,
    ) -> Result<()> {
        let name = spec.map(super::documents::struct_to_json).and_then(|j| {
            j.get("gitProvider")
                .and_then(|g| g.as_str().map(str::to_owned))
        });
        if let Some(name) = name.filter(|n| !n.is_empty())
            && self.store.get("GitProvider", space, &name).await?.is_none()
        {
            return Err(bad_field(
                "spec.gitProvider",
                format!("GitProvider `{name}` does not exist in Space `{space}`"),
            ));
        }
        Ok(())
    }

    async fn cancel_running_build(&self, template: &pb::Template) -> Result<()> {
        let running = template
            .status
            .as_ref()
            .map(|s| s.current_running_build_id.clone())
            .unwrap_or_default();
        if running.is_empty() {
            return Ok(());
        }
        if let Some(r) = self
            .store
            .get("Workspace", "", &format!("build-{running}"))
            .await?
        {
            let mut ws: pb::Workspace = decode(&r)?;
            // A build already stopping finishes its stop (and leaves no snapshot, since it is
            // no longer the running build).
            if !matches!(
                state_of(&ws),
                Some(State::Stopped | State::StoppingRequest | State::Stopping)
            ) {
                if let Some(status) = ws.status.as_mut() {
                    transition(&r.name, status, State::StoppingRequest, None)
                        .map_err(illegal_move)?;
                }
                self.set_workspace(&Record { version: 0, ..r }, &ws).await?;
            }
        }
        Ok(())
    }
}
