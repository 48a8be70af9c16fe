//! The public API as a caller (the compiler crate) uses it: every `Lookup`
//! implementation through `render`, error codes, help and spans pointing into
//! the input, and large inputs.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use cordium_vars::{
    Error, ErrorKind, Lookup, Reference, Segment, Warning, parse, references, render, substitute,
    substitute_lenient,
};

const INPUT: &str = "git clone -b ${{ vars.BRANCH }} https://${{vars.HOST}}/r.git";
const OUTPUT: &str = "git clone -b main https://example.org/r.git";

#[test]
fn every_lookup_type_renders() {
    let pairs = [("BRANCH", "main"), ("HOST", "example.org")];
    let btree: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let hash: HashMap<String, String> = btree.clone().into_iter().collect();
    let owned: Vec<(String, String)> = btree.clone().into_iter().collect();
    let slice: &[(&str, &str)] = &pairs;
    let lookups: [&dyn Lookup; 5] = [&btree, &hash, &owned, &pairs, &slice];
    for vars in lookups {
        assert_eq!(render(INPUT, vars).ok().as_deref(), Some(OUTPUT));
    }
}

#[test]
fn errors_point_into_the_input() {
    let vars = [("BRANCH", "main")];
    let cases: [(&str, &str, &str, &str); 5] = [
        (
            "x: ${{ vars.BRANHC }}",
            "vars::undefined",
            "${{ vars.BRANHC }}",
            "did you mean `vars.BRANCH`?",
        ),
        (
            "é ${{ secrets.TOKEN }}",
            "vars::unsupported-expression",
            "${{ secrets.TOKEN }}",
            "only `${{ vars.NAME }}` is supported; write `$${{` for a literal `${{`",
        ),
        (
            "${{ vars.A }} ${{ vars.1x }}",
            "vars::invalid-name",
            "${{ vars.1x }}",
            "a variable name",
        ),
        (
            "echo ${{ vars.BRANCH",
            "vars::unterminated",
            "${{",
            "close it with `}}`",
        ),
        (
            "${{ vars.BRANCH || 'main' }}",
            "vars::unsupported-expression",
            "${{ vars.BRANCH || 'main' }}",
            "only",
        ),
    ];
    for (input, code, pointed, help) in cases {
        let Err(err) = render(input, &vars) else {
            panic!("{input:?} should fail");
        };
        assert_eq!(err.code(), code, "{input:?}");
        assert_eq!(input.get(err.span.clone()), Some(pointed), "{input:?}");
        let got_help = err.help().unwrap_or_default();
        assert!(got_help.starts_with(help), "{input:?}: {got_help}");
    }
}

#[test]
fn the_error_shape_is_public() {
    let err = render("${{ vars.NOPE }}", &[("A", "1")]);
    assert_eq!(
        err,
        Err(Error {
            kind: ErrorKind::UndefinedVariable {
                name: "NOPE".into(),
                suggestion: None
            },
            span: 0..16,
        })
    );
    if let Err(err) = err {
        let as_std: &dyn std::error::Error = &err;
        assert_eq!(as_std.to_string(), "undefined variable `NOPE`");
    }
}

#[test]
fn static_analysis_without_substituting() {
    let template = parse(INPUT).unwrap_or_else(|e| panic!("{e}"));
    let found: Vec<(&str, &str)> = references(&template)
        .map(|Reference { name, span }| (*name, &INPUT[span.clone()]))
        .collect();
    assert_eq!(
        found,
        [("BRANCH", "${{ vars.BRANCH }}"), ("HOST", "${{vars.HOST}}")]
    );
    assert!(matches!(
        template.segments(),
        [
            Segment::Literal(Cow::Borrowed("git clone -b ")),
            Segment::Reference(_),
            ..
        ]
    ));
}

#[test]
fn lenient_mode_reports_every_undefined_name() {
    let template = parse(INPUT).unwrap_or_else(|e| panic!("{e}"));
    let (out, warnings) = substitute_lenient(&template, &[("HOST", "h")]);
    assert_eq!(out, "git clone -b  https://h/r.git");
    assert_eq!(
        warnings,
        [Warning {
            name: "BRANCH".into(),
            span: 13..31
        }]
    );
}

#[test]
fn large_inputs() {
    let vars: Vec<(String, String)> = (0..1000)
        .map(|i| (format!("V{i}"), format!("<{i}>")))
        .collect();

    // 10 000 references in ~200 KB.
    let input: String = (0..10_000)
        .map(|i| format!("text {i} ${{{{ vars.V{} }}}} ", i % 1000))
        .collect();
    let template = parse(&input).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(template.references().count(), 10_000);
    let out = substitute(&template, &vars).unwrap_or_else(|e| panic!("{e}"));
    assert!(out.starts_with("text 0 <0> text 1 <1> "));

    // Adversarial shapes, ~100 KB each: all literal, all escapes, or one
    // early error followed by a long tail.
    let n = 100_000;
    let all_dollars = "$".repeat(n);
    assert!(matches!(render(&all_dollars, &vars), Ok(Cow::Borrowed(_))));
    let escapes = "$${{".repeat(n / 4);
    assert_eq!(
        render(&escapes, &vars).map(|s| s.len()).ok(),
        Some(3 * n / 4)
    );
    let opens = "${{".repeat(n / 3);
    assert_eq!(render(&opens, &vars).map_err(|e| e.span), Err(0..3));
    let long_name = format!("${{{{ vars.{} }}}}", "A".repeat(n));
    assert_eq!(
        render(&long_name, &vars).map_err(|e| e.code()),
        Err("vars::undefined")
    );
    let unterminated_name = format!("${{{{ vars.{}", "A".repeat(n));
    assert_eq!(
        render(&unterminated_name, &vars).map_err(|e| e.span),
        Err(0..3)
    );
    let spaces = format!("${{{{{}", " ".repeat(n));
    assert_eq!(
        render(&spaces, &vars).map_err(|e| e.code()),
        Err("vars::unterminated")
    );
    let closes = "}}".repeat(n / 2);
    assert!(matches!(render(&closes, &vars), Ok(Cow::Borrowed(_))));
}
