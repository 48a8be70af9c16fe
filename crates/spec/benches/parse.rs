//! What location tracking costs: parsing a 5-layer input set with our located loader, beside
//! the floor, serde-saphyr parsing the same texts into an untyped `serde_json::Value` with no
//! locations (the same `granit-parser` event stream underneath).
//!
//! Two input sets, one group each: `parse_examples` (the five files of `fixtures/examples`)
//! and `parse_generated` (a generated set with 400 environment variables per layer, see
//! `layers/mod.rs`). In each group:
//!
//! - `floor_saphyr_value`: `serde_saphyr::from_multiple::<serde_json::Value>` of every text
//!   (the floor);
//! - `parser_events`: draining `granit-parser`'s events and dropping them (no tree at all: the
//!   least any loader on this parser can cost; for reference, not a target);
//! - `located_tree`: `cordium_spec::yaml::parse_documents` (located tree only);
//! - `full_load`: `cordium_spec::load` (located tree, typed resources, validation).
//!
//! Issue target: `located_tree` ≤ 1.5 × `floor_saphyr_value`. `scripts/bench.sh` prints the
//! ratios (`--instructions`: the same from callgrind instruction counts, see `harness/mod.rs`).
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "tests and benches read fixtures and time runs; the purity rule (clippy.toml) is for the library"
)]

use std::hint::black_box;

use cordium_spec::{SourceId, load, yaml::parse_documents};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

mod harness;
mod layers;

/// Environment variables per layer of the generated set.
const GENERATED_ENV: usize = 400;

/// The floor: every text into untyped JSON values, no locations.
fn floor(files: &layers::Files) -> usize {
    files
        .iter()
        .map(|(_, text)| {
            serde_saphyr::from_multiple::<serde_json::Value>(black_box(text))
                .map_or(0, |docs| docs.len())
        })
        .sum()
}

/// The parser alone: every event of every text, dropped.
fn parser_events(files: &layers::Files) -> usize {
    files
        .iter()
        .map(|(_, text)| {
            let mut parser = granit_parser::Parser::new_from_str(black_box(text));
            let mut events = 0;
            while let Some(Ok(event)) = parser.next_event() {
                black_box(&event);
                events += 1;
            }
            events
        })
        .sum()
}

/// The located trees of every text.
fn located_tree(files: &layers::Files) -> usize {
    files
        .iter()
        .zip(0u32..)
        .map(|((_, text), id)| {
            parse_documents(black_box(text), SourceId(id)).map_or(0, |docs| docs.len())
        })
        .sum()
}

/// Located, typed and validated documents of every text.
fn full_load(files: &layers::Files) -> usize {
    files
        .iter()
        .zip(0u32..)
        .map(|((_, text), id)| load(black_box(text), SourceId(id)).documents.len())
        .sum()
}

fn group(c: &mut Criterion, name: &str, files: &layers::Files) {
    // The three do the same work on the same, valid input.
    for (file, text) in files {
        let loaded = load(text, SourceId(0));
        assert!(
            loaded.diagnostics.is_empty(),
            "{file}: {:?}",
            loaded.diagnostics
        );
    }
    assert_eq!(floor(files), files.len());
    assert!(parser_events(files) > 0);
    assert_eq!(located_tree(files), files.len());
    assert_eq!(full_load(files), files.len());

    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(layers::bytes(files) as u64));
    harness::bench(&mut group, name, "floor_saphyr_value", || floor(files));
    harness::bench(&mut group, name, "parser_events", || parser_events(files));
    harness::bench(&mut group, name, "located_tree", || located_tree(files));
    harness::bench(&mut group, name, "full_load", || full_load(files));
    group.finish();
}

fn bench(c: &mut Criterion) {
    let examples = layers::examples();
    let generated = layers::generate(GENERATED_ENV);
    if !harness::is_plain() {
        eprintln!(
            "parse inputs: examples {} bytes, generated ({GENERATED_ENV} env vars per layer) {} bytes",
            layers::bytes(&examples),
            layers::bytes(&generated)
        );
    }
    group(c, "parse_examples", &examples);
    group(c, "parse_generated", &generated);
}

criterion_group!(benches, bench);
criterion_main!(benches);
