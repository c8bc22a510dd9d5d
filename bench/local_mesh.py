"""Figures of the local mesh (real Envoy): cold start, apply -> synced, throughput, memory.

Prints:
- cold start: from ``LocalMesh.start()`` to the first 200 productpage through the gateway (target <= 2 s);
- apply -> synced: ``apply()`` of a reviews VirtualService plus ``wait_synced()`` on every proxy, median and
  p90 over N alternating applies (target <= 200 ms);
- pages/s through the gateway at concurrency 1 and 8 (target >= 300 at 8 on 2 cores), driven by an aiohttp
  client in this process (the mesh's parent process is idle while serving; Envoy and the workloads run in
  child processes); every page must be a 200 naming a reviews pod;
- resident memory of the whole mesh (sum of VmRSS of every Envoy and the workload host).

Usage: python bench/local_mesh.py [--seconds 5] [--applies 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

import aiohttp
import requests

from meshrelease.backends.local.mesh import LocalMesh
from meshrelease.backends.local.options import LocalMeshOptions
from meshrelease.data import data_file
from meshrelease.k8s.manifest import load_manifests

REPO = Path(__file__).resolve().parents[1]
DR = data_file("destination-rule-all.yaml")
V2 = REPO / "scenarios" / "asm-release" / "manifests" / "reviews-v2.yaml"
V1 = REPO / "scenarios" / "asm-release" / "manifests" / "reviews-v1.yaml"
MARKER = "Reviews served by:"


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


async def drive(url: str, concurrency: int, seconds: float) -> tuple[int, int, list[float]]:
    pages = errors = 0
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal pages, errors
            while time.monotonic() < deadline:
                t = time.monotonic()
                async with session.get(url) as resp:
                    body = await resp.text()
                if resp.status == 200 and MARKER in body:
                    pages += 1
                    latencies.append(time.monotonic() - t)
                else:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return pages, errors, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--applies", type=int, default=20)
    args = parser.parse_args()

    t0 = time.monotonic()
    mesh = LocalMesh(LocalMeshOptions())
    try:
        mesh.start()
        url = f"{mesh.ingress_url}/productpage"
        first = None
        session = requests.Session()
        while time.monotonic() - t0 < 60:
            try:
                resp = session.get(url, timeout=5)
                if resp.status_code == 200 and MARKER in resp.text:
                    first = time.monotonic() - t0
                    break
            except requests.RequestException:
                pass
            time.sleep(0.005)
        print(f"cold start to first 200 productpage: {first:.2f} s (target <= 2 s)" if first else "no 200 in 60 s")

        mesh.apply(load_manifests(DR), source=str(DR))
        mesh.wait_synced(30)
        docs = [load_manifests(V2), load_manifests(V1)]
        times = []
        for i in range(args.applies):
            t = time.monotonic()
            mesh.apply(docs[i % 2], source="bench")
            mesh.wait_synced(30)
            times.append(time.monotonic() - t)
        times.sort()
        print(
            f"apply -> synced ({len(mesh.status()['proxies'])} proxies, {args.applies} applies): median "
            f"{statistics.median(times) * 1000:.0f} ms, p90 {times[int(0.9 * len(times)) - 1] * 1000:.0f} ms, "
            f"max {times[-1] * 1000:.0f} ms (target <= 200 ms)"
        )
        # Back to the default route over v1/v2/v3 for the throughput figures.
        mesh.reset_routing()
        mesh.wait_synced(30)
        for concurrency in (1, 8):
            pages, errors, lat = asyncio.run(drive(url, concurrency, args.seconds))
            lat.sort()
            p50 = lat[len(lat) // 2] * 1000 if lat else float("nan")
            p99 = lat[int(0.99 * len(lat))] * 1000 if lat else float("nan")
            print(
                f"concurrency {concurrency}: {pages / args.seconds:.0f} pages/s through the gateway "
                f"(p50 {p50:.1f} ms, p99 {p99:.1f} ms, {errors} errors)"
                + (" (target >= 300)" if concurrency == 8 else "")
            )
        status = mesh.status()
        pids = [p["pid"] for p in status["proxies"] if p["pid"]]
        host = getattr(mesh, "_host", None)
        host_pid = getattr(getattr(host, "_proc", None), "pid", None) or getattr(host, "pid", None)
        envoy_kib = sum(rss_kib(pid) for pid in pids)
        host_kib = rss_kib(host_pid) if host_pid else 0
        print(
            f"resident memory: {len(pids)} Envoy processes {envoy_kib / 1024:.0f} MiB "
            f"({envoy_kib / 1024 / max(1, len(pids)):.0f} MiB each), workload host {host_kib / 1024:.0f} MiB, "
            f"total {(envoy_kib + host_kib) / 1024:.0f} MiB"
        )
    finally:
        mesh.close()


if __name__ == "__main__":
    main()
