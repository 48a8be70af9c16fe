#!/usr/bin/env bash
# Runs the parse and compile benches briefly and prints each figure and the ratios against
# their floors (targets: located tree <= 1.5x the serde-saphyr floor; compile from text <= 1.3x
# the located-tree floor at every size; 10,000 compiles cost 10x 1,000).
#
#   scripts/bench.sh                 run both benches (about 5 minutes), then print the ratios
#   scripts/bench.sh --report        print the ratios of the last run only
#
# Environment: CARGO_TARGET_DIR (default ./target; criterion writes under it, or under
# CRITERION_HOME), BENCH_WARM_UP and BENCH_TIME (seconds per bench, default 1 and 3),
# BENCH_FILTER (a criterion filter, e.g. `compile_small`; the default runs every bench).
#
# Figures are criterion's estimates (the slope for linearly sampled benches, else the mean) in
# wall-clock time: on a busy machine they move together with its load, which is printed, so
# compare ratios from one run on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
criterion_dir="${CRITERION_HOME:-$CARGO_TARGET_DIR/criterion}"

load() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?"; }

if [[ "${1:-}" != "--report" ]]; then
    load_before="$(load)"
    args=(--warm-up-time "${BENCH_WARM_UP:-1}" --measurement-time "${BENCH_TIME:-3}")
    if [[ -n "${BENCH_FILTER:-}" ]]; then
        args+=("$BENCH_FILTER")
    fi
    cargo bench --locked -p cordium-spec --bench parse -- "${args[@]}"
    cargo bench --locked -p cordium-merge --bench compile -- "${args[@]}"
    echo
    echo "load average (1, 5, 15 min) on $(nproc) CPUs: before $load_before, after $(load)"
fi

# The estimate of one bench in nanoseconds, or nothing when it has not run.
estimate() {
    local file="$criterion_dir/$1/new/estimates.json"
    [[ -f "$file" ]] && jq -r '(.slope // .mean).point_estimate' "$file"
}

# Prints `name  value` with a human unit.
figure() {
    local value
    value="$(estimate "$1")" || { printf '  %-38s (not run)\n' "$1"; return; }
    awk -v n="$1" -v v="$value" 'BEGIN {
        if (v >= 1e9) printf "  %-38s %10.3f s\n", n, v / 1e9
        else if (v >= 1e6) printf "  %-38s %10.3f ms\n", n, v / 1e6
        else printf "  %-38s %10.2f µs\n", n, v / 1e3 }'
}

# Prints `label  a/b` (each scaled by its divisor) and the target when given.
ratio() {
    local label="$1" a="$2" b="$3" da="${4:-1}" db="${5:-1}" target="${6:-}"
    local va vb
    va="$(estimate "$a")" && vb="$(estimate "$b")" || { printf '  %-52s (not run)\n' "$label"; return; }
    awk -v l="$label" -v a="$va" -v b="$vb" -v da="$da" -v db="$db" -v t="$target" 'BEGIN {
        r = (a / da) / (b / db)
        verdict = ""
        if (t != "") verdict = (r <= t) ? sprintf("  (target <= %s: met)", t) : sprintf("  (target <= %s: MISSED)", t)
        printf "  %-52s %6.2fx%s\n", l, r, verdict }'
}

echo
echo "== figures (criterion estimates, $criterion_dir)"
for group in parse_examples parse_generated; do
    for bench in floor_saphyr_value parser_events located_tree full_load; do
        figure "$group/$bench"
    done
done
for size in small medium large; do
    for bench in floor_saphyr_value floor_located_tree compile_from_text stage_load stage_compile stage_to_yaml; do
        figure "compile_$size/$bench"
    done
done
figure compile_loop/x1000
figure compile_loop/x10000

echo
echo "== parse: location tracking against the serde-saphyr floor (untyped serde_json::Value)"
for group in parse_examples parse_generated; do
    ratio "$group: located tree / floor" "$group/located_tree" "$group/floor_saphyr_value" 1 1 1.5
    ratio "$group: full load / floor" "$group/full_load" "$group/floor_saphyr_value"
    ratio "$group: located tree / parser events alone" "$group/located_tree" "$group/parser_events"
    ratio "$group: full load / located tree" "$group/full_load" "$group/located_tree"
done

echo
echo "== compile from text (load + Inputs + compile + to_yaml) against parse-only floors"
for size in small medium large; do
    g="compile_$size"
    ratio "$size: compile / located-tree floor" "$g/compile_from_text" "$g/floor_located_tree" 1 1 1.3
    ratio "$size: compile / serde-saphyr floor" "$g/compile_from_text" "$g/floor_saphyr_value"
    ratio "$size:   stage load / located-tree floor" "$g/stage_load" "$g/floor_located_tree"
    ratio "$size:   stage compile / located-tree floor" "$g/stage_compile" "$g/floor_located_tree"
    ratio "$size:   stage to_yaml / located-tree floor" "$g/stage_to_yaml" "$g/floor_located_tree"
done

echo
echo "== 10,000 compiles of the small input against 1,000 (per compile; linear is 1.00x)"
ratio "per compile: x10000 / x1000" compile_loop/x10000 compile_loop/x1000 10000 1000 1.1
