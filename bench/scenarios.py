"""Wall time of `meshrelease run` on the local backend: each scenario alone, every scenario serially, and every
scenario on two pytest-xdist workers (`-n 2`).

Each run is a fresh `meshrelease run` process (mesh start included, as a developer or CI sees it). Prints the
wall time, the pytest outcome line, the pages sampled, the slowest steps of the serial run and the serial vs
`-n 2` ratio. Targets on a quiet 2-core machine: scenarios/asm-release <= 6 s, every scenario serially <= 25 s.

Usage: python bench/scenarios.py [--only-asm] [--no-xdist]
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from meshrelease.engine.results import RESULTS_FILE, StepRecord, load_results

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"


@dataclass
class Run:
    label: str
    wall: float
    code: int
    summary: str
    steps: list[StepRecord] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return sum(e.requests + e.settle_pages for s in self.steps for e in s.expectations)

    def line(self) -> str:
        return (
            f"{self.label}: {self.wall:.1f} s wall (exit {self.code}; {self.summary}); "
            f"{len(self.steps)} steps, {self.pages} pages"
        )


def run(paths: list[str], label: str, *extra: str) -> Run:
    with tempfile.TemporaryDirectory(prefix="meshrelease-bench-") as tmp:
        argv = [sys.executable, "-m", "meshrelease.cli.main", "run", *paths, "--report-dir", tmp, "-q", *extra]
        t0 = time.monotonic()
        proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=1800, check=False)
        wall = time.monotonic() - t0
        summary = next((ln for ln in reversed(proc.stdout.splitlines()) if " in " in ln and "passed" in ln), "?")
        written = Path(tmp) / RESULTS_FILE
        steps = load_results(written).steps if written.exists() else []
    result = Run(label, wall, proc.returncode, summary.strip("= "), steps)
    print(result.line(), flush=True)
    if proc.returncode != 0:
        print(proc.stdout[-3000:] + proc.stderr[-2000:], file=sys.stderr)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only-asm", action="store_true", help="only time scenarios/asm-release")
    parser.add_argument("--no-xdist", action="store_true", help="skip the -n 2 run")
    args = parser.parse_args()
    run(["scenarios/asm-release"], "scenarios/asm-release (target <= 6 s)")
    if args.only_asm:
        return
    print("each scenario alone (its own process and mesh):")
    for folder in sorted(p.parent for p in SCENARIOS.glob("*/scenario.yaml")):
        run([str(folder.relative_to(REPO))], f"    {folder.name}")
    serial = run(["scenarios"], "every scenario, serially (target <= 25 s)")
    for s in sorted(serial.steps, key=lambda s: -s.seconds)[:5]:
        print(f"    slowest step: {s.id} {s.seconds:.2f} s")
    if args.no_xdist:
        return
    if importlib.util.find_spec("xdist") is None:
        print("every scenario, -n 2: not run (pytest-xdist is not installed: pip install 'meshrelease[xdist]')")
        return
    parallel = run(["scenarios"], "every scenario, -n 2", "-n", "2")
    print(f"serial / -n 2 wall: {serial.wall:.1f} s / {parallel.wall:.1f} s = {serial.wall / parallel.wall:.2f}x")


if __name__ == "__main__":
    main()
