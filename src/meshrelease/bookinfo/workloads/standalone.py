"""Standalone Bookinfo: every service on one event loop, wired directly (no mesh). productpage's reviews
upstream rotates over reviews v1, v2 and v3 (a tiny round-robin stands in for the mesh's balancing)."""

from __future__ import annotations

import asyncio
import random
import signal
import sys
from typing import TextIO

from meshrelease.bookinfo.workloads.config import SERVICE_PORT, PodConfig, default_env
from meshrelease.bookinfo.workloads.host import RunningPod, WorkloadHost

_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the characters Kubernetes uses in generated names


def pod_name(deployment: str, rng: random.Random | None = None) -> str:
    """A Kubernetes-like pod name for ``deployment``, e.g. ``reviews-v2-7f8c9d6b5x-x2k4q``."""
    pick = rng or random.Random()
    replica_set = "".join(pick.choices(_NAME_ALPHABET, k=10))
    return f"{deployment}-{replica_set}-{''.join(pick.choices(_NAME_ALPHABET, k=5))}"


async def start_standalone(
    host: WorkloadHost,
    *,
    port: int = SERVICE_PORT,
    ui: str = "modern",
    extra_env: dict[str, str] | None = None,
    rng: random.Random | None = None,
) -> RunningPod:
    """Start ratings v1, details v1, reviews v1/v2/v3 and productpage in ``host``; return productpage.

    ``extra_env`` is added to every pod's environment (e.g. CLUSTER_NAME)."""
    extra = dict(extra_env or {})

    def config(service: str, version: str, **kwargs: object) -> PodConfig:
        env = {**default_env(service, version), **extra}
        return PodConfig(service=service, name=pod_name(f"{service}-{version}", rng), env=env, **kwargs)  # type: ignore[arg-type]

    def address(pod: RunningPod) -> str:
        return f"127.0.0.1:{pod.port}"

    ratings = await host.start(config("ratings", "v1"))
    details = await host.start(config("details", "v1"))
    reviews = [
        await host.start(config("reviews", version, upstreams={"ratings:9080": address(ratings)}))
        for version in ("v1", "v2", "v3")
    ]
    upstreams = {
        "details:9080": address(details),
        "reviews:9080": ",".join(address(pod) for pod in reviews),
        "ratings:9080": address(ratings),
    }
    return await host.start(config("productpage", "v1", port=port, ui=ui, upstreams=upstreams))


async def run_standalone(*, port: int, ui: str, out: TextIO = sys.stdout) -> int:
    """Run standalone Bookinfo until SIGINT/SIGTERM; print the productpage URL once it is listening."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with WorkloadHost() as host:
        productpage = await start_standalone(host, port=port, ui=ui)
        for pod in host.pods.values():
            print(f"  {pod.name}: {pod.url}", file=sys.stderr)
        print(f"productpage: {productpage.url}/productpage", file=out, flush=True)
        await stop.wait()
    return 0
