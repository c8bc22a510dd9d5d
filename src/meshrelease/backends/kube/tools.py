"""Finding docker, kind, kubectl and istioctl before anything starts.

One :class:`~meshrelease.errors.ToolMissingError` lists every missing tool with how to install it, so a user
fixes the machine once instead of once per tool. istioctl is taken from ``--istioctl``, else
``$ISTIO_HOME/bin/istioctl``, else PATH; the others from PATH only (none of them is a Python package).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from meshrelease.backends.kube.runner import CommandRunner
from meshrelease.backends.kube.versions import KIND_VERSION, istio_minor
from meshrelease.errors import CommandError, ToolMissingError, UserInputError

INSTALL_HINTS: dict[str, str] = {
    "docker": "install Docker Engine (https://docs.docker.com/engine/install/) or Docker Desktop and "
    "start it; kind runs the cluster nodes as containers",
    "kind": f"install kind {KIND_VERSION}, a Go binary (not on PyPI): "
    f"`go install sigs.k8s.io/kind@{KIND_VERSION}` or download it from https://kind.sigs.k8s.io/docs/user/quick-start/#installation",
    "kubectl": "install kubectl: https://kubernetes.io/docs/tasks/tools/ (any version within one minor "
    "of the cluster's)",
    "istioctl": "download Istio: `curl -L https://istio.io/downloadIstio | ISTIO_VERSION=<x.y.z> sh -`, "
    "then pass --istioctl istio-<x.y.z>/bin/istioctl or set ISTIO_HOME=$PWD/istio-<x.y.z>",
}

KIND_TOOLS = ("docker", "kind", "kubectl", "istioctl")
CLUSTER_TOOLS = ("kubectl", "istioctl")


@dataclass(frozen=True)
class Tools:
    """Absolute paths of the executables a backend uses ("" for a tool it does not need)."""

    kubectl: str
    istioctl: str
    kind: str = ""
    docker: str = ""


def locate_tools(
    required: Sequence[str],
    *,
    istioctl: str | None = None,
    istio_home: str | None = None,
    search_path: str | None = None,
    purpose: str = "this backend",
) -> Tools:
    """Find ``required`` tools; raise ToolMissingError naming every missing one and how to install it."""
    path = search_path if search_path is not None else os.environ.get("PATH", "")
    found: dict[str, str] = {}
    missing: list[str] = []
    missing_names: list[str] = []
    for tool in required:
        if tool == "istioctl":
            where, why = find_istioctl(istioctl, istio_home, path)
        else:
            where = shutil.which(tool, path=path) or ""
            why = "not on PATH"
        if where:
            found[tool] = where
        else:
            missing_names.append(tool)
            missing.append(f"  - {tool} ({why}): {INSTALL_HINTS[tool]}")
    if missing:
        raise ToolMissingError(
            f"{purpose} needs {', '.join(required)}; missing: {', '.join(missing_names)}\n" + "\n".join(missing),
            hint="install the missing tools, then run again; nothing was started",
        )
    return Tools(
        kubectl=found.get("kubectl", ""),
        istioctl=found.get("istioctl", ""),
        kind=found.get("kind", ""),
        docker=found.get("docker", ""),
    )


def find_istioctl(explicit: str | None, istio_home: str | None, path: str) -> tuple[str, str]:
    """(absolute path, "") or ("", why not): ``--istioctl``, else ``$ISTIO_HOME/bin/istioctl``, else PATH."""
    if explicit:
        candidate = Path(explicit).expanduser()
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate.resolve()), ""
        return "", f"--istioctl {explicit} is not an executable file"
    if istio_home:
        candidate = Path(istio_home).expanduser() / "bin" / "istioctl"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate.resolve()), ""
        return "", f"ISTIO_HOME={istio_home} has no bin/istioctl"
    return shutil.which("istioctl", path=path) or "", "not given by --istioctl or ISTIO_HOME, and not on PATH"


def istioctl_client_version(runner: CommandRunner, istioctl: str, *, timeout: float = 30.0) -> str:
    """The version of the istioctl binary itself (``istioctl version --remote=false -o json``)."""
    result = runner.run([istioctl, "version", "--remote=false", "-o", "json"], timeout=timeout)
    try:
        data = json.loads(result.stdout)
        version = str(data["clientVersion"]["version"])
    except (ValueError, KeyError, TypeError):
        raise CommandError(
            result.argv,
            result.returncode,
            f"unexpected output (no clientVersion.version): {result.stdout[:300]}",
            hint="is this really istioctl?",
        ) from None
    return version


def check_istioctl_version(istioctl: str, client_version: str, wanted: str | None) -> None:
    """Raise UserInputError when istioctl's own version is not the ``--istio-version`` asked for."""
    if not wanted or client_version == wanted:
        return
    # A wanted "1.30" (minor only) accepts any 1.30.x istioctl.
    if wanted.count(".") == 1 and istio_minor(client_version) == wanted:
        return
    raise UserInputError(
        f"istioctl at {istioctl} is version {client_version}, but --istio-version asks for {wanted}",
        field="--istio-version",
        hint=f"download it with `curl -L https://istio.io/downloadIstio | ISTIO_VERSION={wanted} sh -` "
        f"and pass --istioctl istio-{wanted}/bin/istioctl (or set ISTIO_HOME), or drop --istio-version "
        f"to use {client_version}",
    )
