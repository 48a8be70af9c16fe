//! `CompileWorkspace`: the compiler over stored layers, as a dry run.

use super::Caller;
use super::api::{Api, DEFAULT_TEMPLATE};
use super::documents::{bad_field, describe, invalid, validate_run_vars};
use super::layers::Origin;
use crate::cache::{Doorkeeper, Memo};
use crate::pb;
use crate::store::Counter;
use cordium_merge::{Inputs, Options, compile as compile_layers};
use cordium_spec::{Diagnostic, Kind, SourceMap};
use prost::Message as _;
use std::sync::Arc;
use tonic::Status;

/// CompileWorkspace answers by caller and request (its encoded bytes), kept while no write
/// of this server could have changed a layer, a Secret's name or the caller's access (the
/// store's [`Counter::Any`] generation) and for at most [`crate::cache::TTL`]: asking again
/// for a workspace whose layers did not change costs a lookup, not a compile.
///
/// An answer is kept from the second time it is asked for ([`Doorkeeper`]): a compile with a
/// fresh variable is asked once, and copying its answer into the memo would only push out the
/// ones asked again.
#[derive(Debug)]
pub(crate) struct CompiledMemo {
    answers: Memo<(Caller, Vec<u8>), Arc<pb::CompileWorkspaceResponse>>,
    asked: Doorkeeper,
}

/// How many answers the memo keeps, and their bytes (requests and answers together).
const MEMO_ENTRIES: usize = 1024;
/// See [`MEMO_ENTRIES`].
const MEMO_BYTES: usize = 64 << 20;
/// How many requests asked once the memo remembers (as hashes), to admit them when asked again.
const ASKED_ONCE: usize = 16 * MEMO_ENTRIES;

impl Default for CompiledMemo {
    fn default() -> Self {
        Self {
            answers: Memo::new(MEMO_ENTRIES, MEMO_BYTES),
            asked: Doorkeeper::new(ASKED_ONCE),
        }
    }
}

/// Why a compile failed, before it becomes an API status (CompileWorkspace) or a run
/// failure (the driver).
#[derive(Debug)]
pub(crate) enum CompileError {
    /// A layer is missing, hidden or unreadable, or the store failed: as the API answers it.
    Refused(Status),
    /// The layers do not fit together, or the workspace does not compile.
    Invalid {
        /// What failed.
        summary: &'static str,
        /// The compiler's diagnostics.
        diagnostics: Vec<Diagnostic>,
    },
}

impl From<Status> for CompileError {
    fn from(status: Status) -> Self {
        CompileError::Refused(status)
    }
}

impl From<crate::store::StoreError> for CompileError {
    fn from(e: crate::store::StoreError) -> Self {
        CompileError::Refused(e.into())
    }
}

impl From<CompileError> for Status {
    fn from(e: CompileError) -> Self {
        match e {
            CompileError::Refused(status) => status,
            CompileError::Invalid {
                summary,
                diagnostics,
            } => invalid(summary, &diagnostics),
        }
    }
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CompileError::Refused(status) => f.write_str(status.message()),
            CompileError::Invalid {
                summary,
                diagnostics,
            } => f.write_str(&describe(summary, diagnostics)),
        }
    }
}

/// What to compile.
#[derive(Debug, Clone)]
pub(crate) enum CompileTarget {
    /// A stored Workspace, with its run variables.
    Stored(String),
    /// An inline Workspace spec against a Template (`<space>/<template>`; empty: the
    /// caller's default Space and Template).
    Inline {
        /// The Workspace spec.
        spec: cordium_api::Spec,
        /// The Template reference.
        template: String,
    },
}

/// A compile, as the domain sees it: what, with which extra variables, and how.
#[derive(Debug, Clone)]
pub(crate) struct CompileRequest {
    /// What to compile.
    pub target: CompileTarget,
    /// Variables given for this compile, after a stored Workspace's run variables.
    pub vars: Vec<(String, String)>,
    /// Compile for a Template build.
    pub build: bool,
    /// Leave undefined variables in place instead of failing.
    pub allow_undefined_vars: bool,
}

impl CompileRequest {
    /// The stored Workspace `name`, as it would run (`build`: as a Template build).
    pub(crate) fn stored(name: &str, build: bool) -> Self {
        Self {
            target: CompileTarget::Stored(name.to_owned()),
            vars: Vec::new(),
            build,
            allow_undefined_vars: false,
        }
    }

    /// The domain request a CompileWorkspace call asks for.
    fn from_api(req: pb::CompileWorkspaceRequest) -> Result<Self, Status> {
        let target = match req.target {
            Some(pb::compile_workspace_request::Target::Name(name)) => CompileTarget::Stored(name),
            Some(pb::compile_workspace_request::Target::Spec(spec)) => CompileTarget::Inline {
                spec,
                template: req.template,
            },
            None => {
                return Err(bad_field(
                    "name",
                    "say what to compile: `name` (a stored Workspace) or `spec` (an inline one)",
                ));
            }
        };
        validate_run_vars(&req.vars)?;
        Ok(Self {
            target,
            vars: req.vars.into_iter().map(|v| (v.name, v.value)).collect(),
            build: req.build,
            allow_undefined_vars: req.allow_undefined_vars,
        })
    }
}

/// CompileWorkspace: a user compiles what they may see; a session only its own workspace.
pub(crate) async fn compile_workspace(
    api: &Api,
    caller: &Caller,
    req: pb::CompileWorkspaceRequest,
) -> Result<pb::CompileWorkspaceResponse, Status> {
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
    let generation = api.store.generation(Counter::Any);
    let key = (caller.clone(), req.encode_to_vec());
    let memo = &api.compiled;
    if let Some(answer) = memo.answers.get(&key, generation) {
        return Ok((*answer).clone());
    }
    let answer = compile(api, caller, req).await?;
    if memo.asked.admit(&key) {
        let weight = key.1.len() + answer.encoded_len();
        memo.answers
            .put(key, Arc::new(answer.clone()), generation, weight);
    }
    Ok(answer)
}

/// Compiles a stored Workspace, or an inline spec, with the layers it would run with.
async fn compile(
    api: &Api,
    caller: &Caller,
    req: pb::CompileWorkspaceRequest,
) -> Result<pb::CompileWorkspaceResponse, Status> {
    let mut compiled = compile_effective(api, caller, CompileRequest::from_api(req)?).await?;
    let effective = cordium_api::serialize::to_struct(&compiled.effective)
        .map_err(|e| Status::internal(format!("serializing the result: {e}")))?;
    let describe = |o: &cordium_merge::Origin| match &o.location {
        Some(loc) => format!("{} ({}:{})", o.layer.label(), loc.line, loc.column),
        None => o.layer.label().to_owned(),
    };
    // The compile is this answer's alone: its texts move into the answer.
    let provenance = compiled
        .provenance
        .into_iter()
        .map(|leaf| pb::Provenance {
            path: leaf.path,
            value: leaf.value,
            layer: leaf.origin.layer.label().into(),
            document: leaf.origin.document.unwrap_or_default(),
            line: leaf.origin.location.map_or(0, |l| l.line),
            column: leaf.origin.location.map_or(0, |l| l.column),
            replaced: leaf.replaced.iter().map(describe).collect(),
            capped_by: leaf
                .caps
                .iter()
                .map(|c| match (&c.by.origin.document, &c.by.origin.location) {
                    // Where the cap is written, as the web console's provenance view shows it.
                    (Some(doc), Some(loc)) => format!(
                        "{} at {doc}:{}:{} (from {})",
                        c.by.label, loc.line, loc.column, c.requested
                    ),
                    _ => format!("{} (from {})", c.by.label, c.requested),
                })
                .collect(),
        })
        .collect();
    Ok(pb::CompileWorkspaceResponse {
        effective: Some(effective.into()),
        notes: std::mem::take(&mut compiled.effective.notes),
        provenance,
    })
}

/// The compiler's result for a stored Workspace or an inline spec, as `caller` sees the
/// layers (the provisioner compiles as the Workspace's owner).
pub(crate) async fn compile_effective(
    api: &Api,
    caller: &Caller,
    req: CompileRequest,
) -> Result<cordium_merge::Compiled, CompileError> {
    let mut sources = SourceMap::new();
    let stored;
    let (workspace_name, spec, space, template, mut vars) = match &req.target {
        CompileTarget::Stored(name) => {
            stored = api.visible_workspace(caller, name).await?.1;
            let status = stored.status.as_ref();
            let vars: Vec<(String, String)> = status
                .map(|s| s.run_vars.as_slice())
                .unwrap_or_default()
                .iter()
                .map(|v| (v.name.clone(), v.value.clone()))
                .collect();
            let (space, template) =
                status.map_or_else(Default::default, |s| (s.space.clone(), s.template.clone()));
            (name.clone(), stored.spec.as_ref(), space, template, vars)
        }
        CompileTarget::Inline { spec, template } => {
            let (space, template) = match template.split_once('/') {
                Some((s, t)) => (s.to_owned(), t.to_owned()),
                None if template.is_empty() => (
                    format!("default.{}", caller.name),
                    DEFAULT_TEMPLATE.to_owned(),
                ),
                None => return Err(bad_field("template", "write `<space>/<template>`").into()),
            };
            (String::new(), Some(spec), space, template, Vec::new())
        }
    };
    vars.extend(req.vars);

    let origin = match &req.target {
        CompileTarget::Stored(_) => Origin::Stored,
        CompileTarget::Inline { .. } => Origin::Request,
    };
    let workspace = api.layers.load(
        &mut sources,
        format!("Workspace {workspace_name}"),
        origin,
        Kind::Workspace,
        &workspace_name,
        spec,
    )?;
    let mut documents = vec![workspace];
    let mut secrets = Vec::new();
    if let Ok(stored_space) = api.accessible_space(caller, &space).await {
        documents.push(api.layers.load(
            &mut sources,
            format!("Space {space}"),
            Origin::Stored,
            Kind::Space,
            &space,
            stored_space.1.spec.as_ref(),
        )?);
        if let Ok((_, stored_template)) = api.resolve_template(caller, &space, &template).await {
            let name = stored_template
                .metadata
                .as_ref()
                .map(|m| m.name.clone())
                .unwrap_or_default();
            documents.push(api.layers.load(
                &mut sources,
                format!("Template {space}/{name}"),
                Origin::Stored,
                Kind::Template,
                &name,
                stored_template.spec.as_ref(),
            )?);
        } else if !template.is_empty() && template != DEFAULT_TEMPLATE {
            return Err(super::not_found(Kind::Template, &template).into());
        }
        secrets.extend(api.store.names(Kind::Secret, &space).await?.iter().cloned());
    } else if space != format!("default.{}", caller.name) {
        // Only the caller's own default Space may be missing (it is made on first use), and
        // then only its implicit default Template with it.
        return Err(super::not_found(Kind::Space, &space).into());
    } else if !template.is_empty() && template != DEFAULT_TEMPLATE {
        return Err(super::not_found(Kind::Template, &template).into());
    }
    let user_config = api.user_config(caller).await?;
    if user_config.spec.is_some() {
        documents.push(api.layers.load(
            &mut sources,
            format!("UserConfig {}", caller.name),
            Origin::Stored,
            Kind::UserConfig,
            &caller.name,
            user_config.spec.as_ref(),
        )?);
    }
    if let Some(cluster) = api.cluster_config().await? {
        documents.push(api.layers.load(
            &mut sources,
            Kind::ClusterConfig.as_str().into(),
            Origin::Stored,
            Kind::ClusterConfig,
            "cluster",
            cluster.spec.as_ref(),
        )?);
    }
    let user_secrets = api
        .store
        .names(Kind::UserSecret, &caller.name)
        .await?
        .iter()
        .cloned()
        .collect();

    let options = Options {
        run_vars: vars,
        secrets: Some(secrets.into_iter().collect()),
        user_secrets: Some(user_secrets),
        build: req.build,
        allow_undefined_vars: req.allow_undefined_vars,
        provenance: true,
    };
    let inputs = Inputs::from_documents(&sources, documents, None, options).map_err(|d| {
        CompileError::Invalid {
            summary: "the layers do not fit together",
            diagnostics: d.0,
        }
    })?;
    compile_layers(inputs).map_err(|d| CompileError::Invalid {
        summary: "the workspace does not compile",
        diagnostics: d.0,
    })
}
