#!/usr/bin/env bash
# Provisioning bench on real podman (needs podman, runc, busybox-static, docker-registry):
# time to RUNNING cold and pre-built, and our start against a plain `podman run`, as ratios
# against baselines measured in the same run. BENCH_RUNS sets the runs per scenario (3).
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench -p cordium-server --bench provision "$@"
