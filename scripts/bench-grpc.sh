#!/usr/bin/env bash
# The gRPC API's throughput from an independent client (Python grpcio): GetWorkspace,
# CompileWorkspace (layers unchanged) and CreateWorkspace as ratios to the health check, at
# concurrency 1 and 64, against a release `cordium-server` on SQLite with no runtime.
#   scripts/bench-grpc.sh        (needs scripts/install-test-tools.sh run once)
set -euo pipefail
cd "$(dirname "$0")/.."
python=.tools/venv/bin/python
[ -x "$python" ] || { echo "run scripts/install-test-tools.sh first" >&2; exit 1; }
cargo build --release -q -p cordium-server
target="${CARGO_TARGET_DIR:-target}"
server="$target/release/cordium-server"
work="$(mktemp -d)"
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
"$python" -m grpc_tools.protoc -I crates/api/proto --python_out="$work" \
  --grpc_python_out="$work" cordium/v1/cordium.proto
token="$("$server" --data-dir "$work/data" user add bench --admin)"
port=$((20000 + RANDOM % 20000))
"$server" --data-dir "$work/data" serve --listen "127.0.0.1:$port" --runtime none \
  >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
CORDIUM_STUBS="$work" CORDIUM_ADDR="127.0.0.1:$port" CORDIUM_TOKEN="$token" \
  "$python" scripts/bench-grpc.py
