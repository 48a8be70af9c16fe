//! Substitution over a ~10 KB string with 100 references, beside the naive
//! floor: a `str::replace` loop doing the same 100 replacements.
//!
//! - `floor/str_replace_loop`: 100 × `String::replace` of the exact
//!   `${{ vars.NAME }}` text (no parsing, no validation, no escapes, and
//!   re-scans what it inserted, so it is not even correct; just the floor).
//! - `ours/render`: `parse` + `substitute` from the raw string, the same work
//!   the floor does.
//! - `ours/substitute_parsed`: `substitute` on an already parsed template.
//! - `ours/parse`: parsing alone.
//! - `ours/render_no_refs`: a ~10 KB string without `${{` (the borrowed fast path).

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

/// Number of references (and of distinct variables).
const REFS: usize = 100;

/// The input (~10 KB), the variables, and the floor's `(pattern, value)` pairs.
fn fixture() -> (String, BTreeMap<String, String>, Vec<(String, String)>) {
    let filler = "lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore ";
    let mut input = String::new();
    let mut vars = BTreeMap::new();
    let mut patterns = Vec::new();
    for i in 0..REFS {
        let name = format!("VAR_{i:03}");
        let value = format!("value-{i:03}");
        input.push_str(filler);
        input.push_str(&format!("${{{{ vars.{name} }}}}"));
        patterns.push((format!("${{{{ vars.{name} }}}}"), value.clone()));
        vars.insert(name, value);
    }
    (input, vars, patterns)
}

fn bench(c: &mut Criterion) {
    let (input, vars, patterns) = fixture();
    assert!(
        (9_000..12_000).contains(&input.len()),
        "input is {} bytes",
        input.len()
    );

    // Both sides compute the same string.
    let mut naive = input.clone();
    for (pattern, value) in &patterns {
        naive = naive.replace(pattern.as_str(), value);
    }
    let ours = cordium_vars::render(&input, &vars).map(|s| s.into_owned());
    assert_eq!(ours.as_deref().ok(), Some(naive.as_str()));

    let mut group = c.benchmark_group("substitute_10kb_100_refs");
    group.bench_function("floor/str_replace_loop", |b| {
        b.iter(|| {
            let mut out = black_box(input.as_str()).to_owned();
            for (pattern, value) in &patterns {
                out = out.replace(pattern.as_str(), value);
            }
            out
        })
    });
    group.bench_function("ours/render", |b| {
        b.iter(|| cordium_vars::render(black_box(&input), &vars))
    });
    let template = cordium_vars::parse(&input).ok();
    group.bench_function("ours/substitute_parsed", |b| {
        b.iter(|| {
            template
                .as_ref()
                .map(|t| cordium_vars::substitute(black_box(t), &vars))
        })
    });
    group.bench_function("ours/parse", |b| {
        b.iter(|| cordium_vars::parse(black_box(&input)).map(|t| t.segments().len()))
    });
    let plain = "x".repeat(input.len());
    group.bench_function("ours/render_no_refs", |b| {
        b.iter(|| cordium_vars::render(black_box(&plain), &vars).map(|s| s.len()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
