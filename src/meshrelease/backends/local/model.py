"""Data shared by the local mesh's store, translator and runtime.

Objects are kept as the dicts they were applied as (after defaulting the namespace), so validation can
report paths exactly as written and `meshrelease get -o yaml` can print them back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from meshrelease.k8s.objects import ObjectKey


@dataclass
class StoredObject:
    key: ObjectKey
    api_version: str  # as last applied, e.g. "networking.istio.io/v1alpha3"
    body: dict[str, Any]  # the full object as applied (metadata.namespace filled in)
    generation: int  # 1 on create, +1 on every apply that changes spec
    created: datetime  # kept across replaces; the oldest VirtualService for a host wins on sidecars
    seq: int  # creation order, breaks ties between equal timestamps
    resource_version: int  # store-wide counter at the last change

    @property
    def spec(self) -> dict[str, Any]:
        spec = self.body.get("spec")
        return spec if isinstance(spec, dict) else {}

    @property
    def labels(self) -> dict[str, str]:
        labels = self.body.get("metadata", {}).get("labels") or {}
        return {str(k): str(v) for k, v in labels.items()}


@dataclass(frozen=True)
class Pod:
    """A running (or about to run) workload instance of the local mesh."""

    name: str  # Kubernetes-style, e.g. "reviews-v2-7f8c9d6b5-x2k4q"; also its HOSTNAME
    namespace: str
    labels: dict[str, str]
    service_account: str
    ports: dict[int, int]  # containerPort -> 127.0.0.1 port the workload listens on
    deployment: str = ""

    def address_for(self, target_port: int | str) -> int | None:
        """The loopback port serving ``target_port`` (a number or a named containerPort resolved by caller)."""
        if isinstance(target_port, int):
            return self.ports.get(target_port)
        return None


ProxyKind = Literal["sidecar", "gateway"]


@dataclass
class ProxySpec:
    """One Envoy of the local mesh, as the translator needs to know it.

    ``bind_ports`` maps a logical listener port (a Service port for sidecars, a resolved Gateway server
    port for the gateway) to the 127.0.0.1 port that listener really binds; the translator emits a listener
    only for logical ports present here. ``xds_dir`` is where the runtime writes this proxy's xDS files
    (route configurations are read from ``<xds_dir>/rds/<route config name>.json``)."""

    id: str  # e.g. "reviews-v2-7f8c9d6b5-x2k4q.default" or "istio-ingressgateway-5d9f7c8b4-abcde.istio-system"
    kind: ProxyKind
    namespace: str
    labels: dict[str, str]
    bind_ports: dict[int, int]
    xds_dir: str
    access_log_path: str | None = None
    pod: str = ""  # the pod name (HOSTNAME) this proxy belongs to


@dataclass
class ProxyResources:
    """Envoy v3 resources for one proxy, each a JSON-ready dict carrying its ``@type``."""

    listeners: list[dict[str, Any]] = field(default_factory=list)
    route_configs: list[dict[str, Any]] = field(default_factory=list)
    clusters: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Translation:
    """The translator's output for the whole mesh."""

    proxies: dict[str, ProxyResources]  # by ProxySpec.id
    warnings: list[str] = field(default_factory=list)  # analyzer-style, e.g. IST0101
    # status istiod writes on Gateway API objects, by (kind, namespace, name)
    statuses: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
