//! [`compile`]: every layer in, one EffectiveWorkspace out.

use crate::effective::{EffectiveMetadata, EffectiveSpec, EffectiveWorkspace};
use crate::inputs::Inputs;
use crate::layer::Layer;
use crate::limits::{self, ResolvedDimension};
use crate::project::project;
use crate::provenance::{LayerIndex, LeafOrigin, RUN_SOURCE, Recorder, built_in_at};
use crate::secrets::check_secret_references;
use crate::substitute::{Outcome, VarReference, substitute};
use crate::tree::{Folded, fold, key, set_path};
use cordium_spec::path::parse;
use cordium_spec::{
    API_VERSION, Cx, Diagnostic, Diagnostics, Document, FromNode, Location, Node, NodeKind,
};
use std::collections::{BTreeMap, BTreeSet};

/// A successful compilation.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The EffectiveWorkspace.
    pub effective: EffectiveWorkspace,
    /// Warnings (lenient-mode substitutions); the same text is in `effective.notes`.
    pub warnings: Vec<Diagnostic>,
    /// Where every leaf came from (empty unless `Options::provenance`).
    pub provenance: Vec<LeafOrigin>,
    /// How each limit dimension was resolved and capped.
    pub limits: [ResolvedDimension; 3],
    /// Every `${{ vars.NAME }}` reference in an eligible field.
    pub references: Vec<VarReference>,
    /// Variables defined by some layer but referenced nowhere.
    pub unused_vars: Vec<String>,
}

/// Compiles the layers into one EffectiveWorkspace, reporting every problem at once.
///
/// Pure and deterministic: the same inputs give the same bytes. The stages, in order: index
/// the layers, resolve limits, project each layer to a spec tree, fold the trees by the
/// strategy table, complete the shape, substitute variables, check secret references, convert
/// to the typed [`EffectiveSpec`], record provenance.
pub fn compile(mut inputs: Inputs<'_>) -> Result<Compiled, Diagnostics> {
    let options = std::mem::take(&mut inputs.options);
    let sources = inputs.sources;
    let index = index_layers(&inputs);
    let metadata = metadata(&inputs);
    let limits = limits::from_layers(&index, &inputs, options.build);
    let default_image = default_image(inputs.cluster.as_ref());
    let trees = project(inputs, &options.run_vars);
    let Folded { mut spec, replaced } = fold(trees, &limits, options.provenance);
    complete_shape(&mut spec, default_image);

    let vars = vars_of(&spec);
    let mut outcome = substitute(&mut spec, &vars, options.allow_undefined_vars, true);
    let mut diagnostics = naming_layers(std::mem::take(&mut outcome.diagnostics), &index);
    check_secret_references(&spec, &options, &index, &mut diagnostics);
    // Provenance reads the tree, so it is recorded before the conversion takes it (and is
    // dropped with the rest when the conversion fails).
    let provenance = if options.provenance {
        Recorder {
            index: &index,
            replaced: &replaced,
            substituted: &outcome.substituted,
            limits: &limits,
            leaves: Vec::new(),
        }
        .record(&spec)
    } else {
        Vec::new()
    };
    let typed = convert(spec, &outcome, &vars, &mut diagnostics);
    let unused_vars = unused_vars(&vars, &outcome.references);

    let warnings = outcome.warnings;
    let typed = match typed {
        Some(typed) if diagnostics.iter().all(|d| !d.is_error()) => typed,
        _ => {
            diagnostics.extend(warnings);
            return Err(Diagnostics(diagnostics));
        }
    };
    let mut notes = limits::notes(&limits, sources);
    notes.extend(warnings.iter().map(|w| w.message.clone()));
    Ok(Compiled {
        effective: EffectiveWorkspace {
            api_version: API_VERSION.into(),
            kind: "EffectiveWorkspace".into(),
            metadata,
            spec: typed,
            notes,
        },
        warnings,
        provenance,
        limits,
        references: outcome.references,
        unused_vars,
    })
}

/// Every layer given, by the place of its document, so any location names its layer.
fn index_layers(inputs: &Inputs<'_>) -> LayerIndex {
    let mut index = LayerIndex::default();
    for (layer, doc) in [
        (Layer::Workspace, Some(&inputs.workspace)),
        (Layer::RepositoryFile, inputs.repository_file.as_ref()),
        (Layer::Template, inputs.template.as_ref()),
        (Layer::Space, inputs.space.as_ref()),
        (Layer::UserConfig, inputs.user_config.as_ref()),
        (Layer::Cluster, inputs.cluster.as_ref()),
    ] {
        if let Some(doc) = doc {
            index.add(layer, &doc.root, doc.name());
        }
    }
    index
}

/// The names of the Workspace, its Space and its Template.
fn metadata(inputs: &Inputs<'_>) -> EffectiveMetadata {
    EffectiveMetadata {
        name: inputs.workspace.name().unwrap_or_default().to_owned(),
        space: inputs
            .space
            .as_ref()
            .and_then(|d| d.name())
            .map(str::to_owned),
        template: inputs
            .template
            .as_ref()
            .and_then(|d| d.name())
            .map(str::to_owned),
    }
}

/// The Cluster's `defaultImage`, when it makes a choice.
fn default_image(cluster: Option<&Document>) -> Option<Node> {
    cluster
        .and_then(|c| c.root.lookup(parse("spec.workspace.defaultImage")))
        .filter(|n| n.as_map().is_some_and(|m| !m.is_empty()))
        .cloned()
}

/// The merged tree made whole: the Cluster's default image when no layer chose one, the fields
/// the EffectiveWorkspace always has, and the output's field order.
fn complete_shape(spec: &mut Node, default_image: Option<Node>) {
    let has_image = spec
        .get("image")
        .and_then(Node::as_map)
        .is_some_and(|m| !m.is_empty());
    if !has_image && let Some(image) = default_image {
        set_path(spec, "image", image);
    }
    ensure_shape(spec);
    order_like_output(spec);
}

/// The effective variables: `spec.vars` of the merged tree, by name.
fn vars_of(spec: &Node) -> BTreeMap<String, String> {
    let Some(NodeKind::Seq(items)) = spec.get("vars").map(|v| &v.kind) else {
        return BTreeMap::new();
    };
    items
        .iter()
        .filter_map(|i| {
            Some((
                i.get("name")?.as_str()?.to_owned(),
                i.get("value")?.as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// Substitution diagnostics, each naming the layer the failing string was written in.
fn naming_layers(mut diagnostics: Vec<Diagnostic>, index: &LayerIndex) -> Vec<Diagnostic> {
    for d in &mut diagnostics {
        if let Some(loc) = &d.location {
            let origin = index.origin(loc);
            d.message = format!("{} (in the {})", d.message, origin.layer.label());
        }
    }
    diagnostics
}

/// The last stage: the merged, substituted tree to the typed [`EffectiveSpec`], shapes checked
/// on the substituted values. The tree is taken: its strings move into the result. Diagnostics
/// at strings whose substitution failed are dropped (already reported); those at substituted
/// strings name the variables used.
fn convert(
    spec: Node,
    outcome: &Outcome,
    vars: &BTreeMap<String, String>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<EffectiveSpec> {
    let definitions = if outcome.substituted.is_empty() {
        BTreeMap::new()
    } else {
        var_definitions(&spec)
    };
    let mut typed_diagnostics = Vec::new();
    let typed = {
        let mut cx = Cx::new(&mut typed_diagnostics);
        cx.defer_templated = false;
        cx.at("spec", |cx| EffectiveSpec::from_owned(spec, cx))
    };
    for mut d in typed_diagnostics {
        if d.location
            .as_ref()
            .is_some_and(|l| outcome.failed.contains(&key(l)))
        {
            continue;
        }
        if let Some(names) = d
            .location
            .as_ref()
            .and_then(|l| outcome.substituted.get(&key(l)))
        {
            let used = names
                .iter()
                .map(|n| format!("`vars.{n}` = {:?}", vars.get(n).map_or("", String::as_str)))
                .collect::<Vec<_>>()
                .join(", ");
            d.message = format!("{} (after substituting {used})", d.message);
            if let Some(def) = names.first().and_then(|n| definitions.get(n.as_str())) {
                d = d.with_related(*def, "the variable is defined here");
            }
        }
        diagnostics.push(d);
    }
    typed
}

/// Variables defined by some layer but referenced nowhere.
fn unused_vars(vars: &BTreeMap<String, String>, references: &[VarReference]) -> Vec<String> {
    let used: BTreeSet<&str> = references.iter().map(|r| r.name.as_str()).collect();
    vars.keys()
        .filter(|k| !used.contains(k.as_str()))
        .cloned()
        .collect()
}

/// Fields the EffectiveWorkspace always has.
fn ensure_shape(spec: &mut Node) {
    if spec.get("isEphemeral").is_none() {
        set_path(
            spec,
            "isEphemeral",
            Node::new(NodeKind::Bool(false), built_in_at()),
        );
    }
    for path in ["runtime.envVars", "runtime.tasks", "vars"] {
        if spec.lookup(parse(path)).is_none() {
            set_path(
                spec,
                path,
                Node::new(NodeKind::Seq(Vec::new()), built_in_at()),
            );
        }
    }
}

/// Orders the tree's fields as the EffectiveWorkspace prints them, so provenance reads in the
/// same order as the output.
fn order_like_output(spec: &mut Node) {
    fn sort(node: &mut Node, fields: &[&str]) {
        if let NodeKind::Map(entries) = &mut node.kind {
            entries.sort_by_key(|e| {
                fields
                    .iter()
                    .position(|f| *f == e.key)
                    .unwrap_or(usize::MAX)
            });
        }
    }
    sort(spec, EffectiveSpec::FIELDS);
    if let NodeKind::Map(entries) = &mut spec.kind
        && let Some(runtime) = entries.iter_mut().find(|e| e.key == "runtime")
    {
        sort(
            &mut runtime.value,
            crate::effective::EffectiveRuntime::FIELDS,
        );
    }
}

/// Where each variable's value was written (run variables, which have no file, left out).
fn var_definitions(spec: &Node) -> BTreeMap<String, Location> {
    let Some(NodeKind::Seq(items)) = spec.get("vars").map(|v| &v.kind) else {
        return BTreeMap::new();
    };
    let mut definitions = BTreeMap::new();
    for item in items {
        if let (Some(name), Some(value)) =
            (item.get("name").and_then(Node::as_str), item.get("value"))
        {
            definitions.entry(name.to_owned()).or_insert(value.loc);
        }
    }
    definitions.retain(|_, loc| loc.source != RUN_SOURCE);
    definitions
}
