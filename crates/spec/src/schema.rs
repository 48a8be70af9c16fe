//! JSON Schemas (draft 2020-12) generated from the resource types; doc comments become
//! descriptions. `schemas/` in the repository holds these, and a test keeps them in step.

use crate::document::{API_VERSION, Kind};
use crate::resources::*;
use schemars::{JsonSchema, generate::SchemaSettings};
use serde_json::{Map, Value, json};

/// The file name of a kind's schema under `schemas/`, e.g. `workspace.schema.json`.
pub fn file_name(kind: Kind) -> String {
    format!("{}.schema.json", kind.as_str().to_ascii_lowercase())
}

/// The file name of the schema that accepts any kind.
pub const ANY_KIND_FILE: &str = "cordium.schema.json";

fn generate<T: JsonSchema>(kind: Kind) -> Value {
    let generator = SchemaSettings::draft2020_12().into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert(
            "apiVersion".into(),
            json!({"description": "The API version.", "const": API_VERSION}),
        );
        props.insert(
            "kind".into(),
            json!({"description": "The kind of resource.", "const": kind.as_str()}),
        );
    }
    if let Some(obj) = schema.as_object_mut() {
        obj.insert(
            "$id".into(),
            json!(format!("https://cordium.dev/schemas/{}", file_name(kind))),
        );
        let required = if kind == Kind::Workspace {
            json!([])
        } else {
            json!(["apiVersion", "kind"])
        };
        obj.insert("required".into(), required);
        // An empty document (a trailing `---`, or only comments) is skipped by the loader, so
        // editors must not flag it either.
        obj.insert("type".into(), json!(["object", "null"]));
    }
    schema
}

/// The schema of one kind.
pub fn for_kind(kind: Kind) -> Value {
    match kind {
        Kind::Workspace => generate::<Workspace>(kind),
        Kind::Template => generate::<Template>(kind),
        Kind::Space => generate::<Space>(kind),
        Kind::UserConfig => generate::<UserConfig>(kind),
        Kind::ClusterConfig => generate::<ClusterConfig>(kind),
        Kind::Secret => generate::<Secret>(kind),
        Kind::UserSecret => generate::<UserSecret>(kind),
        Kind::GitProvider => generate::<GitProvider>(kind),
    }
}

/// The schema that accepts a document of any kind, dispatching on `kind` (a document without
/// `kind` is a Workspace).
pub fn any_kind() -> Value {
    let mut defs = Map::new();
    let mut branches = Vec::new();
    for kind in Kind::ALL {
        let mut schema = for_kind(kind);
        if let Some(obj) = schema.as_object_mut() {
            if let Some(Value::Object(d)) = obj.remove("$defs") {
                defs.extend(d);
            }
            obj.remove("$schema");
            obj.remove("$id");
        }
        defs.insert(kind.as_str().into(), schema);
        // `"type": "object"` keeps an empty document (null) out of every branch.
        let condition = if kind == Kind::Workspace {
            json!({"type": "object", "anyOf": [
                {"properties": {"kind": {"const": "Workspace"}}, "required": ["kind"]},
                {"not": {"required": ["kind"]}}
            ]})
        } else {
            json!({"type": "object", "properties": {"kind": {"const": kind.as_str()}}, "required": ["kind"]})
        };
        branches
            .push(json!({"if": condition, "then": {"$ref": format!("#/$defs/{}", kind.as_str())}}));
    }
    // As the loader: a document without `kind` is a Workspace only when it has a `spec`.
    branches.push(json!({
        "if": {"type": "object", "not": {"required": ["kind"]}},
        "then": {"required": ["spec"]}
    }));
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("https://cordium.dev/schemas/{ANY_KIND_FILE}"),
        "title": "Cordium resource",
        "description": "Any Cordium document: Workspace, Template, Space, UserConfig, ClusterConfig, Secret, UserSecret or GitProvider. A document without `kind` is a Workspace.",
        "type": ["object", "null"],
        "properties": {"kind": {"enum": Kind::NAMES}, "apiVersion": {"const": API_VERSION}},
        "allOf": branches,
        "$defs": defs,
    })
}

/// Every schema file: `(file name, pretty JSON with a trailing newline)`.
pub fn all_files() -> Vec<(String, String)> {
    let mut files: Vec<(String, Value)> = Kind::ALL
        .iter()
        .map(|k| (file_name(*k), for_kind(*k)))
        .collect();
    files.push((ANY_KIND_FILE.into(), any_kind()));
    files
        .into_iter()
        .map(|(name, value)| {
            let text = serde_json::to_string_pretty(&value).unwrap_or_default();
            (name, text + "\n")
        })
        .collect()
}
