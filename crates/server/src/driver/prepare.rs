//! Preparing a run: the workspace's compiled plan from the store (through the same domain
//! compile as CompileWorkspace), its secret values unsealed for the runtime, and, for a start,
//! its session credential.

use super::{BuildInfo, Driver, Prepared, snapshot_name, unknown};
use crate::crypto::{hash_token, new_token, sealing_identity};
use crate::pb;
use crate::service::{Caller, CompileRequest};
use cordium_provisioner::lifecycle::{RunFailure, Secrets};
use cordium_provisioner::runtime::{KeptContainer, SecretValue, WorkspaceKey};
use cordium_provisioner::{Plan, Recreate, RunContext, RunFacts};
use cordium_spec::Kind;
use prost::Message;

impl Driver {
    /// Works out a run of `name` from the store; `starting` also makes its session.
    pub(super) async fn prepare(&self, name: &str, starting: bool) -> Result<Prepared, RunFailure> {
        let store = self.api.store();
        let record = store
            .get(Kind::Workspace, "", name)
            .await
            .map_err(unknown)?
            .ok_or_else(|| unknown(format!("workspace `{name}` no longer exists")))?;
        let ws = pb::Workspace::decode(record.body.as_slice()).map_err(unknown)?;
        let status = ws.status.clone().unwrap_or_default();
        let admin = store.user_is_admin(&record.owner).await.map_err(unknown)?;
        let caller = Caller::user(record.owner.clone(), admin);
        let compiled = crate::service::compile_effective(
            &self.api,
            &caller,
            CompileRequest::stored(name, status.is_build),
        )
        .await
        .map_err(|e| unknown(format!("the workspace does not compile: {e}")))?;
        let workspace = compiled.effective;
        let git_provider = workspace
            .spec
            .git_provider
            .clone()
            .filter(|p| !p.is_empty());

        let template = if status.template.is_empty() {
            crate::service::DEFAULT_TEMPLATE.to_owned()
        } else {
            status.template.clone()
        };
        let template_status = store
            .get(Kind::Template, &record.space, &template)
            .await
            .ok()
            .flatten()
            .and_then(|r| pb::Template::decode(r.body.as_slice()).ok())
            .and_then(|t| t.status)
            .unwrap_or_default();
        let ready = template_status.current_ready_build_id;
        let snapshot = (!ready.is_empty()).then(|| snapshot_name(&ready));
        let snapshot_exists = match &snapshot {
            Some(s) => self.runtime.snapshot_exists(s).await.unwrap_or(false),
            None => false,
        };
        let mut facts = RunFacts {
            is_build: status.is_build,
            successful_runs: status.successful_runs,
            template_has_ready_build: snapshot.is_some(),
            snapshot_exists,
            ..RunFacts::for_workspace(&workspace)
        };
        let key = WorkspaceKey::new(&record.space, &record.name);
        let mut context = RunContext::new(&facts);
        let mut plan = cordium_provisioner::plan(&workspace, &context).map_err(unknown)?;
        if starting {
            // Refused at the start only: a run begun before must still stop as planned.
            cordium_provisioner::check_grantable(&plan.start.container).map_err(unknown)?;
        }
        if starting && !context.fresh && !context.from_snapshot {
            facts.recreate = self.recreate(&key, &plan).await?;
            if facts.recreate.is_some() {
                context = RunContext::new(&facts);
                plan = cordium_provisioner::plan(&workspace, &context).map_err(unknown)?;
            }
        }
        if let Some(timeout) = self.startup_timeout {
            plan.start.timeout = timeout;
        }

        let mut secrets = Secrets::default();
        let (secret_names, user_secret_names) = plan.secret_names();
        for name in secret_names {
            if let Some(value) = self.secret(Kind::Secret, &record.space, &name).await? {
                secrets.secrets.insert(name, value);
            }
        }
        for name in user_secret_names {
            if let Some(value) = self.secret(Kind::UserSecret, &record.owner, &name).await? {
                secrets.user_secrets.insert(name, value);
            }
        }
        if starting && context.has_session() {
            let token = new_token().map_err(unknown)?.replacen(
                "cdm_",
                crate::auth::SESSION_TOKEN_PREFIX,
                1,
            );
            store
                .add_session(&hash_token(&token), name, &record.owner)
                .await
                .map_err(unknown)?;
            secrets.session_token = Some(SecretValue::new(token));
        }
        let build = status.is_build.then(|| BuildInfo {
            template: template.clone(),
            build_id: name.strip_prefix("build-").unwrap_or(name).to_owned(),
        });
        Ok(Prepared {
            recreate: context.recreate,
            key,
            plan,
            secrets,
            snapshot: if context.from_snapshot {
                snapshot
            } else {
                None
            },
            build,
            git: git_provider.map(|provider| crate::git_credentials::GitRun {
                owner: record.owner.clone(),
                space: record.space.clone(),
                provider,
            }),
        })
    }

    /// Whether a run that starts `key`'s kept container again must re-create it instead, and
    /// why: the container is gone, or `plan` runs another recipe.
    async fn recreate(
        &self,
        key: &WorkspaceKey,
        plan: &Plan,
    ) -> Result<Option<Recreate>, RunFailure> {
        let kept = self.runtime.kept_container(key).await.map_err(unknown)?;
        let recipe = plan.recipe();
        Ok(match kept {
            KeptContainer::NotKept => None,
            KeptContainer::Gone => Some(Recreate::ContainerGone),
            KeptContainer::Present(r) if r.image != recipe.image => Some(Recreate::ImageChanged),
            KeptContainer::Present(r) if r.settings != recipe.settings => {
                Some(Recreate::SettingsChanged)
            }
            KeptContainer::Present(_) => None,
        })
    }

    /// A Secret's or UserSecret's value, decrypted; `None` when it does not exist.
    async fn secret(
        &self,
        kind: Kind,
        scope: &str,
        name: &str,
    ) -> Result<Option<SecretValue>, RunFailure> {
        let Some(sealed) = self
            .api
            .store()
            .secret_ciphertext(kind, scope, name)
            .await
            .map_err(unknown)?
        else {
            return Ok(None);
        };
        let plain = self
            .api
            .secrets
            .open(&sealed, &sealing_identity(kind, scope, name))
            .map_err(|_| unknown(format!("{} `{name}` could not be decrypted", kind.as_str())))?;
        Ok(Some(SecretValue::new(
            String::from_utf8_lossy(&plain).into_owned(),
        )))
    }
}
