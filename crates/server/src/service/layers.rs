//! Layer documents as the compiler reads them, remembered by their content.
//!
//! Loading a stored spec costs a protobuf Struct turned into document text and that text through
//! the located loader. That was about a fifth of a CompileWorkspace, and the same Space,
//! Template and Workspace are compiled again and again. A compile still builds its own
//! `SourceMap` and owns its documents (the fold moves their nodes); what it skips is the text
//! and the parse.
//!
//! An entry is keyed by everything its document is made of: the kind, the label it is shown
//! under, the name and the spec's protobuf encoding. It therefore never goes stale and needs no
//! write generation; the memo's TTL only makes it reload once a second. The document's nodes
//! carry the `SourceId` of the map they were loaded into, so an entry is used only when the
//! compile adds its text at the same position, which is the case for every compile of the same
//! layers.

use super::documents::{document_text, invalid};
use crate::cache::Memo;
use cordium_api::Spec;
use cordium_spec::{Document, Kind, SourceMap, load};
use prost::Message as _;
use std::sync::Arc;
use tonic::Status;

/// How many documents the memo keeps, and their bytes (an estimate: keys, texts and trees).
const ENTRIES: usize = 4096;
const BYTES: usize = 64 << 20;

/// A loaded tree takes several times its text in memory; the weight counts it so.
const TREE_BYTES_PER_TEXT_BYTE: usize = 8;

/// Content-addressed entries are valid in every generation.
const ALWAYS: Option<u64> = Some(0);

type Key = (Kind, String, String, Vec<u8>);

/// One loaded layer: its text (shared with every `SourceMap` it is added to) and its document.
#[derive(Debug)]
struct Loaded {
    text: Arc<str>,
    document: Document,
}

/// The remembered layer documents, shared by every call.
#[derive(Debug)]
pub(crate) struct Layers(Memo<Key, Arc<Loaded>>);

impl Default for Layers {
    fn default() -> Self {
        Self(Memo::new(ENTRIES, BYTES))
    }
}

/// Where a layer's spec comes from, for what a refusal says of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A stored resource (valid when written; a newer rule may refuse it now).
    Stored,
    /// The request's own spec (CompileWorkspace's inline `spec`).
    Request,
}

impl Origin {
    fn refusal(self) -> &'static str {
        match self {
            Self::Stored => "the stored resource is no longer valid",
            Self::Request => "the spec is invalid",
        }
    }
}

impl Layers {
    /// The document of a resource's layer, added to `sources` under `label`: loaded once per
    /// content, then copied. A spec that does not load cleanly is refused, as no longer valid
    /// when it was stored.
    pub(crate) fn load(
        &self,
        sources: &mut SourceMap,
        label: String,
        origin: Origin,
        kind: Kind,
        name: &str,
        spec: Option<&Spec>,
    ) -> Result<Document, Status> {
        // A Spec keeps its encoding (`cordium_api::spec`): the key costs a copy, not an encode.
        let key: Key = (
            kind,
            label,
            name.to_owned(),
            spec.map(Spec::encode_to_vec).unwrap_or_default(),
        );
        if let Some(known) = self.0.get(&key, ALWAYS) {
            let id = sources.add(key.1.as_str(), known.text.clone());
            if known.document.source() == id {
                return Ok(known.document.clone());
            }
            return Self::parse(&known.text, id, origin);
        }
        let text: Arc<str> = document_text(kind, name, spec.map(|s| &**s)).into();
        let id = sources.add(key.1.as_str(), text.clone());
        let document = Self::parse(&text, id, origin)?;
        let weight =
            key.1.len() + key.2.len() + key.3.len() + text.len() * TREE_BYTES_PER_TEXT_BYTE;
        let loaded = Loaded {
            text,
            document: document.clone(),
        };
        self.0.put(key, Arc::new(loaded), ALWAYS, weight);
        Ok(document)
    }

    /// Loads one layer's text, refusing one that does not load cleanly.
    fn parse(text: &str, id: cordium_spec::SourceId, origin: Origin) -> Result<Document, Status> {
        let mut loaded = load(text, id);
        if loaded.has_errors() {
            return Err(invalid(origin.refusal(), &loaded.diagnostics));
        }
        loaded
            .documents
            .pop()
            .ok_or_else(|| Status::internal("a layer's text has no document"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cordium_api::json::json_to_struct;
    use cordium_spec::SourceId;

    fn spec(image: &str) -> Spec {
        json_to_struct(&serde_json::json!({ "image": { "registry": { "url": image } } })).into()
    }

    fn load_at(layers: &Layers, sources: &mut SourceMap, spec: &Spec) -> Document {
        layers
            .load(
                sources,
                "Workspace ws".into(),
                Origin::Stored,
                Kind::Workspace,
                "ws",
                Some(spec),
            )
            .expect("a valid layer")
    }

    #[test]
    fn a_layer_is_parsed_once_per_content_and_placed_where_it_is_added() {
        let layers = Layers::default();
        let first = load_at(&layers, &mut SourceMap::new(), &spec("alpine"));
        let mut sources = SourceMap::new();
        let again = load_at(&layers, &mut sources, &spec("alpine"));
        assert_eq!(first, again, "the remembered document is the loaded one");
        let text = sources.get(SourceId(0)).map(|s| s.text.clone());
        assert!(
            text.is_some_and(|t| t.contains("alpine")),
            "its text is in the compile's map"
        );

        let mut later = SourceMap::new();
        later.add("another layer", "{}");
        let moved = load_at(&layers, &mut later, &spec("alpine"));
        assert_eq!(
            moved.source(),
            SourceId(1),
            "its nodes name where it was added"
        );

        let changed = load_at(&layers, &mut SourceMap::new(), &spec("debian"));
        assert_ne!(
            changed.root, first.root,
            "another content is another document"
        );
    }
}
