//! [`compile`]: every layer in, one EffectiveWorkspace out.

use crate::codes;
use crate::effective::{EffectiveMetadata, EffectiveSpec, EffectiveWorkspace};
use crate::inputs::Inputs;
use crate::layer::{Layer, Origin};
use crate::limits::{self, LimitInput, LimitSource, ResolvedDimension, SpaceType};
use crate::provenance::{BUILT_IN_SOURCE, LayerIndex, LeafOrigin, RUN_SOURCE, Recorder};
use crate::strategy::concat_paths;
use crate::substitute::{VarReference, substitute};
use crate::tree::{Merger, get_path, key, map, set_path, take_path};
use cordium_spec::{
    API_VERSION, Cx, Diagnostic, Diagnostics, Document, FromNode, Limit, Located, Location, Node,
    NodeKind, Resource,
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
/// Pure and deterministic: the same inputs give the same bytes.
pub fn compile(inputs: Inputs<'_>) -> Result<Compiled, Diagnostics> {
    let Inputs {
        sources,
        workspace,
        repository_file,
        template,
        space,
        user_config,
        cluster,
        options,
    } = inputs;

    let mut index = LayerIndex::default();
    for (layer, doc) in [
        (Layer::Workspace, Some(&workspace)),
        (Layer::RepositoryFile, repository_file.as_ref()),
        (Layer::Template, template.as_ref()),
        (Layer::Space, space.as_ref()),
        (Layer::UserConfig, user_config.as_ref()),
        (Layer::Cluster, cluster.as_ref()),
    ] {
        if let Some(doc) = doc {
            index.add(layer, &doc.root, doc.name());
        }
    }
    let metadata = EffectiveMetadata {
        name: workspace.name().unwrap_or_default().to_owned(),
        space: space.as_ref().and_then(|d| d.name()).map(str::to_owned),
        template: template.as_ref().and_then(|d| d.name()).map(str::to_owned),
    };

    let limits = resolve_limits(
        &index,
        &workspace,
        repository_file.as_ref(),
        template.as_ref(),
        space.as_ref(),
        cluster.as_ref(),
        options.build,
    );
    let default_image = cluster
        .as_ref()
        .and_then(|c| get_path(&c.root, "spec.workspace.defaultImage"))
        .filter(|n| n.as_map().is_some_and(|m| !m.is_empty()))
        .cloned();

    // Project every layer into the shape of a Workspace spec, lowest precedence first.
    let mut trees: Vec<(Layer, Node)> = Vec::new();
    if let Some(doc) = user_config {
        trees.push((Layer::UserConfig, project_user_config(doc)));
    }
    if let Some(doc) = space {
        trees.push((Layer::Space, project_space(doc)));
    }
    for (layer, doc) in [
        (Layer::Template, template),
        (Layer::RepositoryFile, repository_file),
        (Layer::Workspace, Some(workspace)),
    ] {
        if let Some(doc) = doc {
            trees.push((layer, project_spec(doc)));
        }
    }
    if !options.run_vars.is_empty() {
        trees.push((Layer::Run, run_vars_tree(&options.run_vars)));
    }

    // Lists that are concatenated in task order rather than merged by precedence.
    let mut concatenated: Vec<(&str, u8, Vec<Node>)> = Vec::new();
    for (layer, tree) in &mut trees {
        for path in concat_paths() {
            if let Some(Node {
                kind: NodeKind::Seq(items),
                ..
            }) = take_path(tree, path)
            {
                concatenated.push((path, layer.concat_rank(), items));
            }
        }
    }
    concatenated.sort_by_key(|(_, rank, _)| *rank);

    let mut merger = Merger::default();
    let spec_loc = trees.last().map(|(_, t)| t.loc).unwrap_or_default();
    let mut spec = Node::new(NodeKind::Map(Vec::new()), spec_loc);
    for (_, tree) in trees {
        spec = merger.merge(spec, tree);
    }
    for path in concat_paths() {
        let items: Vec<Node> = concatenated
            .iter_mut()
            .filter(|(p, ..)| *p == path)
            .flat_map(|(_, _, items)| std::mem::take(items))
            .collect();
        if !items.is_empty() {
            let loc = items[0].loc;
            set_path(&mut spec, path, Node::new(NodeKind::Seq(items), loc));
        }
    }
    let has_image = spec
        .get("image")
        .and_then(Node::as_map)
        .is_some_and(|m| !m.is_empty());
    if !has_image && let Some(image) = default_image {
        set_path(&mut spec, "image", image);
    }
    set_path(&mut spec, "limit", limit_node(&limits));
    ensure_shape(&mut spec);
    order_like_output(&mut spec);

    let vars: BTreeMap<String, String> = spec
        .get("vars")
        .and_then(|v| match &v.kind {
            NodeKind::Seq(items) => Some(items),
            _ => None,
        })
        .map(|items| {
            items
                .iter()
                .filter_map(|i| {
                    Some((
                        i.get("name")?.as_str()?.to_owned(),
                        i.get("value")?.as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();

    let outcome = substitute(&mut spec, &vars, options.allow_undefined_vars, true);
    let mut diagnostics = outcome.diagnostics;
    for d in &mut diagnostics {
        if let Some(loc) = &d.location {
            let origin = index.origin(loc);
            d.message = format!("{} (in the {})", d.message, origin.layer.label());
        }
    }
    check_secret_references(
        &spec,
        &options.secrets,
        &options.user_secrets,
        &index,
        &mut diagnostics,
    );

    let mut typed_diagnostics = Vec::new();
    let typed = {
        let mut cx = Cx::new(&mut typed_diagnostics);
        cx.defer_templated = false;
        cx.at("spec", |cx| EffectiveSpec::from_node(&spec, cx))
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
            if let Some(def) = names.first().and_then(|n| var_definition(&spec, n)) {
                d = d.with_related(def, "the variable is defined here");
            }
        }
        diagnostics.push(d);
    }

    let unused_vars: Vec<String> = {
        let used: BTreeSet<&str> = outcome.references.iter().map(|r| r.name.as_str()).collect();
        vars.keys()
            .filter(|k| !used.contains(k.as_str()))
            .cloned()
            .collect()
    };

    let warnings: Vec<Diagnostic> = outcome.warnings;
    match typed {
        Some(spec_typed) if diagnostics.iter().all(|d| !d.is_error()) => {
            let mut notes = limits::notes(&limits, sources);
            notes.extend(warnings.iter().map(|w| w.message.clone()));
            let provenance = if options.provenance {
                Recorder {
                    index: &index,
                    replaced: &merger.replaced,
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
                    spec: spec_typed,
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

fn spec_of(mut doc: Document) -> Option<Node> {
    doc.root.take("spec").filter(|s| s.as_map().is_some())
}

/// A Workspace, repository file or Template: its spec, without `limit` (resolved apart).
fn project_spec(doc: Document) -> Node {
    let loc = doc.root.loc;
    let mut spec = spec_of(doc).unwrap_or_else(|| Node::new(NodeKind::Map(Vec::new()), loc));
    spec.take("limit");
    spec
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

fn built_in_at() -> Location {
    Location {
        source: BUILT_IN_SOURCE,
        ..Location::default()
    }
}

fn limit_node(limits: &[ResolvedDimension; 3]) -> Node {
    let leaf = |d: &ResolvedDimension| {
        let loc = d.source.origin.location.unwrap_or_else(built_in_at);
        Node::new(NodeKind::Int(i64::from(d.value)), loc)
    };
    let [cpu, memory, storage] = limits;
    map(
        built_in_at(),
        vec![
            ("cpu", map(built_in_at(), vec![("millicores", leaf(cpu))])),
            (
                "memory",
                map(built_in_at(), vec![("megabytes", leaf(memory))]),
            ),
            (
                "storage",
                map(built_in_at(), vec![("megabytes", leaf(storage))]),
            ),
        ],
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
        if get_path(spec, path).is_none() {
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

#[allow(
    clippy::too_many_arguments,
    reason = "one argument per layer reads best here"
)]
fn resolve_limits(
    index: &LayerIndex,
    workspace: &Document,
    repository_file: Option<&Document>,
    template: Option<&Document>,
    space: Option<&Document>,
    cluster: Option<&Document>,
    build: bool,
) -> [ResolvedDimension; 3] {
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

fn check_secret_references(
    spec: &Node,
    secrets: &Option<BTreeSet<String>>,
    user_secrets: &Option<BTreeSet<String>>,
    index: &LayerIndex,
    diagnostics: &mut Vec<Diagnostic>,
) {
    fn walk(node: &Node, path: &mut String, f: &mut dyn FnMut(&str, &Node, &str)) {
        match &node.kind {
            NodeKind::Map(entries) => {
                for e in entries {
                    let len = path.len();
                    path.push('.');
                    path.push_str(&e.key);
                    if let NodeKind::Str(_) = e.value.kind {
                        f(&e.key, &e.value, path);
                    }
                    walk(&e.value, path, f);
                    path.truncate(len);
                }
            }
            NodeKind::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    {
                        use std::fmt::Write as _;
                        let _ = write!(path, "[{i}]");
                    }
                    walk(item, path, f);
                    path.truncate(len);
                }
            }
            _ => {}
        }
    }
    let mut path = String::from("spec");
    walk(spec, &mut path, &mut |field, node, path| {
        let (known, what) = match field {
            "fromSecret" => (secrets, "Secret"),
            "fromUserSecret" => (user_secrets, "UserSecret"),
            _ => return,
        };
        let (Some(known), Some(name)) = (known, node.as_str()) else {
            return;
        };
        if known.contains(name) {
            return;
        }
        let layer = index.origin(&node.loc).layer.label();
        let mut d = Diagnostic::error(
            codes::MISSING_SECRET,
            format!("{what} `{name}` does not exist (referenced in the {layer})"),
        )
        .at(node.loc)
        .at_path(path);
        d = match cordium_spec::convert::closest(name, known.iter().map(String::as_str)) {
            Some(best) => d.with_help(format!("did you mean `{best}`?")),
            None if known.is_empty() => {
                d.with_help(format!("no {what}s exist; create `{name}` first"))
            }
            None => d.with_help(format!(
                "create the {what} `{name}`, or use one of: {}",
                known.iter().cloned().collect::<Vec<_>>().join(", ")
            )),
        };
        diagnostics.push(d);
    });
}
