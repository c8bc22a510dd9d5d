#!/usr/bin/env python3
"""Print the e2e-kind workflow's versions from the one table, src/meshrelease/data/kind-pins.json.

Output (for $GITHUB_OUTPUT): ``matrix={"istio": [<latest patch of each pinned minor>]}``, ``kind=<release>``,
``kubectl=<release>``. Standard library only, so the job that runs it needs no install; the harness reads the
same file (meshrelease.backends.kube.versions), so the CI matrix and the pins cannot disagree.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

TABLE = Path(__file__).resolve().parents[2] / "src" / "meshrelease" / "data" / "kind-pins.json"


def outputs(table: dict) -> dict[str, str]:
    matrix = {"istio": [row["latest"] for row in table["istio"]]}
    return {
        "matrix": json.dumps(matrix, separators=(",", ":")),
        "kind": table["kind"]["version"],
        "kubectl": table["kubectl"]["version"],
    }


def main() -> int:
    table = json.loads(TABLE.read_text(encoding="utf-8"))
    for key, value in outputs(table).items():
        print(f"{key}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
