"""pytest options of the kind and cluster backends, and building a backend from them.

Every option falls back to an environment variable, so CI needs no argv edits (ecosystem.md §4.1). The
scenario plugin owns ``--backend`` and the report options; it calls :func:`add_pytest_options` from its
``pytest_addoption``, :func:`backend_from_pytest_config` to build the backend, and :func:`finish_session`
at the end (logs on a failed session with ``--collect-logs``, then ``close()``).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from meshrelease.backend import Backend
from meshrelease.errors import MeshReleaseError, UserInputError
from meshrelease.kube.cluster_backend import ClusterBackend, ClusterSettings
from meshrelease.kube.kind_backend import KindBackend, KindSettings
from meshrelease.kube.versions import BOOKINFO_TAG

GROUP = "meshrelease kind/cluster"
log = logging.getLogger("meshrelease.kube")


@dataclass(frozen=True)
class _Option:
    flag: str
    env: str | None
    help: str
    metavar: str | None = None
    flag_only: bool = False


OPTIONS: tuple[_Option, ...] = (
    _Option(
        "--istio-version",
        "MESHRELEASE_ISTIO_VERSION",
        "Istio release for kind (istioctl must be it)",
        "X.Y.Z",
    ),
    _Option(
        "--istioctl",
        "MESHRELEASE_ISTIOCTL",
        "istioctl binary (else $ISTIO_HOME/bin/istioctl, else PATH)",
        "PATH",
    ),
    _Option(
        "--istio-revision",
        "MESHRELEASE_ISTIO_REVISION",
        "kind: reuse a cluster whose namespace a revision upgrade moved to this Istio revision (never installs)",
        "REV",
    ),
    _Option(
        "--kind-node-image",
        "MESHRELEASE_KIND_NODE_IMAGE",
        "kind node image (default: pinned per Istio minor)",
        "IMAGE",
    ),
    _Option(
        "--keep-cluster",
        "MESHRELEASE_KEEP_CLUSTER",
        "keep the kind cluster (or the Bookinfo deployed on a cluster) for the next run",
        flag_only=True,
    ),
    _Option(
        "--kind-cluster-name",
        "MESHRELEASE_KIND_CLUSTER_NAME",
        "kind cluster name; a running one is reused, never deleted (default meshrelease)",
        "NAME",
    ),
    _Option(
        "--collect-logs",
        "MESHRELEASE_COLLECT_LOGS",
        "on a failed session, save logs here (kind export logs / pod logs)",
        "DIR",
    ),
    _Option("--kubeconfig", "KUBECONFIG", "kubeconfig of the workloads' cluster (cluster backend)", "FILE"),
    _Option("--context", "MESHRELEASE_CONTEXT", "kubeconfig context of the workloads' cluster", "NAME"),
    _Option(
        "--mesh-kubeconfig",
        "MESHRELEASE_MESH_KUBECONFIG",
        "kubeconfig for Istio objects (ASM: the mesh instance)",
        "FILE",
    ),
    _Option("--mesh-context", "MESHRELEASE_MESH_CONTEXT", "kubeconfig context for Istio objects", "NAME"),
    _Option(
        "--namespace",
        "MESHRELEASE_NAMESPACE",
        "namespace of Bookinfo and the routing objects (default default)",
        "NAME",
    ),
    _Option(
        "--ingress-url",
        "MESHRELEASE_INGRESS_URL",
        "base URL of the ingress gateway (default: kind's mapped port / the LB address)",
        "URL",
    ),
    _Option(
        "--bookinfo-tag",
        "MESHRELEASE_BOOKINFO_TAG",
        f"Bookinfo image tag to deploy (default {BOOKINFO_TAG})",
        "TAG",
    ),
)

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_TRUE = {"1", "true", "yes", "on"}


def add_pytest_options(parser: pytest.Parser) -> None:
    """Register the kind/cluster options in the group "meshrelease kind/cluster"."""
    group = parser.getgroup(GROUP)
    for option in OPTIONS:
        dest = option.flag.lstrip("-").replace("-", "_")
        env = f" [env {option.env}]" if option.env else ""
        if option.flag_only:
            group.addoption(option.flag, action="store_true", default=False, dest=dest, help=option.help + env)
        else:
            group.addoption(option.flag, default=None, dest=dest, metavar=option.metavar, help=option.help + env)


def option_value(config: pytest.Config, flag: str) -> str | None:
    """The option's value, else its environment variable, else None."""
    option = next(o for o in OPTIONS if o.flag == flag)
    value = config.getoption(flag.lstrip("-").replace("-", "_"))
    if option.flag_only:
        if value:
            return "1"
        env = os.environ.get(option.env or "", "")
        return "1" if env.strip().lower() in _TRUE else None
    if value not in (None, ""):
        return str(value)
    env_value = os.environ.get(option.env or "") if option.env else None
    if option.env == "KUBECONFIG" and env_value and os.pathsep in env_value:
        return None  # a KUBECONFIG list: kubectl merges it itself, so it is not passed as --kubeconfig
    return env_value or None


def backend_from_pytest_config(name: str, config: pytest.Config) -> Backend:
    """The ``kind`` or ``cluster`` backend as the options describe it (not started)."""
    if name not in ("kind", "cluster"):
        raise UserInputError(
            f"unknown backend {name!r} for meshrelease.kube", field="--backend", hint="kind or cluster"
        )

    def get(flag: str) -> str | None:
        return option_value(config, flag)

    namespace = get("--namespace") or "default"
    if not _DNS_LABEL.match(namespace):
        raise UserInputError(f"{namespace!r} is not a namespace name (a DNS-1123 label)", field="--namespace")
    ingress = get("--ingress-url")
    if ingress and not re.match(r"^https?://[^/\s]+", ingress):
        raise UserInputError(f"{ingress!r} is not an http(s) URL", field="--ingress-url", hint="e.g. http://10.0.0.7")
    logs = get("--collect-logs")
    keep = get("--keep-cluster") is not None
    tag = get("--bookinfo-tag") or BOOKINFO_TAG
    if name == "kind":
        if os.environ.get("PYTEST_XDIST_WORKER"):
            raise UserInputError(
                "the kind backend runs one cluster per session and cannot be split over xdist workers",
                field="-n",
                hint="run the kind scenarios serially (-p no:xdist or -n 0)",
            )
        cluster_name = get("--kind-cluster-name") or "meshrelease"
        revision = get("--istio-revision")
        if revision and not _DNS_LABEL.match(revision):
            raise UserInputError(f"{revision!r} is not an Istio revision name (e.g. 1-30-4)", field="--istio-revision")
        if not _DNS_LABEL.match(cluster_name):
            raise UserInputError(f"{cluster_name!r} is not a valid kind cluster name", field="--kind-cluster-name")
        return KindBackend(
            KindSettings(
                istio_version=get("--istio-version"),
                istioctl=get("--istioctl"),
                istio_revision=revision,
                istio_home=os.environ.get("ISTIO_HOME") or None,
                node_image=get("--kind-node-image"),
                cluster_name=cluster_name,
                keep_cluster=keep,
                collect_logs=Path(logs) if logs else None,
                namespace=namespace,
                ingress_url=ingress,
                bookinfo_tag=tag,
            )
        )
    return ClusterBackend(
        ClusterSettings(
            kubeconfig=get("--kubeconfig"),
            context=get("--context"),
            mesh_kubeconfig=get("--mesh-kubeconfig"),
            mesh_context=get("--mesh-context"),
            namespace=namespace,
            ingress_url=ingress,
            istioctl=get("--istioctl"),
            istio_home=os.environ.get("ISTIO_HOME") or None,
            istio_version=get("--istio-version"),
            bookinfo_tag=tag,
            keep=keep,
            collect_logs=Path(logs) if logs else None,
        )
    )


def finish_session(backend: KindBackend | ClusterBackend, *, failed: bool) -> Path | None:
    """End a session: on failure with ``--collect-logs``, save the logs first; then ``close()``.

    Returns where the logs went (None when none were collected). A failure to collect is logged, never
    raised over the session's own failure; ``close()`` always runs."""
    saved: Path | None = None
    try:
        if failed and backend.collect_logs_dir is not None:
            try:
                saved = backend.collect_logs(backend.collect_logs_dir)
            except MeshReleaseError as exc:
                log.warning("could not collect logs into %s: %s", backend.collect_logs_dir, exc)
    finally:
        backend.close()
    return saved
