//! Between the wire and documents: specs travel as `google.protobuf.Struct` (the document's
//! `spec` as JSON), and resources are printed as documents (`apiVersion`, `kind`, `metadata`,
//! `spec`, `status`) with a fixed field order.

use crate::args::ResourceFormat;
use crate::output::Output;
use cordium_api as pb;
use cordium_spec::{Kind, Resource};
use prost_types::Struct;
use serde_json::{Map, Value as Json};

pub(crate) use cordium_api::json::{json_to_struct, struct_to_json};

/// A stored spec as JSON, its fields in the order the kind declares them (the order people
/// write them, and `cordium compile` prints them) rather than the Struct's alphabetical
/// order. Should the typed round trip change anything, the spec is printed as it came.
fn ordered_spec(kind: Kind, spec: &Struct) -> Json {
    let plain = struct_to_json(spec);
    let text = serde_json::json!({"apiVersion": cordium_spec::API_VERSION, "kind": kind.as_str(), "spec": plain}).to_string();
    let Ok(mut roots) = cordium_spec::yaml::parse_documents(&text, cordium_spec::SourceId(0))
    else {
        return plain;
    };
    let Some(root) = roots.pop() else {
        return plain;
    };
    let mut diagnostics = Vec::new();
    let typed = cordium_spec::type_document(root, &mut cordium_spec::Cx::new(&mut diagnostics));
    if diagnostics.iter().any(cordium_spec::Diagnostic::is_error) {
        return plain;
    }
    let value = match typed.map(|d| d.resource) {
        Some(Resource::Space(r)) => serde_json::to_value(&r.spec),
        Some(Resource::Template(r)) => serde_json::to_value(&r.spec),
        Some(Resource::Workspace(r)) => serde_json::to_value(&r.spec),
        Some(Resource::GitProvider(r)) => serde_json::to_value(&r.spec),
        _ => return plain,
    };
    // Map equality ignores order: the round trip may reorder, nothing else.
    match value {
        Ok(ordered) if ordered == plain => ordered,
        _ => plain,
    }
}

/// A resource printed as a document.
pub(crate) trait AsDocument {
    /// The document: `apiVersion`, `kind`, `metadata`, `spec` (when it has one), `status`.
    fn document(&self) -> Json;
    /// `NAME`, or `SPACE/NAME` for the kinds that live in a Space.
    fn reference(&self) -> String;
}

/// Adds `key: value` unless the value is empty (`""`, `{}`, `[]`, `false`, `0`).
fn put(map: &mut Map<String, Json>, key: &str, value: Json) {
    let empty = match &value {
        Json::Null => true,
        Json::Bool(b) => !b,
        Json::Number(n) => n.as_i64() == Some(0),
        Json::String(s) => s.is_empty(),
        Json::Array(a) => a.is_empty(),
        Json::Object(o) => o.is_empty(),
    };
    if !empty {
        map.insert(key.to_owned(), value);
    }
}

fn sorted(map: &std::collections::HashMap<String, String>) -> Json {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort();
    Json::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.clone(), Json::String(v.clone())))
            .collect(),
    )
}

fn time(t: Option<&prost_types::Timestamp>) -> Json {
    t.map_or(Json::Null, |t| Json::String(t.to_string()))
}

fn metadata(m: Option<&pb::Metadata>) -> Json {
    let m = m.cloned().unwrap_or_default();
    let mut map = Map::new();
    map.insert("name".into(), Json::String(m.name));
    put(&mut map, "displayName", Json::String(m.display_name));
    put(&mut map, "description", Json::String(m.description));
    put(&mut map, "labels", sorted(&m.labels));
    put(&mut map, "annotations", sorted(&m.annotations));
    put(&mut map, "uid", Json::String(m.uid));
    put(&mut map, "createdAt", time(m.created_at.as_ref()));
    put(&mut map, "updatedAt", time(m.updated_at.as_ref()));
    put(&mut map, "resourceVersion", Json::from(m.resource_version));
    Json::Object(map)
}

fn document(
    kind: &str,
    meta: Option<&pb::Metadata>,
    spec: Option<Json>,
    status: Map<String, Json>,
) -> Json {
    let mut map = Map::new();
    map.insert(
        "apiVersion".into(),
        Json::String(cordium_spec::API_VERSION.into()),
    );
    map.insert("kind".into(), Json::String(kind.into()));
    map.insert("metadata".into(), metadata(meta));
    if let Some(spec) = spec {
        map.insert("spec".into(), spec);
    }
    map.insert("status".into(), Json::Object(status));
    Json::Object(map)
}

fn name(m: Option<&pb::Metadata>) -> String {
    m.map(|m| m.name.clone()).unwrap_or_default()
}

fn scoped(space: &str, m: Option<&pb::Metadata>) -> String {
    format!("{space}/{}", name(m))
}

fn s(text: &str) -> Json {
    Json::String(text.to_owned())
}

/// The name of a workspace state (`STOPPED`, `INIT_REQUEST`, ...).
pub(crate) fn state_name(state: i32) -> &'static str {
    pb::WorkspaceState::try_from(state).map_or("STATE_UNKNOWN", |s| s.as_str_name())
}

impl AsDocument for pb::Space {
    fn document(&self) -> Json {
        let st = self.status.clone().unwrap_or_default();
        let mut status = Map::new();
        put(&mut status, "owner", s(&st.owner));
        put(
            &mut status,
            "type",
            s(pb::SpaceType::try_from(st.r#type).map_or("SPACE_TYPE_UNSET", |t| t.as_str_name())),
        );
        put(&mut status, "members", Json::from(st.members));
        document(
            "Space",
            self.metadata.as_ref(),
            self.spec.as_ref().map(|s| ordered_spec(Kind::Space, s)),
            status,
        )
    }
    fn reference(&self) -> String {
        name(self.metadata.as_ref())
    }
}

impl AsDocument for pb::Template {
    fn document(&self) -> Json {
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
        document(
            "Template",
            self.metadata.as_ref(),
            self.spec.as_ref().map(|s| ordered_spec(Kind::Template, s)),
            status,
        )
    }
    fn reference(&self) -> String {
        scoped(
            &self
                .status
                .as_ref()
                .map(|s| s.space.clone())
                .unwrap_or_default(),
            self.metadata.as_ref(),
        )
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

impl AsDocument for pb::Workspace {
    fn document(&self) -> Json {
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
        document(
            "Workspace",
            self.metadata.as_ref(),
            self.spec.as_ref().map(|s| ordered_spec(Kind::Workspace, s)),
            status,
        )
    }
    fn reference(&self) -> String {
        name(self.metadata.as_ref())
    }
}

fn secret_status(st: Option<&pb::SecretStatus>) -> Map<String, Json> {
    let st = st.cloned().unwrap_or_default();
    let mut status = Map::new();
    put(&mut status, "space", s(&st.space));
    put(&mut status, "owner", s(&st.owner));
    status
}

impl AsDocument for pb::Secret {
    fn document(&self) -> Json {
        // The value is write-only: the server never returns it, and it is never printed.
        document(
            "Secret",
            self.metadata.as_ref(),
            Some(Json::Object(Map::new())),
            secret_status(self.status.as_ref()),
        )
    }
    fn reference(&self) -> String {
        scoped(
            &self
                .status
                .as_ref()
                .map(|s| s.space.clone())
                .unwrap_or_default(),
            self.metadata.as_ref(),
        )
    }
}

impl AsDocument for pb::UserSecret {
    fn document(&self) -> Json {
        let st = self.status.clone().unwrap_or_default();
        let mut status = Map::new();
        put(&mut status, "owner", s(&st.owner));
        put(&mut status, "sshPublicKey", s(&st.ssh_public_key));
        let kind = pb::UserSecretType::try_from(self.r#type).map_or("DEFAULT", |t| t.as_str_name());
        document(
            "UserSecret",
            self.metadata.as_ref(),
            Some(serde_json::json!({ "type": kind })),
            status,
        )
    }
    fn reference(&self) -> String {
        name(self.metadata.as_ref())
    }
}

impl AsDocument for pb::GitProvider {
    fn document(&self) -> Json {
        document(
            "GitProvider",
            self.metadata.as_ref(),
            self.spec
                .as_ref()
                .map(|s| ordered_spec(Kind::GitProvider, s)),
            secret_status(self.status.as_ref()),
        )
    }
    fn reference(&self) -> String {
        scoped(
            &self
                .status
                .as_ref()
                .map(|s| s.space.clone())
                .unwrap_or_default(),
            self.metadata.as_ref(),
        )
    }
}

/// YAML with every string on one line, as `cordium compile` writes it.
fn yaml(value: &Json) -> String {
    let mut options = serde_saphyr::SerializerOptions::default();
    options.prefer_block_scalars = false;
    serde_saphyr::to_string_with_options(value, options).unwrap_or_default()
}

fn json(value: &Json) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

/// Prints one resource.
pub(crate) fn print_one(out: &mut Output, format: ResourceFormat, item: &impl AsDocument) {
    out.out(&match format {
        ResourceFormat::Yaml => yaml(&item.document()),
        ResourceFormat::Json => json(&item.document()),
        ResourceFormat::Name => item.reference() + "\n",
    });
}

/// Prints resources: a YAML stream (`---` between documents), a JSON array, or one name a line.
pub(crate) fn print_list<T: AsDocument>(out: &mut Output, format: ResourceFormat, items: &[T]) {
    match format {
        ResourceFormat::Yaml => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.out("---\n");
                }
                out.out(&yaml(&item.document()));
            }
        }
        ResourceFormat::Json => out.out(&json(&Json::Array(
            items.iter().map(AsDocument::document).collect(),
        ))),
        ResourceFormat::Name => {
            for item in items {
                out.out(&(item.reference() + "\n"));
            }
        }
    }
}
