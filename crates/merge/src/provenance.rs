//! Provenance: for every leaf of the result, where it came from and what it replaced or what
//! capped it.

use crate::layer::{Layer, Origin};
use crate::limits::{AppliedCap, ResolvedDimension};
use crate::strategy::{Strategy, declared};
use crate::tree::{LocKey, key};
use cordium_spec::path::walk;
use cordium_spec::{FieldPath, Location, Node, NodeKind, SourceId};
use std::collections::BTreeMap;

/// The source id given to nodes made from run variables (`--var`).
pub const RUN_SOURCE: SourceId = SourceId(u32::MAX);
/// The source id given to nodes the compiler adds itself (defaults).
pub const BUILT_IN_SOURCE: SourceId = SourceId(u32::MAX - 1);

/// The place given to nodes the compiler adds itself.
pub(crate) fn built_in_at() -> Location {
    Location {
        source: BUILT_IN_SOURCE,
        ..Location::default()
    }
}

/// Where one leaf of the EffectiveWorkspace came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LeafOrigin {
    /// The field path, e.g. `spec.runtime.envVars[0].value`.
    pub path: String,
    /// The value, as text.
    pub value: String,
    /// Where the value was written.
    pub origin: Origin,
    /// The lower values it replaced, nearest first.
    pub replaced: Vec<Origin>,
    /// The caps that lowered it (limits only).
    pub caps: Vec<AppliedCap>,
    /// The variables substituted into it.
    pub vars: Vec<String>,
}

/// Maps a location to the layer (and document) whose text contains it.
#[derive(Debug, Default, Clone)]
pub struct LayerIndex {
    spans: Vec<(SourceId, u32, u32, Layer, Option<String>)>,
}

impl LayerIndex {
    /// Records that the document whose root is `root` is `layer`.
    pub fn add(&mut self, layer: Layer, root: &Node, name: Option<&str>) {
        let start = root.loc.offset;
        let end = start.saturating_add(root.loc.len.max(1));
        self.spans
            .push((root.loc.source, start, end, layer, name.map(str::to_owned)));
    }

    /// The origin of a node written at `loc`.
    pub fn origin(&self, loc: &Location) -> Origin {
        let layer_of_sentinel = match loc.source {
            RUN_SOURCE => Some(Layer::Run),
            BUILT_IN_SOURCE => Some(Layer::BuiltIn),
            _ => None,
        };
        if let Some(layer) = layer_of_sentinel {
            return Origin {
                layer,
                document: None,
                location: None,
            };
        }
        let found = self
            .spans
            .iter()
            .find(|(s, start, end, ..)| *s == loc.source && (*start..*end).contains(&loc.offset));
        match found {
            Some((_, _, _, layer, name)) => Origin {
                layer: *layer,
                document: name.clone(),
                location: Some(*loc),
            },
            None => Origin {
                layer: Layer::BuiltIn,
                document: None,
                location: Some(*loc),
            },
        }
    }
}

pub(crate) struct Recorder<'a> {
    pub(crate) index: &'a LayerIndex,
    pub(crate) replaced: &'a BTreeMap<LocKey, Vec<Location>>,
    pub(crate) substituted: &'a BTreeMap<LocKey, Vec<String>>,
    pub(crate) limits: &'a [ResolvedDimension; 3],
    pub(crate) leaves: Vec<LeafOrigin>,
}

impl Recorder<'_> {
    /// Records every leaf of the spec tree, in tree order. A leaf inherits what its nearest
    /// ancestor that replaced something replaced; limits are reported from their resolution.
    pub(crate) fn record(mut self, spec: &Node) -> Vec<LeafOrigin> {
        let replaced = self.replaced;
        let none: &[Location] = &[];
        walk(
            spec,
            &FieldPath::root("spec"),
            none,
            &mut |node, path, inherited| {
                if declared(path) == Some(Strategy::Limits) {
                    self.record_limits();
                    return None;
                }
                let replaced = replaced
                    .get(&key(&node.loc))
                    .map_or(inherited, Vec::as_slice);
                if !matches!(node.kind, NodeKind::Map(_) | NodeKind::Seq(_)) {
                    self.record_leaf(node, path, replaced);
                }
                Some(replaced)
            },
        );
        self.leaves
    }

    fn record_leaf(&mut self, node: &Node, path: &FieldPath<'_>, replaced: &[Location]) {
        let value = match &node.kind {
            NodeKind::Str(s) => s.clone(),
            NodeKind::Bool(b) => b.to_string(),
            NodeKind::Int(i) => i.to_string(),
            NodeKind::Float(f) => f.to_string(),
            _ => "null".into(),
        };
        self.leaves.push(LeafOrigin {
            path: path.to_string(),
            value,
            origin: self.index.origin(&node.loc),
            replaced: replaced.iter().map(|l| self.index.origin(l)).collect(),
            caps: Vec::new(),
            vars: self
                .substituted
                .get(&key(&node.loc))
                .cloned()
                .unwrap_or_default(),
        });
    }

    fn record_limits(&mut self) {
        for dim in self.limits {
            self.leaves.push(LeafOrigin {
                path: format!("spec.limit.{}", dim.dimension.field()),
                value: dim.value.to_string(),
                origin: dim.source.origin.clone(),
                replaced: dim.replaced.iter().map(|s| s.origin.clone()).collect(),
                caps: dim.caps.clone(),
                vars: Vec::new(),
            });
        }
    }
}
