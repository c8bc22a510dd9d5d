"""A thin istioctl wrapper: install with pinned settings, proxy-config, proxy-status, version, uninstall.

Every call carries ``--kubeconfig``/``--context`` of the cluster whose pods it talks to (pytest-kubernetes
never exports KUBECONFIG, so istioctl must be told) and a timeout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from meshrelease.backends.kube.kubectl import Kubectl
from meshrelease.backends.kube.runner import CommandResult, CommandRunner
from meshrelease.errors import CommandError


class Istioctl:
    """istioctl bound to the connection (kubeconfig/context) of a :class:`Kubectl`."""

    def __init__(self, runner: CommandRunner, binary: str, cluster: Kubectl, *, timeout: float = 60.0) -> None:
        self.runner = runner
        self.binary = binary
        self.cluster = cluster
        self.timeout = timeout

    def run(self, args: list[str], *, timeout: float | None = None, hint: str | None = None) -> CommandResult:
        """``istioctl <args> <connection args>``; CommandError on a non-zero exit."""
        argv = [self.binary, *args, *self.cluster.connection_args()]
        return self.runner.run(argv, timeout=timeout or self.timeout, hint=hint)

    def client_version(self) -> str:
        result = self.runner.run([self.binary, "version", "--remote=false", "-o", "json"], timeout=self.timeout)
        data = _json(result)
        try:
            return str(data["clientVersion"]["version"])
        except (KeyError, TypeError):
            raise CommandError(result.argv, result.returncode, f"no clientVersion in: {result.stdout[:300]}") from None

    def mesh_version(self) -> str:
        """The control plane's version (``istioctl version -o json``, meshVersion); "" if unknown."""
        data = _json(self.run(["version", "-o", "json"]))
        versions = {
            str((entry.get("Info") or {}).get("version", ""))
            for entry in (data.get("meshVersion") or [] if isinstance(data, dict) else [])
            if isinstance(entry, dict)
        }
        versions.discard("")
        return ", ".join(sorted(versions))

    def install(self, operator_file: Path, *, readiness_timeout: float = 300.0) -> None:
        """``istioctl install -y -f <IstioOperator>``; waits for the components to be ready."""
        self.run(
            ["install", "-y", "-f", str(operator_file), f"--readiness-timeout={int(readiness_timeout)}s"],
            timeout=readiness_timeout + 120,
            hint="see `kubectl get pods -n istio-system`; on a slow machine images may still be pulling",
        )

    def uninstall(self) -> None:
        """``istioctl uninstall --purge -y``: removes every Istio control plane of the cluster."""
        self.run(["uninstall", "--purge", "-y"], timeout=300)

    def routes(self, proxy: str, *, timeout: float | None = None) -> list[dict[str, Any]]:
        """``istioctl proxy-config routes <pod>.<namespace> -o json``: the proxy's route configurations."""
        return _list(self.run(["proxy-config", "routes", proxy, "-o", "json"], timeout=timeout))

    def clusters(self, proxy: str, *, timeout: float | None = None) -> list[dict[str, Any]]:
        """``istioctl proxy-config clusters <pod>.<namespace> -o json``: the proxy's clusters."""
        return _list(self.run(["proxy-config", "clusters", proxy, "-o", "json"], timeout=timeout))

    def proxy_status(self) -> str:
        """``istioctl proxy-status`` as printed (one line per proxy with its xDS sync states)."""
        return self.run(["proxy-status"]).stdout


NOT_LISTED = "not listed by istioctl proxy-status"


def stale_proxies(proxy_status: str, proxies: list[str]) -> dict[str, str]:
    """Of ``proxies`` (``pod.namespace``), those proxy-status shows as STALE or not at all: id -> its line."""
    lines = proxy_status.splitlines()
    out: dict[str, str] = {}
    for proxy in proxies:
        line = next((ln for ln in lines if ln.split(maxsplit=1)[:1] == [proxy]), None)
        if line is None:
            out[proxy] = NOT_LISTED
        elif "STALE" in line:
            out[proxy] = " ".join(line.split())
    return out


def _json(result: CommandResult) -> Any:
    try:
        return json.loads(result.stdout)
    except ValueError:
        raise CommandError(result.argv, result.returncode, f"output is not JSON: {result.stdout[:300]}") from None


def _list(result: CommandResult) -> list[dict[str, Any]]:
    data = _json(result)
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise CommandError(result.argv, result.returncode, f"expected a JSON list: {result.stdout[:300]}")
    return [item for item in data if isinstance(item, dict)]
