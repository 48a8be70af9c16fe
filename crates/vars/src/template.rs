//! The parsed form of a string: [`Template`], its [`Segment`]s and
//! [`Reference`]s, and [`parse`], which builds it with the pest grammar.

use std::borrow::Cow;
use std::ops::Range;

use pest::Parser as _;
use pest::iterators::Pair;

use crate::error::{Error, ErrorKind};
use crate::grammar::{Rule, VarsParser};

/// The opening of an expression.
const OPEN: &str = "${{";
/// The escape for a literal [`OPEN`].
const ESCAPE: &str = "$${{";

/// A parsed string: literal text and `${{ vars.NAME }}` references, in order.
///
/// Adjacent literal text is merged into one [`Segment::Literal`], so two
/// literals never follow each other. A literal borrows from the input unless
/// it contained an escape (`$${{`), which had to be resolved.
#[derive(Debug, Clone)]
pub struct Template<'a> {
    /// The segments; a single segment is stored inline, so a string without
    /// `${{` is parsed without allocating.
    repr: Repr<'a>,
    /// Length of the input, used as a capacity hint when rendering.
    source_len: usize,
}

/// Storage of a template's segments.
#[derive(Debug, Clone)]
enum Repr<'a> {
    /// Exactly one segment.
    One(Segment<'a>),
    /// Any other number of segments (zero, or two and more).
    Many(Vec<Segment<'a>>),
}

/// One piece of a [`Template`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment<'a> {
    /// Literal text, with escapes already resolved (`$${{` became `${{`).
    /// Borrowed from the input unless an escape had to be resolved.
    Literal(Cow<'a, str>),
    /// A `${{ vars.NAME }}` reference.
    Reference(Reference<'a>),
}

/// A `${{ vars.NAME }}` reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference<'a> {
    /// The variable name, borrowed from the input.
    pub name: &'a str,
    /// Byte span of the whole `${{ ... }}` in the input.
    pub span: Range<usize>,
}

impl<'a> Template<'a> {
    /// A template made of one literal, borrowed as is (no escapes to resolve).
    fn literal(input: &'a str) -> Self {
        let repr = if input.is_empty() {
            Repr::Many(Vec::new())
        } else {
            Repr::One(Segment::Literal(Cow::Borrowed(input)))
        };
        Template {
            repr,
            source_len: input.len(),
        }
    }

    /// The segments, in input order.
    pub fn segments(&self) -> &[Segment<'a>] {
        match &self.repr {
            Repr::One(segment) => std::slice::from_ref(segment),
            Repr::Many(segments) => segments,
        }
    }

    /// Whether the template holds at least one reference.
    pub fn has_references(&self) -> bool {
        self.segments()
            .iter()
            .any(|segment| matches!(segment, Segment::Reference(_)))
    }

    /// The references, in input order (the same as the free function
    /// [`references`](crate::references)).
    pub fn references(&self) -> impl Iterator<Item = &Reference<'a>> {
        references(self)
    }

    /// Checks, before substituting, that the result would be at most `limit`
    /// bytes (an undefined variable counts as empty). One pass over the
    /// segments, nothing allocated: a few references to a long value can
    /// ask for far more memory than the text that holds them (73 references
    /// to a 1 MB variable in each of 128 fields ask for 9 GB), so a caller
    /// bounds each field by what it may hold before building it.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::TooLong`](crate::ErrorKind::TooLong), spanning the whole
    /// string.
    pub fn check_len(&self, vars: &dyn crate::Lookup, limit: usize) -> Result<(), crate::Error> {
        let len = self.segments().iter().fold(0usize, |len, segment| {
            len.saturating_add(match segment {
                Segment::Literal(text) => text.len(),
                Segment::Reference(reference) => vars.get(reference.name).map_or(0, str::len),
            })
        });
        if len <= limit {
            return Ok(());
        }
        Err(crate::Error {
            kind: crate::ErrorKind::TooLong { len, limit },
            span: 0..self.source_len,
        })
    }

    /// Length in bytes of the string this template was parsed from.
    pub(crate) fn source_len(&self) -> usize {
        self.source_len
    }

    /// Writes the template back as source text, in canonical form: every
    /// reference as `${{ vars.NAME }}` and every literal `${{` re-escaped as
    /// `$${{`.
    ///
    /// Parsing the result gives an equal template (same literals, same names;
    /// spans may differ). For an input whose references are already written
    /// `${{ vars.NAME }}`, the result is byte-identical to the input.
    pub fn to_source(&self) -> String {
        let mut out = String::with_capacity(self.source_len + 8);
        for segment in self.segments() {
            match segment {
                Segment::Literal(text) => {
                    let mut last = 0;
                    for (at, _) in text.match_indices(OPEN) {
                        out.push_str(&text[last..at]);
                        out.push_str(ESCAPE);
                        last = at + OPEN.len();
                    }
                    out.push_str(&text[last..]);
                }
                Segment::Reference(reference) => {
                    out.push_str("${{ vars.");
                    out.push_str(reference.name);
                    out.push_str(" }}");
                }
            }
        }
        out
    }
}

/// Two templates are equal when their segments are (spans included).
impl PartialEq for Template<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.segments() == other.segments()
    }
}

impl Eq for Template<'_> {}

/// The references of a template, in input order.
pub fn references<'t, 'a>(t: &'t Template<'a>) -> impl Iterator<Item = &'t Reference<'a>> {
    t.segments().iter().filter_map(|segment| match segment {
        Segment::Reference(reference) => Some(reference),
        Segment::Literal(_) => None,
    })
}

/// Parses a string of the `${{ vars.NAME }}` language.
///
/// A string without `${{` (hence without `$${{` either) skips the parser and
/// comes back as one borrowed literal, without allocating. A string of text
/// and well-formed references only (the usual case) is read by a direct scan;
/// anything else (an escape, a malformed expression) by the grammar. Either
/// way the result is the grammar's, and the first malformed expression is
/// reported with its byte span.
///
/// # Errors
///
/// [`ErrorKind::UnsupportedExpression`], [`ErrorKind::InvalidName`] or
/// [`ErrorKind::Unterminated`] for the first malformed `${{`.
pub fn parse(input: &str) -> Result<Template<'_>, Error> {
    if !input.contains(OPEN) {
        return Ok(Template::literal(input));
    }
    match parse_plain(input) {
        Some(template) => Ok(template),
        None => parse_grammar(input),
    }
}

/// The grammar's reading of a string holding `${{` and no escape, when it is
/// text and well-formed `${{ vars.NAME }}` references only; `None` otherwise
/// (then only the grammar says what it is).
fn parse_plain(input: &str) -> Option<Template<'_>> {
    if input.contains(ESCAPE) {
        return None;
    }
    let mut segments = Vec::new();
    let mut done = 0;
    while let Some(found) = input.get(done..)?.find(OPEN) {
        let start = done + found;
        let (name, len) = reference_at(input.get(start..)?)?;
        if start > done {
            segments.push(Segment::Literal(Cow::Borrowed(input.get(done..start)?)));
        }
        segments.push(Segment::Reference(Reference {
            name,
            span: start..start + len,
        }));
        done = start + len;
    }
    if done < input.len() {
        segments.push(Segment::Literal(Cow::Borrowed(input.get(done..)?)));
    }
    let repr = match <[Segment<'_>; 1]>::try_from(segments) {
        Ok([one]) => Repr::One(one),
        Err(segments) => Repr::Many(segments),
    };
    Some(Template {
        repr,
        source_len: input.len(),
    })
}

/// The grammar's `reference` rule at the start of `text` (which starts with
/// `${{`): `${{`, ASCII whitespace, `vars.`, a name, ASCII whitespace, `}}`.
/// The name and the length of the whole reference; `None` when it is not one.
fn reference_at(text: &str) -> Option<(&str, usize)> {
    let bytes = text.as_bytes();
    let skip_ws = |mut i: usize| {
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        i
    };
    let name_start = skip_ws(OPEN.len()) + "vars.".len();
    if bytes.get(name_start - "vars.".len()..name_start) != Some(b"vars.".as_slice()) {
        return None;
    }
    let mut name_end = name_start;
    while bytes
        .get(name_end)
        .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
    {
        name_end += 1;
    }
    if !bytes
        .get(name_start)
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
    {
        return None;
    }
    let close = skip_ws(name_end);
    if bytes.get(close..close + 2) != Some(b"}}".as_slice()) {
        return None;
    }
    Some((text.get(name_start..name_end)?, close + 2))
}

/// The grammar's reading of a string holding `${{`.
fn parse_grammar(input: &str) -> Result<Template<'_>, Error> {
    let mut pairs = VarsParser::parse(Rule::template, input).map_err(|error| {
        // The grammar matches every input, so this is not expected; report it
        // rather than panic.
        let at = match error.location {
            pest::error::InputLocation::Pos(at) => at,
            pest::error::InputLocation::Span((at, _)) => at,
        };
        internal_error(input, at)
    })?;
    let Some(template) = pairs.next() else {
        return Err(internal_error(input, 0));
    };

    let mut segments = Vec::new();
    let mut literal = LiteralBuf::default();
    for pair in template.into_inner() {
        let span = pair.as_span();
        let range = span.start()..span.end();
        match pair.as_rule() {
            Rule::text => literal.push_text(input, range),
            Rule::escape => literal.push_escape(input, range),
            Rule::reference => {
                let Some(name) = inner(pair, Rule::name) else {
                    return Err(internal_error(input, range.start));
                };
                literal.flush(input, &mut segments);
                segments.push(Segment::Reference(Reference { name, span: range }));
            }
            Rule::invalid_name => {
                let name = inner(pair, Rule::bad_name).unwrap_or_default();
                return Err(Error {
                    kind: ErrorKind::InvalidName { name: name.into() },
                    span: range,
                });
            }
            Rule::unsupported => {
                let expression = inner(pair, Rule::expression).unwrap_or_default();
                return Err(Error {
                    kind: ErrorKind::UnsupportedExpression {
                        expression: expression.trim_ascii().into(),
                    },
                    span: range,
                });
            }
            Rule::unterminated => {
                return Err(Error {
                    kind: ErrorKind::Unterminated,
                    span: range.start..range.start + OPEN.len(),
                });
            }
            // `EOI`; the other rules only occur nested in the ones above.
            _ => {}
        }
    }
    literal.flush(input, &mut segments);

    let repr = if segments.len() == 1 {
        match segments.pop() {
            Some(segment) => Repr::One(segment),
            None => Repr::Many(segments),
        }
    } else {
        Repr::Many(segments)
    };
    Ok(Template {
        repr,
        source_len: input.len(),
    })
}

/// The text of the first inner pair of `pair` with rule `rule`.
fn inner<'a>(pair: Pair<'a, Rule>, rule: Rule) -> Option<&'a str> {
    pair.into_inner()
        .find(|inner| inner.as_rule() == rule)
        .map(|inner| inner.as_str())
}

/// The error reported if pest ever rejects an input (the grammar is total, so
/// it should not): the rest of the input from `at` is an unsupported expression.
fn internal_error(input: &str, at: usize) -> Error {
    let at = at.min(input.len());
    Error {
        kind: ErrorKind::UnsupportedExpression {
            expression: input.get(at..).unwrap_or_default().trim_ascii().into(),
        },
        span: at..input.len(),
    }
}

/// A run of literal text being collected: contiguous `text` and `escape`
/// pairs. Stays a borrowed range of the input until an escape forces a copy.
#[derive(Default)]
struct LiteralBuf {
    /// Start of the run in the input.
    start: usize,
    /// End of the run in the input (`start == end`: the run is empty).
    end: usize,
    /// The resolved text, once an escape has been seen.
    owned: Option<String>,
}

impl LiteralBuf {
    /// Starts the run at `at` if it is empty.
    fn begin(&mut self, at: usize) {
        if self.start == self.end {
            self.start = at;
            self.end = at;
        }
    }

    /// Adds literal text.
    fn push_text(&mut self, input: &str, range: Range<usize>) {
        self.begin(range.start);
        if let Some(owned) = &mut self.owned {
            owned.push_str(input.get(range.clone()).unwrap_or_default());
        }
        self.end = range.end;
    }

    /// Adds an escape, which stands for a literal `${{`.
    fn push_escape(&mut self, input: &str, range: Range<usize>) {
        self.begin(range.start);
        let pending = input.get(self.start..self.end).unwrap_or_default();
        let owned = self.owned.get_or_insert_with(|| {
            let mut owned = String::with_capacity(pending.len() + 64);
            owned.push_str(pending);
            owned
        });
        owned.push_str(OPEN);
        self.end = range.end;
    }

    /// Ends the run, pushing it as a segment when it is not empty.
    fn flush<'a>(&mut self, input: &'a str, segments: &mut Vec<Segment<'a>>) {
        if let Some(owned) = self.owned.take() {
            segments.push(Segment::Literal(Cow::Owned(owned)));
        } else if self.start < self.end {
            let text = input.get(self.start..self.end).unwrap_or_default();
            segments.push(Segment::Literal(Cow::Borrowed(text)));
        }
        self.start = self.end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A compact, readable rendering of a parse result, for table tests:
    /// `L"text"` (`b` suffix: borrowed), `R(NAME start..end)`, or the error.
    fn dump(input: &str) -> String {
        match parse(input) {
            Ok(template) => template
                .segments()
                .iter()
                .map(|segment| match segment {
                    Segment::Literal(Cow::Borrowed(text)) => format!("L{text:?}b"),
                    Segment::Literal(Cow::Owned(text)) => format!("L{text:?}"),
                    Segment::Reference(r) => {
                        format!("R({} {}..{})", r.name, r.span.start, r.span.end)
                    }
                })
                .collect::<Vec<_>>()
                .join(" "),
            Err(Error { kind, span }) => format!("E({kind:?} {}..{})", span.start, span.end),
        }
    }

    /// Runs a table of `(input, expected dump)` cases, reporting every mismatch.
    fn check(cases: &[(&str, &str)]) {
        let failures: Vec<String> = cases
            .iter()
            .filter_map(|(input, expected)| {
                let got = dump(input);
                (got != *expected)
                    .then(|| format!("{input:?}\n  expected {expected}\n  got      {got}"))
            })
            .collect();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn literals() {
        check(&[
            ("", ""),
            ("plain text", r#"L"plain text"b"#),
            ("}}", r#"L"}}"b"#),
            ("a }} b", r#"L"a }} b"b"#),
            ("$", r#"L"$"b"#),
            ("$$", r#"L"$$"b"#),
            ("a $ b $$ c", r#"L"a $ b $$ c"b"#),
            ("${", r#"L"${"b"#),
            ("{{ vars.A }}", r#"L"{{ vars.A }}"b"#),
            ("${ vars.A }", r#"L"${ vars.A }"b"#),
            ("$ {{ vars.A }}", r#"L"$ {{ vars.A }}"b"#),
            ("$x{{", r#"L"$x{{"b"#),
        ]);
    }

    #[test]
    fn references() {
        check(&[
            ("${{ vars.A }}", "R(A 0..13)"),
            ("${{vars.A}}", "R(A 0..11)"),
            ("${{vars.A}}${{vars.B}}", "R(A 0..11) R(B 11..22)"),
            ("x${{ vars.A }}y", r#"L"x"b R(A 1..14) L"y"b"#),
            ("${{ vars._ }}", "R(_ 0..13)"),
            ("${{ vars._a9_Z }}", "R(_a9_Z 0..17)"),
            ("${{ vars.A }}}", r#"R(A 0..13) L"}"b"#),
            ("${{ vars.A }} }}", r#"R(A 0..13) L" }}"b"#),
            ("$ ${{ vars.A }} $", r#"L"$ "b R(A 2..15) L" $"b"#),
        ]);
    }

    #[test]
    fn whitespace_variants() {
        check(&[
            ("${{\tvars.A\t}}", "R(A 0..13)"),
            ("${{\nvars.A\n}}", "R(A 0..13)"),
            ("${{\r\n  vars.A\r\n}}", "R(A 0..17)"),
            ("${{\u{c}vars.A\u{c}}}", "R(A 0..13)"),
            ("${{vars.A     }}", "R(A 0..16)"),
            ("${{     vars.A}}", "R(A 0..16)"),
            (
                " \t${{ \t\n vars.LONG_name_1 \n\t }}\n",
                r#"L" \t"b R(LONG_name_1 2..31) L"\n"b"#,
            ),
        ]);
    }

    #[test]
    fn escapes() {
        check(&[
            ("$${{", r#"L"${{""#),
            ("$${{ vars.A }}", r#"L"${{ vars.A }}""#),
            (
                "$${{ vars.A }}${{ vars.A }}",
                r#"L"${{ vars.A }}" R(A 14..27)"#,
            ),
            (
                "${{ vars.A }}$${{ vars.A }}",
                r#"R(A 0..13) L"${{ vars.A }}""#,
            ),
            ("a$${{b$${{c", r#"L"a${{b${{c""#),
            ("$$${{ vars.A }}", r#"L"$${{ vars.A }}""#),
            ("$$$${{", r#"L"$$${{""#),
            ("$${{}}", r#"L"${{}}""#),
            ("$${{ secrets.X }}", r#"L"${{ secrets.X }}""#),
            ("$${{ vars.A", r#"L"${{ vars.A""#),
        ]);
    }

    #[test]
    fn unicode_spans_are_byte_spans() {
        check(&[
            ("é${{ vars.A }}ü", r#"L"é"b R(A 2..15) L"ü"b"#),
            ("日本${{vars.X}}語", r#"L"日本"b R(X 6..17) L"語"b"#),
            ("🦀$${{🦀${{ vars.Z }}", r#"L"🦀${{🦀" R(Z 12..25)"#),
            (
                "é${{ secrets.X }}",
                r#"E(UnsupportedExpression { expression: "secrets.X" } 2..18)"#,
            ),
            ("ü${{ vars.A", "E(Unterminated 2..5)"),
            ("${{ vars.é }}", r#"E(InvalidName { name: "é" } 0..14)"#),
        ]);
    }

    #[test]
    fn unsupported_expressions() {
        check(&[
            (
                "${{ secrets.X }}",
                r#"E(UnsupportedExpression { expression: "secrets.X" } 0..16)"#,
            ),
            (
                "${{ vars.A || 'x' }}",
                r#"E(UnsupportedExpression { expression: "vars.A || 'x'" } 0..20)"#,
            ),
            (
                "${{ }}",
                r#"E(UnsupportedExpression { expression: "" } 0..6)"#,
            ),
            (
                "${{}}",
                r#"E(UnsupportedExpression { expression: "" } 0..5)"#,
            ),
            (
                "${{ vars . A }}",
                r#"E(UnsupportedExpression { expression: "vars . A" } 0..15)"#,
            ),
            (
                "${{ vars .A }}",
                r#"E(UnsupportedExpression { expression: "vars .A" } 0..14)"#,
            ),
            (
                "${{ VARS.A }}",
                r#"E(UnsupportedExpression { expression: "VARS.A" } 0..13)"#,
            ),
            (
                "${{ vars.A.B }}",
                r#"E(UnsupportedExpression { expression: "vars.A.B" } 0..15)"#,
            ),
            (
                "${{ vars.A vars.B }}",
                r#"E(UnsupportedExpression { expression: "vars.A vars.B" } 0..20)"#,
            ),
            (
                "${{ A }}",
                r#"E(UnsupportedExpression { expression: "A" } 0..8)"#,
            ),
            // The first error wins, after a valid reference.
            (
                "${{ vars.A }} ${{ env.B }} ${{",
                r#"E(UnsupportedExpression { expression: "env.B" } 14..26)"#,
            ),
            // An expression ends at the first `}}`.
            (
                "${{ vars.A ${{ vars.B }}",
                r#"E(UnsupportedExpression { expression: "vars.A ${{ vars.B" } 0..24)"#,
            ),
            (
                "${{}}}",
                r#"E(UnsupportedExpression { expression: "" } 0..5)"#,
            ),
        ]);
    }

    #[test]
    fn invalid_names() {
        check(&[
            ("${{ vars.1x }}", r#"E(InvalidName { name: "1x" } 0..14)"#),
            ("${{vars.9}}", r#"E(InvalidName { name: "9" } 0..11)"#),
            (
                "${{ vars.my-var }}",
                r#"E(InvalidName { name: "my-var" } 0..18)"#,
            ),
            ("${{ vars. }}", r#"E(InvalidName { name: "" } 0..12)"#),
            ("${{vars.}}", r#"E(InvalidName { name: "" } 0..10)"#),
            ("a ${{ vars.-A }}", r#"E(InvalidName { name: "-A" } 2..16)"#),
        ]);
    }

    #[test]
    fn unterminated() {
        check(&[
            ("${{", "E(Unterminated 0..3)"),
            ("${{ vars.A", "E(Unterminated 0..3)"),
            ("${{ vars.A }", "E(Unterminated 0..3)"),
            ("${{ vars.A } }", "E(Unterminated 0..3)"),
            ("x ${{ vars.A }", "E(Unterminated 2..5)"),
            ("${{ vars.A }} ${{ vars.B", "E(Unterminated 14..17)"),
            ("$${{ ${{", "E(Unterminated 5..8)"),
        ]);
    }

    #[test]
    fn no_open_is_borrowed_without_parsing() {
        let input = String::from("a $ b }} c $$ {{ d");
        let template = parse(&input).unwrap_or_else(|e| panic!("{e}"));
        match template.segments() {
            [Segment::Literal(Cow::Borrowed(text))] => assert!(std::ptr::eq(*text, input.as_str())),
            other => panic!("expected one borrowed literal, got {other:?}"),
        }
        assert!(!template.has_references());
        assert!(parse("").map(|t| t.segments().is_empty()).unwrap_or(false));
    }

    #[test]
    fn literal_after_reference_is_borrowed() {
        let input = "${{ vars.A }} and text";
        let template = parse(input).unwrap_or_else(|e| panic!("{e}"));
        match template.segments() {
            [Segment::Reference(r), Segment::Literal(Cow::Borrowed(text))] => {
                assert_eq!(r.name, "A");
                assert_eq!(&input[r.span.clone()], "${{ vars.A }}");
                assert!(std::ptr::eq(text.as_ptr(), input[13..].as_ptr()));
            }
            other => panic!("unexpected segments {other:?}"),
        }
    }

    #[test]
    fn has_references_and_reference_iterators() {
        let template =
            parse("$${{ vars.A }}${{ vars.B }}x${{vars.C}}").unwrap_or_else(|e| panic!("{e}"));
        assert!(template.has_references());
        let names: Vec<&str> = super::references(&template).map(|r| r.name).collect();
        assert_eq!(names, ["B", "C"]);
        let via_method: Vec<&Reference<'_>> = template.references().collect();
        assert_eq!(via_method.len(), 2);
        let only_escapes = parse("$${{ vars.A }}").unwrap_or_else(|e| panic!("{e}"));
        assert!(!only_escapes.has_references());
        assert_eq!(super::references(&only_escapes).count(), 0);
    }

    #[test]
    fn to_source_is_canonical() {
        let cases = [
            ("", ""),
            ("plain", "plain"),
            ("${{vars.A}}", "${{ vars.A }}"),
            ("${{\n\tvars.A   }}x", "${{ vars.A }}x"),
            ("$${{ vars.A }}${{ vars.A }}", "$${{ vars.A }}${{ vars.A }}"),
            ("$$${{", "$$${{"),
            ("a$${{b$${{c", "a$${{b$${{c"),
            ("é}}$", "é}}$"),
        ];
        for (input, expected) in cases {
            let template = parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            let source = template.to_source();
            assert_eq!(source, expected, "to_source of {input:?}");
            let reparsed = parse(&source).unwrap_or_else(|e| panic!("{source:?}: {e}"));
            let names = |t: &Template<'_>| {
                t.references()
                    .map(|r| r.name.to_owned())
                    .collect::<Vec<_>>()
            };
            assert_eq!(names(&reparsed), names(&template));
        }
    }

    #[test]
    fn template_equality_ignores_storage() {
        let a = parse("abc").unwrap_or_else(|e| panic!("{e}"));
        let b = parse("abc").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a, b);
        assert_ne!(a, parse("abd").unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(parse("").ok(), parse("").ok());
    }

    /// A template's segments with their storage: `L"text"b` (borrowed),
    /// `L"text"` (owned), `R(NAME start..end)`.
    fn storage(template: &Template<'_>) -> Vec<String> {
        template
            .segments()
            .iter()
            .map(|segment| match segment {
                Segment::Literal(Cow::Borrowed(text)) => format!("L{text:?}b"),
                Segment::Literal(Cow::Owned(text)) => format!("L{text:?}"),
                Segment::Reference(r) => format!("R({} {}..{})", r.name, r.span.start, r.span.end),
            })
            .collect()
    }

    /// Wherever the direct scan answers, the grammar answers the same (segments,
    /// spans and storage): every string of up to four pieces of the language.
    #[test]
    fn the_direct_scan_agrees_with_the_grammar() {
        const PIECES: [&str; 16] = [
            "${{", "$${{", "}}", " ", "\t", "vars.", "vars", ".", "A", "_b9", "-", "1", "é", "$",
            "{", "}",
        ];
        let mut inputs = vec![String::new()];
        let mut answered = 0;
        for _ in 0..4 {
            inputs = inputs
                .iter()
                .flat_map(|prefix| PIECES.iter().map(move |piece| format!("{prefix}{piece}")))
                .collect();
            for input in &inputs {
                if let Some(plain) = parse_plain(input) {
                    answered += 1;
                    let grammar = parse_grammar(input).unwrap_or_else(|e| {
                        panic!("{input:?}: the scan read it, the grammar: {e}")
                    });
                    assert_eq!(storage(&plain), storage(&grammar), "{input:?}");
                    assert_eq!(plain.source_len(), grammar.source_len());
                }
            }
        }
        assert!(answered > 0);
        // Text and well-formed references are scanned; escapes and errors go to the grammar.
        let cases = [
            ("${{ vars.A }}", true),
            ("x${{vars._b9}}y${{\tvars.A\n}}", true),
            ("}}${{ vars.A }}$", true),
            ("$${{ vars.A }}", false),
            ("${{ vars.A-b }}", false),
            ("${{ vars. }}", false),
            ("${{ vars.A", false),
        ];
        for (input, scanned) in cases {
            assert_eq!(parse_plain(input).is_some(), scanned, "{input:?}");
        }
    }

    #[test]
    fn internal_error_is_bounded() {
        let err = internal_error("ab ${{ x", 100);
        assert_eq!(err.span, 8..8);
        let err = internal_error("ab ${{ x ", 3);
        assert_eq!(err.span, 3..9);
        assert_eq!(
            err.kind,
            ErrorKind::UnsupportedExpression {
                expression: "${{ x".into()
            }
        );
    }
}
