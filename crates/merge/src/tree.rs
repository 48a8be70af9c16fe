//! The tree merge: folds the layers' located trees by the [strategy table](crate::strategy).
//!
//! Every node keeps the location it was written at, so the merged tree still knows where each
//! leaf came from; what a node replaced is recorded beside it.

use crate::layer::Layer;
use crate::limits::{self, ResolvedDimension};
use crate::strategy::{self, Strategy, strategy_for};
use cordium_spec::path::{PatternStep, parse};
use cordium_spec::{Entry, FieldPath, Location, Node, NodeKind, SourceId};
use std::collections::{BTreeMap, HashMap};

/// A key for a node: its file and byte offset (unique per written node).
pub(crate) type LocKey = (SourceId, u32, u32);

pub(crate) fn key(loc: &Location) -> LocKey {
    (loc.source, loc.offset, loc.line)
}

/// The merged tree and what each of its nodes replaced.
#[derive(Debug)]
pub(crate) struct Folded {
    /// The merged `spec`.
    pub(crate) spec: Node,
    /// For a node that replaced lower values: their locations, nearest first.
    pub(crate) replaced: BTreeMap<LocKey, Vec<Location>>,
}

/// Folds the layers' trees (lowest precedence first) by the strategy table, into a mapping at
/// the place of the highest tree. Fields the table sets aside are taken out of every tree first
/// and placed after merging: concatenated lists in [`Layer::concat_rank`] order (only when some
/// layer gives an item), `limits` where the table says `Limits`. What each node replaced is
/// recorded only when `record` (provenance asks for it).
pub(crate) fn fold(
    trees: Vec<(Layer, Node)>,
    limits: &[ResolvedDimension; 3],
    record: bool,
) -> Folded {
    let loc = trees.last().map(|(_, t)| t.loc).unwrap_or_default();
    let mut set_aside: Vec<(&str, u8, Vec<Node>)> = Vec::new();
    let mut merger = Merger {
        record,
        replaced: BTreeMap::new(),
    };
    let mut spec = Node::new(NodeKind::Map(Vec::new()), loc);
    for (layer, mut tree) in trees {
        for (path, strategy) in strategy::set_aside() {
            let taken = take_path(&mut tree, path);
            if let (
                Strategy::Concat,
                Some(Node {
                    kind: NodeKind::Seq(items),
                    ..
                }),
            ) = (strategy, taken)
            {
                set_aside.push((path, layer.concat_rank(), items));
            }
        }
        spec = merger.merge(spec, tree, &FieldPath::root("spec"));
    }
    set_aside.sort_by_key(|(_, rank, _)| *rank);
    for (path, strategy) in strategy::set_aside() {
        let placed = match strategy {
            Strategy::Limits => Some(limits::tree(limits)),
            _ => concatenation(&mut set_aside, path),
        };
        if let Some(node) = placed {
            set_path(&mut spec, path, node);
        }
    }
    Folded {
        spec,
        replaced: merger.replaced,
    }
}

/// Every set-aside item of `path`, in order, as one list at the first item's place; `None`
/// when there is none.
fn concatenation(set_aside: &mut [(&str, u8, Vec<Node>)], path: &str) -> Option<Node> {
    let items: Vec<Node> = set_aside
        .iter_mut()
        .filter(|(p, ..)| *p == path)
        .flat_map(|(_, _, items)| std::mem::take(items))
        .collect();
    let loc = items.first()?.loc;
    Some(Node::new(NodeKind::Seq(items), loc))
}

/// Merges pairs of trees, recording what replaced what.
#[derive(Debug)]
struct Merger {
    /// Whether to record what replaced what (only provenance reads it).
    record: bool,
    /// For a node that replaced lower values: their locations, nearest first.
    replaced: BTreeMap<LocKey, Vec<Location>>,
}

impl Merger {
    /// Merges `higher` over `lower`, both at `path`.
    fn merge(&mut self, lower: Node, higher: Node, path: &FieldPath<'_>) -> Node {
        if higher.kind == NodeKind::Null {
            return lower;
        }
        let both_maps = matches!(
            (&lower.kind, &higher.kind),
            (NodeKind::Map(_), NodeKind::Map(_))
        );
        let strategy = strategy_for(path, both_maps);
        if strategy == Strategy::OneOf && makes_no_choice(&higher) {
            // `image: {}` chooses nothing, so it sets nothing: the lower choice stays.
            return lower;
        }
        if strategy == Strategy::OneOf && !same_choice(&lower, &higher) {
            return self.replace(lower, higher);
        }
        let loc = lower.loc;
        match (strategy, lower.kind, higher.kind) {
            (Strategy::Merge | Strategy::OneOf, NodeKind::Map(a), NodeKind::Map(b)) => {
                Node::new(NodeKind::Map(self.merge_entries(a, b, path)), loc)
            }
            (Strategy::Keyed(field), NodeKind::Seq(a), NodeKind::Seq(b)) => {
                Node::new(NodeKind::Seq(self.merge_keyed(a, b, field)), higher.loc)
            }
            (Strategy::OrderedSet, NodeKind::Seq(a), NodeKind::Seq(b)) => {
                Node::new(NodeKind::Seq(union(a, b)), loc)
            }
            (_, lower_kind, higher_kind) => self.replace(
                Node::new(lower_kind, loc),
                Node::new(higher_kind, higher.loc),
            ),
        }
    }

    fn replace(&mut self, lower: Node, higher: Node) -> Node {
        if !self.record {
            return higher;
        }
        let mut chain = vec![lower.loc];
        if let Some(earlier) = self.replaced.remove(&key(&lower.loc)) {
            chain.extend(earlier);
        }
        self.replaced
            .entry(key(&higher.loc))
            .or_default()
            .extend(chain);
        higher
    }

    fn merge_entries(
        &mut self,
        mut entries: Vec<Entry>,
        higher: Vec<Entry>,
        path: &FieldPath<'_>,
    ) -> Vec<Entry> {
        for entry in higher {
            match entries.iter().position(|e| e.key == entry.key) {
                Some(i) => {
                    let old = std::mem::replace(
                        &mut entries[i].value,
                        Node::new(NodeKind::Null, Location::default()),
                    );
                    let Entry { key, value, .. } = entry;
                    entries[i].value = self.merge(old, value, &path.field(&key));
                }
                None => entries.push(entry),
            }
        }
        entries
    }

    fn merge_keyed(&mut self, mut items: Vec<Node>, higher: Vec<Node>, field: &str) -> Vec<Node> {
        // Where each higher item goes, decided on borrowed keys before anything moves: the
        // index of the first lower (or earlier higher) item with its key, or `None` to append.
        let places: Vec<Option<usize>> = {
            let mut index: HashMap<&str, usize> =
                HashMap::with_capacity(items.len() + higher.len());
            for (i, n) in items.iter().enumerate().rev() {
                if let Some(k) = keyed_by(n, field) {
                    index.insert(k, i);
                }
            }
            let mut len = items.len();
            higher
                .iter()
                .map(|item| {
                    let key = keyed_by(item, field);
                    let existing = key.and_then(|k| index.get(k).copied());
                    if existing.is_none() {
                        if let Some(k) = key {
                            index.insert(k, len);
                        }
                        len += 1;
                    }
                    existing
                })
                .collect()
        };
        for (item, place) in higher.into_iter().zip(places) {
            match place {
                Some(i) => {
                    let old = std::mem::replace(
                        &mut items[i],
                        Node::new(NodeKind::Null, Location::default()),
                    );
                    items[i] = self.replace(old, item);
                }
                None => items.push(item),
            }
        }
        items
    }
}

/// The key of a keyed list's item: its string field `field`.
fn keyed_by<'n>(item: &'n Node, field: &str) -> Option<&'n str> {
    item.get(field)?.as_str()
}

/// Whether two one-of mappings made the same single choice.
fn same_choice(lower: &Node, higher: &Node) -> bool {
    match (lower.as_map(), higher.as_map()) {
        (Some([a]), Some([b])) => a.key == b.key,
        _ => false,
    }
}

/// Whether a one-of mapping is empty (`image: {}`), choosing nothing.
fn makes_no_choice(node: &Node) -> bool {
    node.as_map().is_some_and(<[_]>::is_empty)
}

fn union(mut items: Vec<Node>, more: Vec<Node>) -> Vec<Node> {
    for item in more {
        if !items.iter().any(|i| i.kind == item.kind) {
            items.push(item);
        }
    }
    items
}

/// A mapping node at `loc` with these entries.
pub(crate) fn map(loc: Location, entries: Vec<(&str, Node)>) -> Node {
    Node::new(
        NodeKind::Map(
            entries
                .into_iter()
                .map(|(k, value)| Entry {
                    key: k.to_owned(),
                    key_loc: value.loc,
                    value,
                })
                .collect(),
        ),
        loc,
    )
}

/// Removes and returns the node at a dotted path of mapping keys.
pub(crate) fn take_path(node: &mut Node, path: &str) -> Option<Node> {
    let (parent, last) = path.rsplit_once('.').unwrap_or(("", path));
    parse(parent)
        .try_fold(node, |n, step| match step {
            PatternStep::Field(key) => n.get_mut(key),
            PatternStep::Index(_) => None,
        })?
        .take(last)
}

/// Sets the node at a dotted path of mapping keys, creating mappings on the way.
pub(crate) fn set_path(node: &mut Node, path: &str, value: Node) {
    let NodeKind::Map(entries) = &mut node.kind else {
        return;
    };
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let index = match entries.iter().position(|e| e.key == head) {
        Some(i) => i,
        None => {
            let loc = value.loc;
            entries.push(Entry {
                key: head.to_owned(),
                key_loc: loc,
                value: Node::new(NodeKind::Map(Vec::new()), loc),
            });
            entries.len() - 1
        }
    };
    match rest {
        None => entries[index].value = value,
        Some(rest) => {
            if !matches!(entries[index].value.kind, NodeKind::Map(_)) {
                entries[index].value = Node::new(NodeKind::Map(Vec::new()), value.loc);
            }
            set_path(&mut entries[index].value, rest, value);
        }
    }
}
