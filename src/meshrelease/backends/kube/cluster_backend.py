"""``ClusterBackend``: an existing cluster with Istio, including a managed mesh such as ASM.

Workloads (Bookinfo, and any non-Istio object a scenario applies) go to ``--kubeconfig``/``--context``; Istio
objects (networking.istio.io) go to ``--mesh-kubeconfig``/``--mesh-context`` when given: ASM keeps them on
the mesh instance's API server while the pods run in the data-plane cluster (docs/real-clusters.md, "A managed
mesh such as Alibaba Cloud Service Mesh"). istioctl talks to the data-plane cluster, where the proxies are.

Start checks both API servers (on a separate mesh API server such as ASM's, that the namespace exists there
too: ASM namespaces are the mesh instance's own), deploys whatever part of Bookinfo (and its Gateway) is
missing in the namespace, waits for the rollouts, requires sidecars (it never relabels or restarts workloads it did not
deploy), finds the ingress (``--ingress-url``, else the gateway Service's load-balancer address) and warms
up. ``close()`` removes the objects the run applied and restores what they replaced, then the Bookinfo
objects it deployed (unless ``--keep-cluster``); nothing else.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from meshrelease.backends.base import BackendInfo
from meshrelease.backends.kube.istioctl import Istioctl
from meshrelease.backends.kube.kubectl import Kubectl
from meshrelease.backends.kube.manifests import object_key, with_namespace
from meshrelease.backends.kube.objects import split_by_api_server
from meshrelease.backends.kube.runner import CommandRunner
from meshrelease.backends.kube.session import MeshSession
from meshrelease.backends.kube.session_backend import SessionBackend
from meshrelease.backends.kube.sync import VS_RESOURCE
from meshrelease.backends.kube.tools import (
    CLUSTER_TOOLS,
    Tools,
    check_istioctl_version,
    istioctl_client_version,
    locate_tools,
)
from meshrelease.backends.kube.versions import bookinfo_registry_for
from meshrelease.backends.kube.warmup import ClientFactory
from meshrelease.backends.settings import ClusterSettings
from meshrelease.data import data_dir
from meshrelease.errors import CommandError, MeshReleaseError
from meshrelease.k8s.hosts import fqdn
from meshrelease.k8s.istio_routes import VirtualService

log = logging.getLogger("meshrelease.backends.kube")


class ClusterBackend(SessionBackend):
    """The ``cluster`` backend (see the module docstring)."""

    name = "cluster"

    def __init__(
        self,
        settings: ClusterSettings | None = None,
        *,
        client_factory: ClientFactory | None = None,
        runner: CommandRunner | None = None,
    ) -> None:
        self.settings = settings or ClusterSettings()
        self.collect_logs_dir = self.settings.collect_logs
        self.runner = runner or CommandRunner()
        self._client_factory = client_factory
        self.session: MeshSession | None = None
        self.tools: Tools | None = None
        self.istioctl_version = ""
        self.deployed: list[dict[str, Any]] = []  # Bookinfo objects this run created
        self.warmup_counts: dict[str, int] = {}
        self._ingress_url = ""
        self._started = False
        self._info: BackendInfo | None = None

    def connections(self) -> tuple[Kubectl, Kubectl]:
        """kubectl for the workloads' API server and for the mesh's."""
        s = self.settings
        workload = Kubectl(
            self.runner, self._tools().kubectl, kubeconfig=s.kubeconfig, context=s.context, role="workloads"
        )
        mesh_config: str | None
        if s.mesh_kubeconfig:
            mesh_config, mesh_context = s.mesh_kubeconfig, s.mesh_context
        else:
            mesh_config, mesh_context = s.kubeconfig, s.mesh_context or s.context
        mesh = Kubectl(self.runner, self._tools().kubectl, kubeconfig=mesh_config, context=mesh_context, role="mesh")
        return workload, mesh

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> None:
        """Check the cluster(s), deploy what Bookinfo lacks, wait, warm up (idempotent)."""
        if self._started:
            return
        s = self.settings
        self.tools = locate_tools(
            CLUSTER_TOOLS, istioctl=s.istioctl, istio_home=s.istio_home, purpose="the cluster backend"
        )
        self.istioctl_version = istioctl_client_version(self.runner, self.tools.istioctl)
        check_istioctl_version(self.tools.istioctl, self.istioctl_version, s.istio_version)
        workload, mesh = self.connections()
        session = MeshSession(
            self.runner,
            workload=workload,
            mesh=mesh,
            istioctl=Istioctl(self.runner, self.tools.istioctl, workload),
            namespace=s.namespace,
            gateway_namespace=s.gateway_namespace,
            gateway_selector=s.gateway_selector,
            poll_interval=s.poll_interval,
            client_factory=self._client_factory,
            workdir=s.workdir or Path(tempfile.mkdtemp(prefix="meshrelease-cluster-")),
        )
        self.session = session
        self._check_api_servers(workload, mesh)
        registry = s.bookinfo_registry or bookinfo_registry_for(self.istioctl_version)
        docs = MeshSession.bookinfo_manifests(s.data_dir or data_dir(), s.bookinfo_tag, registry)
        missing = self._missing(session, docs)
        if missing:
            session.apply_infrastructure(missing, "bookinfo")
            self.deployed = missing
        deployments = [str(d["metadata"]["name"]) for d in docs if d.get("kind") == "Deployment"]
        session.roll_out(deployments, timeout=s.rollout_timeout, restart=False)
        self._ingress_url = (s.ingress_url or self._load_balancer_url(workload)).rstrip("/")
        versions = () if self._reviews_pinned(mesh) else ("v1", "v2", "v3")
        self.warmup_counts = session.warm_up(self._ingress_url, versions=versions, timeout=s.warmup_timeout)
        self._started = True

    def close(self) -> None:
        """Remove what this run applied (restoring what it replaced), then the Bookinfo it deployed."""
        self.stop_port_forwards()
        session = self.session
        if session is None:
            return
        try:
            session.reset(routing_only=False)
            if self.deployed and not self.settings.keep:
                for target, group in split_by_api_server(self.deployed, session.workload, session.mesh, order="delete"):
                    path = session.writer.write(group, f"undeploy-{target.role}")
                    target.delete_file(path, ignore_not_found=True)
                self.deployed = []
        finally:
            session.remove_workdir()
            self.session = None
            self._started = False

    # -- Backend protocol -----------------------------------------------------------------------------------

    def describe(self) -> BackendInfo:
        if self._info is None:
            session = self._session()
            try:
                mesh = session.istioctl.mesh_version()
            except MeshReleaseError:
                mesh = ""  # a managed control plane may not answer istioctl version
            self._info = BackendInfo(
                backend="cluster",
                mesh=f"istio {mesh}" if mesh else "istio (control plane version not readable)",
                kubernetes=session.workload.server_version(),
                bookinfo=session.bookinfo_tag(),
                extra={
                    "workload_context": self.settings.context or "(current)",
                    "mesh_context": self.settings.mesh_context or "(same as workloads)"
                    if not self.settings.mesh_kubeconfig
                    else self.settings.mesh_context or "(current of the mesh kubeconfig)",
                    "namespace": self.settings.namespace,
                    "istioctl": self.istioctl_version,
                },
            )
        return self._info

    def collect_logs(self, dest_dir: Path) -> Path | None:
        """Logs of productpage (app, sidecar) and of the ingress gateway under ``dest_dir/cluster-logs``."""
        if self.session is None:
            return None
        target = dest_dir / "cluster-logs"
        self.session.save_pod_logs(target)
        return target

    # -- helpers ----------------------------------------------------------------------------------------

    def _tools(self) -> Tools:
        if self.tools is None:
            raise MeshReleaseError("the cluster backend is not started", hint="call start() first")
        return self.tools

    def _check_api_servers(self, workload: Kubectl, mesh: Kubectl) -> None:
        ns = self.settings.namespace
        try:
            workload.get_json("namespace", ns)
        except CommandError as exc:
            raise MeshReleaseError(
                f"cannot use namespace {ns} on the workloads' cluster: {exc.stderr.strip()[:300]}",
                hint=f"check --kubeconfig/--context; create it with kubectl create namespace {ns} and "
                "label it for sidecar injection",
            ) from None
        if not mesh.same_api_server(workload):
            self._check_mesh_namespace(mesh, ns)
        try:
            mesh.get_json(VS_RESOURCE, namespace=ns)
        except CommandError as exc:
            raise MeshReleaseError(
                f"the mesh's API server has no Istio VirtualServices API: {exc.stderr.strip()[:300]}",
                hint="on a managed mesh (ASM) pass --mesh-kubeconfig/--mesh-context of the mesh instance; "
                "otherwise check that Istio is installed",
            ) from None

    def _check_mesh_namespace(self, mesh: Kubectl, ns: str) -> None:
        """On a separate mesh API server (ASM's instance) the namespace must exist there too: listing Istio
        objects in a namespace it does not have answers with an empty list, and the first apply fails."""
        try:
            found = mesh.get_json("namespace", ns, ignore_not_found=True)
        except CommandError as exc:
            if "forbidden" in exc.stderr.lower():
                return  # no right to read namespaces: the apply will tell
            raise MeshReleaseError(
                f"cannot reach the mesh's API server: {exc.stderr.strip()[:300]}",
                hint="check --mesh-kubeconfig/--mesh-context (ASM: the mesh instance's kubeconfig)",
            ) from None
        if found:
            return
        connection = " ".join(mesh.connection_args())
        kubectl = f"kubectl {connection} " if connection else "kubectl "
        raise MeshReleaseError(
            f"namespace {ns} does not exist on the mesh's API server (Istio objects go there; on ASM the mesh "
            "instance has namespaces of its own)",
            hint=f"create it and label it for injection through the mesh kubeconfig: `{kubectl}create namespace "
            f"{ns}` then `{kubectl}label namespace {ns} istio-injection=enabled` (ASM 1.28+ syncs the label to "
            "the data-plane cluster)",
        )

    def _missing(self, session: MeshSession, docs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The Bookinfo objects not present yet (checked on the API server each belongs to)."""
        ns = self.settings.namespace
        prepared = [with_namespace(d, ns) for d in docs]
        present = set()
        for target, group in split_by_api_server(prepared, session.workload, session.mesh):
            path = session.writer.write(group, f"bookinfo-present-{target.role}")
            present |= {object_key(live, ns) for live in target.get_file_json(path)}
        return [d for d in prepared if object_key(d, ns) not in present]

    def _load_balancer_url(self, workload: Kubectl) -> str:
        s = self.settings
        service = workload.get_json("service", s.gateway_service, namespace=s.gateway_namespace, ignore_not_found=True)
        ingress = ((service or {}).get("status") or {}).get("loadBalancer", {}).get("ingress") or []
        address = str(ingress[0].get("ip") or ingress[0].get("hostname") or "") if ingress else ""
        if not address:
            raise MeshReleaseError(
                f"no address for the ingress gateway: service {s.gateway_namespace}/{s.gateway_service} "
                "has no load-balancer ingress",
                hint="pass --ingress-url http://<gateway address>[:port] (e.g. the ASM ingress gateway's IP)",
            )
        port = next(
            (int(p["port"]) for p in (service.get("spec") or {}).get("ports") or [] if p.get("name") == "http2"),
            80,
        )
        return f"http://{address}" if port == 80 else f"http://{address}:{port}"

    def _reviews_pinned(self, mesh: Kubectl) -> bool:
        """True when a VirtualService not applied by this run routes reviews (the warm-up then cannot expect
        every version)."""
        ns = self.settings.namespace
        host = fqdn("reviews", ns)
        live = mesh.list_items(VS_RESOURCE, namespace=ns)
        return any(vs.mesh_bound and host in vs.hosts for vs in (VirtualService.from_object(o, ns) for o in live))
