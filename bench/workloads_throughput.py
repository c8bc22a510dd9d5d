"""Throughput of the standalone Bookinfo chain (productpage -> details + reviews v1/v2/v3 -> ratings).

Starts ``python -m meshrelease.bookinfo.workloads --standalone --port 0`` as a child process (all six pods on
one event loop), then drives ``/productpage`` from this process with an aiohttp client (keep-alive
connections, one per concurrent worker) at concurrency 1 and 8, and prints pages/s, latency percentiles the
workload process's CPU time per page (a figure that a busy shared machine disturbs less than pages/s) and
its peak resident memory (VmHWM). Every page counted must be a 200 that names a
reviews pod; anything else is counted as an error.

Usage: python bench/workloads_throughput.py [--seconds 5] [--ui modern|classic] [--concurrency 1 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

MARKER = "Reviews served by:"


@dataclass
class Run:
    concurrency: int
    seconds: float = 0.0
    pages: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def start_standalone(ui: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "meshrelease.bookinfo.workloads", "--standalone", "--port", "0", "--ui", ui],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout=30):
            proc.kill()
            proc.wait(timeout=10)
            raise SystemExit(f"standalone Bookinfo printed no URL within 30 s (exit status {proc.poll()})")
    line = proc.stdout.readline().strip()
    if not line.startswith("productpage: "):
        proc.kill()
        proc.wait(timeout=10)
        raise SystemExit(f"unexpected first line from standalone Bookinfo: {line!r}")
    return proc, line.split(" ", 1)[1]


async def drive(url: str, concurrency: int, seconds: float) -> Run:
    run = Run(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=15)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        # Warm-up: connections, template cache, the reviews rotation.
        for _ in range(10):
            async with session.get(url) as resp:
                await resp.read()
        started = time.perf_counter()
        deadline = started + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                try:
                    async with session.get(url) as resp:
                        body = await resp.text()
                        ok = resp.status == 200 and MARKER in body
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                if ok:
                    run.pages += 1
                    run.latencies.append(time.perf_counter() - t0)
                else:
                    run.errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        run.seconds = time.perf_counter() - started
    return run


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=5.0, help="measurement time per concurrency level")
    parser.add_argument("--ui", choices=("modern", "classic"), default="modern")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()

    proc, url = start_standalone(args.ui)
    try:
        print(f"standalone Bookinfo ({args.ui} UI) at {url}; driver: aiohttp client in a separate process")
        for level in args.concurrency:
            cpu_before = cpu_seconds(proc.pid)
            run = asyncio.run(drive(url, level, args.seconds))
            cpu_per_page = (cpu_seconds(proc.pid) - cpu_before) / max(1, run.pages + 10) * 1000
            rate = run.pages / run.seconds if run.seconds else 0.0
            p50, p99 = run.percentile(0.5), run.percentile(0.99)
            print(
                f"concurrency {level:>2}: {rate:7.1f} pages/s  ({run.pages} pages in {run.seconds:.1f} s, "
                f"{run.errors} errors; latency p50 {p50:.1f} ms, p99 {p99:.1f} ms; "
                f"workload CPU {cpu_per_page:.2f} ms/page)"
            )
        print(f"peak RSS of the workload process (6 pods, one loop): {peak_rss_mib(proc.pid):.1f} MiB")
        client_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of the driver process: {client_rss:.1f} MiB")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
