//! A request's document as a located tree built straight from its protobuf `Struct`, for
//! validation without a text: what the loader would read from the document's JSON text
//! (`documents::document_text`), without printing that text and scanning it again.
//!
//! The tree is the one the YAML loader builds from that text, node for node: JSON strings are
//! double-quoted, so they stay strings; whole numbers a double holds exactly are integers
//! (`cordium_api::json::value_to_json`), other numbers floats; mappings keep the `Struct`'s key
//! order. Offsets count the nodes in the order the text writes them, so diagnostics sorted by
//! offset come in the text's order; no message names a line or column, so the answers match
//! the text path's to the byte (`tests::same_diagnostics_as_the_text`).
//!
//! What the loader refuses as text, or reads in a way this module does not mirror, is left
//! to it: [`document_tree`] answers `None` for a document whose text could pass the loader's
//! size limit, nest past its depth limit, or hold a character the YAML scanner may treat
//! otherwise than JSON (DEL, C1 controls, line and paragraph separators, byte-order marks,
//! non-characters). The caller then loads the text, with the loader's own diagnostics.

use cordium_spec::yaml::{MAX_DEPTH, MAX_SOURCE_BYTES};
use cordium_spec::{API_VERSION, Entry, Kind, Location, Node, NodeKind, SourceId};
use prost_types::{Struct, Value, value::Kind as ValueKind};

/// Bytes of pretty-printed JSON one node may take besides its key's and string's characters:
/// indentation on its line and on its closing bracket's (2 per level, both bounded by the
/// depth limit), quotes, `": "`, a comma, line breaks and the longest number.
const NODE_TEXT_BYTES: usize = 4 * MAX_DEPTH + 48;
/// The most bytes one character of a key or string takes in JSON (`\u001f`).
const CHAR_TEXT_BYTES: usize = 6;

/// The document `{apiVersion, kind, metadata: {name}, spec}` of `kind` as a located tree, or
/// `None` when the text path must decide (see the module doc).
pub(crate) fn document_tree(kind: Kind, name: &str, spec: Option<&Struct>) -> Option<Node> {
    let mut b = Builder::default();
    let root_loc = b.next()?;
    let mut entries = Vec::with_capacity(4);
    entries.push(b.entry("apiVersion", |b| b.string(API_VERSION))?);
    entries.push(b.entry("kind", |b| b.string(kind.as_str()))?);
    if !name.is_empty() {
        entries.push(b.entry("metadata", |b| {
            let loc = b.next()?;
            let name = b.entry("name", |b| b.string(name))?;
            Some(Node::new(NodeKind::Map(vec![name]), loc))
        })?);
    }
    if let Some(spec) = spec {
        entries.push(b.entry("spec", |b| b.map(spec, 1))?);
    }
    Some(Node::new(NodeKind::Map(entries), root_loc))
}

/// The walk's state: the next node's offset and a bound on the text's size so far.
#[derive(Default)]
struct Builder {
    offset: u32,
    text_bytes: usize,
}

impl Builder {
    /// The place of the next node in text order; `None` once the text could pass the size
    /// limit.
    fn next(&mut self) -> Option<Location> {
        let offset = self.offset;
        self.offset = self.offset.saturating_add(1);
        self.text_bytes += NODE_TEXT_BYTES;
        (self.text_bytes <= MAX_SOURCE_BYTES).then_some(Location {
            source: SourceId(0),
            line: 1,
            column: 1,
            offset,
            len: 0,
            content: None,
        })
    }

    /// `text` when the JSON-in-YAML reading of it is the one mirrored here, counted in the
    /// size bound.
    fn text(&mut self, text: &str) -> Option<String> {
        self.text_bytes += CHAR_TEXT_BYTES * text.len();
        if self.text_bytes > MAX_SOURCE_BYTES || !text.chars().all(plain_in_yaml) {
            return None;
        }
        Some(text.to_owned())
    }

    fn string(&mut self, text: &str) -> Option<Node> {
        let loc = self.next()?;
        Some(Node::new(NodeKind::Str(self.text(text)?), loc))
    }

    /// The entry `key: value` of a mapping, `value` built by `f` after the key's place is
    /// taken (the text writes the key first).
    fn entry(&mut self, key: &str, f: impl FnOnce(&mut Self) -> Option<Node>) -> Option<Entry> {
        let key_loc = self.next()?;
        let key = self.text(key)?;
        Some(Entry {
            key,
            key_loc,
            value: f(self)?,
        })
    }

    /// A mapping at `depth` (the document's root is 0).
    fn map(&mut self, s: &Struct, depth: usize) -> Option<Node> {
        if depth >= MAX_DEPTH {
            return None;
        }
        let loc = self.next()?;
        let mut entries = Vec::with_capacity(s.fields.len());
        for (key, value) in &s.fields {
            entries.push(self.entry(key, |b| b.value(value, depth + 1))?);
        }
        Some(Node::new(NodeKind::Map(entries), loc))
    }

    /// A value at `depth`.
    fn value(&mut self, v: &Value, depth: usize) -> Option<Node> {
        let kind = match &v.kind {
            Some(ValueKind::StructValue(s)) => return self.map(s, depth),
            Some(ValueKind::ListValue(l)) => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                let loc = self.next()?;
                let mut items = Vec::with_capacity(l.values.len());
                for item in &l.values {
                    items.push(self.value(item, depth + 1)?);
                }
                return Some(Node::new(NodeKind::Seq(items), loc));
            }
            Some(ValueKind::StringValue(s)) => return self.string(s),
            None | Some(ValueKind::NullValue(_)) => NodeKind::Null,
            Some(ValueKind::BoolValue(b)) => NodeKind::Bool(*b),
            // `value_to_json`'s rule: exactly held whole numbers are integers. Non-finite
            // numbers are refused before validation; were one here, the text path decides.
            Some(ValueKind::NumberValue(n)) if !n.is_finite() => return None,
            Some(ValueKind::NumberValue(n)) if n.fract() == 0.0 && n.abs() < 9.0e15 => {
                NodeKind::Int(*n as i64)
            }
            Some(ValueKind::NumberValue(n)) => NodeKind::Float(*n),
        };
        Some(Node::new(kind, self.next()?))
    }
}

/// Whether `c`, written into a JSON string, reads back as itself in YAML for certain: ASCII
/// (JSON escapes the control characters, and YAML's double-quoted strings read the escapes),
/// and the printable characters of YAML 1.2 above it, less those a scanner may break lines on
/// or skip (U+2028, U+2029, U+FEFF).
fn plain_in_yaml(c: char) -> bool {
    matches!(c, '\0'..='\u{7e}' | '\u{a0}'..='\u{2027}' | '\u{202a}'..='\u{d7ff}' | '\u{e000}'..='\u{fefe}' | '\u{ff00}'..='\u{fffd}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::documents::document_text;
    use cordium_api::json::json_to_struct;
    use cordium_spec::{Diagnostic, Loaded, load, load_trees};

    /// What an answer shows of a diagnostic, in order.
    fn shown(loaded: &Loaded) -> Vec<(bool, &'static str, String, String, Option<String>)> {
        let show = |d: &Diagnostic| {
            (
                d.is_error(),
                d.code,
                d.path.clone(),
                d.message.clone(),
                d.help.clone(),
            )
        };
        loaded.diagnostics.iter().map(show).collect()
    }

    /// The nodes of `node` in text order: each key and value as its kind and text.
    fn flatten(node: &Node, out: &mut Vec<(String, u32)>) {
        let (tag, offset) = (
            format!("{:?}", std::mem::discriminant(&node.kind)),
            node.loc.offset,
        );
        match &node.kind {
            NodeKind::Map(entries) => {
                out.push((tag, offset));
                for e in entries {
                    out.push((format!("key {:?}", e.key), e.key_loc.offset));
                    flatten(&e.value, out);
                }
            }
            NodeKind::Seq(items) => {
                out.push((tag, offset));
                for item in items {
                    flatten(item, out);
                }
            }
            scalar => out.push((format!("{scalar:?}"), offset)),
        }
    }

    /// The tree of `spec`, checked against the loader's tree of the same document's text: the
    /// same nodes, with offsets in the same order; and the same diagnostics.
    fn check(kind: Kind, name: &str, spec: &Struct) {
        let text = document_text(kind, name, Some(spec));
        let from_text =
            cordium_spec::yaml::parse_documents(&text, SourceId(0)).expect("the text parses");
        let Some(tree) = document_tree(kind, name, Some(spec)) else {
            panic!("no tree for {text}");
        };
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        flatten(&tree, &mut ours);
        flatten(&from_text[0], &mut theirs);
        let kinds = |v: &[(String, u32)]| v.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        assert_eq!(kinds(&ours), kinds(&theirs), "{text}");
        for nodes in [&ours, &theirs] {
            assert!(
                nodes.windows(2).all(|w| w[0].1 < w[1].1),
                "offsets in text order: {text}"
            );
        }
        let by_text = load(&text, SourceId(0));
        let by_tree = load_trees([tree]);
        assert_eq!(shown(&by_tree), shown(&by_text), "{text}");
    }

    /// Every spec of the fixtures (valid and invalid), and many variations of them: the
    /// answers of the tree and of the text are the same.
    #[test]
    fn same_diagnostics_as_the_text() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures");
        let mut specs = Vec::new();
        let mut files = vec![std::path::PathBuf::from(root)];
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(
                    std::fs::read_dir(&path)
                        .expect("fixtures")
                        .flatten()
                        .map(|e| e.path()),
                );
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            if !path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                continue;
            }
            for doc in load(&text, SourceId(0)).documents {
                if let Some(spec) = doc.root.get("spec").filter(|s| s.as_map().is_some()) {
                    let name = doc.name().unwrap_or_default().to_owned();
                    specs.push((doc.kind, name, json_to_struct(&spec.to_json())));
                }
            }
        }
        assert!(specs.len() > 100, "found {} fixture specs", specs.len());
        let mut keys: Vec<String> = Vec::new();
        for (_, _, spec) in &specs {
            gather_keys(spec, &mut keys);
        }
        keys.sort();
        keys.dedup();
        let mut rng = Rng(0x5eed_cafe_f00d_d00d);
        for (kind, name, spec) in &specs {
            check(*kind, name, spec);
            for _ in 0..8 {
                let mut mutated = spec.clone();
                mutate(&mut mutated, &keys, &mut rng, 0);
                check(*kind, name, &mutated);
            }
        }
    }

    fn gather_keys(s: &Struct, keys: &mut Vec<String>) {
        for (k, v) in &s.fields {
            keys.push(k.clone());
            gather_value(v, keys);
        }
    }

    fn gather_value(v: &Value, keys: &mut Vec<String>) {
        match &v.kind {
            Some(ValueKind::StructValue(s)) => gather_keys(s, keys),
            Some(ValueKind::ListValue(l)) => l.values.iter().for_each(|v| gather_value(v, keys)),
            _ => {}
        }
    }

    /// xorshift64: variations that are the same on every run.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    /// Strings that validation treats differently, and characters the text escapes.
    const STRINGS: &[&str] = &[
        "",
        "x",
        "true",
        "1",
        "0x10",
        "1.5",
        "null",
        "~",
        "${{ vars.X }}",
        "${{ bad",
        "a b",
        "python:3.11",
        "https://example.com/r.git",
        "main",
        "POST_START",
        "../x",
        "/abs",
        "quote \" and \\ back",
        "tab\tline\nbreak\r\u{1}\u{1f}",
        "é ü 日本 🦀",
        "- not a list",
        "key: value",
        "#comment",
        "&anchor",
        "*alias",
        "!tag",
        "   spaced   ",
    ];
    const NUMBERS: &[f64] = &[
        0.0,
        -0.0,
        1.0,
        -1.0,
        3000.0,
        16000.0,
        1.5,
        -2.25,
        1e20,
        9.0e15,
        8.99e15,
        1e-7,
        65536.0,
        4294967296.0,
        0.1,
        123456789.0,
    ];

    fn random_value(keys: &[String], rng: &mut Rng, depth: usize) -> Value {
        let kind = match rng.below(if depth > 3 { 5 } else { 7 }) {
            0 => ValueKind::NullValue(0),
            1 => ValueKind::BoolValue(rng.below(2) == 0),
            2 => ValueKind::NumberValue(NUMBERS[rng.below(NUMBERS.len())]),
            3 | 4 => ValueKind::StringValue(STRINGS[rng.below(STRINGS.len())].to_owned()),
            5 => ValueKind::ListValue(prost_types::ListValue {
                values: (0..rng.below(4))
                    .map(|_| random_value(keys, rng, depth + 1))
                    .collect(),
            }),
            _ => {
                let mut s = Struct::default();
                for _ in 0..rng.below(4) {
                    let key = keys[rng.below(keys.len())].clone();
                    s.fields.insert(key, random_value(keys, rng, depth + 1));
                }
                ValueKind::StructValue(s)
            }
        };
        Value { kind: Some(kind) }
    }

    /// One change somewhere in `s`: a value replaced, a key removed or added.
    fn mutate(s: &mut Struct, keys: &[String], rng: &mut Rng, depth: usize) {
        let n = s.fields.len();
        let pick = if n == 0 {
            None
        } else {
            s.fields.keys().nth(rng.below(n)).cloned()
        };
        match (rng.below(5), pick) {
            (0, _) | (_, None) => {
                let key = keys[rng.below(keys.len())].clone();
                s.fields.insert(key, random_value(keys, rng, depth));
            }
            (1, Some(key)) => {
                s.fields.remove(&key);
            }
            (2, Some(key)) => {
                s.fields.insert(key, random_value(keys, rng, depth));
            }
            (_, Some(key)) => match s.fields.get_mut(&key).and_then(|v| v.kind.as_mut()) {
                Some(ValueKind::StructValue(inner)) => mutate(inner, keys, rng, depth + 1),
                Some(ValueKind::ListValue(l)) if !l.values.is_empty() => {
                    let i = rng.below(l.values.len());
                    match l.values[i].kind.as_mut() {
                        Some(ValueKind::StructValue(inner)) => mutate(inner, keys, rng, depth + 1),
                        _ => l.values[i] = random_value(keys, rng, depth + 1),
                    }
                }
                _ => {
                    s.fields.insert(key, random_value(keys, rng, depth));
                }
            },
        }
    }

    /// What the tree does not mirror goes to the text: nesting at the depth limit, a character
    /// the scanner may read otherwise, a text that could pass the size limit.
    #[test]
    fn hard_cases_are_left_to_the_text() {
        let nested = |levels: usize| {
            let mut v = Value {
                kind: Some(ValueKind::NullValue(0)),
            };
            for _ in 0..levels {
                let mut s = Struct::default();
                s.fields.insert("a".into(), v);
                v = Value {
                    kind: Some(ValueKind::StructValue(s)),
                };
            }
            let mut spec = Struct::default();
            spec.fields.insert("vars".into(), v);
            spec
        };
        // The root is at depth 0, the spec at 1, `vars` at 2: the loader takes 62 levels
        // under `spec`, not 63 (its limit is 64 nested collections).
        let deepest = MAX_DEPTH - 2;
        let parses = |spec: &Struct| {
            let text = document_text(Kind::Workspace, "", Some(spec));
            cordium_spec::yaml::parse_documents(&text, SourceId(0)).is_ok()
        };
        assert!(parses(&nested(deepest)) && !parses(&nested(deepest + 1)));
        check(Kind::Workspace, "", &nested(deepest));
        assert!(document_tree(Kind::Workspace, "", Some(&nested(deepest + 1))).is_none());
        for c in [
            '\u{7f}', '\u{85}', '\u{2028}', '\u{2029}', '\u{feff}', '\u{fffe}',
        ] {
            let mut spec = Struct::default();
            spec.fields.insert(
                "vars".into(),
                Value {
                    kind: Some(ValueKind::StringValue(format!("a{c}b"))),
                },
            );
            assert!(
                document_tree(Kind::Workspace, "", Some(&spec)).is_none(),
                "{c:?}"
            );
        }
        let mut big = Struct::default();
        big.fields.insert(
            "vars".into(),
            Value {
                kind: Some(ValueKind::StringValue(
                    "x".repeat(MAX_SOURCE_BYTES / CHAR_TEXT_BYTES),
                )),
            },
        );
        assert!(document_tree(Kind::Workspace, "", Some(&big)).is_none());
    }
}
