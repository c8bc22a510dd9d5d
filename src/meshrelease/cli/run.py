"""``meshrelease run``: release scenarios through pytest, one test per step, and the report."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from meshrelease.backends.settings import GROUP_TITLES, add_options, build_settings, options_in
from meshrelease.errors import MeshReleaseError
from meshrelease.suite import run_suite, scenario_paths
from meshrelease.worker_reports import workers_in_args, workers_refusal

EXIT_USAGE_ERROR = 4
EXIT_NOTHING_COLLECTED = 5

DESCRIPTION = """\
Run release scenarios. PATHs are scenario folders, scenario.yaml files, folders holding them, or pytest node
ids (scenarios/x/scenario.yaml::x::step, as a FAILED line prints it); default: ./scenarios. The same as
`pytest PATH...` with the meshrelease plugin, plus one line per step. Options not listed here go to pytest
(e.g. -x, --lf, -q, --junitxml). Every option also reads the environment variable it names. The report set
(results.json, report.md, report.html, junit.xml) replaces the previous one in --report-dir.
Exit codes, as pytest's: 0 every step passed, 1 a step failed or errored (a setup problem such as a mesh that
cannot start is an ERROR of the step), 2 interrupted or collection errors (e.g. an invalid scenario.yaml),
3 internal error, 4 usage error, 5 no step collected.
With --backend kind the checks of `meshrelease doctor` run first; when something is missing the run stops
with their table (exit 1) before anything is created.
"""


def add_parser(sub: Any) -> None:
    run = sub.add_parser(
        "run",
        help="run scenarios through pytest (one test per step) and write the report",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,  # an abbreviation would swallow pytest options
    )
    run.add_argument("paths", nargs="*", metavar="PATH")
    run.add_argument("-k", dest="keyword", metavar="EXPR", help="only steps matching EXPR (pytest -k)")
    for group, title in GROUP_TITLES.items():
        add_options(run.add_argument_group(title), options_in(group))


def cmd_run(args: argparse.Namespace, extra: list[str]) -> int:
    """Check the options and paths (a mistake is a usage error, 4, before pytest starts), then run pytest and
    return its exit code."""
    values = {o.dest: getattr(args, o.dest) for o in options_in(*GROUP_TITLES)}
    try:
        settings = build_settings(values)  # every value checked here, before pytest starts (also --browser's)
        paths = scenario_paths(args.paths)
    except MeshReleaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE_ERROR
    workers = workers_in_args(extra)
    refusal = workers_refusal(settings.backend, workers) if workers else None
    if refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return EXIT_USAGE_ERROR
    if settings.backend == "kind":
        from meshrelease.backends.kube.doctor import run_doctor

        report = run_doctor(settings)
        if not report.ok:
            print(report.render())
            return 1
    code = run_suite(paths, options=values, keyword=args.keyword, pytest_args=extra)
    if code == EXIT_NOTHING_COLLECTED:
        selected = f" matching -k {args.keyword!r}" if args.keyword else ""
        print(f"error: no scenario steps{selected} were collected from {' '.join(paths)}", file=sys.stderr)
    return code
