"""A thin kubectl wrapper: argument lists, ``--kubeconfig``/``--context`` and a timeout on every call.

Objects go to kubectl as files (see :mod:`meshrelease.backends.kube.manifests`). Failures raise
:class:`~meshrelease.errors.CommandError` with argv, exit code and stderr; an apply the API server or Istio's
webhook rejects raises :class:`~meshrelease.errors.ValidationError` instead, with kubectl's own lines.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from meshrelease.backends.kube.manifests import items_of
from meshrelease.backends.kube.runner import CommandResult, CommandRunner
from meshrelease.errors import CommandError, ValidationError, WaitTimeout

ALL_NAMESPACES = "*"

# stderr of a kubectl apply/delete that the API server (or an admission webhook) refused: the objects are
# wrong, not the connection. Anything else is an infrastructure failure (CommandError).
_REJECTED = re.compile(
    r"admission webhook|denied the request|is invalid|Invalid value|no matches for kind|"
    r"NotFound|not found|error validating|strict decoding error|unknown field|error parsing|"
    r"resource mapping not found|namespace from the provided object",
    re.IGNORECASE,
)


# ...unless the API server was never reached: kubectl then also says "error validating" (it could not download
# the OpenAPI schema) or "unable to recognize", but the objects may be fine.
_UNREACHABLE = re.compile(
    r"connection refused|dial tcp|Unable to connect to the server|i/o timeout|no such host|TLS handshake|"
    r"was refused|context deadline exceeded|the server is currently unable|Client\.Timeout",
    re.IGNORECASE,
)


class Kubectl:
    """kubectl bound to one kubeconfig/context (either may be None: kubectl's own defaults then apply)."""

    def __init__(
        self,
        runner: CommandRunner,
        binary: str,
        *,
        kubeconfig: str | None = None,
        context: str | None = None,
        timeout: float = 60.0,
        role: str = "cluster",
    ) -> None:
        self.runner = runner
        self.binary = binary
        self.kubeconfig = kubeconfig
        self.context = context
        self.timeout = timeout
        self.role = role  # "workloads" / "mesh": names the API server in messages

    # -- plumbing ---------------------------------------------------------------------------------------

    def connection_args(self) -> list[str]:
        """``--kubeconfig``/``--context`` as given (also used for istioctl)."""
        args: list[str] = []
        if self.kubeconfig:
            args += ["--kubeconfig", self.kubeconfig]
        if self.context:
            args += ["--context", self.context]
        return args

    def argv(self, args: Sequence[str]) -> list[str]:
        return [self.binary, *self.connection_args(), *args]

    def run(self, args: Sequence[str], *, timeout: float | None = None, hint: str | None = None) -> CommandResult:
        """Run ``kubectl <connection args> <args>``; CommandError on a non-zero exit."""
        return self.runner.run(self.argv(args), timeout=timeout or self.timeout, hint=hint)

    def same_api_server(self, other: Kubectl) -> bool:
        return (self.kubeconfig, self.context) == (other.kubeconfig, other.context)

    # -- reads ------------------------------------------------------------------------------------------

    def get_json(
        self,
        resource: str,
        name: str | None = None,
        *,
        namespace: str | None = None,
        selector: str | None = None,
        ignore_not_found: bool = False,
    ) -> Any:
        """``kubectl get … -o json`` parsed; None when ``ignore_not_found`` and nothing matched.

        ``namespace`` ``ALL_NAMESPACES`` lists every namespace (``-A``)."""
        args = ["get", resource]
        if name:
            args.append(name)
        if namespace == ALL_NAMESPACES:
            args.append("-A")
        elif namespace:
            args += ["-n", namespace]
        if selector:
            args += ["-l", selector]
        args += ["-o", "json"]
        if ignore_not_found:
            args.append("--ignore-not-found")
        result = self.run(args)
        return self._parse_json(result)

    def get_file_json(self, path: Path) -> list[dict[str, Any]]:
        """The live objects named in a manifest file (those that exist)."""
        result = self.run(["get", "-f", str(path), "-o", "json", "--ignore-not-found"])
        return items_of(self._parse_json(result))

    def list_items(
        self, resource: str, *, namespace: str | None = None, selector: str | None = None
    ) -> list[dict[str, Any]]:
        return items_of(self.get_json(resource, namespace=namespace, selector=selector))

    def pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        """Pods matching ``selector``, running ones first, newest first within each group."""
        pods = self.list_items("pods", namespace=namespace, selector=selector)
        pods.sort(key=lambda p: str((p.get("metadata") or {}).get("creationTimestamp") or ""), reverse=True)
        pods.sort(key=lambda p: 0 if _running(p) else 1)  # stable: newest first within each group
        return pods

    def server_version(self) -> str:
        """The API server's ``gitVersion`` (e.g. ``v1.35.0``)."""
        data = self._parse_json(self.run(["version", "-o", "json"]))
        server = data.get("serverVersion") if isinstance(data, dict) else None
        return str(server.get("gitVersion", "")) if isinstance(server, dict) else ""

    def readyz(self) -> bool:
        """True when the API server answers ``/readyz`` with ok."""
        try:
            result = self.run(["get", "--raw", "/readyz"], timeout=15.0)
        except CommandError:
            return False
        return result.stdout.strip() == "ok"

    def logs(self, pod: str, *, namespace: str, container: str | None = None, tail: int | None = None) -> str:
        args = ["logs", pod, "-n", namespace]
        if container:
            args += ["-c", container]
        if tail is not None:
            args.append(f"--tail={tail}")
        return self.run(args).stdout

    # -- writes -----------------------------------------------------------------------------------------

    def apply_file(
        self, path: Path, *, dry_run: bool = False, source: str | None = None
    ) -> tuple[list[str], list[str]]:
        """``kubectl apply -f <path>``: (kubectl's lines, warnings).

        With ``dry_run`` (server side: schema, admission webhooks) a rejection raises ValidationError, and
        nothing changed; a failure of the real apply is a CommandError (kubectl may have applied a part)."""
        args = ["apply"]
        if dry_run:
            args.append("--dry-run=server")
        args += ["-f", str(path)]
        return self._change(args, source, rejections_are_validation=dry_run)

    def delete_file(
        self, path: Path, *, ignore_not_found: bool = False, dry_run: bool = False, source: str | None = None
    ) -> tuple[list[str], list[str]]:
        """``kubectl delete -f <path>``: (kubectl's lines, warnings); like :meth:`apply_file` for errors."""
        args = ["delete"]
        if dry_run:
            args.append("--dry-run=server")
        args += ["-f", str(path)]
        if ignore_not_found:
            args.append("--ignore-not-found=true")
        args.append("--wait=false")
        return self._change(args, source, rejections_are_validation=dry_run)

    def label(self, resource: str, name: str, labels: Mapping[str, str]) -> None:
        self.run(["label", resource, name, *[f"{k}={v}" for k, v in labels.items()], "--overwrite"])

    def rollout_status(self, deployment: str, *, namespace: str, timeout: float) -> None:
        """``kubectl rollout status deployment/<name>``; raises WaitTimeout with kubectl's last words."""
        args = [
            "rollout",
            "status",
            f"deployment/{deployment}",
            "-n",
            namespace,
            f"--timeout={int(timeout)}s",
        ]
        try:
            self.run(args, timeout=timeout + 30)
        except CommandError as exc:
            if "exceeded its progress deadline" in exc.stderr or "timed out" in exc.stderr:
                raise WaitTimeout(
                    f"deployment {namespace}/{deployment} to roll out on the {self.role} cluster",
                    timeout,
                    exc.stderr.strip()[-500:],
                    hint=f"kubectl describe deployment {deployment} -n {namespace}; images may still be pulling",
                ) from None
            raise

    def rollout_restart(self, deployments: Sequence[str], *, namespace: str) -> None:
        self.run(["rollout", "restart", *[f"deployment/{d}" for d in deployments], "-n", namespace])

    def wait_ready(self, *, timeout: float, interval: float = 1.0) -> None:
        """Poll ``/readyz`` and the default ServiceAccount until the API server serves; bounded."""
        deadline = time.monotonic() + timeout
        last = "not asked yet"
        while True:
            if self.readyz():
                try:
                    self.run(["get", "serviceaccount", "default", "-n", "default", "-o", "name"], timeout=15.0)
                    return
                except CommandError as exc:
                    last = f"readyz ok, default ServiceAccount not there yet: {exc.stderr.strip()[:200]}"
            else:
                last = "/readyz not ok"
            if time.monotonic() >= deadline:
                raise WaitTimeout(f"the {self.role} API server to be ready", timeout, last)
            time.sleep(interval)

    # -- helpers ----------------------------------------------------------------------------------------

    def _change(
        self, args: list[str], source: str | None, *, rejections_are_validation: bool
    ) -> tuple[list[str], list[str]]:
        try:
            result = self.run(args)
        except CommandError as exc:
            rejected = _REJECTED.search(exc.stderr) and not _UNREACHABLE.search(exc.stderr)
            if rejections_are_validation and rejected:
                errors = [line.strip() for line in exc.stderr.splitlines() if line.strip()]
                raise ValidationError(
                    errors, source=source, hint=f"kubectl said so for: {' '.join(exc.argv)}"
                ) from None
            raise
        lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
        warnings = [line.strip() for line in result.stderr.splitlines() if line.strip().startswith("Warning")]
        return lines, warnings

    @staticmethod
    def _parse_json(result: CommandResult) -> Any:
        text = result.stdout.strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise CommandError(result.argv, result.returncode, f"output is not JSON: {text[:300]}") from None


def _running(pod: Mapping[str, Any]) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return phase == "Running" and not (pod.get("metadata") or {}).get("deletionTimestamp")
