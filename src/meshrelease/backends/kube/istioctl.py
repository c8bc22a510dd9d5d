"""A thin istioctl wrapper: install with pinned settings, proxy-config, proxy-status, version, uninstall.

Every call carries ``--kubeconfig``/``--context`` of the cluster whose pods it talks to (pytest-kubernetes
never exports KUBECONFIG, so istioctl must be told) and a timeout. Output is read in its machine-readable form
(``-o json``); ``proxy-status`` goes through :mod:`meshrelease.backends.kube.proxy_status`, which also reads
the tables the istioctl releases that ignore ``-o json`` print.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from meshrelease.backends.kube.kubectl import Kubectl
from meshrelease.backends.kube.proxy_status import ProxyStatusFormatError, ProxyStatusReport, parse_proxy_status
from meshrelease.backends.kube.runner import CommandResult, CommandRunner
from meshrelease.errors import CommandError

PROXY_STATUS_ARGS = ["proxy-status", "-o", "json", "--verbosity=1"]


class Istioctl:
    """istioctl bound to the connection (kubeconfig/context) of a :class:`Kubectl`."""

    def __init__(self, runner: CommandRunner, binary: str, cluster: Kubectl, *, timeout: float = 60.0) -> None:
        self.runner = runner
        self.binary = binary
        self.cluster = cluster
        self.timeout = timeout
        self._status_args = PROXY_STATUS_ARGS

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

    def proxy_status_text(self) -> str:
        """``istioctl proxy-status --verbosity=1`` as a person reads it, per-type states included (for failure
        reports); plain ``proxy-status`` on an istioctl older than 1.27, which has no ``--verbosity``."""
        try:
            return self.run(["proxy-status", "--verbosity=1"]).stdout
        except CommandError as exc:
            if "unknown" not in exc.stderr.lower():
                raise
            return self.run(["proxy-status"]).stdout

    def proxy_status(self) -> ProxyStatusReport:
        """Every proxy istiod knows, with its version, istiod and per-type sync state.

        ``proxy-status -o json --verbosity=1``: JSON from Istio 1.30 on, the verbose table before (1.27-1.29
        ignore ``-o json``); an istioctl older than 1.27 knows neither flag and is asked for its plain table."""
        try:
            result = self.run(self._status_args)
        except CommandError as exc:
            if self._status_args == ["proxy-status"] or "unknown" not in exc.stderr.lower():
                raise
            self._status_args = ["proxy-status"]
            result = self.run(self._status_args)
        try:
            return parse_proxy_status(result.stdout)
        except ProxyStatusFormatError as exc:
            raise CommandError(result.argv, result.returncode, f"{exc}: {result.stdout[:300]}") from None

    def manifest_images(self, operator_file: Path) -> list[str]:
        """The images ``istioctl install -f <file>`` would deploy (``istioctl manifest generate``, no cluster)."""
        result = self.runner.run([self.binary, "manifest", "generate", "-f", str(operator_file)], timeout=self.timeout)
        try:
            docs = list(yaml.safe_load_all(result.stdout))
        except yaml.YAMLError as exc:
            raise CommandError(result.argv, result.returncode, f"output is not YAML: {exc}") from None
        images: list[str] = []
        for doc in docs:
            if not isinstance(doc, dict) or doc.get("kind") not in ("Deployment", "DaemonSet"):
                continue
            pod = ((doc.get("spec") or {}).get("template") or {}).get("spec") or {}
            for container in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]:
                image = str((container or {}).get("image") or "")
                if image and image != "auto" and image not in images:
                    images.append(image)
        return images

    def set_default_tag(self, revision: str, *, timeout: float = 120.0) -> None:
        """``istioctl tag set default --revision <rev> --overwrite -y``: the default injector and the validating
        webhook of unlabelled objects move to ``revision``."""
        self.run(
            ["tag", "set", "default", "--revision", revision, "--overwrite", "-y"],
            timeout=timeout,
            hint="see `istioctl tag list` and `kubectl get validatingwebhookconfigurations`",
        )


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
