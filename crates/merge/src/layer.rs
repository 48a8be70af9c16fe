//! Layers, their precedence, and the origin of a value.

use cordium_spec::Location;

/// A configuration layer. The derived order is precedence: later variants win.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Layer {
    /// Built-in defaults (cpu 2000 millicores, memory 6000 MB, storage 20000 MB).
    BuiltIn,
    /// The ClusterConfig.
    Cluster,
    /// The user's UserConfig.
    UserConfig,
    /// The Space.
    Space,
    /// The Template.
    Template,
    /// The Workspace document found in the cloned repository.
    RepositoryFile,
    /// The Workspace.
    Workspace,
    /// Variables given when starting a run (`--var NAME=VALUE`).
    Run,
}

impl Layer {
    /// The layer's name as people say it.
    pub fn label(self) -> &'static str {
        match self {
            Layer::BuiltIn => "built-in default",
            Layer::Cluster => "ClusterConfig",
            Layer::UserConfig => "UserConfig",
            Layer::Space => "Space",
            Layer::Template => "Template",
            Layer::RepositoryFile => "repository file",
            Layer::Workspace => "Workspace",
            Layer::Run => "run",
        }
    }

    /// The order in which tasks (and egress rules) are concatenated: Template, repository file,
    /// Workspace, Space, UserConfig. Layers that contribute no tasks come last.
    pub fn concat_rank(self) -> u8 {
        match self {
            Layer::Template => 0,
            Layer::RepositoryFile => 1,
            Layer::Workspace => 2,
            Layer::Space => 3,
            Layer::UserConfig => 4,
            Layer::Cluster | Layer::BuiltIn | Layer::Run => 5,
        }
    }
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Origin {
    /// The layer.
    pub layer: Layer,
    /// `metadata.name` of the layer's document, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    /// The place in the file; none for built-in defaults and run variables.
    #[serde(skip)]
    pub location: Option<Location>,
}
