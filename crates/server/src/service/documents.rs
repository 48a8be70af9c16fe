//! Specs on the wire are `google.protobuf.Struct`: the document's `spec` as JSON. They are
//! validated by the spec crate exactly as `cordium validate` validates files, and problems come
//! back as `InvalidArgument` with one field violation per diagnostic.

use cordium_spec::{Diagnostic, Document, Kind, SourceMap, load};
use prost_types::Struct;
use tonic::Status;
use tonic_types::{ErrorDetails, StatusExt as _};

pub(crate) use cordium_api::json::{json_to_struct, struct_to_json};

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

/// Loads a resource's document (for compiling) into `sources` under `label`.
pub(crate) fn load_document(
    sources: &mut SourceMap,
    label: String,
    kind: Kind,
    name: &str,
    spec: Option<&Struct>,
) -> Result<Document, Status> {
    let text = document_text(kind, name, spec);
    let id = sources.add(label, text.as_str());
    let mut loaded = load(&text, id);
    if loaded.has_errors() {
        return Err(invalid(
            "the stored resource is no longer valid",
            &loaded.diagnostics,
        ));
    }
    loaded
        .documents
        .pop()
        .ok_or_else(|| Status::internal("the stored resource has no document"))
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
    let text = document_text(kind, name, spec);
    let loaded = load(&text, cordium_spec::SourceId(0));
    if loaded.has_errors() {
        return Err(invalid(
            &format!("the {} is invalid", kind.as_str()),
            &loaded.diagnostics,
        ));
    }
    Ok(())
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

/// How many diagnostics an error answer carries: the first ones, then "and K more". A hostile
/// spec can produce one diagnostic per entry (100,000 of them); the answer must stay well under
/// what clients accept in one message and in trailers (4 MB and 8 KB by default for many).
const MAX_VIOLATIONS: usize = 20;
/// The longest description of one violation; the rest is cut with `…` (a diagnostic may quote
/// a value, and values are as long as the caller makes them).
const MAX_DESCRIPTION_CHARS: usize = 300;

/// A diagnostic as one field violation's description, cut to [`MAX_DESCRIPTION_CHARS`].
fn violation(d: &Diagnostic) -> String {
    truncate(&match &d.help {
        Some(h) => format!("{} [{}] (help: {h})", d.message, d.code),
        None => format!("{} [{}]", d.message, d.code),
    })
}

/// The errors among `diagnostics` an answer names: the first [`MAX_VIOLATIONS`].
fn named_errors(diagnostics: &[Diagnostic]) -> impl Iterator<Item = &Diagnostic> {
    diagnostics
        .iter()
        .filter(|d| d.is_error())
        .take(MAX_VIOLATIONS)
}

/// `summary` and the first [`MAX_VIOLATIONS`] errors among `diagnostics` (then "and K
/// more"), on one line: the message of [`invalid`], and what a run failure says of a workspace
/// that does not compile.
pub(crate) fn describe(summary: &str, diagnostics: &[Diagnostic]) -> String {
    let mut lines: Vec<String> = named_errors(diagnostics)
        .map(|d| {
            let path = truncate(&d.path);
            let path = if path.is_empty() { "<document>" } else { &path };
            format!("{path}: {}", violation(d))
        })
        .collect();
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    if errors > MAX_VIOLATIONS {
        lines.push(format!("and {} more", errors - MAX_VIOLATIONS));
    }
    format!("{summary}: {}", lines.join("; "))
}

/// `InvalidArgument` with one BadRequest field violation per named error (see [`describe`]).
pub(crate) fn invalid(summary: &str, diagnostics: &[Diagnostic]) -> Status {
    let mut details = ErrorDetails::new();
    for d in named_errors(diagnostics) {
        details.add_bad_request_violation(truncate(&d.path), violation(d));
    }
    Status::with_error_details(
        tonic::Code::InvalidArgument,
        describe(summary, diagnostics),
        details,
    )
}

/// `text`, cut to [`MAX_DESCRIPTION_CHARS`] characters.
fn truncate(text: &str) -> String {
    match text.char_indices().nth(MAX_DESCRIPTION_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}
