//! Text to located trees: the YAML 1.2 loader (JSON is read by the same loader).
//!
//! Built on `granit-parser`'s event stream (the parser under `serde-saphyr`). We build the tree
//! ourselves, iteratively, so that we control what a hostile document can cost:
//! - a file larger than [`MAX_SOURCE_BYTES`] is refused before parsing;
//! - nesting deeper than [`MAX_DEPTH`] is refused;
//! - aliases may add at most [`ALIAS_SLACK`] nodes plus [`ALIAS_FACTOR`] times the nodes written
//!   out, and never more than [`ALIAS_MAX_NODES`] nodes or copies of [`ALIAS_MAX_BYTES`] of
//!   source text in all (every alias copies its anchor's tree, so a large anchor aliased many
//!   times costs its size each time), so a "billion laughs" document is an error, not an
//!   out-of-memory;
//! - a mapping with the same key twice is an error naming both places.
//!
//! Plain scalars are resolved by the YAML 1.2 core schema: `yes`, `on` and `off` are strings, as
//! editors using our JSON Schemas also say.

#![expect(
    clippy::result_large_err,
    reason = "one diagnostic per rejected file, on the error path only"
)]

use crate::diagnostic::{Diagnostic, codes};
use crate::node::{Entry, Node, NodeKind};
use crate::source::{Location, SourceId};
use granit_parser::{Event, Parser, ScalarStyle, Span, Tag};
use std::collections::HashMap;

/// The largest source text accepted, in bytes (8 MiB: configuration, not data).
pub const MAX_SOURCE_BYTES: usize = 8 * 1024 * 1024;
/// The deepest nesting of mappings and sequences accepted.
pub const MAX_DEPTH: usize = 64;
/// Nodes that aliases may add regardless of document size.
pub const ALIAS_SLACK: usize = 10_000;
/// How many times the written-out nodes aliases may add on top of [`ALIAS_SLACK`].
pub const ALIAS_FACTOR: usize = 10;
/// Nodes aliases may add at most, whatever the document's size (about 100 bytes each).
pub const ALIAS_MAX_NODES: usize = 1_000_000;
/// Source bytes aliases may copy at most in all (the anchors' text, once per alias).
pub const ALIAS_MAX_BYTES: usize = MAX_SOURCE_BYTES;

/// Source bytes that are not UTF-8, the one encoding the loader reads (YAML 1.2 also allows
/// UTF-16 and UTF-32, which no editor writes for configuration). Invalid input, not a usage
/// error: it is reported like any other mistake, at the first invalid byte.
#[derive(Debug, Clone)]
pub struct NotUtf8 {
    text: String,
    offset: usize,
    byte: u8,
}

impl NotUtf8 {
    /// The bytes with every invalid sequence replaced by U+FFFD: what a source map holds, so a
    /// diagnostic can still show the line around the bad byte. Bytes before the first invalid
    /// one keep their offsets.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The diagnostic at the first invalid byte, in `source` (which holds [`Self::text`]).
    pub fn diagnostic(&self, source: SourceId) -> Diagnostic {
        let before = self.text.get(..self.offset).unwrap_or_default();
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Diagnostic::error(
            codes::ENCODING,
            format!(
                "the file is not UTF-8 text: byte 0x{:02X} at offset {} is not valid",
                self.byte, self.offset
            ),
        )
        .at(Location {
            source,
            line: count(before.matches('\n').count() + 1),
            column: count(before[line_start..].chars().count() + 1),
            offset: count(self.offset),
            len: count(char::REPLACEMENT_CHARACTER.len_utf8()),
            content: None,
        })
        .with_help("save the file as UTF-8")
    }
}

/// Decodes source bytes for [`parse_documents`]. Linear in the input: one validation pass, and
/// on failure one lossy copy.
pub fn decode(bytes: Vec<u8>) -> Result<String, NotUtf8> {
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let byte = e.as_bytes().get(offset).copied().unwrap_or_default();
        NotUtf8 {
            text: String::from_utf8_lossy(e.as_bytes()).into_owned(),
            offset,
            byte,
        }
    })
}

/// Parses every document of a YAML or JSON text into located trees.
///
/// Empty documents (a lone `---`, or only comments) are skipped. On a syntax error, or when a
/// limit is exceeded, the whole text is rejected with one diagnostic at the place it happened.
pub fn parse_documents(text: &str, source: SourceId) -> Result<Vec<Node>, Diagnostic> {
    if text.len() > MAX_SOURCE_BYTES {
        return Err(Diagnostic::error(
            codes::TOO_LARGE,
            format!(
                "the file is {} bytes; the limit is {} bytes",
                text.len(),
                MAX_SOURCE_BYTES
            ),
        )
        .at(Location {
            source,
            line: 1,
            column: 1,
            ..Location::default()
        })
        .with_help("split the configuration into several smaller files"));
    }
    Loader::new(text, source).run()
}

enum Frame {
    Seq {
        items: Vec<Node>,
        loc: Location,
        anchor: usize,
        count: usize,
    },
    Map {
        entries: Vec<Entry>,
        loc: Location,
        anchor: usize,
        key: Option<(String, Location)>,
        count: usize,
    },
}

struct Loader<'a> {
    text: &'a str,
    source: SourceId,
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, usize)>,
    documents: Vec<Node>,
    written_nodes: usize,
    alias_nodes: usize,
    alias_bytes: usize,
}

impl<'a> Loader<'a> {
    fn new(text: &'a str, source: SourceId) -> Self {
        Self {
            text,
            source,
            stack: Vec::new(),
            anchors: HashMap::new(),
            documents: Vec::new(),
            written_nodes: 0,
            alias_nodes: 0,
            alias_bytes: 0,
        }
    }

    fn run(mut self) -> Result<Vec<Node>, Diagnostic> {
        let mut parser = Parser::new_from_str(self.text);
        while let Some(next) = parser.next_event() {
            let (event, span) = next.map_err(|e| {
                let mark = e.marker();
                let loc = self.location_at(mark.byte_offset(), mark.line(), mark.col(), 0);
                Diagnostic::error(codes::SYNTAX, format!("invalid YAML: {}", e.info())).at(loc)
            })?;
            self.event(event, span)?;
        }
        Ok(self.documents)
    }

    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), Diagnostic> {
        match event {
            Event::DocumentStart(..) => self.anchors.clear(),
            Event::Scalar(value, style, anchor, tag) => {
                let loc = self.span_location(&span, Some((&value, style)));
                let kind = resolve_scalar(&value, style, tag.as_deref())
                    .map_err(|m| Diagnostic::error(codes::UNSUPPORTED_TAG, m).at(loc))?;
                self.written_nodes += 1;
                self.finish(Node::new(kind, loc), anchor, 1)?;
            }
            Event::SequenceStart(_, anchor, tag) => {
                self.check_collection_tag(tag.as_deref(), "seq", &span)?;
                self.push(Frame::Seq {
                    items: Vec::new(),
                    loc: self.span_location(&span, None),
                    anchor,
                    count: 1,
                })?;
            }
            Event::MappingStart(_, anchor, tag) => {
                self.check_collection_tag(tag.as_deref(), "map", &span)?;
                self.push(Frame::Map {
                    entries: Vec::new(),
                    loc: self.span_location(&span, None),
                    anchor,
                    key: None,
                    count: 1,
                })?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(frame) = self.stack.pop() {
                    self.written_nodes += 1;
                    let (mut node, anchor, count) = match frame {
                        Frame::Seq {
                            items,
                            loc,
                            anchor,
                            count,
                        } => (Node::new(NodeKind::Seq(items), loc), anchor, count),
                        Frame::Map {
                            entries,
                            loc,
                            anchor,
                            count,
                            ..
                        } => (Node::new(NodeKind::Map(entries), loc), anchor, count),
                    };
                    let end = span.end.byte_offset().unwrap_or(0);
                    node.loc.len = u32::try_from(end.saturating_sub(node.loc.offset as usize))
                        .unwrap_or(u32::MAX);
                    self.finish(node, anchor, count)?;
                }
            }
            Event::Alias(id) => {
                let loc = self.span_location(&span, None);
                let Some((node, count)) = self.anchors.get(&id).cloned() else {
                    return Err(
                        Diagnostic::error(codes::SYNTAX, "alias to an unknown anchor").at(loc),
                    );
                };
                self.alias_nodes += count;
                self.alias_bytes += node.loc.len as usize;
                let max_nodes =
                    (ALIAS_SLACK + ALIAS_FACTOR * self.written_nodes).min(ALIAS_MAX_NODES);
                let past = if self.alias_nodes > max_nodes {
                    Some(format!(
                        "aliases expand this document beyond {max_nodes} nodes"
                    ))
                } else if self.alias_bytes > ALIAS_MAX_BYTES {
                    Some(format!(
                        "aliases copy more than {} MiB of this document's text",
                        ALIAS_MAX_BYTES >> 20
                    ))
                } else {
                    None
                };
                if let Some(message) = past {
                    return Err(Diagnostic::error(codes::TOO_LARGE, message)
                        .at(loc)
                        .with_help("this looks like an alias bomb; write the values out instead"));
                }
                self.attach(node, count)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn check_collection_tag(
        &self,
        tag: Option<&Tag>,
        expected: &str,
        span: &Span,
    ) -> Result<(), Diagnostic> {
        match tag {
            Some(t) if t.core_suffix() != Some(expected) => Err(Diagnostic::error(
                codes::UNSUPPORTED_TAG,
                format!(
                    "unsupported tag `{}` on a {}",
                    t.original(),
                    if expected == "seq" {
                        "sequence"
                    } else {
                        "mapping"
                    }
                ),
            )
            .at(self.span_location(span, None))),
            _ => Ok(()),
        }
    }

    fn push(&mut self, frame: Frame) -> Result<(), Diagnostic> {
        if self.stack.len() >= MAX_DEPTH {
            let loc = match &frame {
                Frame::Seq { loc, .. } | Frame::Map { loc, .. } => *loc,
            };
            return Err(Diagnostic::error(
                codes::TOO_LARGE,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            )
            .at(loc));
        }
        self.stack.push(frame);
        Ok(())
    }

    fn finish(&mut self, node: Node, anchor: usize, count: usize) -> Result<(), Diagnostic> {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), count));
        }
        self.attach(node, count)
    }

    fn attach(&mut self, node: Node, count: usize) -> Result<(), Diagnostic> {
        match self.stack.last_mut() {
            None => {
                if node.kind != NodeKind::Null {
                    self.documents.push(node);
                }
                Ok(())
            }
            Some(Frame::Seq {
                items,
                count: total,
                ..
            }) => {
                *total += count;
                items.push(node);
                Ok(())
            }
            Some(Frame::Map {
                entries,
                key,
                count: total,
                ..
            }) => match key.take() {
                Some((key, key_loc)) => {
                    *total += count;
                    entries.push(Entry {
                        key,
                        key_loc,
                        value: node,
                    });
                    Ok(())
                }
                None => {
                    let text = match node.kind {
                        NodeKind::Str(s) => s,
                        NodeKind::Null => String::new(),
                        NodeKind::Bool(b) => b.to_string(),
                        NodeKind::Int(i) => i.to_string(),
                        NodeKind::Float(f) => f.to_string(),
                        NodeKind::Seq(_) | NodeKind::Map(_) => {
                            return Err(Diagnostic::error(
                                codes::SYNTAX,
                                "a mapping key must be a plain value, not a list or mapping",
                            )
                            .at(node.loc));
                        }
                    };
                    if let Some(first) = entries.iter().find(|e| e.key == text) {
                        return Err(Diagnostic::error(
                            codes::DUPLICATE_KEY,
                            format!("duplicate key `{text}`"),
                        )
                        .at(node.loc)
                        .with_related(first.key_loc, "first defined here")
                        .with_help("remove one of the two entries"));
                    }
                    *key = Some((text, node.loc));
                    Ok(())
                }
            },
        }
    }

    fn location_at(&self, byte: Option<usize>, line: usize, col: usize, len: usize) -> Location {
        Location {
            source: self.source,
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(col + 1).unwrap_or(u32::MAX),
            offset: u32::try_from(byte.unwrap_or(0)).unwrap_or(u32::MAX),
            len: u32::try_from(len).unwrap_or(u32::MAX),
            content: None,
        }
    }

    fn span_location(&self, span: &Span, scalar: Option<(&str, ScalarStyle)>) -> Location {
        let start = span.start.byte_offset().unwrap_or(0);
        let end = span.end.byte_offset().unwrap_or(start).max(start);
        let mut loc = self.location_at(
            Some(start),
            span.start.line(),
            span.start.col(),
            end - start,
        );
        if let Some((value, style)) = scalar {
            let raw = self.text.get(start..end).unwrap_or("");
            let content = match style {
                ScalarStyle::Plain => (raw == value).then_some(start),
                ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => (raw.len() >= 2
                    && raw.get(1..raw.len() - 1) == Some(value))
                .then_some(start + 1),
                ScalarStyle::Literal | ScalarStyle::Folded => None,
            };
            loc.content = content.and_then(|c| u32::try_from(c).ok());
        }
        loc
    }
}

/// Resolves a scalar by its tag, else by the YAML 1.2 core schema for plain scalars.
fn resolve_scalar(value: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<NodeKind, String> {
    if let Some(tag) = tag {
        let parsed = match tag.core_suffix() {
            Some("str") => Some(NodeKind::Str(value.to_owned())),
            Some("null") => Some(NodeKind::Null),
            Some("bool") => match resolve_plain(value) {
                k @ NodeKind::Bool(_) => Some(k),
                _ => None,
            },
            Some("int") => match resolve_plain(value) {
                k @ NodeKind::Int(_) => Some(k),
                _ => None,
            },
            Some("float") => match resolve_plain(value) {
                NodeKind::Int(i) => Some(NodeKind::Float(i as f64)),
                k @ NodeKind::Float(_) => Some(k),
                _ => None,
            },
            _ => None,
        };
        return parsed.ok_or_else(|| format!("unsupported tag `{}` on `{value}`", tag.original()));
    }
    Ok(match style {
        ScalarStyle::Plain => resolve_plain(value),
        _ => NodeKind::Str(value.to_owned()),
    })
}

/// The YAML 1.2 core schema for plain scalars.
fn resolve_plain(value: &str) -> NodeKind {
    match value {
        "" | "~" | "null" | "Null" | "NULL" => return NodeKind::Null,
        "true" | "True" | "TRUE" => return NodeKind::Bool(true),
        "false" | "False" | "FALSE" => return NodeKind::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return NodeKind::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return NodeKind::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return NodeKind::Float(f64::NAN),
        _ => {}
    }
    let bytes = value.as_bytes();
    let digits = bytes
        .strip_prefix(b"-")
        .or_else(|| bytes.strip_prefix(b"+"))
        .unwrap_or(bytes);
    if !digits.is_empty()
        && digits.iter().all(u8::is_ascii_digit)
        && let Ok(i) = value.parse::<i64>()
    {
        return NodeKind::Int(i);
    }
    // The core schema's `0x[0-9a-fA-F]+` and `0o[0-7]+`: digits only (`from_str_radix` alone
    // would also take a sign, reading `0x-1` as -1).
    if let Some(hex) = value.strip_prefix("0x")
        && !hex.is_empty()
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return NodeKind::Int(i);
    }
    if let Some(oct) = value.strip_prefix("0o")
        && !oct.is_empty()
        && oct.bytes().all(|b| (b'0'..=b'7').contains(&b))
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return NodeKind::Int(i);
    }
    if is_core_float(digits)
        && let Ok(f) = value.parse::<f64>()
    {
        return NodeKind::Float(f);
    }
    NodeKind::Str(value.to_owned())
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` without the sign.
fn is_core_float(s: &[u8]) -> bool {
    let mantissa_end = s
        .iter()
        .position(|b| *b == b'e' || *b == b'E')
        .unwrap_or(s.len());
    let (mantissa, exponent) = s.split_at(mantissa_end);
    let mantissa_ok = match mantissa.iter().position(|b| *b == b'.') {
        Some(dot) => {
            let (int, frac) = (&mantissa[..dot], &mantissa[dot + 1..]);
            int.iter().all(u8::is_ascii_digit)
                && frac.iter().all(u8::is_ascii_digit)
                && !(int.is_empty() && frac.is_empty())
        }
        None => !mantissa.is_empty() && mantissa.iter().all(u8::is_ascii_digit),
    };
    let exponent_ok = match exponent {
        [] => true,
        [_, rest @ ..] => {
            let rest = rest
                .strip_prefix(b"-")
                .or_else(|| rest.strip_prefix(b"+"))
                .unwrap_or(rest);
            !rest.is_empty() && rest.iter().all(u8::is_ascii_digit)
        }
    };
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        let mut docs = parse_documents(text, SourceId(0)).expect("parses");
        assert_eq!(docs.len(), 1);
        docs.remove(0)
    }

    /// The values of a one-document mapping, in order.
    fn values(text: &str) -> Vec<NodeKind> {
        one(text)
            .as_map()
            .expect("map")
            .iter()
            .map(|e| e.value.kind.clone())
            .collect()
    }

    #[test]
    fn core_schema_scalars() {
        assert_eq!(
            values("a: yes\nb: true\nc: 12\nd: 1.5\ne: ~\nf: '12'\ng: 0x1f\nh: 1e3\ni: .5.\n"),
            vec![
                NodeKind::Str("yes".into()),
                NodeKind::Bool(true),
                NodeKind::Int(12),
                NodeKind::Float(1.5),
                NodeKind::Null,
                NodeKind::Str("12".into()),
                NodeKind::Int(31),
                NodeKind::Float(1000.0),
                NodeKind::Str(".5.".into()),
            ]
        );
    }

    /// Hex and octal integers are digits only after their prefix, as the core schema says; a
    /// sign there makes a string (the YAML writer leaves `0x-1` unquoted, so reading it as -1
    /// would change a value on its way through `cordium compile`).
    #[test]
    fn hex_and_octal_take_no_sign() {
        assert_eq!(
            values("a: 0x-1\nb: 0x+1F\nc: 0o-7\nd: 0o17\ne: 0x\nf: 0o8\ng: 0xfF\n"),
            vec![
                NodeKind::Str("0x-1".into()),
                NodeKind::Str("0x+1F".into()),
                NodeKind::Str("0o-7".into()),
                NodeKind::Int(15),
                NodeKind::Str("0x".into()),
                NodeKind::Str("0o8".into()),
                NodeKind::Int(255),
            ]
        );
    }

    #[test]
    fn locations_are_one_based_and_point_inside_strings() {
        let n = one("spec:\n  branch: 'main'\n");
        let v = n.get("spec").and_then(|s| s.get("branch")).expect("branch");
        assert_eq!((v.loc.line, v.loc.column), (2, 11));
        assert_eq!(v.loc.content, Some(17));
    }

    #[test]
    fn duplicate_keys_name_both_places() {
        let e = parse_documents("a: 1\nb: 2\na: 3\n", SourceId(0)).expect_err("duplicate");
        assert_eq!(e.code, codes::DUPLICATE_KEY);
        assert_eq!(e.location.map(|l| l.line), Some(3));
        assert_eq!(e.related[0].location.line, 1);
    }

    #[test]
    fn billion_laughs_is_an_error() {
        let mut doc = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 9].join(", ");
            doc.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let e = parse_documents(&doc, SourceId(0)).expect_err("bomb");
        assert_eq!(e.code, codes::TOO_LARGE);
    }

    /// A large anchor aliased many times is refused by the bytes it copies, however few nodes
    /// it has (before, a 7.8 MB file grew the CLI to 2.8 GB before the node count stopped it).
    #[test]
    fn aliases_copying_too_much_text_are_an_error() {
        let big = "x".repeat(1 << 20);
        let mut doc = format!("big: &b \"{big}\"\ncopies:\n");
        for _ in 0..9 {
            doc.push_str("  - *b\n");
        }
        let e = parse_documents(&doc, SourceId(0)).expect_err("too much copied");
        assert_eq!(e.code, codes::TOO_LARGE, "{e:?}");
        assert!(
            e.message.contains("MiB of this document's text"),
            "{}",
            e.message
        );
        // Seven copies of 1 MiB stay within the bound.
        let fewer = doc.replacen("  - *b\n", "", 2);
        assert!(parse_documents(&fewer, SourceId(0)).is_ok());
    }

    /// However large the document, aliases add at most [`ALIAS_MAX_NODES`] nodes.
    #[test]
    fn alias_nodes_are_capped_whatever_the_size() {
        // 200,000 written nodes would allow 2,010,000 by the factor alone.
        let mut doc = String::from("base: &b [1, 2, 3, 4, 5, 6, 7, 8, 9]\nwritten:\n");
        for i in 0..200_000 {
            doc.push_str(&format!("  - {i}\n"));
        }
        doc.push_str("copies:\n");
        for _ in 0..110_000 {
            doc.push_str("  - *b\n");
        }
        let e = parse_documents(&doc, SourceId(0)).expect_err("too many nodes");
        assert!(
            e.message
                .contains(&format!("beyond {ALIAS_MAX_NODES} nodes")),
            "{}",
            e.message
        );
    }

    #[test]
    fn aliases_within_budget_expand() {
        let n = one("base: &b {x: 1}\ncopy: *b\n");
        assert_eq!(
            n.get("copy").and_then(|c| c.get("x")).map(|x| &x.kind),
            Some(&NodeKind::Int(1))
        );
    }

    #[test]
    fn deep_nesting_is_an_error() {
        let text = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let e = parse_documents(&text, SourceId(0)).expect_err("deep");
        assert!(matches!(e.code, codes::TOO_LARGE | codes::SYNTAX), "{e:?}");
    }

    #[test]
    fn multi_document_and_json() {
        let docs =
            parse_documents("---\na: 1\n---\n{\"b\": [1, 2]}\n---\n", SourceId(0)).expect("ok");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].get("b").map(Node::type_name), Some("a list"));
    }

    #[test]
    fn invalid_utf8_is_located_at_its_first_bad_byte() {
        let bad = decode(b"a: 1\nb: x\xffy\xfe\n".to_vec()).expect_err("not UTF-8");
        let d = bad.diagnostic(SourceId(0));
        assert_eq!(d.code, codes::ENCODING);
        let loc = d.location.expect("located");
        assert_eq!((loc.line, loc.column, loc.offset), (2, 5, 9));
        assert!(d.message.contains("0xFF at offset 9"), "{}", d.message);
        assert_eq!(&bad.text()[9..12], "\u{FFFD}");
        assert_eq!(
            decode(b"ok: \xc3\xa9".to_vec()).expect("UTF-8"),
            "ok: \u{e9}"
        );
    }

    #[test]
    fn oversized_input_is_refused_before_parsing() {
        let text = "a".repeat(MAX_SOURCE_BYTES + 1);
        let e = parse_documents(&text, SourceId(0)).expect_err("too large");
        assert_eq!(e.code, codes::TOO_LARGE);
    }
}
