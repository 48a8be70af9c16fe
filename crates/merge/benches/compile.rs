//! What compiling costs beside parsing alone, at three sizes, and whether many compiles in a
//! row scale linearly.
//!
//! Inputs are generated (see `crates/spec/benches/layers/mod.rs`): a ClusterConfig, a Space, a
//! Template, a UserConfig and a Workspace with 32 (`small`, 10 KB), 120 (`medium`, 32 KB) and
//! 300 (`large`, 87 KB) environment variables per layer, tasks, vars and `${{ vars.X }}`
//! references: the sizes of issue 19 (its "120 env vars per layer" set is 87 KB, the size of
//! `large`), which `scripts/bench-cli.sh` also times as whole processes. One group per size,
//! `compile_<size>`:
//!
//! - `compile_from_text`: what `cordium compile` does, from the texts to the YAML output:
//!   [`load`] every layer, [`Inputs::from_documents`], [`compile`], `to_yaml`;
//! - `floor_located_tree`: `cordium_spec::yaml::parse_documents` of the same texts (the floor);
//! - `floor_saphyr_value`: serde-saphyr of the same texts into `serde_json::Value` (the other
//!   floor: no locations at all);
//! - `stage_load`, `stage_compile`, `stage_to_yaml`: the three stages of `compile_from_text`
//!   alone, to see where the time goes (`stage_compile` includes `Inputs::from_documents`; its
//!   input documents are cloned outside the timing).
//!
//! Targets: `compile_from_text` ≤ 1.3 × `floor_located_tree` at every size, and ≤ 1.2 × at
//! `large` (issue 19).
//!
//! Group `compile_loop`: `x1000` and `x10000` time 1,000 and 10,000 `compile_from_text` of the
//! small input in a row (flat sampling: every sample is whole loops); linear scaling means the
//! per-compile times are equal. `scripts/bench.sh` prints every ratio (`--instructions`: the
//! same from callgrind instruction counts, see `crates/spec/benches/harness/mod.rs`; the loop
//! is left out there).
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "tests and benches read fixtures and time runs; the purity rule (clippy.toml) is for the library"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use cordium_merge::{Compiled, Inputs, Options, compile};
use cordium_spec::{Document, SourceId, SourceMap, load, yaml::parse_documents};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};

#[path = "../../spec/benches/harness/mod.rs"]
mod harness;
#[path = "../../spec/benches/layers/mod.rs"]
mod layers;

/// The sizes: group name and environment variables per layer.
const SIZES: [(&str, usize); 3] = [("small", 32), ("medium", 120), ("large", 300)];

/// Every layer loaded into one source map; `None` when any has an error.
fn load_all(files: &layers::Files) -> Option<(SourceMap, Vec<Document>)> {
    let mut sources = SourceMap::new();
    let mut documents = Vec::new();
    for (name, text) in files {
        let id = sources.add(*name, text.as_str());
        let loaded = load(black_box(text), id);
        if loaded.has_errors() {
            return None;
        }
        documents.extend(loaded.documents);
    }
    Some((sources, documents))
}

/// `Inputs::from_documents` and `compile`.
fn compile_documents(sources: &SourceMap, documents: Vec<Document>) -> Option<Compiled> {
    let inputs = Inputs::from_documents(sources, documents, None, Options::default()).ok()?;
    compile(inputs).ok()
}

/// From the texts to the EffectiveWorkspace's YAML, as `cordium compile` does.
fn compile_from_text(files: &layers::Files) -> Option<String> {
    let (sources, documents) = load_all(files)?;
    let compiled = compile_documents(&sources, documents)?;
    Some(compiled.effective.to_yaml())
}

/// The floor: located trees of every text.
fn floor_located_tree(files: &layers::Files) -> usize {
    files
        .iter()
        .zip(0u32..)
        .map(|((_, text), id)| {
            parse_documents(black_box(text), SourceId(id)).map_or(0, |d| d.len())
        })
        .sum()
}

/// The other floor: untyped JSON values of every text, no locations.
fn floor_saphyr_value(files: &layers::Files) -> usize {
    files
        .iter()
        .map(|(_, text)| {
            serde_saphyr::from_multiple::<serde_json::Value>(black_box(text)).map_or(0, |d| d.len())
        })
        .sum()
}

fn size_group(c: &mut Criterion, size: &str, env: usize) {
    let files = layers::generate(env);
    let Some(yaml) = compile_from_text(&files) else {
        panic!("the {size} input must load without errors and compile");
    };
    let env_out = yaml.matches("\n    - key: ").count();
    if !harness::is_plain() {
        eprintln!(
            "compile_{size}: {env} env vars per layer, {} input bytes, {} output bytes, {env_out} effective env vars",
            layers::bytes(&files),
            yaml.len()
        );
    }
    assert_eq!(floor_located_tree(&files), files.len());
    assert_eq!(floor_saphyr_value(&files), files.len());

    let name = format!("compile_{size}");
    let mut group = c.benchmark_group(&name);
    group.throughput(Throughput::Bytes(layers::bytes(&files) as u64));
    harness::bench(&mut group, &name, "compile_from_text", || {
        compile_from_text(&files)
    });
    harness::bench(&mut group, &name, "floor_located_tree", || {
        floor_located_tree(&files)
    });
    harness::bench(&mut group, &name, "floor_saphyr_value", || {
        floor_saphyr_value(&files)
    });

    harness::bench(&mut group, &name, "stage_load", || load_all(&files));
    let Some((sources, documents)) = load_all(&files) else {
        unreachable!("checked above")
    };
    harness::bench_batched(
        &mut group,
        &name,
        "stage_compile",
        || documents.clone(),
        |documents| compile_documents(&sources, documents),
    );
    let Some(compiled) = compile_documents(&sources, documents.clone()) else {
        unreachable!("checked above")
    };
    harness::bench(&mut group, &name, "stage_to_yaml", || {
        black_box(&compiled.effective).to_yaml()
    });
    group.finish();
}

/// `n` compiles of `files` in a row.
fn compile_loop(files: &layers::Files, n: usize) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        black_box(compile_from_text(black_box(files)));
    }
    start.elapsed()
}

fn loop_group(c: &mut Criterion) {
    if harness::is_plain() {
        return;
    }
    let files = layers::generate(SIZES[0].1);
    let mut group = c.benchmark_group("compile_loop");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    for n in [1_000, 10_000] {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("x{n}"), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| compile_loop(&files, n)).sum())
        });
    }
    group.finish();
}

fn bench(c: &mut Criterion) {
    for (size, env) in SIZES {
        size_group(c, size, env);
    }
    loop_group(c);
}

criterion_group!(benches, bench);
criterion_main!(benches);
