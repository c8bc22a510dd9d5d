"""``meshrelease doctor``: what a kind or cluster run needs, checked before anything is created.

Every check is read-only and bounded (a few seconds each; a machine without the tools answers in well under
a second): the tools and their versions, istioctl against ``--istio-version``, the Kubernetes version
against the Istio release's supported range (``meshrelease/data/kind-pins.json``), the Docker engine and free
disk (kind), the kube contexts, Istio's CRDs, the namespace and the ingress URL (cluster). The result is one
table with what to fix; :attr:`DoctorReport.ok` is False when something is missing or wrong.
``meshrelease run --backend kind`` runs it first and stops with the table.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meshrelease.backends.kube.kubectl import Kubectl
from meshrelease.backends.kube.runner import CommandResult, CommandRunner
from meshrelease.backends.kube.tools import INSTALL_HINTS, find_istioctl
from meshrelease.backends.kube.versions import (
    GATEWAY_API_CRD,
    ISTIO_PINS,
    KIND_VERSION,
    PINS_FILE,
    IstioPin,
    gateway_api_install_url,
    istio_minor,
    node_image_kubernetes,
)
from meshrelease.backends.settings import Settings
from meshrelease.errors import CommandError, MeshReleaseError

KIND_FREE_DISK_GIB = 8.0  # node image, Istio and Bookinfo images, the archive kind loads them from
COMMAND_TIMEOUT = 5.0
SERVER_TIMEOUT = "5s"


@dataclass(frozen=True)
class Finding:
    """One check: ``ok`` True (fine), False (must be fixed), None (not checked: it depends on a failed one)."""

    check: str
    ok: bool | None
    found: str
    fix: str = ""
    warning: bool = False  # fine for the run, but something a scenario may need is missing

    @property
    def status(self) -> str:
        if self.warning:
            return "warn"
        return {True: "ok", False: "FAIL", None: "skip"}[self.ok]


@dataclass
class DoctorReport:
    backend: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.ok is not False for f in self.findings)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.ok is False]

    def render(self) -> str:
        """The table: check, status, what was found, what to do."""
        rows = [("check", "status", "found", "to fix")]
        rows += [(f.check, f.status, f.found, f.fix) for f in self.findings]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = []
        for n, row in enumerate(rows):
            lines.append("  ".join(c.ljust(w) for c, w in zip(row[:3], widths, strict=True)) + "  " + row[3])
            if n == 0:
                lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 6)
        verdict = (
            f"meshrelease doctor --backend {self.backend}: everything the run needs is there"
            if self.ok
            else f"meshrelease doctor --backend {self.backend}: {len(self.problems)} problem(s); nothing was "
            "created. Fix them and run again."
        )
        return "\n".join([*(line.rstrip() for line in lines), "", verdict])


class Doctor:
    """Runs the checks of one backend (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        *,
        runner: CommandRunner | None = None,
        search_path: str | None = None,
        environ: Mapping[str, str] | None = None,
        http_get: Callable[[str, float], str] | None = None,
    ) -> None:
        self.settings = settings
        self.runner = runner or CommandRunner(history_size=20)
        self.environ = dict(os.environ if environ is None else environ)
        self.path = search_path if search_path is not None else self.environ.get("PATH", "")
        self.http_get = http_get or _http_status
        self.report = DoctorReport(settings.backend)

    def run(self) -> DoctorReport:
        if self.settings.backend == "kind":
            self._kind()
        elif self.settings.backend == "cluster":
            self._cluster()
        else:
            raise MeshReleaseError(
                f"meshrelease doctor checks the kind and cluster backends, not {self.settings.backend!r}",
                hint="the local backend needs only the Envoy binary, which its own start checks",
            )
        return self.report

    # -- the two backends ----------------------------------------------------------------------------------

    def _kind(self) -> None:
        s = self.settings.kind
        docker = self._tool("docker")
        daemon = self._docker_daemon(docker)
        kind = self._tool("kind")
        if kind:
            self._kind_version(kind)
        kubectl = self._tool("kubectl")
        istioctl_version = self._istioctl(s.istioctl, s.istio_home, s.istio_version)
        version = s.istio_version or istioctl_version or ""
        pin = self._pin(version, node_image_given=bool(s.node_image))
        node_image = s.node_image or (pin.node_image if pin else "")
        kubernetes = node_image_kubernetes(node_image)
        if kubectl:
            self._kubectl_client(kubectl, kubernetes)
        self._kubernetes_range("Kubernetes of the kind node", version, kubernetes, node_image or "no node image")
        self._disk(docker if daemon else "", KIND_FREE_DISK_GIB)
        if kind and daemon:
            self._kind_cluster(kind, s.cluster_name)

    def _cluster(self) -> None:
        s = self.settings.cluster
        kubectl = self._tool("kubectl")
        istioctl_version = self._istioctl(s.istioctl, s.istio_home, s.istio_version)
        version = s.istio_version or istioctl_version or ""
        if not kubectl:
            for check in ("workloads' cluster", "Istio CRDs", f"namespace {s.namespace}"):
                self._add(check, None, "not checked: kubectl is missing")
        else:
            workload = Kubectl(self.runner, kubectl, kubeconfig=s.kubeconfig, context=s.context, role="workloads")
            mesh_config = s.mesh_kubeconfig or s.kubeconfig
            mesh = Kubectl(
                self.runner, kubectl, kubeconfig=mesh_config, context=s.mesh_context or s.context, role="mesh"
            )
            server = self._context("workloads' cluster", workload, "--kubeconfig/--context")
            if server:
                self._kubectl_client(kubectl, server)
                self._kubernetes_range("Kubernetes of the workloads' cluster", version, server, f"v{server}")
            separate = not mesh.same_api_server(workload)
            mesh_up = (
                bool(self._context("mesh API server", mesh, "--mesh-kubeconfig/--mesh-context"))
                if separate
                else bool(server)
            )
            self._crds(mesh, mesh_up)
            self._gateway_api_crds(workload, bool(server), version)
            self._namespace(workload, s.namespace, bool(server), "workloads' cluster")
            if separate:
                self._namespace(mesh, s.namespace, mesh_up, "mesh API server")
        self._ingress(s.ingress_url)

    # -- single checks -------------------------------------------------------------------------------------

    def _add(self, check: str, ok: bool | None, found: str, fix: str = "", *, warning: bool = False) -> None:
        self.report.findings.append(Finding(check, ok, found, fix, warning))

    def _run(self, argv: list[str], timeout: float = COMMAND_TIMEOUT) -> CommandResult | str:
        """The result, or why there is none (one line)."""
        try:
            return self.runner.run(argv, timeout=timeout, check=False)
        except MeshReleaseError as exc:
            return str(exc).splitlines()[0]

    def _tool(self, name: str) -> str:
        where = shutil.which(name, path=self.path) or ""
        if where:
            self._add(name, True, where)
        else:
            self._add(name, False, "not on PATH", INSTALL_HINTS[name])
        return where

    def _docker_daemon(self, docker: str) -> bool:
        if not docker:
            self._add("docker engine", None, "not checked: the docker CLI is missing")
            return False
        result = self._run([docker, "version", "--format", "{{json .}}"])
        server: Any = None
        if isinstance(result, CommandResult):
            try:
                server = (json.loads(result.stdout.strip().splitlines()[0]) or {}).get("Server")
            except (ValueError, IndexError, AttributeError):
                server = None
        if isinstance(server, dict) and server.get("Version"):
            self._add(
                "docker engine", True, f"Docker Engine {server['Version']} ({server.get('Os')}/{server.get('Arch')})"
            )
            return True
        why = result if isinstance(result, str) else _first_line(result.stderr or result.stdout)
        self._add(
            "docker engine",
            False,
            f"not reachable: {why or 'docker version printed no server'}",
            "start the Docker engine (`sudo systemctl start docker`, or Docker Desktop) and check that this user "
            "may use it (`docker info`); kind runs its nodes as containers",
        )
        return False

    def _kind_version(self, kind: str) -> None:
        result = self._run([kind, "version"])
        text = result if isinstance(result, str) else result.stdout
        match = re.search(r"\bv?(\d+)\.(\d+)\.(\d+)", text)
        if not match:
            self._add("kind version", False, f"unreadable: {_first_line(text)}", INSTALL_HINTS["kind"])
            return
        have = tuple(int(g) for g in match.groups())
        pinned = tuple(int(g) for g in re.findall(r"\d+", KIND_VERSION)[:3])
        found = f"v{'.'.join(map(str, have))} (pinned {KIND_VERSION})"
        if have[:2] < pinned[:2]:
            self._add(
                "kind version",
                False,
                found,
                f"install kind {KIND_VERSION}: the pinned node images are built for it and older kind cannot "
                "`kind load` into them",
            )
        else:
            self._add("kind version", True, found)

    def _kubectl_client(self, kubectl: str, kubernetes: str) -> None:
        result = self._run([kubectl, "version", "--client", "-o", "json"])
        version = ""
        if isinstance(result, CommandResult):
            try:
                version = str(json.loads(result.stdout)["clientVersion"]["gitVersion"])
            except (ValueError, KeyError, TypeError):
                version = ""
        if not version:
            self._add(
                "kubectl version", False, "unreadable (kubectl version --client -o json)", INSTALL_HINTS["kubectl"]
            )
            return
        client, server = _minor(version), _minor(kubernetes)
        if client and server and abs(client[1] - server[1]) > 1:
            self._add(
                "kubectl version",
                False,
                f"{version}, cluster {kubernetes}: more than one minor apart",
                f"install kubectl v{server[0]}.{server[1]}.x (https://kubernetes.io/docs/tasks/tools/)",
            )
        else:
            self._add("kubectl version", True, version + (f" (cluster {kubernetes})" if kubernetes else ""))

    def _istioctl(self, explicit: str | None, istio_home: str | None, wanted: str | None) -> str:
        where, why = find_istioctl(explicit, istio_home, self.path)
        if not where:
            self._add("istioctl", False, why, INSTALL_HINTS["istioctl"].replace("<x.y.z>", wanted or "<x.y.z>"))
            if wanted:
                self._add("istioctl version", None, f"not checked (--istio-version {wanted})")
            return ""
        self._add("istioctl", True, where)
        result = self._run([where, "version", "--remote=false", "-o", "json"])
        version = ""
        if isinstance(result, CommandResult):
            try:
                version = str(json.loads(result.stdout)["clientVersion"]["version"])
            except (ValueError, KeyError, TypeError):
                version = ""
        if not version:
            self._add(
                "istioctl version", False, "unreadable (istioctl version --remote=false -o json)", "is this istioctl?"
            )
            return ""
        if wanted and not (version == wanted or (wanted.count(".") == 1 and _same_minor(version, wanted))):
            self._add(
                "istioctl version",
                False,
                f"{version}, but --istio-version is {wanted}",
                f"curl -L https://istio.io/downloadIstio | ISTIO_VERSION={wanted} sh - ; then pass --istioctl "
                f"istio-{wanted}/bin/istioctl (or set ISTIO_HOME)",
            )
        else:
            self._add("istioctl version", True, version + ("" if wanted else " (no --istio-version: this one is used)"))
        return version

    def _pin(self, version: str, *, node_image_given: bool) -> IstioPin | None:
        if not version:
            self._add("pinned versions", None, "not checked: no Istio version known")
            return None
        try:
            minor = istio_minor(version)
        except MeshReleaseError:
            self._add(
                "pinned versions", False, f"{version!r} is not an Istio version", "give e.g. --istio-version 1.30.5"
            )
            return None
        pin = ISTIO_PINS.get(minor)
        if pin is None:
            self._add(
                "pinned versions",
                None if node_image_given else False,
                f"no kind node image pinned for Istio {minor} (pinned: {', '.join(sorted(ISTIO_PINS))})",
                ""
                if node_image_given
                else f"pass --kind-node-image kindest/node:vX.Y.Z@sha256:… or add {minor} "
                f"to meshrelease/data/{PINS_FILE}",
            )
            return None
        latest = "" if version == pin.latest else f"; the table's latest {minor} patch is {pin.latest}"
        self._add("pinned versions", True, f"Istio {minor}: {pin.node_image.split('@')[0]}{latest}")
        return pin

    def _kubernetes_range(self, check: str, istio_version: str, kubernetes: str, shown: str) -> None:
        pin = ISTIO_PINS.get(_safe_minor(istio_version)) if istio_version else None
        if not kubernetes or pin is None:
            self._add(check, None, f"{shown}: no supported range known" if kubernetes else "not checked")
            return
        if pin.supports_kubernetes(kubernetes):
            self._add(check, True, f"{kubernetes}, inside Istio {pin.minor}'s {pin.kubernetes_range}")
        else:
            self._add(
                check,
                False,
                f"{kubernetes}, outside Istio {pin.minor}'s supported {pin.kubernetes_range}",
                f"use a Kubernetes {pin.kubernetes_range} (kind: --kind-node-image from the kind {KIND_VERSION} "
                "release notes) or another Istio release",
            )

    def _disk(self, docker: str, need_gib: float) -> None:
        where = Path(tempfile.gettempdir())
        if docker:
            result = self._run([docker, "info", "--format", "{{.DockerRootDir}}"])
            root = Path(result.stdout.strip()) if isinstance(result, CommandResult) and result.returncode == 0 else None
            if root is not None and root.is_dir():
                where = root
        free = shutil.disk_usage(where).free / 2**30
        found = f"{free:.1f} GiB free on {where}"
        if free < need_gib:
            self._add(
                "free disk", False, found, f"free at least {need_gib:g} GiB (`docker system prune`, or a bigger disk)"
            )
        else:
            self._add("free disk", True, found)

    def _kind_cluster(self, kind: str, name: str) -> None:
        result = self._run([kind, "get", "clusters"], timeout=15)
        if isinstance(result, str) or result.returncode != 0:
            why = result if isinstance(result, str) else _first_line(result.stderr)
            self._add("kind clusters", False, f"kind get clusters failed: {why}", "see `kind get clusters`")
            return
        names = [n.strip() for n in result.stdout.splitlines() if n.strip()]
        if name in names:
            self._add("kind cluster", True, f"{name} is running: reused, never deleted")
        else:
            self._add("kind cluster", True, f"{name} does not exist yet: created, then deleted at the end")

    def _context(self, check: str, kubectl: Kubectl, options: str) -> str:
        """The server's Kubernetes version ("" when unreachable)."""
        result = self._run(kubectl.argv(["version", "-o", "json", f"--request-timeout={SERVER_TIMEOUT}"]), timeout=10)
        server = ""
        if isinstance(result, CommandResult):
            try:
                server = str(json.loads(result.stdout)["serverVersion"]["gitVersion"]).lstrip("v")
            except (ValueError, KeyError, TypeError):
                server = ""
        if server:
            self._add(check, True, f"{' '.join(kubectl.connection_args()) or 'current context'}: Kubernetes {server}")
            return server
        why = result if isinstance(result, str) else _first_line(result.stderr or result.stdout)
        self._add(check, False, f"not reachable: {why}", f"check {options} (`kubectl cluster-info`)")
        return ""

    def _crds(self, mesh: Kubectl, reachable: bool) -> None:
        check = "Istio CRDs"
        if not reachable:
            self._add(check, None, "not checked: the mesh API server is not reachable")
            return
        crd = "virtualservices.networking.istio.io"
        result = self._run(
            mesh.argv(["get", "crd", crd, "-o", "name", f"--request-timeout={SERVER_TIMEOUT}"]), timeout=10
        )
        if isinstance(result, CommandResult) and result.returncode == 0:
            self._add(check, True, f"{crd} on the mesh API server")
        else:
            why = result if isinstance(result, str) else _first_line(result.stderr)
            self._add(
                check,
                False,
                f"{crd} missing: {why}",
                "install Istio, or on a managed mesh (ASM) pass --mesh-kubeconfig of the mesh instance",
            )

    def _gateway_api_crds(self, workload: Kubectl, reachable: bool, istio_version: str) -> None:
        """The Gateway API CRDs on the workloads' cluster: scenarios written with Gateway/HTTPRoute need them,
        the others do not (a warning, with istio.io's install command at the version the Istio release expects)."""
        check = "Gateway API CRDs"
        if not reachable:
            self._add(check, None, "not checked: the workloads' cluster is not reachable")
            return
        result = self._run(
            workload.argv(["get", "crd", GATEWAY_API_CRD, "-o", "json", f"--request-timeout={SERVER_TIMEOUT}"]),
            timeout=10,
        )
        if isinstance(result, CommandResult) and result.returncode == 0:
            try:
                annotations = (json.loads(result.stdout).get("metadata") or {}).get("annotations") or {}
            except ValueError:
                annotations = {}
            bundle = annotations.get("gateway.networking.k8s.io/bundle-version", "version unknown")
            channel = annotations.get("gateway.networking.k8s.io/channel", "")
            self._add(check, True, f"{GATEWAY_API_CRD} ({bundle}{', ' + channel if channel else ''})")
            return
        pin = ISTIO_PINS.get(istio_minor(istio_version)) if istio_version else None
        release = pin.gateway_api if pin is not None and pin.gateway_api else "<the version your Istio expects>"
        connection = " ".join(workload.connection_args())
        self._add(
            check,
            True,
            "absent: scenarios that apply Gateway or HTTPRoute objects cannot run",
            f"kubectl {connection + ' ' if connection else ''}apply --server-side -f "
            f"{gateway_api_install_url(release)}",
            warning=True,
        )

    def _namespace(self, kubectl: Kubectl, namespace: str, reachable: bool, where: str) -> None:
        check = f"namespace {namespace} ({where})"
        if not reachable:
            self._add(check, None, "not checked: not reachable")
            return
        try:
            found = kubectl.get_json("namespace", namespace, ignore_not_found=True)
        except CommandError as exc:
            self._add(check, None, f"not readable: {_first_line(exc.stderr)}")
            return
        if not found:
            connection = " ".join(kubectl.connection_args())
            self._add(
                check,
                False,
                "does not exist",
                f"kubectl {connection + ' ' if connection else ''}create namespace {namespace}, then label it "
                "istio-injection=enabled (or istio.io/rev=<revision>)",
            )
            return
        labels = ((found.get("metadata") or {}).get("labels") or {}) if isinstance(found, dict) else {}
        injection = labels.get("istio-injection") or (
            f"rev {labels['istio.io/rev']}" if "istio.io/rev" in labels else ""
        )
        self._add(check, True, f"exists{', injection ' + injection if injection else ', no injection label'}")

    def _ingress(self, url: str | None) -> None:
        if not url:
            self._add("ingress URL", None, "no --ingress-url: the gateway Service's load balancer address is used")
            return
        target = url.rstrip("/") + "/productpage"
        try:
            status = self.http_get(target, 3.0)
        except OSError as exc:
            self._add("ingress URL", False, f"{target}: {exc}", "check --ingress-url (the ingress gateway's address)")
            return
        self._add("ingress URL", True, f"{target} answers ({status})")


def _http_status(url: str, timeout: float) -> str:
    """The HTTP status line's code of a GET (any answer counts: the gateway is there)."""
    request = urllib.request.Request(url, method="GET")  # noqa: S310 - the user's own ingress URL, http(s) only
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _minor(version: str) -> tuple[int, int] | None:
    match = re.search(r"(\d+)\.(\d+)", version)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _same_minor(a: str, b: str) -> bool:
    return _minor(a) == _minor(b) and _minor(a) is not None


def _safe_minor(version: str) -> str:
    try:
        return istio_minor(version)
    except MeshReleaseError:
        return ""


def run_doctor(settings: Settings, **kwargs: Any) -> DoctorReport:
    """Run the checks of ``settings.backend`` (kind or cluster)."""
    return Doctor(settings, **kwargs).run()
