//! The MainService's state and what every handler shares: who is calling, which Spaces,
//! Templates and Workspaces they may reach, the cluster's quotas.

use super::resource::{Place, Result, new_record, now, rewritten};
use super::{Caller, not_found};
use crate::auth::Authenticator;
use crate::crypto::SecretBox;
use crate::pb;
use crate::store::{Counted, Precondition, Quota, Record, Store, Write};
use cordium_provisioner::runtime::Runtime;
use cordium_spec::Kind;
use std::sync::Arc;
use tonic::{Request, Status};

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
    /// Open watch streams per user (a cap per user).
    pub(crate) watches: super::watch::WatchCounts,
    /// CompileWorkspace answers, while no write could have changed a layer
    /// ([`super::compile`]).
    pub(crate) compiled: Arc<super::compile::CompiledMemo>,
    /// Loaded layer documents, by content ([`super::layers`]).
    pub(crate) layers: Arc<super::layers::Layers>,
    /// Stored messages decoded once per content ([`super::decoded`]).
    pub(crate) decoded: Arc<super::decoded::Decoded>,
    /// Specs that passed validation, by content ([`super::validated`]).
    pub(crate) validated: Arc<super::validated::Validated>,
    /// Where SSH is served (`None`: it is not), for GetSshEndpoint.
    pub(crate) ssh_endpoint: Option<pb::SshEndpoint>,
    /// The runs' SSH agents (`None`: runs get none).
    pub(crate) agents: Option<crate::agent::Agents>,
    /// Open exec sessions per user.
    pub(crate) sessions: super::watch::WatchCounts,
    /// Open forwarded connections per user.
    pub(crate) connections: super::watch::WatchCounts,
    /// Deadlines and caps of exec sessions and forwarded connections.
    pub(crate) stream_limits: super::stream::StreamLimits,
    /// Connecting git accounts (`None`: GitProviders cannot be connected).
    pub(crate) git: Option<Arc<super::git_connect::GitConnect>>,
}

/// A stored Space: its record and message, the message shared by the calls that read it.
pub(crate) type StoredSpace = (Record, Arc<pb::Space>);

impl Api {
    /// A service over `store`, sealing secrets with `secrets`, authenticating with `auth`.
    pub fn new(store: Store, secrets: SecretBox, auth: Authenticator) -> Self {
        Self {
            store,
            secrets,
            auth,
            runtime: None,
            watches: super::watch::WatchCounts::default(),
            compiled: Arc::default(),
            layers: Arc::default(),
            decoded: Arc::default(),
            validated: Arc::default(),
            ssh_endpoint: None,
            agents: None,
            sessions: super::watch::WatchCounts::default(),
            connections: super::watch::WatchCounts::default(),
            stream_limits: super::stream::StreamLimits::default(),
            git: None,
        }
    }

    /// The same service, letting users connect their git accounts through `git`.
    pub fn with_git(mut self, git: super::git_connect::GitConnect) -> Self {
        self.git = Some(Arc::new(git));
        self
    }

    /// The same service with other deadlines and caps for exec sessions and forwarded
    /// connections.
    pub fn with_stream_limits(mut self, limits: super::stream::StreamLimits) -> Self {
        self.stream_limits = limits;
        self
    }

    /// The same service, reaching workspaces' containers (exec, logs) through `runtime`.
    pub fn with_runtime(mut self, runtime: Arc<dyn Runtime>) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// The same service, telling clients that SSH is served as `endpoint` says.
    pub fn with_ssh_endpoint(mut self, endpoint: pb::SshEndpoint) -> Self {
        self.ssh_endpoint = Some(endpoint);
        self
    }

    /// The same service, giving every run an SSH agent from `agents` (the runtime must mount
    /// `agents.dir()`; podman: `PodmanOptions::agent_sockets`).
    pub fn with_agents(mut self, agents: crate::agent::Agents) -> Self {
        self.agents = Some(agents);
        self
    }

    /// The runtime, or `FailedPrecondition` when this server runs no workspaces.
    pub(crate) fn runtime(&self) -> Result<&Arc<dyn Runtime>> {
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

    /// How many watch streams `user` has open.
    pub fn open_watches(&self, user: &str) -> usize {
        self.watches.of(user)
    }

    /// The authenticated caller, a user or a workspace's session.
    pub(crate) async fn any_caller<T>(&self, request: &Request<T>) -> Result<Caller> {
        self.auth.authenticate(Self::bearer(request)?).await
    }

    /// The token of `authorization: Bearer <token>`.
    pub(crate) fn bearer<T>(request: &Request<T>) -> Result<&str> {
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
        Ok(token.trim())
    }

    /// The Space if the caller owns it or is a member; NotFound otherwise. The record comes
    /// from the store's memo of single records (`store::recent`) and its message from the memo
    /// of decoded ones (`super::decoded`), so asking costs two lookups.
    pub(crate) async fn accessible_space(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<StoredSpace> {
        let found = self
            .stored_shared::<pb::Space>(&Place::global(name, ""))
            .await?;
        if super::space::can_access(caller, &found.1) {
            Ok(found)
        } else {
            Err(not_found(Kind::Space, name))
        }
    }

    /// The Workspace if the caller may reach its Space; NotFound otherwise.
    pub(crate) async fn visible_workspace(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<(Record, Arc<pb::Workspace>)> {
        let (record, ws) = self.stored_shared(&Place::global(name, "")).await?;
        self.accessible_space(caller, &record.space)
            .await
            .map_err(|_| not_found(Kind::Workspace, name))?;
        Ok((record, ws))
    }

    /// The Template `template` of `space`, if the caller may reach the Space; NotFound
    /// otherwise.
    pub(crate) async fn resolve_template(
        &self,
        caller: &Caller,
        space: &str,
        template: &str,
    ) -> Result<(Record, Arc<pb::Template>)> {
        self.accessible_space(caller, space).await?;
        self.stored_shared(&Place::in_space(space, template)).await
    }

    /// The ClusterConfig, if an administrator has written one.
    pub(crate) async fn cluster_config(&self) -> Result<Option<Arc<pb::ClusterConfig>>> {
        match self.store.get(Kind::ClusterConfig, "", "cluster").await? {
            Some(r) => Ok(Some(self.decoded.message(&r)?)),
            None => Ok(None),
        }
    }

    /// The quota on how many workspaces a user owns (`maxPerUser`, 1,000 unless set).
    pub(crate) async fn owned_quota(&self) -> Result<Quota> {
        Ok(Quota {
            counted: Counted::Owned,
            max: self.quota("maxPerUser", 1000).await?,
        })
    }

    /// The quota on how many of a user's workspaces are active (`maxActivePerUser`, 128 unless
    /// set).
    pub(crate) async fn active_quota(&self) -> Result<Quota> {
        Ok(Quota {
            counted: Counted::Active,
            max: self.quota("maxActivePerUser", 128).await?,
        })
    }

    /// The ClusterConfig's `workspace.limit.<field>`, or `default`.
    async fn quota(&self, field: &str, default: i64) -> Result<i64> {
        let cluster = self.cluster_config().await?;
        let spec = cluster.as_ref().and_then(|c| c.spec.as_ref());
        let value = spec
            .and_then(|s| cordium_api::json::field_at(s, &["workspace", "limit", field]))
            .map(cordium_api::json::value_to_json)
            .and_then(|j| j.as_i64());
        Ok(value
            .filter(|v| *v > 0 && *v < 1_000_000)
            .unwrap_or(default))
    }

    /// Writes a workspace's new status, with a watch event.
    pub(crate) async fn set_workspace(
        &self,
        record: &Record,
        ws: &pb::Workspace,
        precondition: Precondition,
    ) -> Result<pb::Workspace> {
        self.write_workspace(record, ws, precondition, None).await
    }

    /// Writes a workspace's new status, with a watch event, within `quota` if one is given.
    pub(crate) async fn write_workspace(
        &self,
        record: &Record,
        ws: &pb::Workspace,
        precondition: Precondition,
        quota: Option<Quota>,
    ) -> Result<pb::Workspace> {
        let mut ws = ws.clone();
        if let Some(meta) = ws.metadata.as_mut() {
            meta.updated_at = Some(now());
            meta.resource_version = 0;
        }
        let record = rewritten(record.clone(), &ws);
        let write = Write {
            quotas: [quota, None],
            ..Write::new(&record).expecting(precondition).event(true)
        };
        self.write_update(write, ws).await
    }

    /// The caller's UserConfig, created empty on first use; shared ([`super::decoded`]).
    pub(crate) async fn user_config(&self, caller: &Caller) -> Result<Arc<pb::UserConfig>> {
        let at = Place::owned_by(&caller.name, &caller.name);
        if let Some(r) = self
            .store
            .get(Kind::UserConfig, &at.scope, &at.name)
            .await?
        {
            return self.decoded.message(&r);
        }
        let config = pb::UserConfig {
            metadata: Some(super::resource::fresh_metadata(None, &caller.name)?),
            spec: None,
        };
        let record = new_record(Kind::UserConfig, &at, &caller.name, &config);
        match self.store.create(Write::new(&record)).await {
            Ok(()) => Ok(Arc::new(super::resource::with_version(config, 1))),
            Err(crate::store::StoreError::AlreadyExists { .. }) => {
                let r = self
                    .store
                    .get(Kind::UserConfig, &at.scope, &at.name)
                    .await?
                    .ok_or_else(|| Status::internal("user config vanished"))?;
                self.decoded.message(&r)
            }
            Err(e) => Err(e.into()),
        }
    }
}
