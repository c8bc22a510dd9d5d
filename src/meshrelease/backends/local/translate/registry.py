"""The translator's view of the applied objects: services and their endpoints, VirtualServices,
DestinationRules and Gateways, indexed and ordered the way istiod orders them.

There is no VIP and no EDS locally: a service's endpoints are the pods of its namespace whose labels are a
superset of its selector, each reached on 127.0.0.1 at the loopback port the pod serves the target port on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from meshrelease.backends.local.model import Pod, StoredObject
from meshrelease.backends.local.translate.errors import TranslationError
from meshrelease.backends.local.translate.values import (
    JsonDict,
    as_dict,
    as_int,
    as_list,
    as_str,
    labels_match,
    string_map,
)
from meshrelease.k8s import gateway_api
from meshrelease.k8s.hosts import fqdn
from meshrelease.k8s.istio_routes import VirtualService
from meshrelease.k8s.objects import GATEWAY_API_GROUP, ISTIO_GROUP

ROOT_NAMESPACE = "istio-system"

# Istio protocol from a port name prefix or appProtocol (istio/istio 1.30.3 pkg/config/kube/conversion.go
# ConvertProtocol, pkg/config/protocol/instance.go Parse).
_HTTP_PROTOCOLS = {"http": "HTTP", "http2": "HTTP2", "grpc": "GRPC", "grpc-web": "GRPC-Web"}
_OTHER_PROTOCOLS = {"https", "tcp", "tls", "mongo", "mysql", "redis", "udp", "thrift", "http_proxy"}
_APP_PROTOCOLS = {"kubernetes.io/h2c": "HTTP2", "kubernetes.io/ws": "HTTP", "kubernetes.io/wss": "OTHER"}
AUTO = "AUTO"  # protocol sniffing: unnamed or unrecognised port name
OTHER = "OTHER"


def port_protocol(name: str, app_protocol: str) -> str:
    """``HTTP``, ``HTTP2``, ``GRPC``, ``GRPC-Web``, ``OTHER`` (TCP-like) or ``AUTO`` (sniffed)."""
    app = app_protocol.lower()
    if app:
        if app in _HTTP_PROTOCOLS:
            return _HTTP_PROTOCOLS[app]
        if app in _APP_PROTOCOLS:
            return _APP_PROTOCOLS[app]
        if app in _OTHER_PROTOCOLS:
            return OTHER
    lowered = name.lower()
    if lowered == "grpc-web" or lowered.startswith("grpc-web-"):
        return "GRPC-Web"
    prefix = lowered.split("-", 1)[0]
    if prefix in _HTTP_PROTOCOLS:
        return _HTTP_PROTOCOLS[prefix]
    if prefix in _OTHER_PROTOCOLS:
        return OTHER
    return AUTO


@dataclass(frozen=True)
class ServicePort:
    port: int
    name: str
    protocol: str  # see port_protocol
    target_port: int | str  # a number or a containerPort name
    index: int = 0  # position in spec.ports, for messages

    @property
    def is_http(self) -> bool:
        """Gets an outbound HTTP listener (sniffed ports are treated as HTTP locally: there is no VIP)."""
        return self.protocol != OTHER


@dataclass
class ServiceInfo:
    obj: StoredObject
    name: str
    namespace: str
    fqdn: str
    ports: list[ServicePort]
    selector: dict[str, str] | None  # None: a selectorless service (no endpoints are managed)

    def port(self, number: int) -> ServicePort | None:
        return next((p for p in self.ports if p.port == number), None)

    @property
    def ref(self) -> str:
        return f"Service {self.namespace}/{self.name}"


@dataclass(frozen=True)
class Endpoint:
    pod: Pod
    port: int  # 127.0.0.1 port


@dataclass
class DestinationRuleInfo:
    obj: StoredObject
    name: str
    namespace: str
    host: str
    export_to: list[str]
    traffic_policy: JsonDict | None
    subsets: list[JsonDict]

    @property
    def ref(self) -> str:
        return f"DestinationRule {self.namespace}/{self.name}"


@dataclass
class GatewayInfo:
    obj: StoredObject | None  # None: an internal Gateway istiod makes of a Gateway API listener
    name: str
    namespace: str
    selector: dict[str, str]
    servers: list[JsonDict]
    order: tuple[Any, ...] = ()  # creation order

    @property
    def ref(self) -> str:
        """The identity VirtualServices bind to: ``<namespace>/<name>``."""
        return f"{self.namespace}/{self.name}"


def _creation_order(obj: StoredObject) -> tuple[Any, int]:
    return (obj.created, obj.seq)


@dataclass
class MeshIndex:
    """Everything translation reads, built once per translate() call."""

    cluster_domain: str
    services: dict[str, ServiceInfo] = field(default_factory=dict)  # by FQDN
    virtual_services: list[VirtualService] = field(default_factory=list)  # oldest first
    destination_rules: list[DestinationRuleInfo] = field(default_factory=list)  # oldest first
    gateways: list[GatewayInfo] = field(default_factory=list)  # oldest first
    gateway_api: gateway_api.Conversion = field(default_factory=gateway_api.Conversion)
    deployments: dict[tuple[str, str], StoredObject] = field(default_factory=dict)
    pods: list[Pod] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    source_label_keys: frozenset[str] = frozenset()  # label keys any match ``sourceLabels`` tests
    _endpoints: dict[tuple[str, int], list[Endpoint]] = field(default_factory=dict)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def fqdn(self, host: str, namespace: str) -> str:
        return fqdn(host, namespace, self.cluster_domain)

    def service(self, host: str) -> ServiceInfo | None:
        return self.services.get(host)

    def endpoints(self, svc: ServiceInfo, port: ServicePort) -> list[Endpoint]:
        """Pods of the service's namespace that it selects and that serve ``port.target_port``, by name."""
        key = (svc.fqdn, port.port)
        cached = self._endpoints.get(key)
        if cached is not None:
            return cached
        out: list[Endpoint] = []
        if svc.selector is not None:
            for pod in sorted(self.pods, key=lambda p: p.name):
                if pod.namespace != svc.namespace or not labels_match(svc.selector, pod.labels):
                    continue
                container_port = self._container_port(svc, port, pod)
                local = pod.ports.get(container_port)
                if local is None:
                    self.warn(
                        f"{svc.ref} port {port.port}: pod {pod.namespace}/{pod.name} serves no containerPort "
                        f"{container_port}; it is left out of the endpoints"
                    )
                    continue
                out.append(Endpoint(pod=pod, port=local))
        self._endpoints[key] = out
        return out

    def _container_port(self, svc: ServiceInfo, port: ServicePort, pod: Pod) -> int:
        if isinstance(port.target_port, int):
            return port.target_port
        deployment = self.deployments.get((pod.namespace, pod.deployment))
        for container in _containers(deployment):
            for cport in as_list(container.get("ports")):
                cport = as_dict(cport)
                if cport.get("name") == port.target_port and as_int(cport.get("containerPort")):
                    return as_int(cport.get("containerPort"))
        owner = f"Deployment {pod.namespace}/{pod.deployment}" if deployment else "no Deployment found for it"
        raise TranslationError(
            [
                f"{svc.ref}: spec.ports[{port.index}].targetPort {port.target_port!r} names no containerPort "
                f"of pod {pod.namespace}/{pod.name} ({owner})"
            ],
            hint="name the containerPort in the Deployment (ports[].name) or use a port number as targetPort",
        )


def _containers(deployment: StoredObject | None) -> list[JsonDict]:
    if deployment is None:
        return []
    pod_spec = as_dict(as_dict(deployment.spec.get("template")).get("spec"))
    return [as_dict(c) for c in as_list(pod_spec.get("containers"))]


def build_index(objects: Sequence[StoredObject], pods: Sequence[Pod], cluster_domain: str) -> MeshIndex:
    """Index the applied objects (unknown kinds are ignored here; the store rejects them)."""
    index = MeshIndex(cluster_domain=cluster_domain, pods=list(pods))
    ordered: list[tuple[tuple[Any, ...], VirtualService]] = []
    gateway_api_objects: list[gateway_api.GatewayApiObject] = []
    namespace_labels: dict[str, dict[str, str]] = {}
    for obj in sorted(objects, key=_creation_order):
        kind, group = obj.key.kind, obj.key.group
        if group == GATEWAY_API_GROUP:
            gateway_api_objects.append(
                gateway_api.GatewayApiObject(
                    kind, obj.key.namespace, obj.key.name, obj.spec, obj.generation, _creation_order(obj)
                )
            )
        elif group == "" and kind == "Namespace":
            namespace_labels[obj.key.name] = obj.labels
        if group == "" and kind == "Service":
            svc = _service(obj, cluster_domain)
            index.services[svc.fqdn] = svc
        elif group == "apps" and kind == "Deployment":
            index.deployments[(obj.key.namespace, obj.key.name)] = obj
        elif group == ISTIO_GROUP and kind == "VirtualService":
            ordered.append(
                (
                    _creation_order(obj),
                    VirtualService.from_spec(obj.key.namespace, obj.key.name, obj.spec, cluster_domain),
                )
            )
        elif group == ISTIO_GROUP and kind == "DestinationRule":
            index.destination_rules.append(_destination_rule(obj, index))
        elif group == ISTIO_GROUP and kind == "Gateway":
            index.gateways.append(_gateway(obj))
    if gateway_api_objects:
        _add_gateway_api(index, gateway_api_objects, namespace_labels, ordered)
    index.virtual_services = [vs for _, vs in sorted(ordered, key=lambda item: item[0])]
    index.source_label_keys = frozenset(
        key
        for vs in index.virtual_services
        for rule in vs.http
        for match in as_list(rule.get("match"))
        for key in as_dict(as_dict(match).get("sourceLabels"))
    )
    return index


def _service(obj: StoredObject, cluster_domain: str) -> ServiceInfo:
    spec = obj.spec
    ports: list[ServicePort] = []
    for position, raw in enumerate(as_list(spec.get("ports"))):
        raw = as_dict(raw)
        number = as_int(raw.get("port"))
        if not number or as_str(raw.get("protocol")).upper() in ("UDP", "SCTP"):
            continue
        target = raw.get("targetPort")
        target_port: int | str = number
        if isinstance(target, str) and target and not target.isdigit():
            target_port = target
        elif as_int(target):
            target_port = as_int(target)
        name = as_str(raw.get("name"))
        protocol = port_protocol(name, as_str(raw.get("appProtocol")))
        ports.append(ServicePort(number, name, protocol, target_port, position))
    selector = spec.get("selector")
    return ServiceInfo(
        obj=obj,
        name=obj.key.name,
        namespace=obj.key.namespace,
        fqdn=fqdn(obj.key.name, obj.key.namespace, cluster_domain),
        ports=ports,
        selector=string_map(selector) if isinstance(selector, dict) and selector else None,
    )


def _export_to(spec: JsonDict) -> list[str]:
    return [e for e in as_list(spec.get("exportTo")) if isinstance(e, str)]


def _destination_rule(obj: StoredObject, index: MeshIndex) -> DestinationRuleInfo:
    spec, ns = obj.spec, obj.key.namespace
    policy = spec.get("trafficPolicy")
    return DestinationRuleInfo(
        obj=obj,
        name=obj.key.name,
        namespace=ns,
        host=index.fqdn(as_str(spec.get("host")), ns),
        export_to=_export_to(spec),
        traffic_policy=policy if isinstance(policy, dict) else None,
        subsets=[as_dict(s) for s in as_list(spec.get("subsets")) if as_str(as_dict(s).get("name"))],
    )


def _gateway(obj: StoredObject) -> GatewayInfo:
    spec = obj.spec
    return GatewayInfo(
        obj=obj,
        name=obj.key.name,
        namespace=obj.key.namespace,
        selector=string_map(spec.get("selector")),
        servers=[as_dict(s) for s in as_list(spec.get("servers"))],
        order=_creation_order(obj),
    )


def _add_gateway_api(
    index: MeshIndex,
    objects: list[gateway_api.GatewayApiObject],
    namespace_labels: dict[str, dict[str, str]],
    ordered: list[tuple[tuple[Any, ...], VirtualService]],
) -> None:
    """What istiod makes of the Gateway API objects: internal Gateways (one per listener, selecting the
    Gateway's deployment) and VirtualServices with gateway semantics, ordered with the others by creation."""
    services = [(svc.namespace, svc.name) for svc in index.services.values()]
    conversion = gateway_api.convert(objects, services, namespace_labels, index.cluster_domain)
    index.gateway_api = conversion
    for warning in conversion.warnings:
        index.warn(warning)
    ordered.extend(conversion.virtual_services)
    for internal in conversion.gateways:
        server = {
            "port": {"number": internal.port, "name": "default", "protocol": internal.protocol},
            "hosts": list(internal.hosts),
        }
        index.gateways.append(
            GatewayInfo(
                obj=None,
                name=internal.name,
                namespace=internal.namespace,
                selector=internal.selector,
                servers=[server],
                order=internal.order,
            )
        )
    index.gateways.sort(key=lambda gw: gw.order)
