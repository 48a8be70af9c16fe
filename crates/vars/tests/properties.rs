//! Property tests of the `${{ vars.NAME }}` language.
//!
//! The central one is differential: `parse` (pest) must agree, segment for
//! segment and error for error, with `oracle`, a small hand-written scanner
//! that reads the language definition literally. The others check the laws
//! of the API: strings without `${{` are returned unchanged and borrowed,
//! substitution is single-pass, `to_source` round-trips, nothing panics.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

use cordium_vars::{ErrorKind, Segment, Template, parse, render, substitute, substitute_lenient};
use proptest::prelude::*;

/// A segment as the oracle (and the comparison) sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Lit(String),
    Ref(String, Range<usize>),
}

/// The outcome of reading a string: its segments, or the first error.
type Outcome = Result<Vec<Seg>, (ErrorKind, Range<usize>)>;

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_name_like(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || !c.is_ascii())
}

/// A direct, grammar-free reading of the language definition.
fn oracle(input: &str) -> Outcome {
    let mut segs: Vec<Seg> = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    while i < input.len() {
        let rest = &input[i..];
        if rest.starts_with("$${{") {
            lit.push_str("${{");
            i += 4;
        } else if let Some(after_open) = rest.strip_prefix("${{") {
            let Some(close) = after_open.find("}}") else {
                return Err((ErrorKind::Unterminated, i..i + 3));
            };
            let inner = &after_open[..close];
            let end = i + 3 + close + 2;
            let trimmed = inner.trim_ascii();
            match trimmed.strip_prefix("vars.") {
                Some(name) if is_name(name) => {
                    if !lit.is_empty() {
                        segs.push(Seg::Lit(std::mem::take(&mut lit)));
                    }
                    segs.push(Seg::Ref(name.to_owned(), i..end));
                }
                Some(name) if is_name_like(name) => {
                    return Err((
                        ErrorKind::InvalidName {
                            name: name.to_owned(),
                        },
                        i..end,
                    ));
                }
                _ => {
                    let expression = trimmed.to_owned();
                    return Err((ErrorKind::UnsupportedExpression { expression }, i..end));
                }
            }
            i = end;
        } else {
            let c = rest.chars().next().unwrap_or_default();
            lit.push(c);
            i += c.len_utf8();
        }
    }
    if !lit.is_empty() {
        segs.push(Seg::Lit(lit));
    }
    Ok(segs)
}

fn shape(t: &Template<'_>) -> Vec<Seg> {
    t.segments()
        .iter()
        .map(|s| match s {
            Segment::Literal(text) => Seg::Lit(text.to_string()),
            Segment::Reference(r) => Seg::Ref(r.name.to_owned(), r.span.clone()),
        })
        .collect()
}

fn outcome(input: &str) -> Outcome {
    parse(input)
        .map(|t| shape(&t))
        .map_err(|e| (e.kind, e.span))
}

/// Segments without spans, to compare templates parsed from different text.
fn spanless(segs: &[Seg]) -> Vec<Seg> {
    segs.iter()
        .map(|s| match s {
            Seg::Ref(name, _) => Seg::Ref(name.clone(), 0..0),
            lit => lit.clone(),
        })
        .collect()
}

/// Building blocks that make the interesting cases likely: delimiters,
/// escapes, near-misses, whitespace (ASCII and not), multi-byte characters.
const FRAGMENTS: &[&str] = &[
    "$", "$$", "${{", "$${{", "${", "{", "{{", "}", "}}", " ", "\t", "\n", "\r\n", "\u{c}",
    "\u{b}", "\u{a0}", "vars.", "vars", "VARS.", "secrets.", ".", "A", "B", "_x1", "1", "-", "||",
    "'x'", "a", "é", "🦀", "日本",
];

/// Strings made of [`FRAGMENTS`].
fn fragmented(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..max).prop_map(|parts| parts.concat())
}

/// A piece that looks like an expression: `${{`, whitespace, a head such as
/// `vars.`, a name-ish word, whitespace and a (possibly missing) close.
fn expression_like() -> impl Strategy<Value = String> {
    const WS: &[&str] = &[
        "", "", " ", "  ", "\t", "\n", "\r\n", "\u{c}", "\u{b}", "\u{a0}",
    ];
    const HEAD: &[&str] = &[
        "vars.", "vars.", "vars.", "vars. ", "vars", "VARS.", "secrets.", "", "$",
    ];
    const NAME: &[&str] = &[
        "A", "_x1", "Z", "a", "NOPE", "1x", "a-b", "é", "", "A || 'x'", "A.B", "A}",
    ];
    const CLOSE: &[&str] = &["}}", "}}", "}}", "}", "", "}}}", "} }"];
    (
        prop::sample::select(WS),
        prop::sample::select(HEAD),
        prop::sample::select(NAME),
        prop::sample::select(WS),
        prop::sample::select(CLOSE),
    )
        .prop_map(|(w1, head, name, w2, close)| format!("${{{{{w1}{head}{name}{w2}{close}"))
}

/// Strings mixing [`FRAGMENTS`] and [`expression_like`] pieces.
fn mixed() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        2 => prop::sample::select(FRAGMENTS).prop_map(str::to_owned),
        1 => expression_like(),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|parts| parts.concat())
}

/// Strings in canonical form: literal text without `{`, escapes and
/// references written `${{ vars.NAME }}`.
fn canonical() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-z $}é🦀\n\t]{1,6}",
        Just("$${{".to_owned()),
        "[A-Za-z_][A-Za-z0-9_]{0,5}".prop_map(|name| format!("${{{{ vars.{name} }}}}")),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|parts| parts.concat())
}

/// Any text with `${{` removed.
fn without_open() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), fragmented(24)].prop_map(|s| s.replace("${{", "$ {{"))
}

fn vars() -> BTreeMap<String, String> {
    [
        ("A", "${{ vars.B }}"),
        ("B", "$${{"),
        ("_x1", "$"),
        ("a", "}}"),
        ("Z", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// What substituting `segs` must give, from the oracle's segments.
fn expected_render(segs: &[Seg], vars: &dyn cordium_vars::Lookup, lenient: bool) -> Option<String> {
    let mut out = String::new();
    for seg in segs {
        match seg {
            Seg::Lit(text) => out.push_str(text),
            Seg::Ref(name, _) => match vars.get(name) {
                Some(value) => out.push_str(value),
                None if lenient => {}
                None => return None,
            },
        }
    }
    Some(out)
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn parse_agrees_with_the_oracle(input in prop_oneof![fragmented(24), mixed(), canonical(), any::<String>()]) {
        prop_assert_eq!(outcome(&input), oracle(&input));
    }

    /// `check_len` knows the length lenient substitution makes, without making it: it accepts
    /// that length as the limit and refuses one byte less, naming both and the whole string.
    #[test]
    fn check_len_knows_the_substituted_length(input in prop_oneof![mixed(), canonical()]) {
        if let Ok(template) = parse(&input) {
            let len = substitute_lenient(&template, &vars()).0.len();
            prop_assert!(template.check_len(&vars(), len).is_ok());
            if len > 0 {
                let e = template.check_len(&vars(), len - 1).err();
                prop_assert_eq!(
                    e.map(|e| (e.kind, e.span)),
                    Some((ErrorKind::TooLong { len, limit: len - 1 }, 0..input.len()))
                );
            }
        }
    }

    #[test]
    fn no_open_is_unchanged_and_borrowed(input in without_open()) {
        prop_assert!(!input.contains("${{"));
        let template = parse(&input).map_err(|e| TestCaseError::fail(e.to_string()))?;
        match template.segments() {
            [] => prop_assert!(input.is_empty()),
            [Segment::Literal(Cow::Borrowed(text))] => prop_assert!(std::ptr::eq(*text, input.as_str())),
            other => prop_assert!(false, "expected one borrowed literal, got {:?}", other),
        }
        match render(&input, &vars()) {
            Ok(Cow::Borrowed(out)) => prop_assert_eq!(out, input.as_str()),
            other => prop_assert!(false, "expected a borrowed result, got {:?}", other),
        }
        let (out, warnings) = substitute_lenient(&template, &vars());
        prop_assert!(matches!(out, Cow::Borrowed(_)));
        prop_assert!(warnings.is_empty());
    }

    /// Values are inserted as they are: the `${{`, `$${{`, `$` and `}}` in
    /// the values of `vars()` come out literally.
    #[test]
    fn substitution_is_single_pass(input in prop_oneof![fragmented(24), mixed(), canonical()]) {
        let Ok(segs) = oracle(&input) else { return Ok(()) };
        let vars = vars();
        let template = parse(&input).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let strict = substitute(&template, &vars).ok().map(Cow::into_owned);
        prop_assert_eq!(strict, expected_render(&segs, &vars, false));
        let (lenient, warnings) = substitute_lenient(&template, &vars);
        prop_assert_eq!(Some(lenient.into_owned()), expected_render(&segs, &vars, true));
        let undefined = segs.iter().filter(|s| matches!(s, Seg::Ref(n, _) if !vars.contains_key(n))).count();
        prop_assert_eq!(warnings.len(), undefined);
    }

    #[test]
    fn to_source_round_trips(input in prop_oneof![fragmented(24), mixed(), canonical()]) {
        let Ok(template) = parse(&input) else { return Ok(()) };
        let source = template.to_source();
        let reparsed = parse(&source).map_err(|e| TestCaseError::fail(format!("{source:?}: {e}")))?;
        prop_assert_eq!(spanless(&shape(&reparsed)), spanless(&shape(&template)));
        prop_assert_eq!(reparsed.to_source(), source);
    }

    #[test]
    fn canonical_forms_round_trip_byte_for_byte(input in canonical()) {
        let template = parse(&input).map_err(|e| TestCaseError::fail(format!("{input:?}: {e}")))?;
        prop_assert_eq!(template.to_source(), input);
    }

    #[test]
    fn parse_never_panics_on_lossy_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let input = String::from_utf8_lossy(&bytes);
        check_bounds(&input)?;
    }

    #[test]
    fn parse_never_panics_on_strings(input in any::<String>()) {
        check_bounds(&input)?;
    }
}

proptest! {
    #![proptest_config(config(8))]

    /// Long inputs (~100 KB): no panic, no stack overflow, same answer as the oracle.
    #[test]
    fn long_inputs(parts in prop::collection::vec(prop::sample::select(FRAGMENTS), 40_000..50_000)) {
        let input = parts.concat();
        prop_assert!(input.len() > 60_000);
        check_bounds(&input)?;
        prop_assert_eq!(outcome(&input), oracle(&input));
    }

    /// Long valid inputs with many references.
    #[test]
    fn long_valid_inputs(parts in prop::collection::vec(canonical(), 1_500..2_000)) {
        let input = parts.concat();
        let template = parse(&input).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(template.to_source(), input.as_str());
        let (_, warnings) = substitute_lenient(&template, &vars());
        prop_assert_eq!(warnings.len(), template.references().filter(|r| !vars().contains_key(r.name)).count());
    }
}

/// Spans of a parse result are inside the input, on character boundaries,
/// and cover what they claim to.
fn check_bounds(input: &str) -> Result<(), TestCaseError> {
    match parse(input) {
        Ok(template) => {
            for r in template.references() {
                let text = input.get(r.span.clone());
                prop_assert!(text.is_some(), "span {:?} out of bounds", r.span);
                let text = text.unwrap_or_default();
                prop_assert!(text.starts_with("${{") && text.ends_with("}}"));
                prop_assert!(text.contains(r.name));
            }
        }
        Err(e) => {
            let text = input.get(e.span.clone());
            prop_assert!(text.is_some(), "span {:?} out of bounds", e.span);
            prop_assert!(text.unwrap_or_default().starts_with("${{"));
            prop_assert!(!e.to_string().is_empty());
            prop_assert!(e.code().starts_with("vars::"));
        }
    }
    Ok(())
}
