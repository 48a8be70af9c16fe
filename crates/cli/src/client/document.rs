//! Reading the document a `create` or `update` sends: checked locally exactly as
//! `cordium validate` checks it, after setting aside what the server owns (`status`, and
//! `metadata.uid`, `createdAt`, `updatedAt`, `resourceVersion`), so a document printed by
//! `cordium get` can be edited and sent back.

use super::error::ClientError;
use super::wire::json_into_struct;
use crate::args::MessageFormat;
use crate::kind_arg::kind_arg;
use crate::output::Output;
use base64::Engine as _;
use cordium_api as pb;
use cordium_spec::{Cx, Diagnostic, Kind, Node, NodeKind, SourceMap, codes};
use std::path::Path;

/// What a document says about the resource to send.
#[derive(Debug, Default)]
pub(crate) struct Input {
    /// Name, display name, description, labels, annotations and, when written, the
    /// resource version the update expects.
    pub(crate) metadata: pb::Metadata,
    /// The `spec` (Space, Template, Workspace, GitProvider).
    pub(crate) spec: Option<pb::Spec>,
    /// A Secret or UserSecret value from `data`.
    pub(crate) data: Option<pb::SecretData>,
    /// A UserSecret with `spec.type: SSH_KEY`.
    pub(crate) ssh_key: bool,
    /// `status.space`, as `cordium get` prints it.
    pub(crate) space: Option<String>,
    /// `status.template`, as `cordium get` prints it.
    pub(crate) template: Option<String>,
    /// The file's name, for messages.
    pub(crate) file: String,
}

/// Reads the one document of `path` (`-` is standard input), which must be a `kind`.
/// Warnings are printed; errors are returned. A Secret or UserSecret may leave out `data`:
/// the value can come from a flag, and the caller checks that there is one.
pub(crate) fn read(path: &Path, kind: Kind, out: &mut Output) -> Result<Input, ClientError> {
    match crate::input::read(path, None).map_err(|e| ClientError::Usage(e.to_string()))? {
        (name, Ok(text)) => parse(name, text, kind, out),
        (name, Err(bad)) => {
            let mut sources = SourceMap::new();
            let id = sources.add(name, bad.text());
            Err(ClientError::Diagnostics(sources, vec![bad.diagnostic(id)]))
        }
    }
}

/// Checks the one document of `text` (named `name` in messages), which must be a `kind`,
/// exactly as [`read`] does.
pub(crate) fn parse(
    name: String,
    text: String,
    expected: Kind,
    out: &mut Output,
) -> Result<Input, ClientError> {
    let mut sources = SourceMap::new();
    let id = sources.add(name.clone(), text.as_str());
    let mut roots = match cordium_spec::yaml::parse_documents(&text, id) {
        Ok(roots) => roots,
        Err(d) => return Err(ClientError::Diagnostics(sources, vec![d])),
    };
    if roots.len() != 1 {
        return Err(ClientError::Usage(format!(
            "{name} holds {} documents; give one document per command",
            roots.len()
        )));
    }
    let mut root = roots.remove(0);
    let mut input = Input {
        file: name.clone(),
        ..Input::default()
    };
    set_aside_server_fields(&mut root, &mut input);

    let mut diagnostics = Vec::new();
    let document = cordium_spec::type_document(root, &mut Cx::new(&mut diagnostics));
    if let Some(document) = &document {
        cordium_spec::validate::document(
            document,
            &mut Cx::with_root(&mut diagnostics, 0, &document.root),
        );
    }
    diagnostics.sort_by_key(|d| d.location.map(|l| (l.source, l.offset)));
    diagnostics.retain(|d| !(d.code == codes::REQUIRED && d.path == "data"));
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(ClientError::Diagnostics(sources, diagnostics));
    }
    if !diagnostics.is_empty() {
        crate::render::report(&diagnostics, &sources, MessageFormat::Human, out);
    }
    let Some(document) = document else {
        return Err(ClientError::Input(format!("{name} holds no resource")));
    };
    if document.kind != expected {
        return Err(ClientError::Usage(format!(
            "{name} holds a {} document, not a {}; use `{}`",
            document.kind.as_str(),
            expected.as_str(),
            kind_arg(document.kind)
        )));
    }
    let root = &document.root;
    if let Some(m) = root.get("metadata") {
        let text = |key: &str| {
            m.get(key)
                .and_then(Node::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        input.metadata.name = text("name");
        input.metadata.display_name = text("displayName");
        input.metadata.description = text("description");
        input.metadata.labels = string_map(m.get("labels"));
        input.metadata.annotations = string_map(m.get("annotations"));
    }
    if matches!(
        expected,
        Kind::Space | Kind::Template | Kind::Workspace | Kind::GitProvider
    ) {
        input.spec = root
            .get("spec")
            .filter(|s| s.as_map().is_some())
            .map(|s| json_into_struct(s.to_json()).into());
    }
    input.ssh_key = root
        .get("spec")
        .and_then(|s| s.get("type"))
        .and_then(Node::as_str)
        == Some("SSH_KEY");
    if let Some(data) = root.get("data") {
        input.data = secret_data(data, &name)?;
    }
    Ok(input)
}

/// Moves `status` and the server's metadata fields out of `root` into `input`.
fn set_aside_server_fields(root: &mut Node, input: &mut Input) {
    if let Some(status) = root.take("status") {
        let text = |key: &str| {
            status
                .get(key)
                .and_then(Node::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        input.space = text("space");
        input.template = text("template");
    }
    let NodeKind::Map(entries) = &mut root.kind else {
        return;
    };
    if let Some(metadata) = entries.iter_mut().find(|e| e.key == "metadata") {
        for key in ["uid", "createdAt", "updatedAt"] {
            metadata.value.take(key);
        }
        if let Some(Node {
            kind: NodeKind::Int(v),
            ..
        }) = metadata.value.take("resourceVersion")
        {
            input.metadata.resource_version = v;
        }
    }
}

fn string_map(node: Option<&Node>) -> std::collections::HashMap<String, String> {
    node.and_then(Node::as_map)
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    (
                        e.key.clone(),
                        e.value
                            .as_str()
                            .map_or_else(|| e.value.to_json().to_string(), str::to_owned),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn secret_data(data: &Node, file: &str) -> Result<Option<pb::SecretData>, ClientError> {
    use pb::secret_data::Value;
    if let Some(text) = data.get("value").and_then(Node::as_str) {
        return Ok(Some(pb::SecretData {
            value: Some(Value::Text(text.to_owned())),
        }));
    }
    if let Some(encoded) = data.get("valueBytes").and_then(Node::as_str) {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|e| {
                ClientError::Input(format!("{file}: data.valueBytes is not base64: {e}"))
            })?;
        return Ok(Some(pb::SecretData {
            value: Some(Value::Bytes(bytes)),
        }));
    }
    if data.get("attrs").is_some() {
        return Err(ClientError::Input(format!(
            "{file}: data.attrs cannot be stored on a server; give the value as data.value or data.valueBytes"
        )));
    }
    Ok(None)
}
