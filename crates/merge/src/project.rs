//! Projection: each layer's document as a tree in the shape of a Workspace spec, so the fold
//! merges like with like.

use crate::inputs::Inputs;
use crate::layer::Layer;
use crate::provenance::RUN_SOURCE;
use crate::tree::map;
use cordium_spec::{Document, Location, Node, NodeKind};

/// Every layer projected into the shape of a Workspace spec, lowest precedence first; the run
/// variables last.
pub(crate) fn project(inputs: Inputs<'_>, run_vars: &[(String, String)]) -> Vec<(Layer, Node)> {
    let mut trees: Vec<(Layer, Node)> = Vec::new();
    if let Some(doc) = inputs.user_config {
        trees.push((Layer::UserConfig, project_user_config(doc)));
    }
    if let Some(doc) = inputs.space {
        trees.push((Layer::Space, project_space(doc)));
    }
    for (layer, doc) in [
        (Layer::Template, inputs.template),
        (Layer::RepositoryFile, inputs.repository_file),
        (Layer::Workspace, Some(inputs.workspace)),
    ] {
        if let Some(doc) = doc {
            trees.push((layer, project_spec(doc)));
        }
    }
    if !run_vars.is_empty() {
        trees.push((Layer::Run, run_vars_tree(run_vars)));
    }
    trees
}

fn spec_of(mut doc: Document) -> Option<Node> {
    doc.root.take("spec").filter(|s| s.as_map().is_some())
}

/// A Workspace, repository file or Template: its spec (the fold leaves `limit` to
/// [`limits`]).
fn project_spec(doc: Document) -> Node {
    let loc = doc.root.loc;
    spec_of(doc).unwrap_or_else(|| Node::new(NodeKind::Map(Vec::new()), loc))
}

/// A Space contributes `runtime` (envVars, tasks, capabilities).
fn project_space(doc: Document) -> Node {
    let loc = doc.root.loc;
    let mut entries = Vec::new();
    if let Some(runtime) = spec_of(doc).and_then(|mut s| s.take("runtime")) {
        entries.push(("runtime", runtime));
    }
    map(loc, entries)
}

/// A UserConfig contributes `envVars` and `tasks` (into `runtime`) and `dotfiles`.
fn project_user_config(doc: Document) -> Node {
    let loc = doc.root.loc;
    let Some(mut spec) = spec_of(doc) else {
        return map(loc, Vec::new());
    };
    let mut runtime = Vec::new();
    for field in ["envVars", "tasks"] {
        if let Some(n) = spec.take(field) {
            runtime.push((field, n));
        }
    }
    let mut entries = vec![("runtime", map(spec.loc, runtime))];
    if let Some(d) = spec.take("dotfiles") {
        entries.push(("dotfiles", d));
    }
    map(loc, entries)
}

fn run_vars_tree(vars: &[(String, String)]) -> Node {
    // Every node gets a place of its own (run variables have no file), so what one node
    // replaced is recorded for that node only and not inherited by unrelated siblings.
    let at = |n: usize| Location {
        source: RUN_SOURCE,
        offset: u32::try_from(n).unwrap_or(u32::MAX),
        line: 1,
        column: 1,
        ..Location::default()
    };
    let items = vars
        .iter()
        .enumerate()
        .map(|(i, (name, value))| {
            let base = 2 + 3 * i;
            map(
                at(base),
                vec![
                    ("name", Node::new(NodeKind::Str(name.clone()), at(base + 1))),
                    (
                        "value",
                        Node::new(NodeKind::Str(value.clone()), at(base + 2)),
                    ),
                ],
            )
        })
        .collect();
    map(
        at(0),
        vec![("vars", Node::new(NodeKind::Seq(items), at(1)))],
    )
}
