"""Kubernetes + Istio objects -> Envoy v3 resources for every proxy of the local mesh.

The output reproduces what istiod renders (names, fields, defaults; istio/istio 1.30.3
pilot/pkg/networking/core; docs/istio-semantics.md) with the local mesh's differences: no iptables and no
VIP (listeners bind 127.0.0.1 on allocated ports and workloads send absolute-form proxy requests to them),
no EDS (STATIC clusters with inline endpoints) and route configurations read from files. The runtime writes
``lds.json``, ``cds.json`` and ``rds/<name>.json`` (see :func:`rds_path`) per proxy from the returned
:class:`Translation`. Identical configurations are built once and shared between proxies: treat the
resources as read-only.

Helper modules: ``registry`` (services, endpoints, object index), ``hosts`` (service domains; the host
rules are :mod:`meshrelease.k8s.hosts`), ``policy`` (DestinationRules), ``match`` and ``routes`` (Envoy
routes from the shared route model :mod:`meshrelease.k8s.istio_routes`), ``sidecar`` and ``gateway``
(route configurations), ``clusters``, ``listeners`` and ``supported`` (fields the local backend rejects).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from meshrelease.backends.local.model import Pod, ProxyResources, ProxySpec, StoredObject, Translation
from meshrelease.backends.local.translate.clusters import proxy_clusters
from meshrelease.backends.local.translate.errors import TranslationError
from meshrelease.backends.local.translate.gateway import (
    GatewayServer,
    gateway_route_config,
    gateway_route_config_name,
    gateway_servers,
)
from meshrelease.backends.local.translate.listeners import (
    ACCESS_LOG_FORMAT,
    access_log_format,
    http_listener,
    rds_path,
)
from meshrelease.backends.local.translate.policy import PolicyResolver
from meshrelease.backends.local.translate.registry import AUTO, MeshIndex, build_index
from meshrelease.backends.local.translate.sidecar import OUTBOUND_POLICIES, sidecar_route_config
from meshrelease.backends.local.translate.supported import scan
from meshrelease.backends.local.translate.values import JsonDict
from meshrelease.errors import UserInputError
from meshrelease.k8s import gateway_api

__all__ = [
    "ACCESS_LOG_FORMAT",
    "DEFAULT_GATEWAY_SERVICE_PORTS",
    "TranslateOptions",
    "TranslationError",
    "access_log_format",
    "check_supported",
    "gateway_listener_ports",
    "http_service_ports",
    "rds_path",
    "translate",
]

DEFAULT_GATEWAY_SERVICE_PORTS: dict[int, int] = {80: 8080, 443: 8443}
"""The default istio-ingressgateway Service: port -> targetPort."""


@dataclass
class TranslateOptions:
    """Mesh-wide settings (MeshConfig and the gateway Service, which the local mesh does not store)."""

    gateway_service_ports: dict[int, int] = field(default_factory=lambda: dict(DEFAULT_GATEWAY_SERVICE_PORTS))
    cluster_domain: str = "cluster.local"
    outbound_traffic_policy: str = "ALLOW_ANY"  # or "REGISTRY_ONLY": unknown hosts get 502 (block_all)


def check_supported(objects: Sequence[StoredObject]) -> list[str]:
    """One message per field the local backend cannot render, naming ``Kind ns/name`` and the field path."""
    return scan(objects)[0]


def http_service_ports(objects: Sequence[StoredObject]) -> list[int]:
    """The Service ports (sorted, unique) that get an outbound HTTP listener on every sidecar."""
    index = build_index(objects, [], TranslateOptions().cluster_domain)
    return sorted({p.port for svc in index.services.values() for p in svc.ports if p.is_http})


def gateway_listener_ports(
    objects: Sequence[StoredObject], gateway: ProxySpec, options: TranslateOptions | None = None
) -> list[int]:
    """The resolved ports (sorted, unique) the gateway proxy needs listeners for: the HTTP servers of the
    Gateways selecting it, a port equal to a gateway Service port replaced by its targetPort."""
    options = options or TranslateOptions()
    index = build_index(objects, [], options.cluster_domain)
    return sorted({s.resolved for s in gateway_servers(index, gateway, options.gateway_service_ports)})


def managed_gateways(
    objects: Sequence[StoredObject], options: TranslateOptions | None = None
) -> list[gateway_api.ManagedGateway]:
    """The Gateway API Gateways istiod would deploy a gateway for (class ``istio``)."""
    options = options or TranslateOptions()
    return build_index(objects, [], options.cluster_domain).gateway_api.managed


def translate(
    objects: Sequence[StoredObject],
    pods: Sequence[Pod],
    proxies: Sequence[ProxySpec],
    options: TranslateOptions | None = None,
) -> Translation:
    """Envoy listeners, route configurations and clusters for every proxy.

    Raises :class:`TranslationError` (a ValidationError) listing every unsupported field, or when a
    Service's named targetPort cannot be resolved; :class:`UserInputError` for bad options."""
    options = options or TranslateOptions()
    if options.outbound_traffic_policy not in OUTBOUND_POLICIES:
        raise UserInputError(
            f"outbound traffic policy {options.outbound_traffic_policy!r} is not one of {', '.join(OUTBOUND_POLICIES)}"
        )
    errors, warnings = scan(objects)
    if errors:
        raise TranslationError(errors)
    index = build_index(objects, pods, options.cluster_domain)
    for warning in warnings:
        index.warn(warning)
    _warn_sniffed_ports(index)
    policies = PolicyResolver(index)
    clusters_by_namespace: dict[str, list[JsonDict]] = {}
    route_configs: dict[tuple[str, int, tuple[tuple[str, str], ...]], JsonDict] = {}
    out: dict[str, ProxyResources] = {}
    for proxy in proxies:
        if proxy.id in out:
            raise UserInputError(f"two proxies share the id {proxy.id!r}")
        if proxy.namespace not in clusters_by_namespace:
            clusters_by_namespace[proxy.namespace] = proxy_clusters(proxy, index, policies)
        resources = ProxyResources(clusters=list(clusters_by_namespace[proxy.namespace]))
        if proxy.kind == "gateway":
            _gateway_resources(proxy, resources, index, policies, options)
        else:
            _sidecar_resources(proxy, resources, index, policies, options, route_configs)
        out[proxy.id] = resources
    return Translation(proxies=out, warnings=list(index.warnings), statuses=dict(index.gateway_api.statuses))


def _sidecar_resources(
    proxy: ProxySpec,
    resources: ProxyResources,
    index: MeshIndex,
    policies: PolicyResolver,
    options: TranslateOptions,
    cache: dict[tuple[str, int, tuple[tuple[str, str], ...]], JsonDict],
) -> None:
    # A sidecar's route configuration depends on its namespace, the port and the labels sourceLabels test.
    labels = tuple(sorted((k, v) for k, v in proxy.labels.items() if k in index.source_label_keys))
    for port in sorted(proxy.bind_ports):
        resources.listeners.append(
            http_listener(
                port=port,
                bind_port=proxy.bind_ports[port],
                route_config_name=str(port),
                xds_dir=proxy.xds_dir,
                proxy_id=proxy.id,
                access_log_path=proxy.access_log_path,
                gateway=False,
            )
        )
        key = (proxy.namespace, port, labels)
        if key not in cache:
            cache[key] = sidecar_route_config(proxy, port, index, policies, options.outbound_traffic_policy)
        resources.route_configs.append(cache[key])


def _gateway_resources(
    proxy: ProxySpec,
    resources: ProxyResources,
    index: MeshIndex,
    policies: PolicyResolver,
    options: TranslateOptions,
) -> None:
    by_port: dict[int, list[GatewayServer]] = {}
    for server in gateway_servers(index, proxy, options.gateway_service_ports):
        by_port.setdefault(server.resolved, []).append(server)
    for port, servers in sorted(by_port.items()):
        if port not in proxy.bind_ports:
            index.warn(
                f"gateway proxy {proxy.id}: no bind port allocated for resolved Gateway port {port} "
                f"(servers of {', '.join(sorted({s.gateway.ref for s in servers}))}); its listener is skipped"
            )
            continue
        name = gateway_route_config_name(port)
        resources.listeners.append(
            http_listener(
                port=port,
                bind_port=proxy.bind_ports[port],
                route_config_name=name,
                xds_dir=proxy.xds_dir,
                proxy_id=proxy.id,
                access_log_path=proxy.access_log_path,
                gateway=True,
            )
        )
        resources.route_configs.append(gateway_route_config(proxy, port, servers, index, policies))


def _warn_sniffed_ports(index: MeshIndex) -> None:
    for svc in index.services.values():
        for port in svc.ports:
            if port.protocol == AUTO:
                index.warn(
                    f"{svc.ref}: spec.ports[{port.index}] (port {port.port}) names no protocol "
                    "(http, http-*, grpc, … or appProtocol); istiod would sniff it on the service VIP, "
                    "the local mesh treats it as HTTP on the shared port listener"
                )
