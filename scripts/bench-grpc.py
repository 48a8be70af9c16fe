"""Throughput of the gRPC API measured by an independent client (Python grpcio, asyncio), as
ratios to the health check on the same server in the same run. Run by scripts/bench-grpc.sh,
which starts a release `cordium-server` and sets $CORDIUM_STUBS, $CORDIUM_ADDR and
$CORDIUM_TOKEN.

The client is Python: at high rates it, not the server, is the limit, so a ratio near 1 means
"as fast as this client can ask", and the in-process bench (`cargo bench -p cordium-server
--bench load`) is the one that tells the server's calls apart.
"""

import asyncio
import os
import sys
import time

sys.path.insert(0, os.environ["CORDIUM_STUBS"])

import grpc  # noqa: E402
from google.protobuf import struct_pb2  # noqa: E402
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402

from cordium.v1 import cordium_pb2 as pb  # noqa: E402
from cordium.v1 import cordium_pb2_grpc as rpc  # noqa: E402

AUTH = [("authorization", f"Bearer {os.environ['CORDIUM_TOKEN']}")]
SECONDS = float(os.environ.get("CORDIUM_BENCH_SECONDS", "3"))


async def rate(concurrency, call):
    """Calls per second of `call` from `concurrency` tasks over SECONDS."""
    done = 0
    deadline = time.monotonic() + SECONDS

    async def worker():
        nonlocal done
        while time.monotonic() < deadline:
            await call()
            done += 1

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.monotonic() - started)


async def main():
    async with grpc.aio.insecure_channel(os.environ["CORDIUM_ADDR"]) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        main_service = rpc.MainServiceStub(channel)
        quota = struct_pb2.Struct()
        quota.update({"workspace": {"limit": {"maxPerUser": 999_999}}})
        await rpc.ManagementServiceStub(channel).UpdateClusterConfig(
            pb.ClusterConfig(spec=quota), metadata=AUTH
        )
        spec = struct_pb2.Struct()
        spec.update({"image": {"registry": {"url": "docker.io/library/busybox"}}})
        created = await main_service.CreateWorkspace(pb.Workspace(spec=spec), metadata=AUTH)
        name = created.metadata.name

        async def check():
            await health.Check(health_pb2.HealthCheckRequest())

        async def get():
            await main_service.GetWorkspace(pb.Ref(name=name), metadata=AUTH)

        async def compile_unchanged():
            await main_service.CompileWorkspace(
                pb.CompileWorkspaceRequest(name=name), metadata=AUTH
            )

        async def create():
            await main_service.CreateWorkspace(pb.Workspace(spec=spec), metadata=AUTH)

        for concurrency in (1, 64):
            floor = await rate(concurrency, check)
            line = [f"concurrency {concurrency:>2}: health {floor:8.0f}/s"]
            for label, call in (("get", get), ("compile", compile_unchanged), ("create", create)):
                r = await rate(concurrency, call)
                line.append(f"{label} {r:7.0f}/s = {r / floor:.2f}x")
            print("  ".join(line), flush=True)


asyncio.run(main())
