//! Field paths: where a value sits in a tree, shown in wire names
//! (`spec.runtime.envVars[2].fromSecret`), and the one walk over a located tree.
//!
//! A [`FieldPath`] is built lazily: each frame of a walk adds one [`Step`] on its own stack,
//! linked to its parent's, so descending costs nothing and the text is made only when a path is
//! shown (in a diagnostic, a reference, a provenance line). Tables of paths (the compiler's
//! strategy table and its eligible fields) are written as text with `[]` for any list index and
//! matched against a path with [`FieldPath::matches`], without building its text.

use crate::node::{Node, NodeKind};
use std::fmt;

/// One step down a tree: a mapping's field or a list's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    /// The value of a mapping's field, by wire name.
    Field(&'a str),
    /// The item of a list at this index.
    Index(usize),
}

/// A step of a written path or pattern: a field, or an index where `None` (written `[]`) stands
/// for any index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternStep<'a> {
    /// A field, by wire name.
    Field(&'a str),
    /// `[i]`, or `[]` (`None`): any index.
    Index(Option<usize>),
}

/// The steps of one dot-separated piece (`envVars[2]`): the field, then its indexes.
fn piece(text: &str) -> impl DoubleEndedIterator<Item = PatternStep<'_>> {
    let (field, indexes) = text.split_at(text.find('[').unwrap_or(text.len()));
    let field = (!field.is_empty()).then_some(PatternStep::Field(field));
    let indexes = indexes
        .split_terminator(']')
        .map(|i| PatternStep::Index(i.trim_start_matches('[').parse().ok()));
    field.into_iter().chain(indexes)
}

/// The steps of a written path or pattern (`runtime.envVars[].value`, `envVars[2]`), first to
/// last. An empty text has none.
pub fn parse(text: &str) -> impl DoubleEndedIterator<Item = PatternStep<'_>> {
    text.split('.').filter(|p| !p.is_empty()).flat_map(piece)
}

/// Appends a written path (`image`, `dockerfile.inline`, `[2]`) to the text of a path, with a
/// dot before a field unless the path is empty: the one rule every shown path follows.
pub fn push(path: &mut String, written: &str) {
    if !path.is_empty() && !written.starts_with('[') {
        path.push('.');
    }
    path.push_str(written);
}

/// A path from the root of a walk: the root's name (`spec`, or empty) and the steps below it.
#[derive(Debug, Clone, Copy)]
pub struct FieldPath<'a> {
    parent: Option<&'a FieldPath<'a>>,
    /// The last step; for the root, a field holding the root's name.
    step: Step<'a>,
}

impl<'a> FieldPath<'a> {
    /// The root of a walk, shown as `name` (`spec`); patterns are matched below it.
    pub const fn root(name: &'a str) -> Self {
        Self {
            parent: None,
            step: Step::Field(name),
        }
    }

    /// This path followed by `step`.
    pub fn join(&'a self, step: Step<'a>) -> FieldPath<'a> {
        FieldPath {
            parent: Some(self),
            step,
        }
    }

    /// This path followed by the field `name`.
    pub fn field(&'a self, name: &'a str) -> FieldPath<'a> {
        self.join(Step::Field(name))
    }

    /// This path followed by the index `i`.
    pub fn index(&'a self, i: usize) -> FieldPath<'a> {
        self.join(Step::Index(i))
    }

    /// The last step below the root; `None` at the root.
    pub fn last(&self) -> Option<Step<'a>> {
        self.parent.map(|_| self.step)
    }

    /// Whether this path, below its root, is `pattern` (`runtime.envVars[].value`: `[]` matches
    /// any index). Compared step by step from the end; no text is built. A table of patterns
    /// matched against many paths is faster parsed once ([`Pattern`]).
    pub fn matches(&self, pattern: &str) -> bool {
        self.matches_steps(parse(pattern).rev())
    }

    /// Whether this path, below its root, is the parsed `pattern`.
    pub fn matches_pattern(&self, pattern: &Pattern<'_>) -> bool {
        self.matches_steps(pattern.0.iter().rev().copied())
    }

    /// Whether this path's steps, last first, are `reversed`, and then the root.
    fn matches_steps<'p>(&self, reversed: impl Iterator<Item = PatternStep<'p>>) -> bool {
        let mut here = self;
        for expected in reversed {
            let Some(parent) = here.parent else {
                return false;
            };
            let same = match (expected, here.step) {
                (PatternStep::Field(a), Step::Field(b)) => a == b,
                (PatternStep::Index(None), Step::Index(_)) => true,
                (PatternStep::Index(Some(a)), Step::Index(b)) => a == b,
                _ => false,
            };
            if !same {
                return false;
            }
            here = parent;
        }
        here.parent.is_none()
    }
}

/// A written pattern parsed once ([`parse`]), for tables matched against every node of a tree
/// ([`FieldPath::matches_pattern`]): the same answers as [`FieldPath::matches`] on its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern<'a>(Vec<PatternStep<'a>>);

impl<'a> Pattern<'a> {
    /// Parses `text` (`runtime.envVars[].value`).
    pub fn new(text: &'a str) -> Self {
        Self(parse(text).collect())
    }
}

impl FieldPath<'_> {
    /// Appends the path's text (what [`Display`](fmt::Display) writes) to `out`, without the
    /// formatting machinery: substitution names the path of every reference, so this is on the
    /// compiler's hot path, and a caller that keeps one buffer for every path grows it once.
    pub fn write_to(&self, out: &mut String) {
        // Writing to a String cannot fail.
        let _ = self.write(out);
    }

    /// Writes the path piece by piece.
    fn write(&self, w: &mut impl fmt::Write) -> fmt::Result {
        let Some(parent) = self.parent else {
            return match self.step {
                Step::Field(name) => w.write_str(name),
                Step::Index(i) => write_index(w, i),
            };
        };
        parent.write(w)?;
        let parent_is_empty_root =
            parent.parent.is_none() && matches!(parent.step, Step::Field(""));
        match self.step {
            Step::Field(name) if parent_is_empty_root => w.write_str(name),
            Step::Field(name) => {
                w.write_str(".")?;
                w.write_str(name)
            }
            Step::Index(i) => write_index(w, i),
        }
    }
}

impl fmt::Display for FieldPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f)
    }
}

/// `[i]`, written without the formatting machinery.
fn write_index(w: &mut impl fmt::Write, i: usize) -> fmt::Result {
    w.write_char('[')?;
    write_digits(w, i)?;
    w.write_char(']')
}

fn write_digits(w: &mut impl fmt::Write, i: usize) -> fmt::Result {
    if i >= 10 {
        write_digits(w, i / 10)?;
    }
    w.write_char(char::from(b'0' + (i % 10) as u8))
}

/// Appends `[i]` to the text of a path (as [`push`] would `"[i]"`), without the formatting
/// machinery: conversion does this for every list item.
pub fn push_index(path: &mut String, i: usize) {
    // Writing to a String cannot fail.
    let _ = write_index(path, i);
}

impl Node {
    /// The children of a mapping (its values) or a list (its items), each with its step; none
    /// for a scalar.
    pub fn children(&self) -> impl Iterator<Item = (Step<'_>, &Node)> {
        let (entries, items) = match &self.kind {
            NodeKind::Map(entries) => (entries.as_slice(), &[][..]),
            NodeKind::Seq(items) => (&[][..], items.as_slice()),
            _ => (&[][..], &[][..]),
        };
        let fields = entries
            .iter()
            .map(|e| (Step::Field(e.key.as_str()), &e.value));
        let indexes = items.iter().enumerate().map(|(i, n)| (Step::Index(i), n));
        fields.chain(indexes)
    }

    /// The node at `steps` below this one (`[]` finds nothing).
    pub fn lookup<'p>(&self, steps: impl IntoIterator<Item = PatternStep<'p>>) -> Option<&Node> {
        steps.into_iter().try_fold(self, |node, step| match step {
            PatternStep::Field(name) => node.get(name),
            PatternStep::Index(i) => match &node.kind {
                NodeKind::Seq(items) => items.get(i?),
                _ => None,
            },
        })
    }
}

/// Visits `node` and everything beneath it, depth first in tree order, each with its path.
/// `visit` returns what the node's children inherit from it, or `None` to skip them.
pub fn walk<S: Copy>(
    node: &Node,
    path: &FieldPath<'_>,
    inherited: S,
    visit: &mut impl FnMut(&Node, &FieldPath<'_>, S) -> Option<S>,
) {
    if let Some(state) = visit(node, path, inherited) {
        for (step, child) in node.children() {
            walk(child, &path.join(step), state, visit);
        }
    }
}

/// Visits every string of `node` and beneath it, depth first in tree order, each with its path,
/// and lets `visit` rewrite it.
pub fn walk_strings_mut(
    node: &mut Node,
    path: &FieldPath<'_>,
    visit: &mut impl FnMut(&mut String, crate::Location, &FieldPath<'_>),
) {
    match &mut node.kind {
        NodeKind::Str(text) => visit(text, node.loc, path),
        NodeKind::Map(entries) => {
            for entry in entries {
                walk_strings_mut(&mut entry.value, &path.field(&entry.key), visit);
            }
        }
        NodeKind::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk_strings_mut(item, &path.index(i), visit);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` with `path` followed by `steps`.
    fn below<R>(
        path: &FieldPath<'_>,
        steps: &[Step<'_>],
        f: impl FnOnce(&FieldPath<'_>) -> R,
    ) -> R {
        match steps.split_first() {
            None => f(path),
            Some((first, rest)) => below(&path.join(*first), rest, f),
        }
    }

    const SECRET: [Step<'static>; 4] = [
        Step::Field("runtime"),
        Step::Field("envVars"),
        Step::Index(2),
        Step::Field("fromSecret"),
    ];

    #[test]
    fn a_path_shows_in_wire_names() {
        let shown = below(&FieldPath::root("spec"), &SECRET, |p| p.to_string());
        assert_eq!(shown, "spec.runtime.envVars[2].fromSecret");
        let bare = FieldPath::root("");
        let field = bare.field("image");
        assert_eq!(field.index(0).to_string(), "image[0]");
        assert_eq!(bare.index(1).to_string(), "[1]");
    }

    #[test]
    fn write_to_appends_what_display_shows() {
        let mut out = String::from("at ");
        below(&FieldPath::root("spec"), &SECRET, |p| p.write_to(&mut out));
        assert_eq!(out, "at spec.runtime.envVars[2].fromSecret");
        let bare = FieldPath::root("");
        let mut out = String::new();
        bare.field("image").index(10).write_to(&mut out);
        assert_eq!(out, "image[10]");
    }

    #[test]
    fn a_pattern_matches_below_the_root() {
        below(&FieldPath::root("spec"), &SECRET, |path| {
            assert!(path.matches("runtime.envVars[].fromSecret"));
            assert!(path.matches_pattern(&Pattern::new("runtime.envVars[].fromSecret")));
            assert!(!path.matches_pattern(&Pattern::new("envVars[].fromSecret")));
            assert!(path.matches("runtime.envVars[2].fromSecret"));
            assert!(!path.matches("runtime.envVars[3].fromSecret"));
            assert!(!path.matches("envVars[].fromSecret"));
            assert!(!path.matches("spec.runtime.envVars[].fromSecret"));
            assert_eq!(path.last(), Some(Step::Field("fromSecret")));
        });
        below(&FieldPath::root("spec"), &SECRET[..2], |path| {
            assert!(path.matches("runtime.envVars"));
            assert!(!path.matches(""));
        });
        assert!(FieldPath::root("spec").matches(""));
        assert_eq!(FieldPath::root("spec").last(), None);
    }

    #[test]
    fn written_paths_parse_into_steps() {
        let steps: Vec<_> = parse("a.b[2][]").collect();
        assert_eq!(
            steps,
            [
                PatternStep::Field("a"),
                PatternStep::Field("b"),
                PatternStep::Index(Some(2)),
                PatternStep::Index(None)
            ]
        );
        assert_eq!(
            parse("[1]").collect::<Vec<_>>(),
            [PatternStep::Index(Some(1))]
        );
        assert_eq!(parse("").count(), 0);
    }
}
