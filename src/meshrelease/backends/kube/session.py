"""What the kind and cluster backends share: Bookinfo on a mesh that kubectl and istioctl reach.

A :class:`MeshSession` holds the kubectl of the workloads' API server and the one of the mesh's (the same
on kind; separate on a managed mesh such as ASM, which keeps Istio objects on the mesh instance), istioctl
bound to the workloads' cluster (where the proxies run), the record of applied objects, the proxy sync and
the diagnostics. The backends add how the cluster and Istio come to exist.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from meshrelease.backends.base import ApplyResult, ObjectDoc
from meshrelease.backends.kube.diagnostics import PROXY_CONTAINER, ProxyDiagnostics, ProxyRef
from meshrelease.backends.kube.istioctl import Istioctl
from meshrelease.backends.kube.kubectl import Kubectl
from meshrelease.backends.kube.manifests import (
    ManifestWriter,
    deployment_images,
    load_manifest_file,
    set_bookinfo_tag,
    with_namespace,
)
from meshrelease.backends.kube.objects import AppliedObjects, split_by_api_server
from meshrelease.backends.kube.runner import CommandRunner
from meshrelease.backends.kube.sync import ProxySync, SyncTargets
from meshrelease.backends.kube.versions import image_tag
from meshrelease.backends.kube.warmup import ClientFactory, bookinfo_client, warm_up
from meshrelease.errors import MeshReleaseError

INJECTION_LABEL = "istio-injection"
REVISION_LABEL = "istio.io/rev"


class MeshSession:
    """Bookinfo, routing objects, sync and diagnostics on one mesh (see the module docstring)."""

    def __init__(
        self,
        runner: CommandRunner,
        *,
        workload: Kubectl,
        mesh: Kubectl,
        istioctl: Istioctl,
        namespace: str,
        gateway_namespace: str = "istio-system",
        gateway_selector: str = "istio=ingressgateway",
        poll_interval: float = 1.0,
        client_factory: ClientFactory | None = None,
        workdir: Path | None = None,
    ) -> None:
        self.runner = runner
        self.workload = workload
        self.mesh = mesh
        self.istioctl = istioctl
        self.namespace = namespace
        self.gateway_namespace = gateway_namespace
        self.gateway_selector = gateway_selector
        self.poll_interval = poll_interval
        self.client_factory = client_factory or bookinfo_client
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="meshrelease-kube-"))
        self.writer = ManifestWriter(self.workdir / "manifests")
        self.objects = AppliedObjects(workload, mesh, self.writer, namespace)
        self.sync = ProxySync(
            workload,
            mesh,
            istioctl,
            SyncTargets(namespace, gateway_namespace=gateway_namespace, gateway_selector=gateway_selector),
            interval=poll_interval,
        )
        self.diagnostics = ProxyDiagnostics(
            workload,
            istioctl,
            [
                ProxyRef("productpage", namespace, "app=productpage"),
                ProxyRef("ingress gateway", gateway_namespace, gateway_selector),
            ],
        )

    # -- Bookinfo ------------------------------------------------------------------------------------------

    @staticmethod
    def bookinfo_manifests(fixtures: Path, tag: str, registry: str | None = None) -> list[dict[str, Any]]:
        """bookinfo.yaml (images at ``tag``, from ``registry`` when given) and bookinfo-gateway.yaml."""
        docs = set_bookinfo_tag(load_manifest_file(fixtures / "bookinfo.yaml"), tag, registry)
        return docs + load_manifest_file(fixtures / "bookinfo-gateway.yaml")

    def apply_infrastructure(self, docs: Sequence[ObjectDoc], label: str) -> list[str]:
        """Apply setup objects (not recorded as this run's routing): workloads and Istio objects each to their
        API server."""
        lines: list[str] = []
        prepared = [with_namespace(d, self.namespace) for d in docs]
        for target, group in split_by_api_server(prepared, self.workload, self.mesh):
            lines += target.apply_file(self.writer.write(group, f"{label}-{target.role}"), source=label)[0]
        return lines

    def label_namespace_for_injection(self) -> None:
        """``kubectl label namespace <ns> istio-injection=enabled``, unless it uses a revision label."""
        ns = self.workload.get_json("namespace", self.namespace)
        labels = ((ns or {}).get("metadata") or {}).get("labels") or {}
        if labels.get(INJECTION_LABEL) == "enabled" or REVISION_LABEL in labels:
            return
        self.workload.label("namespace", self.namespace, {INJECTION_LABEL: "enabled"})

    def roll_out(self, deployments: Sequence[str], *, timeout: float, restart: bool = True) -> None:
        """``kubectl rollout status`` for each deployment, then make sure each pod has its sidecar.

        Pods created before the namespace was labelled have none; with ``restart`` their deployments are
        restarted once, otherwise (someone else's workloads) that is an error saying what to do."""
        for name in deployments:
            self.workload.rollout_status(name, namespace=self.namespace, timeout=timeout)
        missing = self.deployments_without_sidecar(deployments)
        if missing and restart:
            self.workload.rollout_restart(missing, namespace=self.namespace)
            for name in missing:
                self.workload.rollout_status(name, namespace=self.namespace, timeout=timeout)
            missing = self.deployments_without_sidecar(missing)
        if missing:
            raise MeshReleaseError(
                f"pods of {', '.join(missing)} in namespace {self.namespace} run without the Istio sidecar",
                hint=f"label the namespace for injection (kubectl label namespace {self.namespace} "
                "istio-injection=enabled, or istio.io/rev=<revision> on a revisioned or managed mesh), "
                f"restart them (kubectl rollout restart deployment -n {self.namespace}) and check the "
                "injector webhook (istioctl analyze)",
            )

    def deployments_without_sidecar(self, deployments: Sequence[str]) -> list[str]:
        """Deployments whose newest running pod has no ``istio-proxy`` container."""
        pods = self.workload.pods(self.namespace, "app")
        out: list[str] = []
        for name in deployments:
            mine = [p for p in pods if _owner_deployment(p) == name]
            if not mine or not _has_sidecar(mine[0]):
                out.append(name)
        return out

    def bookinfo_tag(self) -> str:
        """The image tag productpage runs (read from its Deployment), "" when unknown."""
        dep = self.workload.get_json("deployment", "productpage-v1", namespace=self.namespace, ignore_not_found=True)
        images = deployment_images(dep) if isinstance(dep, Mapping) else []
        return image_tag(images[0]) if images else ""

    def warm_up(self, url: str, *, versions: Sequence[str], timeout: float) -> dict[str, int]:
        """Fetch productpage through ``url`` until each of ``versions`` answered (see warmup.py)."""
        client = self.client_factory(url)
        try:
            seen = warm_up(
                client,
                url=url,
                versions=versions,
                timeout=timeout,
                interval=min(self.poll_interval, 1.0),
                hint=f"a VirtualService for reviews may pin one version (kubectl get virtualservices -n "
                f"{self.namespace}); check the pods (kubectl get pods -n {self.namespace}) and the gateway",
            )
        finally:
            client.close()
        return dict(seen)

    # -- per step ------------------------------------------------------------------------------------------

    def apply(self, docs: Sequence[ObjectDoc], *, source: str | None) -> ApplyResult:
        return self.objects.apply(docs, source=source)

    def delete(self, docs: Sequence[ObjectDoc], *, source: str | None) -> ApplyResult:
        return self.objects.delete(docs, source=source)

    def reset(self, *, routing_only: bool) -> list[str]:
        return self.objects.reset(routing_only=routing_only)

    def wait_synced(self, timeout: float) -> float:
        """Wait until the proxies carry every change since the last successful wait (see sync.py)."""
        changes = self.objects.take_pending()
        try:
            return self.sync.wait(changes, timeout)
        except BaseException:
            self.objects.restore_pending(changes)  # a later wait_synced waits for them again
            raise

    def access_log_lines(self, request_id: str) -> list[str]:
        return self.diagnostics.access_log_lines(request_id)

    def collect_diagnostics(self) -> dict[str, str]:
        out = self.diagnostics.collect()
        for note in self.sync.notes:
            out.setdefault("notes", "")
            out["notes"] += note + "\n"
        return out

    def save_pod_logs(self, dest: Path) -> list[Path]:
        """Logs of productpage (app + sidecar) and of the ingress gateway under ``dest``."""
        return self.diagnostics.save_logs(
            dest,
            containers={
                "productpage": ["productpage", PROXY_CONTAINER],
                "ingress gateway": [PROXY_CONTAINER],
            },
        )

    def remove_workdir(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def _owner_deployment(pod: Mapping[str, Any]) -> str:
    """The Deployment a pod belongs to, from ``<deployment>-<replicaset hash>-<suffix>`` or its labels."""
    labels = (pod.get("metadata") or {}).get("labels") or {}
    if "app" in labels and "version" in labels:
        return f"{labels['app']}-{labels['version']}"
    name = str((pod.get("metadata") or {}).get("name") or "")
    return name.rsplit("-", 2)[0]


def _has_sidecar(pod: Mapping[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    containers = [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
    return any(c.get("name") == PROXY_CONTAINER for c in containers if isinstance(c, Mapping))
