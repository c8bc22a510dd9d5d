"""``meshrelease doctor``: check what a kind or cluster run needs before anything is created.

    meshrelease doctor --backend kind [--istio-version X.Y.Z] [--istioctl PATH] [--kind-node-image IMAGE] …
    meshrelease doctor --backend cluster [--kubeconfig FILE] [--context NAME] [--mesh-kubeconfig FILE] …

The checks are :mod:`meshrelease.backends.kube.doctor`; this module only parses and prints.
"""

from __future__ import annotations

import argparse
from typing import Any

from meshrelease.backends.settings import GROUP_TITLES, add_options, build_settings, options_in

DESCRIPTION = """\
Check, without creating anything, what a kind or cluster run needs: docker engine, kind, kubectl and
istioctl with their versions, istioctl against --istio-version, the Kubernetes version against the Istio
release's supported range, free disk (kind); the kube contexts, Istio's CRDs, the namespace and the ingress
URL (cluster). Prints one table with what to fix. Exit code 0 when nothing is missing, 1 otherwise.
`meshrelease run --backend kind` runs the same checks first.
"""


def add_parser(sub: Any) -> None:
    doctor = sub.add_parser(
        "doctor",
        help="check the tools, versions and clusters a kind or cluster run needs (creates nothing)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    doctor.add_argument("--backend", choices=("kind", "cluster"), required=True)
    add_options(doctor.add_argument_group(GROUP_TITLES["kube"]), options_in("kube"))


def cmd_doctor(args: argparse.Namespace) -> int:
    from meshrelease.backends.kube.doctor import run_doctor

    values = {o.dest: getattr(args, o.dest) for o in options_in("kube")}
    values["backend"] = args.backend
    report = run_doctor(build_settings(values))
    print(report.render())
    return 0 if report.ok else 1
