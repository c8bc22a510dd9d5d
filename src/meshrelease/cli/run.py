"""``meshrelease run``: release scenarios through pytest, one test per step, and the report."""

from __future__ import annotations

import argparse
from typing import Any

from meshrelease.backends.settings import GROUP_TITLES, add_options, build_settings, options_in
from meshrelease.suite import run_suite, scenario_paths

DESCRIPTION = """\
Run release scenarios. PATHs are scenario folders, scenario.yaml files, folders holding them, or pytest node
ids (scenarios/x/scenario.yaml::x::step); default: ./scenarios. The same as `pytest PATH...` with the
meshrelease plugin, plus a JUnit file in the report directory and one line per step. Options not listed
here go to pytest (e.g. -x, --lf, -q). Every option also reads the environment variable it names.
Exit code 0 when every step passes, 1 otherwise. With --backend kind the checks of `meshrelease doctor`
run first; when something is missing the run stops with their table before anything is created.
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
    values = {o.dest: getattr(args, o.dest) for o in options_in(*GROUP_TITLES)}
    settings = build_settings(values)  # every value checked here, before pytest starts
    paths = scenario_paths(args.paths)
    if settings.backend == "kind":
        from meshrelease.backends.kube.doctor import run_doctor

        report = run_doctor(settings)
        if not report.ok:
            print(report.render())
            return 1
    code = run_suite(paths, options=values, keyword=args.keyword, pytest_args=extra)
    if code == 5:
        print(f"error: no scenario steps were collected from {' '.join(paths)}")
        return 1
    return 0 if code == 0 else 1
