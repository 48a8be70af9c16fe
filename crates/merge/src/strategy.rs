//! The merge strategy of every field, declared once.
//!
//! | path (relative to `spec`) | strategy |
//! |---|---|
//! | `image`, `image.dockerfile`, `image.repository`, `repository.authentication`, `dotfiles.authentication` | one-of: same choice merges field by field, another choice replaces |
//! | `runtime.envVars` | keyed by `key`: replaced in place (whole, so nothing beneath a keyed entry merges), new keys appended |
//! | `additionalRepositories`, `applications`, `vars` | keyed by `name` |
//! | `runtime.volumeMounts` | keyed by `mountPath` |
//! | `runtime.devcontainers.features` | keyed by `reference` |
//! | `runtime.capabilities.add`, `runtime.capabilities.drop` | ordered set: union, first appearance kept |
//! | `runtime.tasks`, `runtime.network.egress.rules` | concatenated: Template, repository file, Workspace, Space, UserConfig |
//! | `limit` | resolved per dimension and capped ([`crate::limits`]); the fold puts the result in place |
//! | any other mapping | merged field by field |
//! | anything else (scalars, other lists) | the highest layer that sets it wins; `false`, `0` and `""` count as set |
//!
//! The fold (`tree::fold`) is the only reader of this table besides provenance (which
//! reports limits from their resolution): it has no per-field cases of its own.

use cordium_spec::FieldPath;

/// How one field is merged across layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Merge mappings field by field.
    Merge,
    /// The higher layer's value wins whole.
    Replace,
    /// A mapping with one key naming the choice: the same choice merges, another replaces.
    OneOf,
    /// A list of mappings keyed by the named field: an entry with a known key replaces the
    /// lower entry whole, in its position; other entries are appended.
    Keyed(&'static str),
    /// A list of scalars: the union, first appearance kept.
    OrderedSet,
    /// A list concatenated across layers in [`crate::Layer::concat_rank`] order: the fold sets
    /// every layer's list aside and places the concatenation after merging.
    Concat,
    /// Resolved per dimension by [`crate::limits`] from the layers' typed limits: the fold
    /// leaves the layers' values out and places the resolved limits.
    Limits,
}

/// The strategy table. Paths are relative to `spec`; `[]` stands for any list index.
pub const STRATEGIES: &[(&str, Strategy)] = &[
    ("image", Strategy::OneOf),
    ("image.dockerfile", Strategy::OneOf),
    ("image.repository", Strategy::OneOf),
    ("repository.authentication", Strategy::OneOf),
    ("dotfiles.authentication", Strategy::OneOf),
    ("runtime.envVars", Strategy::Keyed("key")),
    ("runtime.tasks", Strategy::Concat),
    ("runtime.network.egress.rules", Strategy::Concat),
    ("runtime.capabilities.add", Strategy::OrderedSet),
    ("runtime.capabilities.drop", Strategy::OrderedSet),
    ("runtime.volumeMounts", Strategy::Keyed("mountPath")),
    (
        "runtime.devcontainers.features",
        Strategy::Keyed("reference"),
    ),
    ("additionalRepositories", Strategy::Keyed("name")),
    ("applications", Strategy::Keyed("name")),
    ("vars", Strategy::Keyed("name")),
    ("limit", Strategy::Limits),
];

/// The strategy the table declares for the field at `path` (below `spec`), if any.
pub fn declared(path: &FieldPath<'_>) -> Option<Strategy> {
    STRATEGIES
        .iter()
        .find(|(pattern, _)| path.matches(pattern))
        .map(|(_, s)| *s)
}

/// The strategy of the field at `path`, given whether both values are mappings: the declared
/// one, else mappings merge and anything else is replaced.
pub fn strategy_for(path: &FieldPath<'_>, is_mapping: bool) -> Strategy {
    declared(path).unwrap_or(if is_mapping {
        Strategy::Merge
    } else {
        Strategy::Replace
    })
}

impl Strategy {
    /// Whether the fold sets the layers' values aside and places the field after merging
    /// (concatenated lists, resolved limits) instead of merging them pair by pair.
    pub fn is_set_aside(self) -> bool {
        matches!(self, Strategy::Concat | Strategy::Limits)
    }
}

/// The table entries the fold sets aside, in table order.
pub fn set_aside() -> impl Iterator<Item = (&'static str, Strategy)> {
    STRATEGIES.iter().copied().filter(|(_, s)| s.is_set_aside())
}
