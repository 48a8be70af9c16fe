//! The kinds of resource the server keeps, each described once: how its document prints,
//! where it is named, how a document and the flags become its request, and its five calls.
//! The resource commands ([`super::resources`]) are written once over [`ServerResource`].

use super::connect::Api;
use super::document::Input;
use super::error::ClientError;
use super::scope::{Scope, required_space, workspace_target};
use super::value::no_value;
use super::wire::{document, name, ordered_spec, put, s, scoped, state_name, time};
use crate::args::{SecretTypeArg, WriteArgs};
use cordium_api as pb;
use cordium_spec::Kind;
use serde_json::{Map, Value as Json};
use tonic::{Response, Status};

/// What a call returns.
pub(crate) type Answer<T> = Result<Response<T>, Status>;

/// Whether a request creates a resource or replaces one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write {
    /// `cordium create`.
    Create,
    /// `cordium update`.
    Update,
}

/// What a `create` or `update` has gathered for the request: the document, the value and
/// the Space, each checked, and the flags.
pub(crate) struct Draft<'a> {
    /// The document; its metadata holds the resource's own name.
    pub(crate) input: Input,
    /// A Secret or UserSecret value, from the document or a flag.
    pub(crate) data: Option<pb::SecretData>,
    /// The Space, from `SPACE/NAME`, `--space` or the document's `status.space`.
    pub(crate) space: Option<String>,
    /// The command's flags.
    pub(crate) flags: &'a WriteArgs,
}

/// A kind of resource the server keeps, as the client sends, fetches and prints it.
pub(crate) trait ServerResource: Sized {
    /// The kind.
    const KIND: Kind;
    /// Where its resources are named, which decides what `--space` means.
    const SCOPE: Scope;
    /// Whether it holds a secret value (`--value-from-file`, `--value-stdin`, `data`).
    const HOLDS_VALUE: bool = false;

    /// The metadata.
    fn metadata(&self) -> Option<&pb::Metadata>;
    /// The `spec` as printed, when the kind has one.
    fn spec(&self) -> Option<Json>;
    /// The `status` as printed: what the server set, empty fields left out.
    fn status(&self) -> Map<String, Json>;
    /// The Space of a resource named within one.
    fn space(&self) -> &str {
        ""
    }
    /// The document: `apiVersion`, `kind`, `metadata`, `spec` (when it has one), `status`.
    fn document(&self) -> Json {
        document(Self::KIND, self.metadata(), self.spec(), self.status())
    }
    /// `NAME`, or `SPACE/NAME` for the kinds named within a Space.
    fn reference(&self) -> String {
        match Self::SCOPE {
            Scope::InSpace => scoped(self.space(), self.metadata()),
            Scope::NoSpace | Scope::UniqueName => name(self.metadata()),
        }
    }
    /// The request a `create` or `update` sends.
    fn request(draft: Draft<'_>, write: Write) -> Result<Self, ClientError>;
    /// What `create` prints instead of the document when no `--output` is asked for.
    fn brief(&self) -> Option<String> {
        None
    }

    /// CreateKIND.
    async fn create(api: &mut Api, request: Self) -> Answer<Self>;
    /// UpdateKIND.
    async fn update(api: &mut Api, request: Self) -> Answer<Self>;
    /// GetKIND.
    async fn get(api: &mut Api, reference: pb::Ref) -> Answer<Self>;
    /// ListKIND: the items.
    async fn list(api: &mut Api, request: pb::ListRequest) -> Answer<Vec<Self>>;
    /// DeleteKIND.
    async fn delete(api: &mut Api, reference: pb::Ref) -> Answer<()>;
}

/// What every kind states the same way: the kind, where its resources are named, its
/// metadata and its five calls by their names in the API (create, update, get, list,
/// delete); with `value`, a secret value; with `spec`, a spec that travels as a Struct and
/// prints in the kind's field order; named `InSpace`, the Space in its status.
macro_rules! served {
    ($kind:ident, $scope:ident, value, $($rest:tt)*) => {
        served! {$kind, $scope, $($rest)*}
        const HOLDS_VALUE: bool = true;
    };
    ($kind:ident, $scope:ident, spec, $($rest:tt)*) => {
        served! {$kind, $scope, $($rest)*}
        fn spec(&self) -> Option<Json> {
            self.spec.as_ref().map(|s| ordered_spec(Self::KIND, s))
        }
    };
    ($kind:ident, InSpace, $($rest:tt)*) => {
        served! {@calls $kind, InSpace, $($rest)*}
        fn space(&self) -> &str {
            self.status.as_ref().map_or("", |s| s.space.as_str())
        }
    };
    ($kind:ident, $scope:ident, $($rest:tt)*) => {
        served! {@calls $kind, $scope, $($rest)*}
    };
    (@calls $kind:ident, $scope:ident,
        $create:ident, $update:ident, $get:ident, $list:ident, $delete:ident) => {
        const KIND: Kind = Kind::$kind;
        const SCOPE: Scope = Scope::$scope;
        fn metadata(&self) -> Option<&pb::Metadata> {
            self.metadata.as_ref()
        }
        async fn create(api: &mut Api, request: Self) -> Answer<Self> {
            api.$create(request).await
        }
        async fn update(api: &mut Api, request: Self) -> Answer<Self> {
            api.$update(request).await
        }
        async fn get(api: &mut Api, reference: pb::Ref) -> Answer<Self> {
            api.$get(reference).await
        }
        async fn list(api: &mut Api, request: pb::ListRequest) -> Answer<Vec<Self>> {
            // Every page, in order: the output is the whole list, as before pagination.
            let mut request = request;
            let mut items = Vec::new();
            loop {
                let page = api.$list(request.clone()).await?.into_inner();
                items.extend(page.items);
                if page.next_page_token.is_empty() {
                    return Ok(Response::new(items));
                }
                if page.next_page_token == request.page_token {
                    return Err(Status::internal("the server answered the same page twice"));
                }
                request.page_token = page.next_page_token;
            }
        }
        async fn delete(api: &mut Api, reference: pb::Ref) -> Answer<()> {
            api.$delete(reference).await.map(|r| r.map(drop))
        }
    };
}

impl ServerResource for pb::Space {
    served! {Space, NoSpace, spec,
    create_space, update_space, get_space,
    list_space, delete_space}

    fn request(draft: Draft<'_>, _: Write) -> Result<Self, ClientError> {
        let Input { metadata, spec, .. } = draft.input;
        Ok(Self {
            metadata: Some(metadata),
            spec,
            status: None,
        })
    }
    fn status(&self) -> Map<String, Json> {
        let st = self.status.clone().unwrap_or_default();
        let kind =
            pb::SpaceType::try_from(st.r#type).map_or("SPACE_TYPE_UNSET", |t| t.as_str_name());
        let mut status = Map::new();
        put(&mut status, "owner", s(&st.owner));
        put(&mut status, "type", s(kind));
        put(&mut status, "members", Json::from(st.members));
        status
    }
}

impl ServerResource for pb::Template {
    served! {Template, InSpace, spec,
    create_template, update_template, get_template,
    list_template, delete_template}

    fn request(draft: Draft<'_>, _: Write) -> Result<Self, ClientError> {
        let space = required_space(Self::KIND, draft.space)?;
        let Input { metadata, spec, .. } = draft.input;
        Ok(Self {
            metadata: Some(metadata),
            spec,
            status: Some(pb::TemplateStatus {
                space,
                ..Default::default()
            }),
        })
    }
    fn status(&self) -> Map<String, Json> {
        let st = self.status.clone().unwrap_or_default();
        let mut status = Map::new();
        put(&mut status, "space", s(&st.space));
        put(&mut status, "owner", s(&st.owner));
        put(
            &mut status,
            "currentRunningBuildId",
            s(&st.current_running_build_id),
        );
        put(
            &mut status,
            "currentReadyBuildId",
            s(&st.current_ready_build_id),
        );
        status
    }
}

fn failure(f: &pb::Failure) -> Json {
    use pb::failure::Type;
    let mut map = Map::new();
    put(&mut map, "message", s(&f.message));
    let empty = || Json::Object(Map::new());
    let (key, value) = match &f.r#type {
        Some(Type::ImageBuild(_)) => ("imageBuild", empty()),
        Some(Type::ImagePull(_)) => ("imagePull", empty()),
        Some(Type::RepoClone(_)) => ("repoClone", empty()),
        Some(Type::Task(t)) => (
            "task",
            serde_json::json!({"name": t.name, "exitCode": t.exit_code}),
        ),
        Some(Type::HealthCheck(_)) => ("healthCheck", empty()),
        Some(Type::StartupTimeout(_)) => ("startupTimeout", empty()),
        Some(Type::RunContainer(_)) => ("runContainer", empty()),
        Some(Type::Unknown(_)) | None => ("unknown", empty()),
    };
    map.insert(key.into(), value);
    Json::Object(map)
}

impl ServerResource for pb::Workspace {
    served! {Workspace, UniqueName, spec,
    create_workspace, update_workspace, get_workspace,
    list_workspace, delete_workspace}

    /// A new workspace goes into the Space and Template the flags or the document name; an
    /// update keeps both.
    fn request(draft: Draft<'_>, write: Write) -> Result<Self, ClientError> {
        let status = match write {
            Write::Create => Some(new_workspace_status(
                draft.flags.template.as_deref(),
                draft.flags.space.as_deref(),
                &draft.input,
            )?),
            Write::Update => None,
        };
        let Input { metadata, spec, .. } = draft.input;
        Ok(Self {
            metadata: Some(metadata),
            spec,
            status,
        })
    }
    fn status(&self) -> Map<String, Json> {
        let st = self.status.clone().unwrap_or_default();
        let mut status = Map::new();
        status.insert("state".into(), s(state_name(st.state)));
        put(&mut status, "owner", s(&st.owner));
        put(&mut status, "space", s(&st.space));
        put(&mut status, "template", s(&st.template));
        if let Some(f) = &st.failure {
            status.insert("failure".into(), failure(f));
        }
        put(
            &mut status,
            "successfulRuns",
            Json::from(st.successful_runs),
        );
        put(&mut status, "isBuild", Json::Bool(st.is_build));
        put(
            &mut status,
            "stateChangedAt",
            time(st.state_changed_at.as_ref()),
        );
        let vars: Vec<Json> = st
            .run_vars
            .iter()
            .map(|v| serde_json::json!({"name": v.name, "value": v.value}))
            .collect();
        put(&mut status, "runVars", Json::Array(vars));
        status
    }
}

/// The status a new workspace is sent with: its Space and Template, from the flags
/// (`--template` as `NAME` or `SPACE/NAME`, `--space`), else the document's `status`.
pub(crate) fn new_workspace_status(
    template_flag: Option<&str>,
    space_flag: Option<&str>,
    input: &Input,
) -> Result<pb::WorkspaceStatus, ClientError> {
    let (space, template) = workspace_target(template_flag, space_flag, input)?;
    Ok(pb::WorkspaceStatus {
        space,
        template,
        ..Default::default()
    })
}

/// The status of a Secret or GitProvider as printed.
fn secret_status(st: Option<&pb::SecretStatus>) -> Map<String, Json> {
    let st = st.cloned().unwrap_or_default();
    let mut status = Map::new();
    put(&mut status, "space", s(&st.space));
    put(&mut status, "owner", s(&st.owner));
    status
}

/// The status a Secret or GitProvider is sent with: the Space it is in.
fn in_space(space: Option<String>, kind: Kind) -> Result<pb::SecretStatus, ClientError> {
    Ok(pb::SecretStatus {
        space: required_space(kind, space)?,
        owner: String::new(),
    })
}

impl ServerResource for pb::Secret {
    served! {Secret, InSpace, value,
    create_secret, update_secret, get_secret,
    list_secret, delete_secret}

    /// A new Secret needs a value; an update may leave it as it is.
    fn request(draft: Draft<'_>, write: Write) -> Result<Self, ClientError> {
        let status = in_space(draft.space, Self::KIND)?;
        let data = match (draft.data, write) {
            (None, Write::Create) => return Err(no_value(Self::KIND)),
            (data, _) => data,
        };
        Ok(Self {
            metadata: Some(draft.input.metadata),
            data,
            status: Some(status),
        })
    }
    /// The value is write-only: the server never returns it, and it is never printed.
    fn spec(&self) -> Option<Json> {
        Some(Json::Object(Map::new()))
    }
    fn status(&self) -> Map<String, Json> {
        secret_status(self.status.as_ref())
    }
}

impl ServerResource for pb::UserSecret {
    served! {UserSecret, NoSpace, value,
    create_user_secret, update_user_secret, get_user_secret,
    list_user_secret, delete_user_secret}

    /// A new UserSecret is a value given (`DEFAULT`) or a key pair the server makes
    /// (`SSH_KEY`, from `--type` or the document's `spec.type`); an update keeps the type.
    fn request(draft: Draft<'_>, write: Write) -> Result<Self, ClientError> {
        let Draft {
            input, data, flags, ..
        } = draft;
        let ssh = match (write, flags.secret_type) {
            (Write::Update, _) => false,
            (Write::Create, Some(SecretTypeArg::SshKey)) => true,
            (Write::Create, Some(SecretTypeArg::Default)) if input.ssh_key => {
                return Err(ClientError::Usage(format!(
                    "--type default, but {} says `spec.type: SSH_KEY`",
                    input.file
                )));
            }
            (Write::Create, Some(SecretTypeArg::Default)) => false,
            (Write::Create, None) => input.ssh_key,
        };
        let r#type = match write {
            Write::Update => 0,
            Write::Create if ssh && data.is_some() => {
                return Err(ClientError::Usage(
                    "an SSH_KEY UserSecret is generated by the server and takes no value".into(),
                ));
            }
            Write::Create if !ssh && data.is_none() => return Err(no_value(Self::KIND)),
            Write::Create if ssh => pb::UserSecretType::SshKey as i32,
            Write::Create => pb::UserSecretType::Default as i32,
        };
        Ok(Self {
            metadata: Some(input.metadata),
            r#type,
            data,
            status: None,
        })
    }
    fn spec(&self) -> Option<Json> {
        let kind = pb::UserSecretType::try_from(self.r#type).map_or("DEFAULT", |t| t.as_str_name());
        Some(serde_json::json!({ "type": kind }))
    }
    fn status(&self) -> Map<String, Json> {
        let st = self.status.clone().unwrap_or_default();
        let mut status = Map::new();
        put(&mut status, "owner", s(&st.owner));
        put(&mut status, "sshPublicKey", s(&st.ssh_public_key));
        status
    }
    /// The one thing to do with a new key pair is to install its public key.
    fn brief(&self) -> Option<String> {
        (self.r#type == pb::UserSecretType::SshKey as i32).then(|| {
            let key = self.status.as_ref().map(|s| s.ssh_public_key.as_str());
            format!("{}\n", key.unwrap_or_default())
        })
    }
}

impl ServerResource for pb::GitProvider {
    served! {GitProvider, InSpace, spec,
    create_git_provider, update_git_provider, get_git_provider,
    list_git_provider, delete_git_provider}

    fn request(draft: Draft<'_>, _: Write) -> Result<Self, ClientError> {
        Ok(Self {
            status: Some(in_space(draft.space, Self::KIND)?),
            metadata: Some(draft.input.metadata),
            spec: draft.input.spec,
        })
    }
    fn status(&self) -> Map<String, Json> {
        secret_status(self.status.as_ref())
    }
}
