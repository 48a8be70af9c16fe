#!/usr/bin/env bash
# Runs the parse and compile benches briefly and prints each figure and the ratios against
# their floors. Targets: the located tree costs at most 1.5x the serde-saphyr floor; compiling
# from text costs at most 1.3x the located-tree floor at every size (1.2x at `large`, the 87 KB
# set of issue 19); 10,000 compiles in a row cost 10x 1,000 (within 10%).
#
#   scripts/bench.sh                 criterion, wall clock (about 6 minutes), then the ratios
#   scripts/bench.sh --report        the ratios of the last criterion run only
#   scripts/bench.sh --instructions  instruction counts under callgrind instead (about 6
#                                    minutes; the 10,000-compile loop is left out)
#
# Environment: CARGO_TARGET_DIR (default ./target; criterion writes under it, or under
# CRITERION_HOME); BENCH_WARM_UP and BENCH_TIME (seconds per bench, default 1 and 3);
# BENCH_FILTER (a criterion filter, e.g. `compile_small`; with --instructions, the benches
# whose name contains it; default: every bench);
# BENCH_ITERATIONS (iterations per bench with --instructions, default 10).
#
# Wall-clock figures are criterion's estimates (the slope for linearly sampled benches, else
# the mean). They move with the machine's load, which is printed: compare ratios from one run
# on a quiet machine, or use --instructions, which the load does not change (instructions are
# not time: cache misses and allocator costs weigh differently, so the two sets of ratios are
# close, not equal).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
criterion_dir="${CRITERION_HOME:-$CARGO_TARGET_DIR/criterion}"
mode="${1:-run}"
case "$mode" in
    run | --report | --instructions) ;;
    *) echo "usage: $0 [--report | --instructions]" >&2; exit 2 ;;
esac

load() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?"; }

parse_benches=()
for group in parse_examples parse_generated; do
    for bench in floor_saphyr_value parser_events located_tree full_load; do
        parse_benches+=("$group/$bench")
    done
done
compile_benches=()
for size in small medium large; do
    for bench in floor_saphyr_value floor_located_tree compile_from_text stage_load stage_compile stage_to_yaml; do
        compile_benches+=("compile_$size/$bench")
    done
done

declare -A instructions=()
if [[ "$mode" == "--instructions" ]]; then
    command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 2; }
    iterations="${BENCH_ITERATIONS:-10}"
    declare -A binaries=()
    while read -r name path; do
        binaries[$name]="$path"
    done < <(cargo bench --locked -p cordium-spec --bench parse -p cordium-merge --bench compile \
        --no-run --message-format=json \
        | jq -r 'select(.reason == "compiler-artifact" and .executable != null
                        and (.target.kind | index("bench"))) | "\(.target.name) \(.executable)"')
    out="$(mktemp -d)"
    trap 'rm -rf "$out"' EXIT
    for entry in "${parse_benches[@]/#/parse:}" "${compile_benches[@]/#/compile:}"; do
        binary="${binaries[${entry%%:*}]}"
        id="${entry#*:}"
        [[ -z "${BENCH_FILTER:-}" || "$id" == *"$BENCH_FILTER"* ]] || continue
        printf '  callgrind %-36s' "$id" >&2
        CORDIUM_BENCH_ONLY="$id" CORDIUM_BENCH_ITERATIONS="$iterations" \
            valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*harness::measured*' \
            --callgrind-out-file="$out/callgrind.out" "$binary" >/dev/null 2>"$out/log" \
            || { cat "$out/log" >&2; exit 1; }
        total="$(awk '/^totals:/ { print $2 }' "$out/callgrind.out")"
        instructions[$id]="$(awk -v t="$total" -v n="$iterations" 'BEGIN { printf "%.0f", t / n }')"
        printf ' %14s instructions per iteration\n' "${instructions[$id]}" >&2
    done
elif [[ "$mode" == "run" ]]; then
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

# The figure of one bench (nanoseconds, or instructions), or nothing when it has not run.
estimate() {
    if [[ "$mode" == "--instructions" ]]; then
        [[ -n "${instructions[$1]:-}" ]] && echo "${instructions[$1]}"
    else
        local file="$criterion_dir/$1/new/estimates.json"
        [[ -f "$file" ]] && jq -r '(.slope // .mean).point_estimate' "$file"
    fi
}

# Prints `name  value` with a unit.
figure() {
    local value
    value="$(estimate "$1")" || { printf '  %-38s (not run)\n' "$1"; return; }
    awk -v n="$1" -v v="$value" -v m="$mode" 'BEGIN {
        if (m == "--instructions") printf "  %-38s %14.0f instructions\n", n, v
        else if (v >= 1e9) printf "  %-38s %10.3f s\n", n, v / 1e9
        else if (v >= 1e6) printf "  %-38s %10.3f ms\n", n, v / 1e6
        else printf "  %-38s %10.2f µs\n", n, v / 1e3 }'
}

# Prints `label  a/b` (each divided by its divisor), and the verdict when there is a target.
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
if [[ "$mode" == "--instructions" ]]; then
    echo "== figures (callgrind instructions per iteration, mean of $iterations)"
else
    echo "== figures (criterion estimates, wall clock, $criterion_dir)"
fi
for id in "${parse_benches[@]}" "${compile_benches[@]}"; do
    figure "$id"
done
if [[ "$mode" != "--instructions" ]]; then
    figure compile_loop/x1000
    figure compile_loop/x10000
fi

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
    target=1.3
    [[ "$size" == large ]] && target=1.2 # issue 19: the 87 KB set
    ratio "$size: compile / located-tree floor" "$g/compile_from_text" "$g/floor_located_tree" 1 1 "$target"
    ratio "$size: compile / serde-saphyr floor" "$g/compile_from_text" "$g/floor_saphyr_value"
    ratio "$size:   stage load / located-tree floor" "$g/stage_load" "$g/floor_located_tree"
    ratio "$size:   stage compile / located-tree floor" "$g/stage_compile" "$g/floor_located_tree"
    ratio "$size:   stage to_yaml / located-tree floor" "$g/stage_to_yaml" "$g/floor_located_tree"
done

if [[ "$mode" != "--instructions" ]]; then
    echo
    echo "== 10,000 compiles of the small input against 1,000 (per compile; linear is 1.00x)"
    ratio "per compile: x10000 / x1000" compile_loop/x10000 compile_loop/x1000 10000 1000 1.1
fi
