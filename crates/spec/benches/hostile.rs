//! What rejecting a hostile spec costs: a Workspace with far more environment variables than
//! the 128 allowed, loaded and validated by `cordium_spec::load` (located tree, typed resource,
//! validation), at two sizes four times apart.
//!
//! Issue 14 found the rejection quadratic on the server (8,000 entries 0.13 s, 32,000 entries
//! 1.65 s). The loader and validation must stay linear in the entries: the group
//! `reject_env_vars` measures `entries_8000` and `entries_32000`, and the second should take
//! about 4 times the first (criterion's throughput, in elements per second, should be about
//! the same for both). Each input is checked first to be rejected by exactly one diagnostic,
//! the count error, so the measured work is the rejection and its error text stays small.
//!
//! Group `report_every_mistake` does the same with mistakes in every entry (`name` written
//! for `key`), so the diagnostics grow with the input: the time must grow linearly with them
//! too.
//!
//! Run: `cargo bench -p cordium-spec --bench hostile -- --warm-up-time 1 --measurement-time 3`
//! (`CORDIUM_BENCH_ONLY=reject_env_vars/entries_32000` runs one bench plainly, for callgrind;
//! see `harness/mod.rs`).
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "tests and benches read fixtures and time runs; the purity rule (clippy.toml) is for the library"
)]

use std::fmt::Write as _;
use std::hint::black_box;

use cordium_spec::{SourceId, codes, load};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

mod harness;

/// The two sizes, four times apart, both far over the limit of 128.
const SIZES: [usize; 2] = [8_000, 32_000];

/// A Workspace whose `spec.runtime.envVars` holds `entries` entries, the `i`th written by
/// `entry(i)` (a flow mapping).
fn workspace_of(entries: usize, entry: impl Fn(usize) -> String) -> String {
    let mut text = String::from(
        "apiVersion: cordium/v1\nkind: Workspace\nmetadata:\n  name: hostile\nspec:\n  runtime:\n    envVars:\n",
    );
    for i in 0..entries {
        writeln!(text, "      - {}", entry(i)).ok();
    }
    text
}

/// `entries` distinct, well-formed variables: nothing is wrong but their number.
fn workspace(entries: usize) -> String {
    workspace_of(entries, |i| format!("{{key: VAR_{i}, value: value-{i}}}"))
}

/// `entries` variables, each written with `name` where `key` belongs: mistakes in every entry
/// (conversion reports them whatever the count), besides their number. Every rule asks whether
/// a field's mistake was already reported; answered by scanning the diagnostics, that cost was
/// quadratic in the mistakes (64,000 entries took 21 s in `cordium validate`).
fn workspace_of_mistakes(entries: usize) -> String {
    workspace_of(entries, |i| format!("{{name: VAR_{i}, value: x}}"))
}

/// Loads and validates `text`, returning the number of diagnostics.
fn reject(text: &str) -> usize {
    load(black_box(text), SourceId(0)).diagnostics.len()
}

fn bench(c: &mut Criterion) {
    let inputs: Vec<(usize, String)> = SIZES.iter().map(|&n| (n, workspace(n))).collect();
    for (entries, text) in &inputs {
        // Rejected, by the count alone.
        let loaded = load(text, SourceId(0));
        let codes: Vec<&str> = loaded.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, [codes::COUNT], "{entries} entries");
        if !harness::is_plain() {
            eprintln!(
                "hostile input: {entries} env vars, {} bytes, rejected with: {}",
                text.len(),
                loaded.diagnostics[0].message
            );
        }
    }

    let mut group = c.benchmark_group("reject_env_vars");
    for (entries, text) in &inputs {
        group.throughput(Throughput::Elements(*entries as u64));
        harness::bench(
            &mut group,
            "reject_env_vars",
            &format!("entries_{entries}"),
            || reject(text),
        );
    }
    group.finish();

    // One mistake per entry: the diagnostics grow with the input, and so may the time, only
    // linearly (the second about 4 times the first).
    let mistakes: Vec<(usize, String)> = SIZES
        .iter()
        .map(|&n| (n, workspace_of_mistakes(n)))
        .collect();
    for (entries, text) in &mistakes {
        let found = reject(text);
        assert!(found > *entries, "{entries} entries: {found} diagnostics");
    }
    let mut group = c.benchmark_group("report_every_mistake");
    for (entries, text) in &mistakes {
        group.throughput(Throughput::Elements(*entries as u64));
        harness::bench(
            &mut group,
            "report_every_mistake",
            &format!("entries_{entries}"),
            || reject(text),
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
