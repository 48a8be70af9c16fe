//! [`compile`]: every layer in, one EffectiveWorkspace out.

use crate::codes;
use crate::effective::{EffectiveMetadata, EffectiveSpec, EffectiveWorkspace};
use crate::inputs::{Inputs, Options};
use crate::layer::{Layer, Origin};
use crate::limits::{self, LimitInput, LimitSource, ResolvedDimension, SpaceType};
use crate::provenance::{LayerIndex, LeafOrigin, RUN_SOURCE, Recorder, built_in_at};
use crate::substitute::{Outcome, VarReference, substitute};
use crate::tree::{Folded, fold, key, map, set_path};
use cordium_spec::path::{Step, parse, walk};
use cordium_spec::{
    API_VERSION, Cx, Diagnostic, Diagnostics, Document, FieldPath, FromNode, Limit, Located,
    Location, Node, NodeKind, Resource,
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
    let limits = resolve_limits(&index, &inputs, options.build);
    let default_image = default_image(inputs.cluster.as_ref());
    let trees = project(inputs, &options.run_vars);
    let Folded { mut spec, replaced } = fold(trees, &limits);
    complete_shape(&mut spec, default_image);

    let vars = vars_of(&spec);
    let mut outcome = substitute(&mut spec, &vars, options.allow_undefined_vars, true);
    let mut diagnostics = naming_layers(std::mem::take(&mut outcome.diagnostics), &index);
    check_secret_references(&spec, &options, &index, &mut diagnostics);
    let typed = convert(&spec, &outcome, &vars, &mut diagnostics);
    let unused_vars = unused_vars(&vars, &outcome.references);

    let warnings = outcome.warnings;
    match typed {
        Some(typed) if diagnostics.iter().all(|d| !d.is_error()) => {
            let mut notes = limits::notes(&limits, sources);
            notes.extend(warnings.iter().map(|w| w.message.clone()));
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
        _ => {
            diagnostics.extend(warnings);
            Err(Diagnostics(diagnostics))
        }
    }
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

/// Every layer projected into the shape of a Workspace spec, lowest precedence first; the run
/// variables last.
fn project(inputs: Inputs<'_>, run_vars: &[(String, String)]) -> Vec<(Layer, Node)> {
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
/// on the substituted values. Diagnostics at strings whose substitution failed are dropped
/// (already reported); those at substituted strings name the variables used.
fn convert(
    spec: &Node,
    outcome: &Outcome,
    vars: &BTreeMap<String, String>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<EffectiveSpec> {
    let mut typed_diagnostics = Vec::new();
    let typed = {
        let mut cx = Cx::new(&mut typed_diagnostics);
        cx.defer_templated = false;
        cx.at("spec", |cx| EffectiveSpec::from_node(spec, cx))
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
            if let Some(def) = names.first().and_then(|n| var_definition(spec, n)) {
                d = d.with_related(def, "the variable is defined here");
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

fn var_definition(spec: &Node, name: &str) -> Option<Location> {
    match &spec.get("vars")?.kind {
        NodeKind::Seq(items) => items
            .iter()
            .find(|i| i.get("name").and_then(Node::as_str) == Some(name))
            .and_then(|i| i.get("value"))
            .map(|v| v.loc)
            .filter(|l| l.source != RUN_SOURCE),
        _ => None,
    }
}

/// Every dimension of the limits, from the layers' typed limits ([`limits::resolve`]).
fn resolve_limits(index: &LayerIndex, inputs: &Inputs<'_>, build: bool) -> [ResolvedDimension; 3] {
    let (workspace, repository_file, template) = (
        &inputs.workspace,
        inputs.repository_file.as_ref(),
        inputs.template.as_ref(),
    );
    let (space, cluster) = (inputs.space.as_ref(), inputs.cluster.as_ref());
    fn input<'l>(
        index: &LayerIndex,
        label: &str,
        limit: Option<&'l Located<Limit>>,
    ) -> Option<LimitInput<'l>> {
        limit.map(|l| LimitInput {
            source: LimitSource {
                label: label.into(),
                origin: Origin {
                    location: Some(l.loc),
                    ..index.origin(&l.loc)
                },
            },
            limit: l,
        })
    }
    fn spec_limit(doc: Option<&Document>) -> Option<&Located<Limit>> {
        match doc.map(|d| &d.resource) {
            Some(Resource::Workspace(w)) => w.spec.as_ref().and_then(|s| s.limit.as_ref()),
            Some(Resource::Template(t)) => t.spec.as_ref().and_then(|s| s.limit.as_ref()),
            _ => None,
        }
    }
    let input = |label: &str, limit| input(index, label, limit);
    let space_limit = match space.map(|d| &d.resource) {
        Some(Resource::Space(s)) => s.spec.as_ref().and_then(|s| s.limit.as_ref()),
        _ => None,
    };
    let cluster_limit = match cluster.map(|d| &d.resource) {
        Some(Resource::ClusterConfig(c)) => c
            .spec
            .as_ref()
            .and_then(|s| s.workspace.as_ref())
            .and_then(|w| w.limit.as_ref()),
        _ => None,
    };
    let space_type = SpaceType::of(space.and_then(Document::name));
    let cluster_default = cluster_limit.and_then(|l| match space_type {
        SpaceType::User => input(
            "ClusterConfig defaultUserSpaceLimit",
            l.default_user_space_limit.as_ref(),
        ),
        SpaceType::Organization => input(
            "ClusterConfig defaultOrganizationSpaceLimit",
            l.default_organization_space_limit.as_ref(),
        ),
    });
    let first = if build {
        cluster_limit.and_then(|l| input("ClusterConfig buildLimit", l.build_limit.as_ref()))
    } else {
        input("Workspace", spec_limit(Some(workspace)))
    };
    let requests: Vec<LimitInput<'_>> = [
        first,
        input("repository file", spec_limit(repository_file)),
        input("Template", spec_limit(template)),
        space_limit.and_then(|l| input("Space defaultLimit", l.default_limit.as_ref())),
        cluster_default,
    ]
    .into_iter()
    .flatten()
    .collect();
    let caps: Vec<LimitInput<'_>> = [
        space_limit.and_then(|l| input("Space maxLimit", l.max_limit.as_ref())),
        cluster_limit.and_then(|l| input("ClusterConfig maxLimit", l.max_limit.as_ref())),
    ]
    .into_iter()
    .flatten()
    .collect();
    limits::resolve(&requests, &caps)
}

/// Reports every `fromSecret` and `fromUserSecret` naming a secret that does not exist, when
/// the names of the existing ones are known.
fn check_secret_references(
    spec: &Node,
    options: &Options,
    index: &LayerIndex,
    diagnostics: &mut Vec<Diagnostic>,
) {
    walk(spec, &FieldPath::root("spec"), (), &mut |node, path, ()| {
        let (known, what) = match path.last() {
            Some(Step::Field("fromSecret")) => (&options.secrets, "Secret"),
            Some(Step::Field("fromUserSecret")) => (&options.user_secrets, "UserSecret"),
            _ => return Some(()),
        };
        if let (Some(known), Some(name)) = (known, node.as_str())
            && !known.contains(name)
        {
            diagnostics
                .push(missing_secret(name, known, what, node.loc, index).at_path(path.to_string()));
        }
        Some(())
    });
}

/// The error for a reference to the `what` (Secret or UserSecret) `name`, which is not among
/// `known`.
fn missing_secret(
    name: &str,
    known: &BTreeSet<String>,
    what: &str,
    loc: Location,
    index: &LayerIndex,
) -> Diagnostic {
    let layer = index.origin(&loc).layer.label();
    let d = Diagnostic::error(
        codes::MISSING_SECRET,
        format!("{what} `{name}` does not exist (referenced in the {layer})"),
    )
    .at(loc);
    match cordium_spec::convert::closest(name, known.iter().map(String::as_str)) {
        Some(best) => d.with_help(format!("did you mean `{best}`?")),
        None if known.is_empty() => d.with_help(format!("no {what}s exist; create `{name}` first")),
        None => d.with_help(format!(
            "create the {what} `{name}`, or use one of: {}",
            known.iter().cloned().collect::<Vec<_>>().join(", ")
        )),
    }
}
