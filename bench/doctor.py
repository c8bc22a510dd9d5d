"""Wall time of ``meshrelease doctor`` as a user runs it (a new process each time, import included).

Prints, for ``--backend kind`` and ``--backend cluster`` on this machine's PATH, the exit code, the number of
problems the table names and the median / worst wall time over N runs (target: under 5 s on a machine
without Docker engine, kind or istioctl).

Usage: python bench/doctor.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for backend in ("kind", "cluster"):
        seconds: list[float] = []
        code, problems = 0, 0
        for _ in range(args.runs):
            started = time.monotonic()
            proc = subprocess.run(
                [sys.executable, "-m", "meshrelease", "doctor", "--backend", backend],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            seconds.append(time.monotonic() - started)
            code, problems = proc.returncode, sum(" FAIL " in line for line in proc.stdout.splitlines())
        print(
            f"doctor --backend {backend}: exit {code}, {problems} problem(s); "
            f"median {statistics.median(seconds):.2f} s, worst {max(seconds):.2f} s over {args.runs} runs"
        )


if __name__ == "__main__":
    main()
