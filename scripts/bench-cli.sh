#!/usr/bin/env bash
# Times `cordium compile` of the seed example (fixtures/seed/workspace.yaml) as a whole process,
# release build, with hyperfine, beside a baseline: `cat` of the same file and the start of a
# hello-world Rust binary. Prints each mean and the ratio compile / (cat + hello), i.e. how many
# "read a file and start a Rust process" the whole compile costs.
#
# Usage: [BENCH_MIN_RUNS=300] scripts/bench-cli.sh [EXTRA HYPERFINE FLAGS...]
#        (e.g. --export-markdown bench.md). The figures are only as quiet as the machine: run it
#        with nothing else busy (no cargo build beside it).
# Honours CARGO_TARGET_DIR. Installs hyperfine with apt-get when it is missing (Debian 12 has it).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v hyperfine >/dev/null; then
    echo "hyperfine is missing; installing it with apt-get" >&2
    if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
    "${sudo[@]}" apt-get install -y hyperfine >/dev/null 2>&1 \
        || { "${sudo[@]}" apt-get update >/dev/null && "${sudo[@]}" apt-get install -y hyperfine >/dev/null; }
fi

cargo build --release --quiet -p cordium-cli
target_dir="${CARGO_TARGET_DIR:-target}"
cordium="$(cd "$target_dir/release" && pwd)/cordium"
input=fixtures/seed/workspace.yaml
"$cordium" compile -f "$input" >/dev/null # it must succeed before it is timed

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
printf 'fn main() {\n    println!("hello");\n}\n' >"$work/hello.rs"
rustc --edition 2024 -C opt-level=3 -o "$work/hello" "$work/hello.rs"

# -N: no intermediate shell, so each figure is one process start (and its work), not a shell's.
hyperfine -N --warmup 20 --min-runs "${BENCH_MIN_RUNS:-300}" --style basic \
    --export-csv "$work/results.csv" \
    -n compile "$cordium compile -f $input" \
    -n cat "cat $input" \
    -n hello "$work/hello" \
    "$@"

# CSV columns: command,mean,stddev,median,user,system,min,max (seconds). The minimum is the
# figure least disturbed by a busy machine.
awk -F, '
    NR > 1 { mean[$1] = $2; median[$1] = $4; min[$1] = $7 }
    END {
        printf "\n%-8s %11s %11s %11s\n", "", "mean", "median", "min"
        split("compile cat hello", order, " ")
        for (i = 1; i <= 3; i++) {
            c = order[i]
            printf "%-8s %8.3f ms %8.3f ms %8.3f ms\n", c, mean[c] * 1000, median[c] * 1000, min[c] * 1000
        }
        printf "ratio compile / (cat + hello): %.2f (means), %.2f (medians), %.2f (minimums)\n",
            mean["compile"] / (mean["cat"] + mean["hello"]),
            median["compile"] / (median["cat"] + median["hello"]),
            min["compile"] / (min["cat"] + min["hello"])
    }' "$work/results.csv"
