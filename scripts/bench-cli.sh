#!/usr/bin/env bash
# Times `cordium compile` as a whole process (release build) beside its floor: a program that
# parses the same five layer files with serde_yaml into `serde_yaml::Value` and prints one
# document, JSON with serde_json (against `-o json`) or YAML with serde_yaml (against
# `-o yaml`). Four generated input sets (10 KB, 32 KB, 87 KB and 4x that, see
# scripts/bench-cli/src/main.rs), every command round-robin in one run, output to a pipe;
# prints the medians and the ratios compile / floor, of wall clock and (with `perf` installed)
# of CPU time, which a busy machine disturbs far less. Targets (issue 19): every ratio <= 1.3,
# and the 4x set's ratio no worse than the 87 KB one.
#
# Usage: scripts/bench-cli.sh [RUNS]   (default 20 timed rounds after 3 warm-up rounds)
# The figures are only as quiet as the machine: compare ratios from one run, not across runs.
# Honours CARGO_TARGET_DIR; the floor is its own Cargo workspace (scripts/bench-cli), so
# serde_yaml never enters Cordium's dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --locked --quiet -p cordium-cli
cargo build --release --locked --quiet --manifest-path scripts/bench-cli/Cargo.toml
release="$(cd "$CARGO_TARGET_DIR/release" && pwd)"
echo "load average (1, 5, 15 min) on $(nproc) CPUs: $(cut -d' ' -f1-3 /proc/loadavg)"
"$release/bench-cli" "$release/cordium" "$release/yaml-floor" "${1:-20}"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
