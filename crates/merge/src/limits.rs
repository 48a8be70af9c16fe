//! Limits: resolved per dimension from the first layer that sets it, then capped.
//!
//! Per dimension (cpu, memory, storage), independently, a value of 0 meaning "not set": the
//! Workspace (for a pre-build, the Cluster `buildLimit` in its place), else the repository
//! file, else the Template, else the Space `defaultLimit`, else the Cluster default for the
//! Space's type, else the built-in default; then capped by the Space `maxLimit`, then by the
//! Cluster `maxLimit`. Every cap that lowers a value is reported.

use crate::inputs::Inputs;
use crate::layer::{Layer, Origin};
use crate::provenance::{LayerIndex, built_in_at};
use crate::tree::map;
use cordium_spec::validate::limit_dims;
use cordium_spec::{Document, Limit, Located, Location, Node, NodeKind, Resource, SourceMap};

/// One of the three limit dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dimension {
    /// CPU, in millicores.
    Cpu,
    /// Memory, in megabytes.
    Memory,
    /// Storage, in megabytes.
    Storage,
}

impl Dimension {
    /// The three dimensions, in output order.
    pub const ALL: [Dimension; 3] = [Dimension::Cpu, Dimension::Memory, Dimension::Storage];

    /// The built-in default.
    pub fn built_in(self) -> u32 {
        match self {
            Dimension::Cpu => 2000,
            Dimension::Memory => 6000,
            Dimension::Storage => 20000,
        }
    }

    /// `cpu`, `memory` or `storage`.
    pub fn name(self) -> &'static str {
        match self {
            Dimension::Cpu => "cpu",
            Dimension::Memory => "memory",
            Dimension::Storage => "storage",
        }
    }

    /// The leaf under `spec.limit`: `cpu.millicores`, `memory.megabytes`, `storage.megabytes`.
    pub fn field(self) -> &'static str {
        match self {
            Dimension::Cpu => "cpu.millicores",
            Dimension::Memory => "memory.megabytes",
            Dimension::Storage => "storage.megabytes",
        }
    }

    /// A value with its unit: `8000m`, `6000 MB`.
    pub fn show(self, value: u32) -> String {
        match self {
            Dimension::Cpu => format!("{value}m"),
            _ => format!("{value} MB"),
        }
    }

    fn index(self) -> usize {
        match self {
            Dimension::Cpu => 0,
            Dimension::Memory => 1,
            Dimension::Storage => 2,
        }
    }
}

/// The type of a Space, which decides the Cluster default that applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum SpaceType {
    /// A user's own Space (any name not of the form `<name>.cordium`, or no Space).
    User,
    /// An organization Space, named `<name>.cordium`.
    Organization,
}

impl SpaceType {
    /// The type of the Space with this name (none: a USER space).
    pub fn of(space_name: Option<&str>) -> Self {
        match space_name.and_then(|n| n.split_once('.')) {
            Some((name, "cordium")) if !name.is_empty() && !name.contains('.') => {
                SpaceType::Organization
            }
            _ => SpaceType::User,
        }
    }
}

/// A place a limit value came from, as people say it ("Space maxLimit").
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LimitSource {
    /// "Workspace", "Template", "Space defaultLimit", "ClusterConfig maxLimit", ...
    pub label: String,
    /// The layer and place.
    pub origin: Origin,
}

/// A `Limit` of one layer, labelled.
#[derive(Debug, Clone)]
pub struct LimitInput<'a> {
    /// Where it is.
    pub source: LimitSource,
    /// The limit.
    pub limit: &'a Located<Limit>,
}

/// A cap that lowered a value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AppliedCap {
    /// The value before this cap.
    pub requested: u32,
    /// The cap (the value after it).
    pub cap: u32,
    /// Where the cap is set.
    pub by: LimitSource,
}

/// The resolved value of one dimension.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ResolvedDimension {
    /// Which dimension.
    pub dimension: Dimension,
    /// The final value.
    pub value: u32,
    /// Where the requested value came from.
    pub source: LimitSource,
    /// The lower layers that also set this dimension, nearest first: what `source` replaced,
    /// so `cordium explain` can say it for limits as it does for every other leaf.
    pub replaced: Vec<LimitSource>,
    /// The caps that lowered it, in order.
    pub caps: Vec<AppliedCap>,
}

/// Lowers `requested` by each non-zero cap in turn, recording every cap that lowered it. Never
/// raises a value; applying it again to its result changes nothing.
pub fn apply_caps(requested: u32, caps: &[(u32, &LimitSource)]) -> (u32, Vec<AppliedCap>) {
    let mut value = requested;
    let mut applied = Vec::new();
    for (cap, by) in caps {
        if *cap != 0 && value > *cap {
            applied.push(AppliedCap {
                requested: value,
                cap: *cap,
                by: (*by).clone(),
            });
            value = *cap;
        }
    }
    (value, applied)
}

fn dimension_value(limit: &Limit, dim: Dimension) -> Option<&Located<u32>> {
    limit_dims(limit)[dim.index()].1.filter(|v| v.value != 0)
}

fn at(source: &LimitSource, loc: Location) -> LimitSource {
    LimitSource {
        label: source.label.clone(),
        origin: Origin {
            location: Some(loc),
            ..source.origin.clone()
        },
    }
}

/// Resolves every dimension: `requests` in order of preference (first set wins, the later ones
/// that set it are what it replaced), then `caps` in order.
pub fn resolve(requests: &[LimitInput<'_>], caps: &[LimitInput<'_>]) -> [ResolvedDimension; 3] {
    Dimension::ALL.map(|dim| {
        let mut set = requests.iter().filter_map(|r| {
            dimension_value(&r.limit.value, dim).map(|v| (v.value, at(&r.source, v.loc)))
        });
        let (requested, source) = set.next().unwrap_or_else(|| {
            (
                dim.built_in(),
                LimitSource {
                    label: Layer::BuiltIn.label().into(),
                    origin: Origin {
                        layer: Layer::BuiltIn,
                        document: None,
                        location: None,
                    },
                },
            )
        });
        let replaced = set.map(|(_, s)| s).collect();
        let cap_values: Vec<(u32, LimitSource)> = caps
            .iter()
            .filter_map(|c| {
                dimension_value(&c.limit.value, dim).map(|v| (v.value, at(&c.source, v.loc)))
            })
            .collect();
        let cap_refs: Vec<(u32, &LimitSource)> = cap_values.iter().map(|(v, s)| (*v, s)).collect();
        let (value, caps) = apply_caps(requested, &cap_refs);
        ResolvedDimension {
            dimension: dim,
            value,
            source,
            replaced,
            caps,
        }
    })
}

/// Every dimension of the limits, from the layers' typed limits ([`resolve`]), each labelled with its place ("Space maxLimit").
pub(crate) fn from_layers(
    index: &LayerIndex,
    inputs: &Inputs<'_>,
    build: bool,
) -> [ResolvedDimension; 3] {
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
    resolve(&requests, &caps)
}

/// `Workspace (ws.yaml:9:9)`, or `built-in default`.
pub fn describe(source: &LimitSource, sources: &SourceMap) -> String {
    match &source.origin.location {
        Some(loc) => format!("{} ({})", source.label, sources.display(loc)),
        None => source.label.clone(),
    }
}

/// The notes for every cap applied: "cpu 16000m requested by Workspace (ws.yaml:9:9) capped to
/// 8000m by Space maxLimit (space.yaml:7:11)".
pub fn notes(resolved: &[ResolvedDimension; 3], sources: &SourceMap) -> Vec<String> {
    resolved
        .iter()
        .flat_map(|r| {
            r.caps.iter().map(move |c| {
                format!(
                    "{} {} requested by {} capped to {} by {}",
                    r.dimension.name(),
                    r.dimension.show(c.requested),
                    describe(&r.source, sources),
                    r.dimension.show(c.cap),
                    describe(&c.by, sources),
                )
            })
        })
        .collect()
}

/// The resolved limits as the `limit` tree of the spec, each value at the place it was written
/// (built-in values at the built-in place).
pub(crate) fn tree(resolved: &[ResolvedDimension; 3]) -> Node {
    let leaf = |d: &ResolvedDimension| {
        let loc = d.source.origin.location.unwrap_or_else(built_in_at);
        Node::new(NodeKind::Int(i64::from(d.value)), loc)
    };
    let [cpu, memory, storage] = resolved;
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
