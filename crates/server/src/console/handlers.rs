//! The console's JSON endpoints: each one a MainService call made as the signed-in user
//! ([`super::call`]), its answer turned into the page's JSON ([`super::json`]). Nothing here
//! decides who may see or change what: the service does, and a resource the user may not see
//! answers 404 exactly as a missing one.

use super::json;
use super::session::Authed;
use super::{Console, ConsoleError, call};
use crate::pb::{self, main_service_server::MainService};
use axum::Json;
use axum::extract::{Path, Query, State};
use serde_json::{Value as Json_, json};

type Answer = Result<Json<Json_>, ConsoleError>;

/// `?space=` of a list.
#[derive(serde::Deserialize, Default)]
pub(crate) struct ListQuery {
    #[serde(default)]
    space: String,
}

/// One page of up to 1000 items (the console shows the first thousand).
fn list_request(space: String) -> pb::ListRequest {
    pb::ListRequest {
        space,
        page_size: 1000,
        ..Default::default()
    }
}

fn name_ref(name: String) -> pb::Ref {
    pb::Ref {
        name,
        space: String::new(),
    }
}

fn items<T>(list: &[T], f: fn(&T) -> Json_) -> Json_ {
    json!({ "items": list.iter().map(f).collect::<Vec<_>>() })
}

/// Handlers that make one MainService call with a message built from their path, query or
/// body, and answer with the JSON of its answer:
/// `name(extractor: Type, ...) => method(message) -> to_json;`.
macro_rules! endpoints {
    ($(
        $(#[$doc:meta])*
        $name:ident($($arg:ident: $ty:ty),*) => $method:ident($message:expr) -> $to_json:expr;
    )*) => {
        $(
            $(#[$doc])*
            pub(crate) async fn $name(
                State(c): State<Console>,
                Authed(s): Authed,
                $($arg: $ty),*
            ) -> Answer {
                let answer = call(&c.api, &s.token, $message, async |api, r| {
                    MainService::$method(&api, r).await
                })
                .await?;
                Ok(Json(($to_json)(&answer)))
            }
        )*
    };
}

fn empty<T>(_: &T) -> Json_ {
    json!({})
}

fn compile_request(name: String) -> pb::CompileWorkspaceRequest {
    pb::CompileWorkspaceRequest {
        target: Some(pb::compile_workspace_request::Target::Name(name)),
        ..Default::default()
    }
}

fn template_ref((space, name): (String, String)) -> pb::Ref {
    pb::Ref { name, space }
}

endpoints! {
    /// `GET /api/workspaces?space=`.
    list_workspaces(q: Query<ListQuery>) => list_workspace(list_request(q.0.space))
        -> |l: &pb::WorkspaceList| items(&l.items, json::workspace);
    /// `GET /api/workspaces/{name}`.
    get_workspace(p: Path<String>) => get_workspace(name_ref(p.0)) -> json::workspace;
    /// `POST /api/workspaces/{name}/stop`.
    stop_workspace(p: Path<String>) => stop_workspace(pb::StopWorkspaceRequest { name: p.0 })
        -> json::workspace;
    /// `DELETE /api/workspaces/{name}`.
    delete_workspace(p: Path<String>) => delete_workspace(name_ref(p.0)) -> empty;
    /// `GET /api/workspaces/{name}/effective`: the EffectiveWorkspace with provenance (what
    /// `cordium explain` prints).
    effective(p: Path<String>) => compile_workspace(compile_request(p.0)) -> json::effective;
    /// `GET /api/spaces`.
    list_spaces() => list_space(list_request(String::new()))
        -> |l: &pb::SpaceList| items(&l.items, json::space);
    /// `GET /api/spaces/{name}`.
    get_space(p: Path<String>) => get_space(name_ref(p.0)) -> json::space;
    /// `GET /api/templates?space=`.
    list_templates(q: Query<ListQuery>) => list_template(list_request(q.0.space))
        -> |l: &pb::TemplateList| items(&l.items, json::template);
    /// `GET /api/templates/{space}/{name}`.
    get_template(p: Path<(String, String)>) => get_template(template_ref(p.0)) -> json::template;
    /// `POST /api/templates/{space}/{name}/build`: pre-builds a Template (BuildTemplate names
    /// it `space/name`).
    build_template(p: Path<(String, String)>) => build_template(pb::BuildTemplateRequest {
        name: format!("{}/{}", p.0.0, p.0.1),
        tags: Vec::new(),
    }) -> json::template;
    /// `GET /api/secrets?space=`.
    list_secrets(q: Query<ListQuery>) => list_secret(list_request(q.0.space))
        -> |l: &pb::SecretList| items(&l.items, json::secret);
    /// `POST /api/secrets`.
    create_secret(body: Json<NewSecret>) => create_secret(secret(body.0)) -> json::secret;
    /// `DELETE /api/secrets/{space}/{name}`.
    delete_secret(p: Path<(String, String)>) => delete_secret(template_ref(p.0)) -> empty;
    /// `GET /api/user-secrets`.
    list_user_secrets() => list_user_secret(list_request(String::new()))
        -> |l: &pb::UserSecretList| items(&l.items, json::user_secret);
    /// `POST /api/user-secrets` (a DEFAULT UserSecret).
    create_user_secret(body: Json<NewSecret>) => create_user_secret(user_secret(body.0))
        -> json::user_secret;
    /// `GET /api/ssh-keys`.
    list_ssh_keys() => list_ssh_keys(pb::Empty {})
        -> |l: &pb::SshKeyList| items(&l.items, json::ssh_key);
    /// `POST /api/ssh-keys`.
    add_ssh_key(body: Json<NewKey>) => add_ssh_key(pb::AddSshKeyRequest {
        public_key: body.0.public_key,
    }) -> json::ssh_key;
}

/// `POST /api/workspaces`'s body: the form of `cordium run`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct NewWorkspace {
    #[serde(default)]
    space: String,
    #[serde(default)]
    template: String,
    #[serde(default)]
    display_name: String,
    /// The Workspace document's `spec` (the page builds it from the form's fields).
    #[serde(default)]
    spec: serde_json::Map<String, Json_>,
    /// Run variables for the start.
    #[serde(default)]
    vars: Vec<Var>,
    /// Start it at once (as `cordium run` does).
    #[serde(default)]
    start: bool,
}

/// A run variable.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Var {
    name: String,
    value: String,
}

fn vars(vars: Vec<Var>) -> Vec<pb::Var> {
    vars.into_iter()
        .map(|v| pb::Var {
            name: v.name,
            value: v.value,
        })
        .collect()
}

/// `POST /api/workspaces`: creates a workspace from a Template, and starts it when asked.
pub(crate) async fn create_workspace(
    State(c): State<Console>,
    Authed(s): Authed,
    Json(form): Json<NewWorkspace>,
) -> Answer {
    let request = pb::Workspace {
        metadata: Some(pb::Metadata {
            display_name: form.display_name,
            ..Default::default()
        }),
        spec: Some(cordium_api::json::json_into_struct(Json_::Object(form.spec)).into()),
        status: Some(pb::WorkspaceStatus {
            space: form.space,
            template: form.template,
            ..Default::default()
        }),
    };
    let mut ws = call(&c.api, &s.token, request, async |api, r| {
        MainService::create_workspace(&api, r).await
    })
    .await?;
    if form.start {
        let name = ws
            .metadata
            .as_ref()
            .map(|m| m.name.clone())
            .unwrap_or_default();
        let start = pb::StartWorkspaceRequest {
            name,
            vars: vars(form.vars),
        };
        ws = call(&c.api, &s.token, start, async |api, r| {
            MainService::start_workspace(&api, r).await
        })
        .await?;
    }
    Ok(Json(json::workspace(&ws)))
}

/// `POST /api/workspaces/{name}/start`, with an optional body: the run variables
/// (`[{"name", "value"}]`).
pub(crate) async fn start_workspace(
    State(c): State<Console>,
    Authed(s): Authed,
    Path(name): Path<String>,
    body: Option<Json<Vec<Var>>>,
) -> Answer {
    let start = pb::StartWorkspaceRequest {
        name,
        vars: vars(body.map(|b| b.0).unwrap_or_default()),
    };
    let ws = call(&c.api, &s.token, start, async |api, r| {
        MainService::start_workspace(&api, r).await
    })
    .await?;
    Ok(Json(json::workspace(&ws)))
}

/// A new secret's name, place and value (write-only: it goes to the API and nowhere else).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewSecret {
    #[serde(default)]
    space: String,
    name: String,
    value: String,
}

fn secret_data(value: String) -> Option<pb::SecretData> {
    Some(pb::SecretData {
        value: Some(pb::secret_data::Value::Text(value)),
    })
}

fn named(name: String) -> Option<pb::Metadata> {
    Some(pb::Metadata {
        name,
        ..Default::default()
    })
}

/// The Secret a form creates (the value write-only: it goes to the API and nowhere else).
fn secret(form: NewSecret) -> pb::Secret {
    pb::Secret {
        metadata: named(form.name),
        data: secret_data(form.value),
        status: Some(pb::SecretStatus {
            space: form.space,
            owner: String::new(),
        }),
    }
}

/// The DEFAULT UserSecret a form creates.
fn user_secret(form: NewSecret) -> pb::UserSecret {
    pb::UserSecret {
        metadata: named(form.name),
        r#type: pb::UserSecretType::Default as i32,
        data: secret_data(form.value),
        status: None,
    }
}

/// `POST /api/ssh-keys`'s body.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct NewKey {
    public_key: String,
}
