//! Substitution: replacing each reference of a [`Template`] by its value,
//! strictly ([`substitute`]) or leniently ([`substitute_lenient`]).
//!
//! Values are inserted as they are and never re-scanned: a value that itself
//! contains `${{ vars.X }}` comes out literally.

use std::borrow::Cow;

use crate::error::{Error, ErrorKind, Warning};
use crate::lookup::Lookup;
use crate::template::{Reference, Segment, Template, parse};

/// Replaces every reference by its value; an undefined name is an error.
///
/// Single pass: values are inserted as they are and never re-scanned. A
/// template that is a single borrowed literal (a string without `${{`) comes
/// back borrowed, without allocating.
///
/// # Errors
///
/// [`ErrorKind::UndefinedVariable`] for the first reference whose name `vars`
/// does not define, with the closest defined name when one is near by edit
/// distance. The span covers that reference's `${{ ... }}`.
pub fn substitute<'a>(t: &Template<'a>, vars: &dyn Lookup) -> Result<Cow<'a, str>, Error> {
    let segments = match t.segments() {
        [] => return Ok(Cow::Borrowed("")),
        [Segment::Literal(text)] => return Ok(text.clone()),
        segments => segments,
    };
    let mut out = String::with_capacity(t.source_len());
    for segment in segments {
        match segment {
            Segment::Literal(text) => out.push_str(text),
            Segment::Reference(reference) => match vars.get(reference.name) {
                Some(value) => out.push_str(value),
                None => return Err(undefined(reference, vars)),
            },
        }
    }
    Ok(Cow::Owned(out))
}

/// Replaces every reference by its value; an undefined name becomes `""` and
/// yields a [`Warning`] (upstream's behaviour, kept for
/// `--allow-undefined-vars`).
///
/// Single pass, and borrowed for a string without `${{`, as [`substitute`].
pub fn substitute_lenient<'a>(t: &Template<'a>, vars: &dyn Lookup) -> (Cow<'a, str>, Vec<Warning>) {
    let segments = match t.segments() {
        [] => return (Cow::Borrowed(""), Vec::new()),
        [Segment::Literal(text)] => return (text.clone(), Vec::new()),
        segments => segments,
    };
    let mut out = String::with_capacity(t.source_len());
    let mut warnings = Vec::new();
    for segment in segments {
        match segment {
            Segment::Literal(text) => out.push_str(text),
            Segment::Reference(reference) => match vars.get(reference.name) {
                Some(value) => out.push_str(value),
                None => warnings.push(Warning {
                    name: reference.name.to_owned(),
                    span: reference.span.clone(),
                }),
            },
        }
    }
    (Cow::Owned(out), warnings)
}

/// Parses `input` and substitutes strictly, in one go.
///
/// A string without `${{` is returned borrowed, without allocating and
/// without running the parser.
///
/// # Errors
///
/// Any error of [`parse`] or [`substitute`].
pub fn render<'a>(input: &'a str, vars: &dyn Lookup) -> Result<Cow<'a, str>, Error> {
    substitute(&parse(input)?, vars)
}

/// The strict-mode error for an undefined reference.
fn undefined(reference: &Reference<'_>, vars: &dyn Lookup) -> Error {
    Error {
        kind: ErrorKind::UndefinedVariable {
            name: reference.name.to_owned(),
            suggestion: suggest(reference.name, vars),
        },
        span: reference.span.clone(),
    }
}

/// Names longer than this (in characters) get no suggestion, which keeps the
/// quadratic edit distance cheap whatever the input.
const MAX_SUGGESTION_LEN: usize = 128;

/// The defined name closest to `name`: one that differs only in ASCII case,
/// or else the nearest by edit distance (optimal string alignment: a swap of
/// two neighbours counts as one edit) within a third of the name's length
/// (at least one edit). Ties go to the smallest name, so the answer does not
/// depend on the lookup's iteration order.
fn suggest(name: &str, vars: &dyn Lookup) -> Option<String> {
    let len = name.chars().count();
    if len > MAX_SUGGESTION_LEN {
        return None;
    }
    let limit = len.max(3) / 3;
    let mut best: Option<(usize, &str)> = None;
    for candidate in vars.names() {
        if candidate == name {
            continue;
        }
        // The length difference is a lower bound of the distance.
        let candidate_len = candidate.chars().take(len + limit + 1).count();
        if candidate_len.abs_diff(len) > limit {
            continue;
        }
        let distance = if candidate.eq_ignore_ascii_case(name) {
            0
        } else {
            strsim::osa_distance(name, candidate)
        };
        if distance > limit {
            continue;
        }
        let better = match best {
            None => true,
            Some((best_distance, best_name)) => (distance, candidate) < (best_distance, best_name),
        };
        if better {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate.to_owned())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn vars() -> BTreeMap<String, String> {
        [
            ("A", "1"),
            ("B", "two"),
            ("BRANCH", "main"),
            ("X", "${{ vars.A }}"),
            ("EMPTY", ""),
            ("DOLLAR", "$"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    fn ok(input: &str) -> String {
        match render(input, &vars()) {
            Ok(out) => out.into_owned(),
            Err(e) => panic!("{input:?}: {e}"),
        }
    }

    fn err(input: &str) -> Error {
        match render(input, &vars()) {
            Ok(out) => panic!("{input:?}: expected an error, got {out:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn renders() {
        let cases = [
            ("", ""),
            ("plain", "plain"),
            ("${{ vars.A }}", "1"),
            ("${{vars.A}}${{vars.B}}", "1two"),
            ("$${{ vars.A }}${{ vars.A }}", "${{ vars.A }}1"),
            ("é${{ vars.B }}ü", "étwoü"),
            ("refs/heads/${{\n\tvars.BRANCH\n}}", "refs/heads/main"),
            ("[${{ vars.EMPTY }}]", "[]"),
            ("}} $ $$ ${{ vars.A }}", "}} $ $$ 1"),
            ("$$", "$$"),
            ("$${{", "${{"),
        ];
        for (input, expected) in cases {
            assert_eq!(ok(input), expected, "{input:?}");
        }
    }

    #[test]
    fn single_pass() {
        // A value holding a reference is inserted as is, never expanded.
        assert_eq!(ok("${{ vars.X }}"), "${{ vars.A }}");
        assert_eq!(ok("<${{ vars.X }}${{ vars.A }}>"), "<${{ vars.A }}1>");
        // A value ending in `$` does not form an escape with what follows.
        assert_eq!(ok("${{ vars.DOLLAR }}${{ vars.A }}"), "$1");
        assert_eq!(ok("${{ vars.DOLLAR }}$${{"), "$${{");
    }

    #[test]
    fn no_open_stays_borrowed() {
        let input = String::from("no references here: $ }} {{");
        match render(&input, &vars()) {
            Ok(Cow::Borrowed(out)) => assert!(std::ptr::eq(out, input.as_str())),
            other => panic!("expected a borrowed result, got {other:?}"),
        }
        let template = parse(&input).unwrap_or_else(|e| panic!("{e}"));
        let (out, warnings) = substitute_lenient(&template, &vars());
        assert!(matches!(out, Cow::Borrowed(_)));
        assert!(warnings.is_empty());
        assert!(matches!(render("", &vars()), Ok(Cow::Borrowed(""))));
    }

    #[test]
    fn undefined_is_an_error_with_a_suggestion() {
        let e = err("git checkout ${{ vars.BRANH }}");
        assert_eq!(
            e.kind,
            ErrorKind::UndefinedVariable {
                name: "BRANH".into(),
                suggestion: Some("BRANCH".into())
            }
        );
        assert_eq!(e.span, 13..30);
        assert_eq!(e.help().as_deref(), Some("did you mean `vars.BRANCH`?"));
        assert_eq!(e.code(), "vars::undefined");
    }

    #[test]
    fn first_undefined_wins() {
        let e = err("${{ vars.A }}${{ vars.NOPE1 }}${{ vars.NOPE2 }}");
        assert_eq!(e.span, 13..30);
    }

    #[test]
    fn suggestions() {
        let cases: [(&str, Option<&str>); 9] = [
            ("BRANH", Some("BRANCH")),
            ("BARNCH", Some("BRANCH")), // a swap counts as one edit
            ("branch", Some("BRANCH")), // ASCII case only
            ("BRANCHES", Some("BRANCH")),
            ("C", Some("A")), // one edit on a short name; ties go to the smallest
            ("ZZZZZZ", None), // nothing near
            ("BRxxxx", None), // too far for its length
            ("EMPTYS", Some("EMPTY")),
            ("EMPTIES", None), // three edits; a seven-character name allows two
        ];
        for (name, expected) in cases {
            assert_eq!(suggest(name, &vars()).as_deref(), expected, "{name}");
        }
        let none: Vec<(String, String)> = Vec::new();
        assert_eq!(suggest("A", &none), None);
        // Long names: bounded work, and no suggestion past the cap.
        let long = "N".repeat(MAX_SUGGESTION_LEN);
        let defined = [(format!("{long}X"), String::new())];
        assert_eq!(
            suggest(&long, &defined).as_deref(),
            Some(defined[0].0.as_str())
        );
        let longer = "N".repeat(MAX_SUGGESTION_LEN + 1);
        assert_eq!(suggest(&longer, &[(longer.clone() + "X", "")]), None);
        let huge = [("N".repeat(1_000_000), "")];
        assert_eq!(suggest("NNN", &huge), None);
    }

    #[test]
    fn parse_errors_come_through_render() {
        assert_eq!(
            err("${{ secrets.X }}").code(),
            "vars::unsupported-expression"
        );
        assert_eq!(err("${{ vars.1x }}").code(), "vars::invalid-name");
        assert_eq!(err("${{ vars.A").code(), "vars::unterminated");
    }

    #[test]
    fn lenient_replaces_undefined_by_empty_and_warns() {
        let template = parse("a${{ vars.NOPE }}b${{ vars.A }}c${{vars.NOPE}}")
            .unwrap_or_else(|e| panic!("{e}"));
        let (out, warnings) = substitute_lenient(&template, &vars());
        assert_eq!(out, "ab1c");
        assert_eq!(
            warnings,
            [
                Warning {
                    name: "NOPE".into(),
                    span: 1..17
                },
                Warning {
                    name: "NOPE".into(),
                    span: 32..46
                },
            ]
        );
    }

    #[test]
    fn lenient_agrees_with_strict_when_all_defined() {
        let template = parse("${{ vars.X }}-$${{-${{ vars.B }}").unwrap_or_else(|e| panic!("{e}"));
        let strict = substitute(&template, &vars()).unwrap_or_else(|e| panic!("{e}"));
        let (lenient, warnings) = substitute_lenient(&template, &vars());
        assert_eq!(strict, lenient);
        assert!(warnings.is_empty());
        // An escape-only template needs an owned copy, in both modes.
        let escaped = parse("$${{").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(substitute(&escaped, &vars()).ok().as_deref(), Some("${{"));
        assert_eq!(substitute_lenient(&escaped, &vars()).0, "${{");
    }
}
