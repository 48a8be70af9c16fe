//! Between the wire and documents: specs travel as `google.protobuf.Struct` (the document's
//! `spec` as JSON), and resources are printed as documents (`apiVersion`, `kind`, `metadata`,
//! `spec`, `status`) with a fixed field order.

use cordium_api as pb;
use cordium_spec::{Kind, Resource};
use prost_types::Struct;
use serde_json::{Map, Value as Json};

pub(crate) use cordium_api::json::{json_into_struct, struct_to_json};

/// A stored spec as JSON, its fields in the order the kind declares them (the order people
/// write them, and `cordium compile` prints them) rather than the Struct's alphabetical
/// order. Should the typed round trip change anything, the spec is printed as it came.
pub(crate) fn ordered_spec(kind: Kind, spec: &Struct) -> Json {
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

/// Adds `key: value` unless the value is empty (`""`, `{}`, `[]`, `false`, `0`), so a
/// printed resource shows only what it has.
pub(crate) fn put(map: &mut Map<String, Json>, key: &str, value: Json) {
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

/// A timestamp as RFC 3339 text (null when there is none, which [`put`] leaves out).
pub(crate) fn time(t: Option<&prost_types::Timestamp>) -> Json {
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

/// A resource's document: `apiVersion`, `kind`, `metadata` (the server's fields last),
/// `spec` when the kind has one, `status`; in this order, the order people read them.
pub(crate) fn document(
    kind: Kind,
    meta: Option<&pb::Metadata>,
    spec: Option<Json>,
    status: Map<String, Json>,
) -> Json {
    let mut map = Map::new();
    map.insert(
        "apiVersion".into(),
        Json::String(cordium_spec::API_VERSION.into()),
    );
    map.insert("kind".into(), s(kind.as_str()));
    map.insert("metadata".into(), metadata(meta));
    if let Some(spec) = spec {
        map.insert("spec".into(), spec);
    }
    map.insert("status".into(), Json::Object(status));
    Json::Object(map)
}

/// The name in a resource's metadata, for `-o name`.
pub(crate) fn name(m: Option<&pb::Metadata>) -> String {
    m.map(|m| m.name.clone()).unwrap_or_default()
}

/// `SPACE/NAME`, for `-o name` of the kinds named within a Space.
pub(crate) fn scoped(space: &str, m: Option<&pb::Metadata>) -> String {
    format!("{space}/{}", name(m))
}

/// A JSON string.
pub(crate) fn s(text: &str) -> Json {
    Json::String(text.to_owned())
}

/// The name of a workspace state (`STOPPED`, `INIT_REQUEST`, ...).
pub(crate) fn state_name(state: i32) -> &'static str {
    pb::WorkspaceState::try_from(state).map_or("STATE_UNKNOWN", |s| s.as_str_name())
}
