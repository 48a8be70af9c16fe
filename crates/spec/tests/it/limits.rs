//! Hostile input: huge files and alias bombs are refused with a clear error, not a crash.

use cordium_spec::{SourceId, codes, load};

#[test]
fn a_50_mb_file_is_refused_before_parsing() {
    let line = "      - {key: K, value: some value here}\n";
    let text = format!(
        "spec:\n  runtime:\n    envVars:\n{}",
        line.repeat(50 * 1024 * 1024 / line.len())
    );
    let loaded = load(&text, SourceId(0));
    assert_eq!(loaded.diagnostics.len(), 1);
    assert_eq!(loaded.diagnostics[0].code, codes::TOO_LARGE);
    assert!(
        loaded.diagnostics[0]
            .message
            .contains("the limit is 8388608 bytes")
    );
}

#[test]
fn a_billion_laughs_document_is_refused() {
    let text = "\
a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
";
    let loaded = load(text, SourceId(0));
    assert_eq!(loaded.diagnostics.len(), 1);
    let d = &loaded.diagnostics[0];
    assert_eq!(d.code, codes::TOO_LARGE);
    assert!(d.location.is_some_and(|l| l.line >= 3), "{d:?}");
}

#[test]
fn deep_nesting_is_refused() {
    let text = format!("spec: {}{}\n", "{a: ".repeat(100), "}".repeat(100));
    let loaded = load(&text, SourceId(0));
    assert_eq!(loaded.diagnostics.len(), 1);
    assert!(matches!(
        loaded.diagnostics[0].code,
        codes::TOO_LARGE | codes::SYNTAX
    ));
}
