"""``meshrelease compare``: what changed between two runs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    cmp = sub.add_parser(
        "compare",
        help="what changed between two runs (results.json); exit 1 on a regression",
        description="Compare two results.json files (e.g. before and after a mesh upgrade): steps that passed "
        "or failed differently, shares that moved by more than delta, new errors, latency changes of fault "
        "steps. Prints the comparison and writes compare.md and compare.html.",
    )
    cmp.add_argument("before", type=Path)
    cmp.add_argument("after", type=Path)
    cmp.add_argument("--out", type=Path, default=None, help="directory for compare.md/compare.html")
    cmp.add_argument("--delta", type=float, default=None, help="share change that counts (default: the runs')")


def cmd_compare(args: argparse.Namespace) -> int:
    from meshrelease.report.compare import compare_files

    comparison = compare_files(args.before, args.after, delta=args.delta)
    print(comparison.render_text())
    if args.out is not None:
        for path in comparison.write(args.out):
            print(f"wrote {path}")
    return 1 if comparison.regressions else 0
