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
use cordium_spec::path::Pattern;
use std::sync::LazyLock;

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

/// [`STRATEGIES`] with each path parsed once: the fold asks for every node of every layer.
static PARSED: LazyLock<Vec<(Pattern<'static>, Strategy)>> = LazyLock::new(|| {
    STRATEGIES
        .iter()
        .map(|(path, strategy)| (Pattern::new(path), *strategy))
        .collect()
});

/// The strategy the table declares for the field at `path` (below `spec`), if any.
pub fn declared(path: &FieldPath<'_>) -> Option<Strategy> {
    PARSED
        .iter()
        .find(|(pattern, _)| path.matches_pattern(pattern))
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

#[cfg(test)]
mod tests {
    //! The tables are text; these tests hold them to the types, through the JSON Schemas the
    //! types generate.

    use super::{STRATEGIES, Strategy};
    use crate::substitute::ELIGIBLE;
    use cordium_spec::Kind;
    use cordium_spec::path::{PatternStep, parse};
    use serde_json::Value;

    /// The layers whose spec makes up the merged tree: the Workspace's shape (the Space's and
    /// the UserConfig's fields are projected into it), `gitProvider` from the Template and
    /// `dotfiles` from the UserConfig.
    const SHAPES: [Kind; 3] = [Kind::Workspace, Kind::Template, Kind::UserConfig];

    /// `schema` and every schema it stands for (`$ref`, `allOf`, `anyOf`, `oneOf`).
    fn alternatives<'s>(root: &'s Value, schema: &'s Value) -> Vec<&'s Value> {
        let mut found = vec![schema];
        if let Some(name) = schema["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/$defs/"))
        {
            found.extend(alternatives(root, &root["$defs"][name]));
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            for part in schema[key].as_array().into_iter().flatten() {
                found.extend(alternatives(root, part));
            }
        }
        found
    }

    /// The schemas of the field at `pattern` below `spec`, in every layer's document schema.
    fn field_schemas(pattern: &str) -> Vec<(Value, Value)> {
        let mut found = Vec::new();
        for kind in SHAPES {
            let root = cordium_spec::schema::for_kind(kind);
            let mut here = vec![root["properties"]["spec"].clone()];
            for step in parse(pattern) {
                here = here
                    .iter()
                    .flat_map(|s| alternatives(&root, s))
                    .filter_map(|s| match step {
                        PatternStep::Field(name) => s["properties"].get(name),
                        PatternStep::Index(_) => s.get("items"),
                    })
                    .cloned()
                    .collect();
            }
            found.extend(here.into_iter().map(|s| (root.clone(), s)));
        }
        found
    }

    fn has_type(root: &Value, schema: &Value, wanted: &str) -> bool {
        alternatives(root, schema).iter().any(|s| match &s["type"] {
            Value::String(t) => t == wanted,
            Value::Array(types) => types.iter().any(|t| t == wanted),
            _ => false,
        })
    }

    #[test]
    fn every_strategy_path_is_a_field_of_its_kind() {
        for (pattern, strategy) in STRATEGIES {
            let schemas = field_schemas(pattern);
            assert!(!schemas.is_empty(), "`{pattern}` is no field of any layer");
            let fits = |(root, schema): &(Value, Value)| match strategy {
                Strategy::OneOf => alternatives(root, schema)
                    .iter()
                    .any(|s| s["maxProperties"] == 1),
                Strategy::Keyed(key) => {
                    let items = alternatives(root, schema)
                        .into_iter()
                        .filter_map(|s| s.get("items"))
                        .flat_map(|i| alternatives(root, i))
                        .collect::<Vec<_>>();
                    items.iter().any(|i| i["properties"].get(*key).is_some())
                }
                Strategy::Concat | Strategy::OrderedSet => has_type(root, schema, "array"),
                Strategy::Limits | Strategy::Merge => has_type(root, schema, "object"),
                Strategy::Replace => true,
            };
            assert!(
                schemas.iter().any(fits),
                "`{pattern}` is not of the shape {strategy:?} needs"
            );
        }
    }

    #[test]
    fn every_eligible_path_is_a_string_field() {
        for field in ELIGIBLE {
            let pattern = field.path;
            let schemas = field_schemas(pattern);
            assert!(
                schemas.iter().any(|(root, s)| has_type(root, s, "string")),
                "`{pattern}` is no string field of any layer"
            );
        }
    }

    #[test]
    fn a_path_that_is_no_field_is_found_out() {
        assert!(field_schemas("runtime.envVar").is_empty());
        assert!(field_schemas("runtime.envVars[].nope").is_empty());
        assert!(!field_schemas("runtime.envVars[].value").is_empty());
    }

    /// The fold never descends into a list (a keyed entry replaces the lower one whole), and
    /// set-aside fields are placed by mapping keys: an entry beneath a list would never be
    /// consulted.
    #[test]
    fn no_entry_sits_beneath_a_list() {
        for (pattern, _) in STRATEGIES {
            assert!(
                parse(pattern).all(|s| matches!(s, PatternStep::Field(_))),
                "`{pattern}` is beneath a list, where the fold never looks"
            );
        }
    }
}
