//! Typed conversion of located trees: [`FromNode`] and its context [`Cx`].
//!
//! Conversion never stops at the first problem. Each failure is recorded in the context as a
//! diagnostic with its field path and place, the failing field is left out, and conversion goes
//! on, so one run reports every mistake in a document.

use crate::diagnostic::{Diagnostic, codes};
use crate::located::Located;
use crate::node::{Entry, Node, NodeKind};
use indexmap::IndexMap;

/// The state of one conversion: the current field path and the diagnostics found so far.
#[derive(Debug)]
pub struct Cx<'d> {
    diagnostics: &'d mut Vec<Diagnostic>,
    /// Diagnostics before this index were recorded before this context existed (by another
    /// document of the same file, say).
    start: usize,
    /// Diagnostics from `start` up to this index were recorded by the conversion of the
    /// document that [`Cx::with_root`] checks.
    converted: usize,
    /// The located tree of the document being checked, when known.
    root: Option<&'d Node>,
    path: String,
    /// When true, shape checks (git refs, URLs) accept values that hold `${{`: they are checked
    /// again after variable substitution. Document validation sets it; the compiler does not.
    pub defer_templated: bool,
    /// The diagnostics since `start`, indexed for [`Cx::explained`] and
    /// [`Cx::conversion_failed_at`].
    recorded: Recorded,
}

/// What [`Cx::explained`] and [`Cx::conversion_failed_at`] ask of the diagnostics recorded,
/// indexed as they are recorded: asked by every rule of every field, a scan of the
/// diagnostics made a document with a mistake on each of 32,000 entries cost time quadratic
/// in its mistakes (20 s).
#[derive(Debug, Default)]
struct Recorded {
    /// The path of every diagnostic since `start`, and every path above it (cut before each
    /// `.` and `[`).
    under: std::collections::HashSet<String>,
    /// (mapping path, suggested field) of every unknown-field diagnostic since `start` that
    /// suggests a field of that mapping.
    misspelt: std::collections::HashSet<(String, String)>,
    /// The exact paths of the diagnostics the document's conversion recorded
    /// (`start..converted`).
    converted: std::collections::HashSet<String>,
}

impl Recorded {
    fn add(&mut self, d: &Diagnostic) {
        let path = d.path.as_str();
        for (i, c) in path.char_indices() {
            if matches!(c, '.' | '[') {
                self.under.insert(path[..i].to_owned());
            }
        }
        self.under.insert(path.to_owned());
        if d.code == codes::UNKNOWN_FIELD
            && let Some(suggested) = d
                .help
                .as_deref()
                .and_then(|h| h.strip_prefix("did you mean `"))
                .and_then(|h| h.strip_suffix("`?"))
        {
            let (mapping, key) = path.rsplit_once('.').unwrap_or(("", path));
            if !key.contains('[') {
                self.misspelt
                    .insert((mapping.to_owned(), suggested.to_owned()));
            }
        }
    }
}

impl<'d> Cx<'d> {
    /// A context writing into `diagnostics`, starting at the empty path.
    pub fn new(diagnostics: &'d mut Vec<Diagnostic>) -> Self {
        Self {
            start: diagnostics.len(),
            converted: diagnostics.len(),
            diagnostics,
            root: None,
            path: String::new(),
            defer_templated: true,
            recorded: Recorded::default(),
        }
    }

    /// A context for checking a converted document whose located tree is `root`: the
    /// diagnostics from index `start` on were recorded by its conversion. Rules then see where
    /// each list entry was written ([`Cx::node`]) and which fields failed to convert.
    pub fn with_root(diagnostics: &'d mut Vec<Diagnostic>, start: usize, root: &'d Node) -> Self {
        let start = start.min(diagnostics.len());
        let mut recorded = Recorded::default();
        for d in &diagnostics[start..] {
            recorded.add(d);
            recorded.converted.insert(d.path.clone());
        }
        Self {
            start,
            converted: diagnostics.len(),
            root: Some(root),
            recorded,
            ..Self::new(diagnostics)
        }
    }

    /// The located node written at `name` under the current path (`name` may hold several
    /// segments, `dockerfile.inline` or `envVars[2]`); `None` when it is absent or the context
    /// has no tree.
    pub fn node(&self, name: &str) -> Option<&'d Node> {
        let root: &'d Node = self.root?;
        root.lookup(crate::path::parse(&self.path).chain(crate::path::parse(name)))
    }

    /// Whether converting the document recorded a diagnostic exactly at `name` under the
    /// current path (the value written there was left out).
    pub fn conversion_failed_at(&self, name: &str) -> bool {
        let mut field = self.path.clone();
        crate::path::push(&mut field, name);
        self.recorded.converted.contains(&field)
    }

    /// The current field path in wire names, e.g. `spec.runtime.envVars[2]`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Runs `f` with the list index `[i]` appended to the path.
    pub fn at_index<R>(&mut self, i: usize, f: impl FnOnce(&mut Self) -> R) -> R {
        let len = self.path.len();
        crate::path::push_index(&mut self.path, i);
        let r = f(self);
        self.path.truncate(len);
        r
    }

    /// Whether conversion recorded any diagnostic.
    pub fn conversion_clean(&self) -> bool {
        self.start == self.converted
    }

    /// Runs `f` with `segment` appended to the path (`.name`, or `[i]` when `segment` starts
    /// with `[`).
    pub fn at<R>(&mut self, segment: &str, f: impl FnOnce(&mut Self) -> R) -> R {
        let len = self.path.len();
        crate::path::push(&mut self.path, segment);
        let r = f(self);
        self.path.truncate(len);
        r
    }

    /// Whether a problem with field `name` of the current path was already recorded in this
    /// context: a diagnostic at `<path>.name` or beneath it (the field was written but could not
    /// be converted), or an unknown field of the current mapping whose suggestion is `name` (it
    /// was written misspelt). Rules about missing fields ask this so that one mistake is
    /// reported once.
    pub fn explained(&self, name: &str) -> bool {
        let field = if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        };
        self.recorded.under.contains(&field)
            || self
                .recorded
                .misspelt
                .contains(&(self.path.clone(), name.to_owned()))
    }

    /// Records a diagnostic at the current path.
    pub fn report(&mut self, diagnostic: Diagnostic) {
        let diagnostic = if diagnostic.path.is_empty() {
            diagnostic.at_path(self.path.clone())
        } else {
            diagnostic
        };
        self.recorded.add(&diagnostic);
        self.diagnostics.push(diagnostic);
    }

    /// Records an error with `code` and `message` at `node`.
    pub fn error(&mut self, code: &'static str, node: &Node, message: impl Into<String>) {
        self.report(Diagnostic::error(code, message).at(node.loc));
    }

    /// Records a type error: `expected` was wanted, `node` is something else.
    pub fn type_error(&mut self, node: &Node, expected: &str) {
        let mut d = Diagnostic::error(
            codes::TYPE,
            format!("expected {expected}, found {}", node.type_name()),
        )
        .at(node.loc);
        if expected.contains("string")
            && matches!(
                node.kind,
                NodeKind::Int(_) | NodeKind::Float(_) | NodeKind::Bool(_)
            )
        {
            d = d.with_help("quote the value to make it a string");
        }
        if expected.contains("boolean")
            && matches!(&node.kind, NodeKind::Str(s) if ["yes", "no", "on", "off", "y", "n"].contains(&s.to_ascii_lowercase().as_str()))
        {
            d = d.with_help("YAML 1.2 booleans are written `true` or `false`");
        }
        self.report(d);
    }

    /// Checks that `node` is a mapping whose keys are all in `fields`, reporting every unknown
    /// key (with the closest known one), and returns its entries.
    pub fn mapping<'n>(&mut self, node: &'n Node, fields: &[&str]) -> Option<&'n [Entry]> {
        let Some(entries) = node.as_map() else {
            self.type_error(node, "a mapping");
            return None;
        };
        for entry in entries {
            if !fields.contains(&entry.key.as_str()) {
                let key = entry.key.clone();
                self.at(&key, |cx| {
                    let mut d =
                        Diagnostic::error(codes::UNKNOWN_FIELD, format!("unknown field `{key}`"))
                            .at(entry.key_loc);
                    d = match closest(&key, fields.iter().copied()) {
                        Some(best) => d.with_help(format!("did you mean `{best}`?")),
                        None => d.with_help(format!("expected one of {}", list(fields))),
                    };
                    cx.report(d);
                });
            }
        }
        Some(entries)
    }

    /// Converts the value of `entry` (a field of a mapping) at path `.<key>`; `null` is absent.
    pub fn field<T: FromNode>(&mut self, entry: &Entry) -> Option<Located<T>> {
        if entry.value.kind == NodeKind::Null {
            return None;
        }
        self.at(&entry.key, |cx| T::from_node(&entry.value, cx))
            .map(|v| Located::new(v, entry.value.loc))
    }

    /// [`Cx::field`] taking the entry: its strings are moved into the result, not copied.
    pub fn field_owned<T: FromNode>(&mut self, entry: Entry) -> Option<Located<T>> {
        if entry.value.kind == NodeKind::Null {
            return None;
        }
        let loc = entry.value.loc;
        self.at(&entry.key, |cx| T::from_owned(entry.value, cx))
            .map(|v| Located::new(v, loc))
    }
}

/// The closest of `candidates` to `word`, when one is close enough to be a likely typo.
pub fn closest<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(&lower, &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(d, c)| *d <= (c.len().max(3) / 3).max(1) || c.eq_ignore_ascii_case(word))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `` `a`, `b` or `c` ``.
pub fn list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => format!("`{one}`"),
        [init @ .., last] => format!(
            "{} or `{last}`",
            init.iter()
                .map(|i| format!("`{i}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Typed conversion from a located tree. `None` means the value was invalid and a diagnostic
/// was recorded in `cx` (or, for one-of choices, that no choice was made).
pub trait FromNode: Sized {
    /// Converts `node`, recording every problem in `cx`.
    fn from_node(node: &Node, cx: &mut Cx<'_>) -> Option<Self>;

    /// Converts `node` as [`FromNode::from_node`] does, with the same result and the same
    /// diagnostics, taking it: strings are moved into the result rather than copied and then
    /// dropped with the tree. For a tree read once (the compiler's merged tree), where that
    /// was about a tenth of the compile stage (callgrind). Types without strings of their own
    /// keep this default, which converts by reference.
    fn from_owned(node: Node, cx: &mut Cx<'_>) -> Option<Self> {
        Self::from_node(&node, cx)
    }
}

impl FromNode for String {
    fn from_node(node: &Node, cx: &mut Cx<'_>) -> Option<Self> {
        match &node.kind {
            NodeKind::Str(s) => Some(s.clone()),
            _ => {
                cx.type_error(node, "a string");
                None
            }
        }
    }

    fn from_owned(node: Node, cx: &mut Cx<'_>) -> Option<Self> {
        match node.kind {
            NodeKind::Str(s) => Some(s),
            _ => Self::from_node(&node, cx),
        }
    }
}

impl FromNode for bool {
    fn from_node(node: &Node, cx: &mut Cx<'_>) -> Option<Self> {
        match node.kind {
            NodeKind::Bool(b) => Some(b),
            _ => {
                cx.type_error(node, "a boolean");
                None
            }
        }
    }
}

macro_rules! integer_from_node {
    ($($ty:ty),*) => {$(
        impl FromNode for $ty {
            fn from_node(node: &Node, cx: &mut Cx<'_>) -> Option<Self> {
                match node.kind {
                    NodeKind::Int(i) => match <$ty>::try_from(i) {
                        Ok(v) => Some(v),
                        Err(_) => {
                            cx.error(
                                codes::TYPE,
                                node,
                                format!("{i} is out of range ({}..={})", <$ty>::MIN, <$ty>::MAX),
                            );
                            None
                        }
                    },
                    _ => {
                        cx.type_error(node, "an integer");
                        None
                    }
                }
            }
        }
    )*};
}
integer_from_node!(u32, i32, u64);

impl<T: FromNode> FromNode for Vec<T> {
    fn from_node(node: &Node, cx: &mut Cx<'_>) -> Option<Self> {
        let NodeKind::Seq(items) = &node.kind else {
            cx.type_error(node, "a list");
            return None;
        };
        // Sized once (a filtered iterator's `collect` would grow it step by step): a list is
        // as long as what was written, so the capacity is bounded by the input.
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            out.extend(cx.at_index(i, |cx| T::from_node(item, cx)));
        }
        Some(out)
    }

    fn from_owned(node: Node, cx: &mut Cx<'_>) -> Option<Self> {
        let NodeKind::Seq(items) = node.kind else {
            return Self::from_node(&node, cx);
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            out.extend(cx.at_index(i, |cx| T::from_owned(item, cx)));
        }
        Some(out)
    }
}

impl<T: FromNode> FromNode for Located<T> {
    fn from_node(node: &Node, cx: &mut Cx<'_>) -> Option<Self> {
        T::from_node(node, cx).map(|v| Located::new(v, node.loc))
    }

    fn from_owned(node: Node, cx: &mut Cx<'_>) -> Option<Self> {
        let loc = node.loc;
        T::from_owned(node, cx).map(|v| Located::new(v, loc))
    }
}

impl<T: FromNode> FromNode for IndexMap<String, T> {
    fn from_node(node: &Node, cx: &mut Cx<'_>) -> Option<Self> {
        let Some(entries) = node.as_map() else {
            cx.type_error(node, "a mapping");
            return None;
        };
        Some(
            entries
                .iter()
                .filter_map(|e| {
                    cx.at(&e.key, |cx| T::from_node(&e.value, cx))
                        .map(|v| (e.key.clone(), v))
                })
                .collect(),
        )
    }

    fn from_owned(node: Node, cx: &mut Cx<'_>) -> Option<Self> {
        let NodeKind::Map(entries) = node.kind else {
            return Self::from_node(&node, cx);
        };
        Some(
            entries
                .into_iter()
                .filter_map(|e| {
                    let value = cx.at(&e.key, |cx| T::from_owned(e.value, cx))?;
                    Some((e.key, value))
                })
                .collect(),
        )
    }
}

impl FromNode for serde_json::Value {
    fn from_node(node: &Node, _cx: &mut Cx<'_>) -> Option<Self> {
        Some(node.to_json())
    }
}
