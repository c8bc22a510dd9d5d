"""Sidecar outbound route configurations: one per listener port (``"9080"``), holding a virtual host per
service or VirtualService host on that port, sorted by name, and the catch-all virtual host last
(istio/istio 1.30.3 pilot/pkg/networking/core/httproute.go; docs/istio-semantics.md).

On sidecars one VirtualService serves a host, chosen by :mod:`meshrelease.k8s.istio_routes`: VirtualServices
are taken in istiod's order, a service goes to those naming it exactly or to its wildcard owner, and a later
virtual host for a name already served is dropped. A VirtualService whose routes are all filtered out for
this proxy (sourceLabels, sourceNamespace, port, match gateways) contributes nothing, so the host falls
back to its default route.
"""

from __future__ import annotations

from meshrelease.backends.local.model import ProxySpec
from meshrelease.backends.local.translate.hosts import service_domains
from meshrelease.backends.local.translate.policy import PolicyResolver
from meshrelease.backends.local.translate.registry import MeshIndex, ServiceInfo
from meshrelease.backends.local.translate.routes import NO_TIMEOUT, RouteContext, default_route, vs_routes
from meshrelease.backends.local.translate.values import JsonDict
from meshrelease.k8s.hosts import MESH_GATEWAY
from meshrelease.k8s.istio_routes import sidecar_owners, split_hosts, visible_virtual_services

ROUTE_CONFIG_TYPE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
PASSTHROUGH_CLUSTER = "PassthroughCluster"
ALLOW_ANY = "ALLOW_ANY"
REGISTRY_ONLY = "REGISTRY_ONLY"
OUTBOUND_POLICIES = (ALLOW_ANY, REGISTRY_ONLY)
VS_ONLY_PORT = 80  # a VirtualService naming no registry service lands in route configuration "80"


def route_config_defaults() -> JsonDict:
    """Fields istiod sets on every outbound and gateway route configuration."""
    return {
        "validate_clusters": False,  # a route to a missing subset cluster answers 503 NC instead of a NACK
        "max_direct_response_body_size_bytes": 1048576,
        "ignore_port_in_host_matching": True,
    }


def catch_all_virtual_host(outbound_policy: str) -> JsonDict:
    """``allow_any`` (to PassthroughCluster) or ``block_all`` (502), appended after the sorted hosts."""
    if outbound_policy == REGISTRY_ONLY:
        route: JsonDict = {"name": "block_all", "match": {"prefix": "/"}, "direct_response": {"status": 502}}
        name = "block_all"
    else:
        route = {
            "name": "allow_any",
            "match": {"prefix": "/"},
            "route": {"cluster": PASSTHROUGH_CLUSTER, "timeout": NO_TIMEOUT, "max_grpc_timeout": NO_TIMEOUT},
        }
        name = "allow_any"
    return {"name": name, "domains": ["*"], "routes": [route], "include_request_attempt_count": True}


def sidecar_route_config(
    proxy: ProxySpec, port: int, index: MeshIndex, policies: PolicyResolver, outbound_policy: str
) -> JsonDict:
    """The route configuration named ``str(port)`` for one sidecar."""
    ctx = RouteContext(
        index=index,
        policies=policies,
        client_namespace=proxy.namespace,
        client_labels=dict(proxy.labels),
        gateway_names=frozenset({MESH_GATEWAY}),
        listen_port=port,
    )
    groups: list[tuple[list[str], list[ServiceInfo], list[JsonDict]]] = []
    covered: set[str] = set()
    virtual_services = visible_virtual_services(index.virtual_services, proxy.namespace, MESH_GATEWAY)
    owners = sidecar_owners(virtual_services, index.services)
    for vs in virtual_services:
        others, served = split_hosts(vs, index.services, owners)
        services = [index.services[host] for host in served]
        http_ports = {p.port for svc in services for p in svc.ports if p.is_http} or {VS_ONLY_PORT}
        if port not in http_ports:
            continue
        routes = vs_routes(vs, ctx)
        if not routes:
            continue
        on_port = [svc for svc in services if (sp := svc.port(port)) is not None and sp.is_http]
        groups.append((others, on_port, routes))
        covered.update(svc.fqdn for svc in on_port)
    for fqdn, svc in sorted(index.services.items()):
        service_port = svc.port(port)
        if service_port is not None and service_port.is_http and fqdn not in covered:
            groups.append(([], [svc], [default_route(svc, service_port, ctx)]))

    virtual_hosts: list[JsonDict] = []
    names: set[str] = set()
    used_domains: set[str] = set()
    for others, services, routes in groups:
        candidates = [(f"{host}:{port}", [host]) for host in others]
        candidates += [
            (f"{svc.fqdn}:{port}", service_domains(svc.name, svc.namespace, svc.fqdn, proxy.namespace))
            for svc in services
        ]
        for name, domains in candidates:
            kept = [d for d in domains if d.lower() not in used_domains]
            if name in names or not kept:
                continue  # served by an older VirtualService or an earlier virtual host
            names.add(name)
            used_domains.update(d.lower() for d in kept)
            virtual_hosts.append(
                {
                    "name": name,
                    "domains": kept,
                    "routes": routes,
                    "include_request_attempt_count": True,
                }
            )
    virtual_hosts.sort(key=lambda vh: str(vh["name"]))
    virtual_hosts.append(catch_all_virtual_host(outbound_policy))
    return {
        "@type": ROUTE_CONFIG_TYPE,
        "name": str(port),
        "virtual_hosts": virtual_hosts,
        **route_config_defaults(),
    }
