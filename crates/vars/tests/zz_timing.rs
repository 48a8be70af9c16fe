//! temporary timing probe
use std::time::Instant;
#[test]
fn timing() {
    let n = 100_000;
    let cases: Vec<(&str, String)> = vec![
        ("refs", (0..10_000).map(|i| format!("text {i} ${{{{ vars.V{} }}}} ", i % 1000)).collect()),
        ("dollars", "$".repeat(n)),
        ("escapes", "$${{".repeat(n / 4)),
        ("opens", "${{".repeat(n / 3)),
        ("long_name", format!("${{{{ vars.{} }}}}", "A".repeat(n))),
        ("unterm_name", format!("${{{{ vars.{}", "A".repeat(n))),
        ("spaces", format!("${{{{{}", " ".repeat(n))),
        ("closes", "}}".repeat(n / 2)),
    ];
    for (name, input) in &cases {
        let t = Instant::now();
        let r = cordium_vars::parse(input).map(|t| t.segments().len());
        eprintln!("{name}: {:?} {:?}", t.elapsed(), r.map_err(|e| e.code()));
    }
}
