//! Specs on the wire are `google.protobuf.Struct`: the document's `spec` as JSON. They are
//! validated by the spec crate exactly as `cordium validate` validates files, and problems come
//! back as `InvalidArgument` with one field violation per diagnostic.

use cordium_spec::{Diagnostic, Kind, load};
use prost_types::Struct;
use tonic::Status;
use tonic_types::{ErrorDetails, StatusExt as _};

pub(crate) use cordium_api::json::struct_to_json;

/// The document text of a resource: `apiVersion`, `kind`, `metadata.name` and `spec`.
pub(crate) fn document_text(kind: Kind, name: &str, spec: Option<&Struct>) -> String {
    let mut doc =
        serde_json::json!({"apiVersion": cordium_spec::API_VERSION, "kind": kind.as_str()});
    if !name.is_empty() {
        doc["metadata"] = serde_json::json!({ "name": name });
    }
    if let Some(spec) = spec {
        doc["spec"] = struct_to_json(spec);
    }
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// Validates a spec as `cordium validate` would.
pub(crate) fn validate(kind: Kind, name: &str, spec: Option<&Struct>) -> Result<(), Status> {
    // JSON has no NaN or infinity: converted, they would silently become null (absent).
    if let Some(path) = spec.and_then(cordium_api::json::non_finite_number) {
        return Err(bad_field(
            &format!("spec.{path}"),
            "a number must be finite (not NaN or an infinity)",
        ));
    }
    // The tree the loader would read from the document's text, built without the text when
    // it can be (`spec_tree`).
    let loaded = match super::spec_tree::document_tree(kind, name, spec) {
        Some(root) => cordium_spec::load_trees([root]),
        None => load(&document_text(kind, name, spec), cordium_spec::SourceId(0)),
    };
    if loaded.has_errors() {
        return Err(invalid(
            &format!("the {} is invalid", kind.as_str()),
            &loaded.diagnostics,
        ));
    }
    Ok(())
}

/// `cordium validate`'s bounds on metadata (`displayName`, `description` in bytes; `labels`,
/// `annotations` in entries), checked before the document is built.
const MAX_DISPLAY_NAME_BYTES: usize = 100;
const MAX_DESCRIPTION_BYTES: usize = 1024;
const MAX_METADATA_ENTRIES: usize = 64;

/// Validates the descriptive metadata a write request carries (`displayName`, `description`,
/// `labels`, `annotations`) by the rules of `cordium validate`: the same document is loaded
/// and only its `metadata.*` diagnostics count (names are checked where each kind is named).
/// A write that skipped this could store a 4 MB display name or 200,000 labels.
pub(crate) fn validate_metadata(
    kind: Kind,
    metadata: Option<&crate::pb::Metadata>,
) -> Result<(), Status> {
    let Some(m) = metadata else {
        return Ok(());
    };
    // Count and size before content: what is over these bounds fails the rules below as
    // well, but refusing it here costs nothing, however large (a test keeps them in step).
    let sizes = [
        (
            "displayName",
            m.display_name.len(),
            MAX_DISPLAY_NAME_BYTES,
            "bytes",
        ),
        (
            "description",
            m.description.len(),
            MAX_DESCRIPTION_BYTES,
            "bytes",
        ),
        ("labels", m.labels.len(), MAX_METADATA_ENTRIES, "entries"),
        (
            "annotations",
            m.annotations.len(),
            MAX_METADATA_ENTRIES,
            "entries",
        ),
    ];
    if let Some((field, len, max, unit)) = sizes.into_iter().find(|(_, len, max, _)| len > max) {
        return Err(bad_field(
            &format!("metadata.{field}"),
            format!("`{field}` has {len} {unit}; at most {max} are allowed"),
        ));
    }
    let mut fields = serde_json::Map::new();
    if !m.display_name.is_empty() {
        fields.insert("displayName".into(), m.display_name.as_str().into());
    }
    if !m.description.is_empty() {
        fields.insert("description".into(), m.description.as_str().into());
    }
    for (field, map) in [("labels", &m.labels), ("annotations", &m.annotations)] {
        if !map.is_empty() {
            let entries = map
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
                .collect();
            fields.insert(field.into(), serde_json::Value::Object(entries));
        }
    }
    if fields.is_empty() {
        return Ok(());
    }
    let doc = serde_json::json!({
        "apiVersion": cordium_spec::API_VERSION,
        "kind": kind.as_str(),
        "metadata": fields,
    });
    let text = doc.to_string();
    let loaded = load(&text, cordium_spec::SourceId(0));
    let problems: Vec<Diagnostic> = loaded
        .diagnostics
        .into_iter()
        .filter(|d| d.is_error() && d.path.starts_with("metadata"))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(invalid(
            &format!("the {}'s metadata is invalid", kind.as_str()),
            &problems,
        ))
    }
}

/// `InvalidArgument` with one BadRequest field violation on `field` (a request field path).
pub(crate) fn bad_field(field: &str, description: impl Into<String>) -> Status {
    let description = description.into();
    let mut details = ErrorDetails::new();
    details.add_bad_request_violation(field, description.clone());
    Status::with_error_details(
        tonic::Code::InvalidArgument,
        format!("{field}: {description}"),
        details,
    )
}

/// Checks a run's variables (StartWorkspace's and CompileWorkspace's `vars`) by the rules of
/// `spec.vars`: they are stored with the workspace and substituted at every start.
pub(crate) fn validate_run_vars(vars: &[crate::pb::Var]) -> Result<(), Status> {
    cordium_spec::validate::check_run_vars(vars.iter().map(|v| (v.name.as_str(), v.value.as_str())))
        .map_err(|e| bad_field(&format!("vars[{}].{}", e.index, e.field), e.problem))
}

/// How many diagnostics an error answer carries: the first ones, then "and K more". A hostile
/// spec can produce one diagnostic per entry (100,000 of them); the answer must stay well under
/// what clients accept in one message and in trailers.
const MAX_VIOLATIONS: usize = 20;
/// The most bytes of one violation's description or path; the rest is cut with `…` (a
/// diagnostic may quote a value, and values are as long as the caller makes them).
const MAX_VIOLATION_BYTES: usize = 300;
/// The most bytes of the message (`grpc-message`) and of the violations (inside
/// `grpc-status-details-bin`, which repeats the message and is base64: 4/3 of its size). An
/// error travels in trailers, and gRPC's C core (Python's and C++'s clients) refuses trailers
/// past 8 KB in all (16 KB hard): percent-encoding can triple the message, so at most
/// 3 × 1 KB + 4/3 × (1 KB + 1.5 KB) ≈ 6.4 KB, with room for the other headers.
const MESSAGE_BUDGET: usize = 1024;
const VIOLATIONS_BUDGET: usize = 1536;

/// A diagnostic as one field violation's description, cut to [`MAX_VIOLATION_BYTES`].
fn violation(d: &Diagnostic) -> String {
    truncate(&match &d.help {
        Some(h) => format!("{} [{}] (help: {h})", d.message, d.code),
        None => format!("{} [{}]", d.message, d.code),
    })
}

/// The first errors among `diagnostics`, each as its (cut) path and violation, while they fit
/// in `budget` bytes and [`MAX_VIOLATIONS`]; and how many errors there are in all. The first
/// always fits: it is at most two cut texts.
fn named_errors(diagnostics: &[Diagnostic], budget: usize) -> (Vec<(String, String)>, usize) {
    let (mut named, mut used, mut errors, mut full) = (Vec::new(), 0, 0, false);
    for d in diagnostics.iter().filter(|d| d.is_error()) {
        errors += 1;
        if full {
            continue;
        }
        let (path, description) = (truncate(&d.path), violation(d));
        let size = path.len() + description.len();
        full = named.len() == MAX_VIOLATIONS || (!named.is_empty() && used + size > budget);
        if !full {
            used += size;
            named.push((path, description));
        }
    }
    (named, errors)
}

/// `summary` and the first errors among `diagnostics` that fit in [`MESSAGE_BUDGET`] (then
/// "and K more"), on one line: the message of [`invalid`], and what a run failure says of a
/// workspace that does not compile.
pub(crate) fn describe(summary: &str, diagnostics: &[Diagnostic]) -> String {
    let (named, errors) = named_errors(diagnostics, MESSAGE_BUDGET);
    let mut lines: Vec<String> = named
        .iter()
        .map(|(path, description)| {
            let path = if path.is_empty() { "<document>" } else { path };
            format!("{path}: {description}")
        })
        .collect();
    if errors > named.len() {
        lines.push(format!("and {} more", errors - named.len()));
    }
    format!("{summary}: {}", lines.join("; "))
}

/// `InvalidArgument` with one BadRequest field violation per error that fits in
/// [`VIOLATIONS_BUDGET`] (see [`describe`] for the message).
pub(crate) fn invalid(summary: &str, diagnostics: &[Diagnostic]) -> Status {
    let mut details = ErrorDetails::new();
    for (path, description) in named_errors(diagnostics, VIOLATIONS_BUDGET).0 {
        details.add_bad_request_violation(path, description);
    }
    Status::with_error_details(
        tonic::Code::InvalidArgument,
        describe(summary, diagnostics),
        details,
    )
}

/// `text`, cut to [`MAX_VIOLATION_BYTES`] bytes.
fn truncate(text: &str) -> String {
    cordium_spec::shapes::cut(text, MAX_VIOLATION_BYTES).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb;

    /// The bounds checked before loading are the loader's own: one past each is refused by
    /// the loader as well, and each bound itself is accepted by both.
    #[test]
    fn the_early_bounds_are_the_loaders() {
        let at = |n: usize| pb::Metadata {
            display_name: "x".repeat(n.min(MAX_DISPLAY_NAME_BYTES + 1)),
            description: "x".repeat(n * MAX_DESCRIPTION_BYTES / MAX_DISPLAY_NAME_BYTES),
            ..Default::default()
        };
        let entries = |n: usize| (0..n).map(|i| (format!("k{i}"), String::new())).collect();
        let cases = [
            (
                "displayName",
                at(MAX_DISPLAY_NAME_BYTES),
                pb::Metadata {
                    display_name: "x".repeat(MAX_DISPLAY_NAME_BYTES + 1),
                    ..Default::default()
                },
            ),
            (
                "description",
                at(MAX_DISPLAY_NAME_BYTES),
                pb::Metadata {
                    description: "x".repeat(MAX_DESCRIPTION_BYTES + 1),
                    ..Default::default()
                },
            ),
            (
                "labels",
                pb::Metadata {
                    labels: entries(MAX_METADATA_ENTRIES),
                    ..Default::default()
                },
                pb::Metadata {
                    labels: entries(MAX_METADATA_ENTRIES + 1),
                    ..Default::default()
                },
            ),
            (
                "annotations",
                pb::Metadata {
                    annotations: entries(MAX_METADATA_ENTRIES),
                    ..Default::default()
                },
                pb::Metadata {
                    annotations: entries(MAX_METADATA_ENTRIES + 1),
                    ..Default::default()
                },
            ),
        ];
        for (field, fine, over) in cases {
            assert!(
                validate_metadata(Kind::Workspace, Some(&fine)).is_ok(),
                "{field} at the bound"
            );
            let early = validate_metadata(Kind::Workspace, Some(&over)).expect_err(field);
            assert!(
                early.message().starts_with(&format!("metadata.{field}")),
                "{}",
                early.message()
            );
            // The loader alone (the early check skipped) refuses the same.
            let text = serde_json::json!({
                "apiVersion": cordium_spec::API_VERSION,
                "kind": "Workspace",
                "metadata": {
                    "displayName": over.display_name,
                    "description": over.description,
                    "labels": over.labels,
                    "annotations": over.annotations,
                },
            })
            .to_string();
            let loaded = load(&text, cordium_spec::SourceId(0));
            assert!(
                loaded
                    .diagnostics
                    .iter()
                    .any(|d| d.is_error() && d.path == format!("metadata.{field}")),
                "the loader refuses {field} too: {:?}",
                loaded.diagnostics
            );
        }
    }
}
