//! Registers a bench with criterion, or, in plain mode, runs it a fixed number of times for an
//! instruction count (shared by the `parse` and `compile` benches).
//!
//! Wall-clock figures on a shared machine move with its load; instruction counts do not. Plain
//! mode is on when `CORDIUM_BENCH_ONLY=<group>/<name>` is set: nothing is registered with
//! criterion, and that one bench runs `CORDIUM_BENCH_ITERATIONS` times (default 10), each
//! iteration inside [`measured`], so that
//!
//! ```text
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*harness::measured*' <bench binary>
//! ```
//!
//! counts exactly the bench's instructions (setup excluded); divide by the iterations.
//! `scripts/bench.sh --instructions` does this for every bench.

#![allow(dead_code, reason = "each bench uses part of the harness")]

use criterion::BatchSize;
use criterion::BenchmarkGroup;
use criterion::measurement::WallTime;
use std::hint::black_box;
use std::sync::OnceLock;

/// The bench to run in plain mode and how many times.
fn plain() -> Option<&'static (String, usize)> {
    static PLAIN: OnceLock<Option<(String, usize)>> = OnceLock::new();
    PLAIN
        .get_or_init(|| {
            let id = std::env::var("CORDIUM_BENCH_ONLY").ok()?;
            let iterations = std::env::var("CORDIUM_BENCH_ITERATIONS")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(10);
            Some((id, iterations))
        })
        .as_ref()
}

/// Whether plain mode is on (then criterion runs nothing).
pub(crate) fn is_plain() -> bool {
    plain().is_some()
}

/// The iterations to run of `group/name` in plain mode, if it is the requested bench.
fn plain_iterations(group: &str, name: &str) -> Option<usize> {
    let (id, iterations) = plain()?;
    (id.split_once('/') == Some((group, name))).then_some(*iterations)
}

/// One iteration, its result dropped inside; the function callgrind's `--toggle-collect`
/// names.
#[inline(never)]
pub(crate) fn measured<R>(routine: impl FnOnce() -> R) {
    black_box(routine());
}

/// Benches `routine` as `group/name` (criterion's `iter`).
pub(crate) fn bench<R>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    group_name: &str,
    name: &str,
    mut routine: impl FnMut() -> R,
) {
    match plain() {
        None => {
            group.bench_function(name, |b| b.iter(&mut routine));
        }
        Some(_) => {
            for _ in 0..plain_iterations(group_name, name).unwrap_or(0) {
                measured(&mut routine);
            }
        }
    }
}

/// Benches `routine` on a fresh `setup()` each time, the setup not timed (criterion's
/// `iter_batched`).
pub(crate) fn bench_batched<I, R>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    group_name: &str,
    name: &str,
    mut setup: impl FnMut() -> I,
    mut routine: impl FnMut(I) -> R,
) {
    match plain() {
        None => {
            group.bench_function(name, |b| {
                b.iter_batched(&mut setup, &mut routine, BatchSize::SmallInput)
            });
        }
        Some(_) => {
            for _ in 0..plain_iterations(group_name, name).unwrap_or(0) {
                let input = setup();
                measured(|| routine(input));
            }
        }
    }
}
