"""Wall time of `meshrelease run` on the local backend: the release guide's scenario, then every scenario.

Each run is a fresh `meshrelease run` process (mesh start included, as a developer or CI sees it). Prints the
wall time, the pytest outcome line and, from results.json, the pages sampled and the slowest steps.
Target: scenarios/asm-release <= 15 s including mesh start.

Usage: python bench/scenarios.py [--only-asm]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from meshrelease.engine.results import RESULTS_FILE, StepRecord, load_results

REPO = Path(__file__).resolve().parents[1]


def run(paths: list[str], label: str) -> None:
    with tempfile.TemporaryDirectory(prefix="meshrelease-bench-") as tmp:
        argv = [sys.executable, "-m", "meshrelease.cli.main", "run", *paths, "--report-dir", tmp, "-q"]
        t0 = time.monotonic()
        proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=1800, check=False)
        wall = time.monotonic() - t0
        summary = next((ln for ln in reversed(proc.stdout.splitlines()) if " in " in ln and "passed" in ln), "?")
        written = Path(tmp) / RESULTS_FILE
        steps: list[StepRecord] = load_results(written).steps if written.exists() else []
    pages = sum(e.requests + e.settle_pages for s in steps for e in s.expectations)
    print(
        f"{label}: {wall:.1f} s wall (exit {proc.returncode}; {summary.strip('= ')}); {len(steps)} steps, {pages} pages"
    )
    for s in sorted(steps, key=lambda s: -s.seconds)[:3]:
        print(f"    slowest: {s.id} {s.seconds:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only-asm", action="store_true", help="only time scenarios/asm-release")
    args = parser.parse_args()
    run(["scenarios/asm-release"], "meshrelease run scenarios/asm-release (target <= 15 s)")
    if not args.only_asm:
        run(["scenarios"], "meshrelease run scenarios (all)")


if __name__ == "__main__":
    main()
