"""What the kind and cluster backends share: once started, a step's work goes to their MeshSession."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

from meshrelease.backends.base import ApplyResult, ObjectDoc
from meshrelease.backends.kube.port_forward import PortForward
from meshrelease.backends.kube.session import MeshSession
from meshrelease.errors import MeshReleaseError

log = logging.getLogger("meshrelease.backends.kube")
GATEWAY_RESOURCE = "gateways.gateway.networking.k8s.io"


class SessionBackend(ABC):
    """Base of KindBackend and ClusterBackend: the Backend methods that delegate to the started session."""

    name: str
    session: MeshSession | None = None
    collect_logs_dir: Path | None = None
    _ingress_url: str = ""
    _forwards: dict[tuple[str, str, int | None], PortForward] | None = None  # gateway_url's port-forwards

    @abstractmethod
    def close(self) -> None:
        """Tear down what this run created, nothing else."""

    @abstractmethod
    def collect_logs(self, dest_dir: Path) -> Path | None:
        """Save the cluster's logs under ``dest_dir``; returns where they went."""

    def finish(self, *, failed: bool) -> Path | None:
        """End a session: on failure with ``--collect-logs``, save the logs first; then ``close()``.

        Returns where the logs went (None when none were collected). A failure to collect is logged, never
        raised over the session's own failure; ``close()`` always runs."""
        saved: Path | None = None
        try:
            if failed and self.collect_logs_dir is not None:
                try:
                    saved = self.collect_logs(self.collect_logs_dir)
                except MeshReleaseError as exc:
                    log.warning("could not collect logs into %s: %s", self.collect_logs_dir, exc)
        finally:
            self.close()
        return saved

    @property
    def ingress_url(self) -> str:
        return self._ingress_url

    def gateway_url(self, namespace: str, name: str, port: int | None = None) -> str:
        """The Gateway's load-balancer address when it reports an external one (``status.addresses``), else a
        ``kubectl port-forward`` to the Service istiod deployed for it (``<name>-istio``), kept for the session."""
        key = (namespace, name, port)
        if self._forwards is None:
            self._forwards = {}
        if key in self._forwards:
            return self._forwards[key].url
        workload = self._session().workload
        gateway = workload.get_json(GATEWAY_RESOURCE, name, namespace=namespace, ignore_not_found=True)
        if not gateway:
            raise MeshReleaseError(
                f"no Gateway API Gateway {namespace}/{name} on the cluster",
                hint="apply it in a step before the expectations that come in through it "
                "(e.g. Istio's samples/bookinfo/gateway-api/bookinfo-gateway.yaml)",
            )
        listeners = (gateway.get("spec") or {}).get("listeners") or []
        ports = [int(item.get("port", 0)) for item in listeners if item.get("protocol") == "HTTP"]
        if not ports or (port is not None and port not in ports):
            raise MeshReleaseError(
                f"the Gateway {namespace}/{name} has no HTTP listener"
                + (f" on port {port} (it has: {', '.join(map(str, ports)) or 'none'})" if port is not None else "")
            )
        chosen = port if port is not None else ports[0]
        addresses = ((gateway.get("status") or {}).get("addresses")) or []
        external = [str(a.get("value", "")) for a in addresses if a.get("value") and ".svc." not in str(a["value"])]
        if external and self.name == "cluster":
            host = external[0]
            return f"http://{host}" if chosen == 80 else f"http://{host}:{chosen}"
        argv = workload.argv(["port-forward", "-n", namespace, f"service/{name}-istio", f":{chosen}"])
        forward = PortForward(argv)
        self._forwards[key] = forward
        return forward.url

    @property
    def port_forwards(self) -> list[PortForward]:
        """The ``kubectl port-forward`` processes :meth:`gateway_url` keeps running."""
        return list((self._forwards or {}).values())

    def stop_port_forwards(self) -> None:
        """End every ``kubectl port-forward`` :meth:`gateway_url` started."""
        forwards, self._forwards = self._forwards or {}, None
        for forward in forwards.values():
            forward.stop()

    def apply(self, docs: Sequence[ObjectDoc], *, source: str | None = None) -> ApplyResult:
        return self._session().apply(docs, source=source)

    def delete(self, docs: Sequence[ObjectDoc], *, source: str | None = None) -> ApplyResult:
        return self._session().delete(docs, source=source)

    def reset_routing(self) -> None:
        self._session().reset(routing_only=True)

    def wait_synced(self, timeout: float = 30.0) -> float:
        return self._session().wait_synced(timeout)

    def access_log_lines(self, request_id: str) -> list[str]:
        return self._session().access_log_lines(request_id)

    def diagnostics(self) -> dict[str, str]:
        return self._session().collect_diagnostics()

    def _session(self) -> MeshSession:
        if self.session is None:
            raise MeshReleaseError(f"the {self.name} backend is not started", hint="call start() first")
        return self.session
