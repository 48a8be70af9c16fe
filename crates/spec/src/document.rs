//! Documents: reading a file into typed, validated resources.

use crate::convert::{Cx, FromNode, closest, list};
use crate::diagnostic::{Diagnostic, codes};
use crate::node::Node;
use crate::resources::*;
use crate::source::SourceId;
use crate::validate;

/// The `apiVersion` every document has.
pub const API_VERSION: &str = "cordium/v1";

crate::wire_enum! {
    /// The kinds of document.
    pub enum Kind {
        /// [`Workspace`].
        Workspace = "Workspace",
        /// [`Template`].
        Template = "Template",
        /// [`Space`].
        Space = "Space",
        /// [`UserConfig`].
        UserConfig = "UserConfig",
        /// [`ClusterConfig`].
        ClusterConfig = "ClusterConfig",
        /// [`Secret`].
        Secret = "Secret",
        /// [`UserSecret`].
        UserSecret = "UserSecret",
        /// [`GitProvider`].
        GitProvider = "GitProvider",
    }
}

/// A typed resource of any kind.
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "a run holds a handful of documents, each once; boxing would only add indirection"
)]
pub enum Resource {
    /// A Workspace.
    Workspace(Workspace),
    /// A Template.
    Template(Template),
    /// A Space.
    Space(Space),
    /// A UserConfig.
    UserConfig(UserConfig),
    /// A ClusterConfig.
    ClusterConfig(ClusterConfig),
    /// A Secret.
    Secret(Secret),
    /// A UserSecret.
    UserSecret(UserSecret),
    /// A GitProvider.
    GitProvider(GitProvider),
}

/// One document of a file: its kind, its located tree, and its typed resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The kind (from `kind`, or Workspace for a kind-less document with a `spec`).
    pub kind: Kind,
    /// The located tree, as written.
    pub root: Node,
    /// The typed resource.
    pub resource: Resource,
}

impl Document {
    /// The file this document is in.
    pub fn source(&self) -> SourceId {
        self.root.loc.source
    }

    /// `metadata.name`, when set.
    pub fn name(&self) -> Option<&str> {
        self.root.get("metadata")?.get("name")?.as_str()
    }
}

/// The documents of one file and every problem found in them.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// Documents that could be typed (they may still have errors in `diagnostics`).
    pub documents: Vec<Document>,
    /// Every problem, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses, types and validates every document of a YAML or JSON text, each on its own,
/// reporting every problem at once.
pub fn load(text: &str, source: SourceId) -> Loaded {
    match crate::yaml::parse_documents(text, source) {
        Ok(nodes) => load_trees(nodes),
        Err(d) => Loaded {
            documents: Vec::new(),
            diagnostics: vec![d],
        },
    }
}

/// Types and validates located trees as [`load`] does the documents it parses: for trees
/// built without a text (the server builds a request's document from its protobuf `Struct`,
/// `cordium-server`'s `service::spec_tree`). Diagnostics come in the order of the nodes'
/// offsets, as a text's come in file order.
pub fn load_trees(nodes: impl IntoIterator<Item = Node>) -> Loaded {
    let mut loaded = Loaded::default();
    for root in nodes {
        let start = loaded.diagnostics.len();
        let typed = type_document(root, &mut Cx::new(&mut loaded.diagnostics));
        if let Some(document) = typed {
            validate::document(
                &document,
                &mut Cx::with_root(&mut loaded.diagnostics, start, &document.root),
            );
            loaded.documents.push(document);
        }
    }
    // Conversion and validation find problems in two passes; people read them in file order.
    loaded
        .diagnostics
        .sort_by_key(|d| d.location.map(|l| (l.source, l.offset)));
    loaded
}

/// Types one located tree: decides its kind, then converts it, recording problems in `cx`.
pub fn type_document(root: Node, cx: &mut Cx<'_>) -> Option<Document> {
    if root.as_map().is_none() {
        cx.type_error(
            &root,
            "a mapping with `apiVersion`, `kind`, `metadata` and `spec`",
        );
        return None;
    }
    let kind = match root.get("kind") {
        None if root.get("spec").is_some() => Kind::Workspace,
        None => {
            cx.report(
                Diagnostic::error(codes::KIND, "the document has no `kind`")
                    .at(root.loc)
                    .with_help(format!("add `kind:` with one of {}", list(Kind::NAMES))),
            );
            return None;
        }
        Some(node) => match node.as_str() {
            Some(k) => match Kind::NAMES.iter().position(|n| *n == k) {
                Some(i) => KINDS[i],
                None => {
                    let d = Diagnostic::error(codes::KIND, format!("unknown kind `{k}`"))
                        .at(node.loc)
                        .at_path("kind");
                    cx.report(match closest(k, Kind::NAMES.iter().copied()) {
                        Some(best) => d.with_help(format!("did you mean `{best}`?")),
                        None => d.with_help(format!("use one of {}", list(Kind::NAMES))),
                    });
                    return None;
                }
            },
            None => {
                cx.at("kind", |cx| cx.type_error(node, "a string"));
                return None;
            }
        },
    };
    match root.get("apiVersion") {
        Some(v) if v.as_str() != Some(API_VERSION) => cx.report(
            Diagnostic::error(
                codes::KIND,
                format!("unsupported apiVersion; expected `{API_VERSION}`"),
            )
            .at(v.loc)
            .at_path("apiVersion")
            .with_help(format!("write `apiVersion: {API_VERSION}`")),
        ),
        None if root.get("kind").is_some() => cx.report(
            Diagnostic::error(codes::REQUIRED, "the document has no `apiVersion`")
                .at(root.loc)
                .at_path("apiVersion")
                .with_help(format!("add `apiVersion: {API_VERSION}`")),
        ),
        _ => {}
    }
    let resource = match kind {
        Kind::Workspace => Resource::Workspace(Workspace::from_node(&root, cx)?),
        Kind::Template => Resource::Template(Template::from_node(&root, cx)?),
        Kind::Space => Resource::Space(Space::from_node(&root, cx)?),
        Kind::UserConfig => Resource::UserConfig(UserConfig::from_node(&root, cx)?),
        Kind::ClusterConfig => Resource::ClusterConfig(ClusterConfig::from_node(&root, cx)?),
        Kind::Secret => Resource::Secret(Secret::from_node(&root, cx)?),
        Kind::UserSecret => Resource::UserSecret(UserSecret::from_node(&root, cx)?),
        Kind::GitProvider => Resource::GitProvider(GitProvider::from_node(&root, cx)?),
    };
    Some(Document {
        kind,
        root,
        resource,
    })
}

const KINDS: [Kind; 8] = [
    Kind::Workspace,
    Kind::Template,
    Kind::Space,
    Kind::UserConfig,
    Kind::ClusterConfig,
    Kind::Secret,
    Kind::UserSecret,
    Kind::GitProvider,
];

impl Kind {
    /// Every kind, in declaration order.
    pub const ALL: [Kind; 8] = KINDS;

    /// How many dot-separated parts `metadata.name` may have.
    pub fn name_segments(self) -> usize {
        match self {
            Kind::Space => 2,
            Kind::Template => 3,
            _ => 1,
        }
    }
}
