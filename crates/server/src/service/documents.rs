//! Specs on the wire are `google.protobuf.Struct`: the document's `spec` as JSON. They are
//! validated by the spec crate exactly as `cordium validate` validates files, and problems come
//! back as `InvalidArgument` with one field violation per diagnostic.

use cordium_spec::{Diagnostic, Document, Kind, SourceMap, load};
use prost_types::{ListValue, Struct, Value, value::Kind as ValueKind};
use serde_json::Value as Json;
use tonic::Status;
use tonic_types::{ErrorDetails, StatusExt as _};

/// A Struct as JSON.
pub(crate) fn struct_to_json(s: &Struct) -> Json {
    Json::Object(s.fields.iter().map(|(k, v)| (k.clone(), value_to_json(v))).collect())
}

fn value_to_json(v: &Value) -> Json {
    match &v.kind {
        None | Some(ValueKind::NullValue(_)) => Json::Null,
        Some(ValueKind::BoolValue(b)) => Json::Bool(*b),
        Some(ValueKind::NumberValue(n)) => {
            if n.fract() == 0.0 && n.abs() < 9.0e15 {
                Json::from(*n as i64)
            } else {
                serde_json::Number::from_f64(*n).map_or(Json::Null, Json::Number)
            }
        }
        Some(ValueKind::StringValue(s)) => Json::String(s.clone()),
        Some(ValueKind::ListValue(l)) => Json::Array(l.values.iter().map(value_to_json).collect()),
        Some(ValueKind::StructValue(s)) => struct_to_json(s),
    }
}

/// JSON as a Struct (a non-object becomes an empty Struct).
pub(crate) fn json_to_struct(j: &Json) -> Struct {
    match j {
        Json::Object(map) => Struct { fields: map.iter().map(|(k, v)| (k.clone(), json_to_value(v))).collect() },
        _ => Struct::default(),
    }
}

fn json_to_value(j: &Json) -> Value {
    let kind = match j {
        Json::Null => ValueKind::NullValue(0),
        Json::Bool(b) => ValueKind::BoolValue(*b),
        Json::Number(n) => ValueKind::NumberValue(n.as_f64().unwrap_or(0.0)),
        Json::String(s) => ValueKind::StringValue(s.clone()),
        Json::Array(items) => ValueKind::ListValue(ListValue { values: items.iter().map(json_to_value).collect() }),
        Json::Object(_) => ValueKind::StructValue(json_to_struct(j)),
    };
    Value { kind: Some(kind) }
}

/// The document text of a resource: `apiVersion`, `kind`, `metadata.name` and `spec`.
pub(crate) fn document_text(kind: Kind, name: &str, spec: Option<&Struct>) -> String {
    let mut doc = serde_json::json!({"apiVersion": cordium_spec::API_VERSION, "kind": kind.as_str()});
    if !name.is_empty() {
        doc["metadata"] = serde_json::json!({ "name": name });
    }
    if let Some(spec) = spec {
        doc["spec"] = struct_to_json(spec);
    }
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// Loads a resource's document (for compiling) into `sources` under `label`.
pub(crate) fn load_document(sources: &mut SourceMap, label: String, kind: Kind, name: &str, spec: Option<&Struct>) -> Result<Document, Status> {
    let text = document_text(kind, name, spec);
    let id = sources.add(label, text.as_str());
    let mut loaded = load(&text, id);
    if loaded.has_errors() {
        return Err(invalid("the stored resource is no longer valid", &loaded.diagnostics));
    }
    loaded.documents.pop().ok_or_else(|| Status::internal("the stored resource has no document"))
}

/// Validates a spec as `cordium validate` would.
pub(crate) fn validate(kind: Kind, name: &str, spec: Option<&Struct>) -> Result<(), Status> {
    let text = document_text(kind, name, spec);
    let loaded = load(&text, cordium_spec::SourceId(0));
    if loaded.has_errors() {
        return Err(invalid(&format!("the {} is invalid", kind.as_str()), &loaded.diagnostics));
    }
    Ok(())
}

/// `InvalidArgument` with one BadRequest field violation on `field` (a request field path).
pub(crate) fn bad_field(field: &str, description: impl Into<String>) -> Status {
    let description = description.into();
    let mut details = ErrorDetails::new();
    details.add_bad_request_violation(field, description.clone());
    Status::with_error_details(tonic::Code::InvalidArgument, format!("{field}: {description}"), details)
}

/// `InvalidArgument` with one BadRequest field violation per diagnostic.
pub(crate) fn invalid(summary: &str, diagnostics: &[Diagnostic]) -> Status {
    let mut details = ErrorDetails::new();
    let mut lines = Vec::new();
    for d in diagnostics.iter().filter(|d| d.is_error()) {
        let description = match &d.help {
            Some(h) => format!("{} [{}] (help: {h})", d.message, d.code),
            None => format!("{} [{}]", d.message, d.code),
        };
        lines.push(format!("{}: {description}", if d.path.is_empty() { "<document>" } else { &d.path }));
        details.add_bad_request_violation(d.path.clone(), description);
    }
    Status::with_error_details(tonic::Code::InvalidArgument, format!("{summary}: {}", lines.join("; ")), details)
}
