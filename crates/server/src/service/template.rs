//! Templates: a Space's layer under its Workspaces, built ahead of time into a snapshot.

use super::Caller;
use super::api::{Api, DEFAULT_TEMPLATE};
use super::documents::{bad_field, validate};
use super::resource::{
    Built, Context, Kept, Place, Resource as _, Respec, Result, Scope, Updated, decode,
    fresh_metadata, new_record, now, require_name, rewritten,
};
use super::workspace::illegal_move;
use crate::driver::snapshot_name;
use crate::names::random_name;
use crate::pb;
use crate::store::{Precondition, Record, StoreError, Write};
use crate::workspace_state::{state_of, to_pb, transition};
use cordium_provisioner::State;
use cordium_spec::Kind;
use tonic::Status;

#[tonic::async_trait]
impl Updated for pb::Template {
    const KIND: Kind = Kind::Template;

    async fn build_updated(cx: &Context<'_>, stored: Self, req: Self) -> Result<Built<Self>> {
        validate(Kind::Template, &cx.at.name, req.spec.as_deref())?;
        cx.api
            .check_git_provider(&cx.at.space, req.spec.as_deref())
            .await?;
        Ok(Built::plain(Self::respec(stored, req)))
    }

    async fn check_update(api: &Api, caller: &Caller, record: &Record) -> Result<()> {
        api.may_change_shared(caller, record).await
    }
}

#[tonic::async_trait]
impl Kept for pb::Template {
    const SCOPE: Scope = Scope::Space;

    fn check_create(&self) -> Result<()> {
        if self.requested_space().is_empty() {
            return Err(bad_field(
                "status.space",
                "name the Space the Template belongs to",
            ));
        }
        Ok(())
    }

    fn check_new(at: &Place, req: &Self) -> Result<()> {
        validate(Kind::Template, &at.name, req.spec.as_deref())?;
        require_name(Kind::Template, &at.name)
    }

    async fn build_new(cx: &Context<'_>, mut req: Self) -> Result<Built<Self>> {
        cx.api
            .check_git_provider(&cx.at.space, req.spec.as_deref())
            .await?;
        Ok(Built::plain(pb::Template {
            metadata: Some(fresh_metadata(req.metadata.take(), &cx.at.name)?),
            spec: req.spec,
            status: Some(pb::TemplateStatus {
                space: cx.at.space.clone(),
                owner: cx.caller.name.clone(),
                ..Default::default()
            }),
        }))
    }

    async fn check_delete(api: &Api, caller: &Caller, at: &Place) -> Result<()> {
        let (record, _) = api.stored::<Self>(at).await?;
        api.may_change_shared(caller, &record).await?;
        if at.name == DEFAULT_TEMPLATE {
            return Err(Status::failed_precondition(
                "the default Template of a Space cannot be deleted",
            ));
        }
        Ok(())
    }

    /// Its build workspaces go (the driver removes their objects), and so do its pre-build
    /// snapshots ([`Api::delete_prebuilds`]).
    async fn after_delete(api: &Api, deleted: &Record) {
        let Ok(template) = decode::<pb::Template>(deleted) else {
            return;
        };
        let status = template.status.unwrap_or_default();
        if let Err(e) = api
            .delete_builds(&status.space, &deleted.name, |_| true)
            .await
        {
            tracing::warn!(template = %deleted.name, "deleting its builds: {e}");
        }
        api.delete_prebuilds(&deleted.name, &status).await;
    }
}

/// `<space>/<template>` as its two parts.
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

impl Api {
    /// InvalidArgument when a spec names a GitProvider that `space` does not have.
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
            && self
                .store
                .get(Kind::GitProvider, space, &name)
                .await?
                .is_none()
        {
            return Err(bad_field(
                "spec.gitProvider",
                format!("GitProvider `{name}` does not exist in Space `{space}`"),
            ));
        }
        Ok(())
    }

    /// BuildTemplate: a build workspace that snapshots the Template when it succeeds.
    pub(crate) async fn build_template(
        &self,
        caller: &Caller,
        req: pb::BuildTemplateRequest,
    ) -> Result<pb::Template> {
        let (space, name) = split_template_ref(&req.name)?;
        let (record, template) = self.resolve_template(caller, &space, &name).await?;
        self.may_change_shared(caller, &record).await?;
        let mut template = std::sync::Arc::unwrap_or_clone(template);
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
        // A build is a workspace of the caller's, created active: it counts against both of
        // their workspace quotas, inside the write as a create's and a start's do. Looked at
        // first as well, so that a build past the quota is refused before the running one is
        // cancelled (the check inside the write stays the one that holds under races).
        let (owned, active) = (self.owned_quota().await?, self.active_quota().await?);
        if self.store.count_active_workspaces(&caller.name).await? >= active.max {
            return Err(StoreError::QuotaExceeded {
                kind: Kind::Workspace,
                quota: active,
            }
            .into());
        }
        self.cancel_running_build(&template).await?;
        // The builds that ended (their failures were there to read until now) go.
        self.delete_builds(&space, &name, |ws| state_of(ws) == Some(State::Stopped))
            .await?;
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
            status.current_running_build_id = build_id.clone();
        }
        // The Template first, at the version read: a build finishing meanwhile (which moves
        // `currentReadyBuildId`) makes this call fail with Aborted instead of being undone.
        let template = self.rewrite_template_as_read(record, template).await?;
        let ws_record = new_record(
            Kind::Workspace,
            &Place::global(&ws_name, &space),
            &caller.name,
            &ws,
        );
        let write = Write::new(&ws_record)
            .event(true)
            .within(owned)
            .within(active);
        match self.store.create(write).await {
            Ok(()) => Ok(template),
            Err(
                refused @ (StoreError::QuotaExceeded { .. } | StoreError::AlreadyExists { .. }),
            ) => {
                // Nothing of the build was written: the Template stops naming it (unless a
                // newer build took its place meanwhile). The refusal is the answer, whatever
                // becomes of this.
                let _ = self.forget_build(caller, &space, &name, &build_id).await;
                Err(refused.into())
            }
            // Another failure may have written the build (a batch committed, its sync failed):
            // the Template keeps naming it.
            Err(e) => Err(e.into()),
        }
    }

    /// Clears `build_id` from the Template as the running build, if it still is.
    async fn forget_build(
        &self,
        caller: &Caller,
        space: &str,
        name: &str,
        build_id: &str,
    ) -> Result<()> {
        let (record, mut template) = self.resolve_template(caller, space, name).await?;
        let named = template
            .status
            .as_ref()
            .map(|s| s.current_running_build_id.as_str());
        if named != Some(build_id) {
            return Ok(());
        }
        if let Some(status) = std::sync::Arc::make_mut(&mut template).status.as_mut() {
            status.current_running_build_id.clear();
        }
        self.rewrite_template_as_read(record, std::sync::Arc::unwrap_or_clone(template))
            .await
            .map(drop)
    }

    /// CancelBuildTemplate: stops the running build and forgets it.
    pub(crate) async fn cancel_build_template(
        &self,
        caller: &Caller,
        r: pb::Ref,
    ) -> Result<pb::Template> {
        let (record, template) = self.resolve_template(caller, &r.space, &r.name).await?;
        self.may_change_shared(caller, &record).await?;
        let mut template = std::sync::Arc::unwrap_or_clone(template);
        self.cancel_running_build(&template).await?;
        if let Some(status) = template.status.as_mut() {
            status.current_running_build_id.clear();
        }
        self.rewrite_template_as_read(record, template).await
    }

    /// Writes `template` over `record`, only while it is still at the version read.
    async fn rewrite_template_as_read(
        &self,
        record: Record,
        template: pb::Template,
    ) -> Result<pb::Template> {
        let precondition = Precondition::Version(record.version);
        let record = rewritten(record, &template);
        self.write_update(Write::new(&record).expecting(precondition), template)
            .await
    }

    /// Deletes the pre-build snapshots of Template `name` (the ready build's and the running
    /// one's), when this server has the runtime; a replica without it leaves them (nothing
    /// sweeps snapshots). Failures are logged: the Template is gone already.
    pub(super) async fn delete_prebuilds(&self, name: &str, status: &pb::TemplateStatus) {
        let Ok(runtime) = self.runtime() else {
            return;
        };
        for build in [
            &status.current_ready_build_id,
            &status.current_running_build_id,
        ] {
            if build.is_empty() {
                continue;
            }
            if let Err(e) = runtime.delete_snapshot(&snapshot_name(build)).await {
                tracing::warn!(template = %name, "deleting a pre-build: {e}");
            }
        }
    }

    /// Deletes the build workspaces of Template `template` in `space` that `which` picks;
    /// the driver removes their runtime objects when it hears of the deletes.
    async fn delete_builds(
        &self,
        space: &str,
        template: &str,
        which: impl Fn(&pb::Workspace) -> bool,
    ) -> Result<()> {
        for record in self.store.list_in_space(Kind::Workspace, space).await? {
            let Ok(ws) = decode::<pb::Workspace>(&record) else {
                continue;
            };
            let of_template = ws
                .status
                .as_ref()
                .is_some_and(|s| s.is_build && s.template == template);
            if !of_template || !which(&ws) {
                continue;
            }
            match self
                .store
                .delete(Kind::Workspace, "", &record.name, true)
                .await
            {
                Ok(_) | Err(StoreError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Asks the Template's running build (if any) to stop.
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
            .get(Kind::Workspace, "", &format!("build-{running}"))
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
                self.set_workspace(&r, &ws, Precondition::Any).await?;
            }
        }
        Ok(())
    }
}
