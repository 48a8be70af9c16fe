//! The merge strategy of every field, declared once.
//!
//! | path (relative to `spec`) | strategy |
//! |---|---|
//! | `image`, `image.dockerfile`, `image.repository`, `repository.authentication`, `additionalRepositories[].repository.authentication`, `dotfiles.authentication` | one-of: same choice merges field by field, another choice replaces |
//! | `runtime.envVars` | keyed by `key`: replaced in place, new keys appended |
//! | `additionalRepositories`, `applications`, `vars` | keyed by `name` |
//! | `runtime.volumeMounts` | keyed by `mountPath` |
//! | `runtime.devcontainers.features` | keyed by `reference` |
//! | `runtime.capabilities.add`, `runtime.capabilities.drop` | ordered set: union, first appearance kept |
//! | `runtime.tasks`, `runtime.network.egress.rules` | concatenated: Template, repository file, Workspace, Space, UserConfig |
//! | `limit` | resolved per dimension and capped ([`crate::limits`]) |
//! | any other mapping | merged field by field |
//! | anything else (scalars, other lists) | the highest layer that sets it wins; `false`, `0` and `""` count as set |

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
    /// A list concatenated across layers in [`crate::Layer::concat_rank`] order.
    Concat,
    /// Resolved by [`crate::limits`], not by the tree merge.
    Limits,
}

/// The strategy table. Paths are relative to `spec`; `[]` stands for any list index.
pub const STRATEGIES: &[(&str, Strategy)] = &[
    ("image", Strategy::OneOf),
    ("image.dockerfile", Strategy::OneOf),
    ("image.repository", Strategy::OneOf),
    ("repository.authentication", Strategy::OneOf),
    (
        "additionalRepositories[].repository.authentication",
        Strategy::OneOf,
    ),
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

/// The strategy of the field at `pattern` (a path with `[]` for indexes), given whether the
/// value is a mapping.
pub fn strategy_for(pattern: &str, is_mapping: bool) -> Strategy {
    STRATEGIES.iter().find(|(p, _)| *p == pattern).map_or(
        if is_mapping {
            Strategy::Merge
        } else {
            Strategy::Replace
        },
        |(_, s)| *s,
    )
}

/// The paths whose lists are concatenated rather than merged.
pub fn concat_paths() -> impl Iterator<Item = &'static str> {
    STRATEGIES
        .iter()
        .filter(|(_, s)| *s == Strategy::Concat)
        .map(|(p, _)| *p)
}
