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

fn items<T>(list: &[T], f: fn(&T) -> Json_) -> Json<Json_> {
    Json(json!({ "items": list.iter().map(f).collect::<Vec<_>>() }))
}

/// `GET /api/workspaces`.
pub(crate) async fn list_workspaces(
    State(c): State<Console>,
    Authed(s): Authed,
    Query(q): Query<ListQuery>,
) -> Answer {
    let list = call(&c.api, &s.token, list_request(q.space), async |api, r| {
        MainService::list_workspace(&api, r).await
    })
    .await?;
    Ok(items(&list.items, json::workspace))
}

/// `GET /api/workspaces/{name}`.
pub(crate) async fn get_workspace(
    State(c): State<Console>,
    Authed(s): Authed,
    Path(name): Path<String>,
) -> Answer {
    let ws = call(&c.api, &s.token, name_ref(name), async |api, r| {
        MainService::get_workspace(&api, r).await
    })
    .await?;
    Ok(Json(json::workspace(&ws)))
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
        spec: Some(cordium_api::json::json_to_struct(&Json_::Object(form.spec))),
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

/// `POST /api/workspaces/{name}/start`'s body.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct Start {
    #[serde(default)]
    vars: Vec<Var>,
}

/// `POST /api/workspaces/{name}/start`.
pub(crate) async fn start_workspace(
    State(c): State<Console>,
    Authed(s): Authed,
    Path(name): Path<String>,
    body: Option<Json<Start>>,
) -> Answer {
    let start = pb::StartWorkspaceRequest {
        name,
        vars: vars(body.map(|b| b.0.vars).unwrap_or_default()),
    };
    let ws = call(&c.api, &s.token, start, async |api, r| {
        MainService::start_workspace(&api, r).await
    })
    .await?;
    Ok(Json(json::workspace(&ws)))
}

/// `POST /api/workspaces/{name}/stop`.
pub(crate) async fn stop_workspace(
    State(c): State<Console>,
    Authed(s): Authed,
    Path(name): Path<String>,
) -> Answer {
    let stop = pb::StopWorkspaceRequest { name };
    let ws = call(&c.api, &s.token, stop, async |api, r| {
        MainService::stop_workspace(&api, r).await
    })
    .await?;
    Ok(Json(json::workspace(&ws)))
}

/// `DELETE /api/workspaces/{name}`.
pub(crate) async fn delete_workspace(
    State(c): State<Console>,
    Authed(s): Authed,
    Path(name): Path<String>,
) -> Answer {
    call(&c.api, &s.token, name_ref(name), async |api, r| {
        MainService::delete_workspace(&api, r).await
    })
    .await?;
    Ok(Json(json!({})))
}

/// `GET /api/workspaces/{name}/effective`: the EffectiveWorkspace with provenance (what
/// `cordium explain` prints).
pub(crate) async fn effective(
    State(c): State<Console>,
    Authed(s): Authed,
    Path(name): Path<String>,
) -> Answer {
    let request = pb::CompileWorkspaceRequest {
        target: Some(pb::compile_workspace_request::Target::Name(name)),
        ..Default::default()
    };
    let compiled = call(&c.api, &s.token, request, async |api, r| {
        MainService::compile_workspace(&api, r).await
    })
    .await?;
    Ok(Json(json::effective(&compiled)))
}

/// `GET /api/spaces`.
pub(crate) async fn list_spaces(State(c): State<Console>, Authed(s): Authed) -> Answer {
    let list = call(
        &c.api,
        &s.token,
        list_request(String::new()),
        async |api, r| MainService::list_space(&api, r).await,
    )
    .await?;
    Ok(items(&list.items, json::space))
}

/// `GET /api/spaces/{name}`.
pub(crate) async fn get_space(
    State(c): State<Console>,
    Authed(s): Authed,
    Path(name): Path<String>,
) -> Answer {
    let space = call(&c.api, &s.token, name_ref(name), async |api, r| {
        MainService::get_space(&api, r).await
    })
    .await?;
    Ok(Json(json::space(&space)))
}

/// `GET /api/templates`.
pub(crate) async fn list_templates(
    State(c): State<Console>,
    Authed(s): Authed,
    Query(q): Query<ListQuery>,
) -> Answer {
    let list = call(&c.api, &s.token, list_request(q.space), async |api, r| {
        MainService::list_template(&api, r).await
    })
    .await?;
    Ok(items(&list.items, json::template))
}

/// `GET /api/templates/{space}/{name}`.
pub(crate) async fn get_template(
    State(c): State<Console>,
    Authed(s): Authed,
    Path((space, name)): Path<(String, String)>,
) -> Answer {
    let t = call(&c.api, &s.token, pb::Ref { name, space }, async |api, r| {
        MainService::get_template(&api, r).await
    })
    .await?;
    Ok(Json(json::template(&t)))
}

/// `POST /api/templates/{space}/{name}/build`: pre-builds a Template.
pub(crate) async fn build_template(
    State(c): State<Console>,
    Authed(s): Authed,
    Path((space, name)): Path<(String, String)>,
) -> Answer {
    // BuildTemplate names a Template of the caller's Spaces as `space/name`.
    let request = pb::BuildTemplateRequest {
        name: format!("{space}/{name}"),
        tags: Vec::new(),
    };
    let t = call(&c.api, &s.token, request, async |api, r| {
        MainService::build_template(&api, r).await
    })
    .await?;
    Ok(Json(json::template(&t)))
}

/// `GET /api/secrets?space=`.
pub(crate) async fn list_secrets(
    State(c): State<Console>,
    Authed(s): Authed,
    Query(q): Query<ListQuery>,
) -> Answer {
    let list = call(&c.api, &s.token, list_request(q.space), async |api, r| {
        MainService::list_secret(&api, r).await
    })
    .await?;
    Ok(items(&list.items, json::secret))
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

/// `POST /api/secrets`.
pub(crate) async fn create_secret(
    State(c): State<Console>,
    Authed(s): Authed,
    Json(form): Json<NewSecret>,
) -> Answer {
    let request = pb::Secret {
        metadata: named(form.name),
        data: secret_data(form.value),
        status: Some(pb::SecretStatus {
            space: form.space,
            owner: String::new(),
        }),
    };
    let created = call(&c.api, &s.token, request, async |api, r| {
        MainService::create_secret(&api, r).await
    })
    .await?;
    Ok(Json(json::secret(&created)))
}

/// `DELETE /api/secrets/{space}/{name}`.
pub(crate) async fn delete_secret(
    State(c): State<Console>,
    Authed(s): Authed,
    Path((space, name)): Path<(String, String)>,
) -> Answer {
    call(&c.api, &s.token, pb::Ref { name, space }, async |api, r| {
        MainService::delete_secret(&api, r).await
    })
    .await?;
    Ok(Json(json!({})))
}

/// `GET /api/user-secrets`.
pub(crate) async fn list_user_secrets(State(c): State<Console>, Authed(s): Authed) -> Answer {
    let list = call(
        &c.api,
        &s.token,
        list_request(String::new()),
        async |api, r| MainService::list_user_secret(&api, r).await,
    )
    .await?;
    Ok(items(&list.items, json::user_secret))
}

/// `POST /api/user-secrets` (a DEFAULT UserSecret; the value is write-only).
pub(crate) async fn create_user_secret(
    State(c): State<Console>,
    Authed(s): Authed,
    Json(form): Json<NewSecret>,
) -> Answer {
    let request = pb::UserSecret {
        metadata: named(form.name),
        r#type: pb::UserSecretType::Default as i32,
        data: secret_data(form.value),
        status: None,
    };
    let created = call(&c.api, &s.token, request, async |api, r| {
        MainService::create_user_secret(&api, r).await
    })
    .await?;
    Ok(Json(json::user_secret(&created)))
}

/// `GET /api/ssh-keys`.
pub(crate) async fn list_ssh_keys(State(c): State<Console>, Authed(s): Authed) -> Answer {
    let list = call(&c.api, &s.token, pb::Empty {}, async |api, r| {
        MainService::list_ssh_keys(&api, r).await
    })
    .await?;
    Ok(items(&list.items, json::ssh_key))
}

/// `POST /api/ssh-keys`'s body.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct NewKey {
    public_key: String,
}

/// `POST /api/ssh-keys`.
pub(crate) async fn add_ssh_key(
    State(c): State<Console>,
    Authed(s): Authed,
    Json(form): Json<NewKey>,
) -> Answer {
    let request = pb::AddSshKeyRequest {
        public_key: form.public_key,
    };
    let key = call(&c.api, &s.token, request, async |api, r| {
        MainService::add_ssh_key(&api, r).await
    })
    .await?;
    Ok(Json(json::ssh_key(&key)))
}
