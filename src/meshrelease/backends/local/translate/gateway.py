"""Ingress gateway: which Gateway servers a gateway proxy runs, the ports its listeners bind, and the
``http.<port>`` route configurations built from the VirtualServices bound to those Gateways
(istio/istio 1.30.3 pilot/pkg/networking/core/gateway.go; docs/istio-semantics.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from meshrelease.backends.local.model import ProxySpec
from meshrelease.backends.local.translate.match import is_catch_all
from meshrelease.backends.local.translate.policy import PolicyResolver
from meshrelease.backends.local.translate.registry import GatewayInfo, MeshIndex
from meshrelease.backends.local.translate.routes import RouteContext, vs_routes
from meshrelease.backends.local.translate.sidecar import ROUTE_CONFIG_TYPE, route_config_defaults
from meshrelease.backends.local.translate.values import JsonDict, as_dict, as_int, as_list, as_str, labels_match
from meshrelease.k8s.hosts import intersect_hosts, server_hosts_for_namespace
from meshrelease.k8s.istio_routes import visible_virtual_services

HTTP_SERVER_PROTOCOLS = frozenset({"HTTP", "HTTP2", "GRPC", "GRPC-WEB"})
FIRST_UNPRIVILEGED_PORT = 1024


@dataclass(frozen=True)
class GatewayServer:
    gateway: GatewayInfo
    position: int  # index in spec.servers
    number: int  # the Gateway server port number (what route ``port`` matches compare with)
    resolved: int  # the port the gateway pod listens on
    hosts: tuple[str, ...]


def gateway_route_config_name(resolved_port: int) -> str:
    return f"http.{resolved_port}"


def gateway_servers(index: MeshIndex, proxy: ProxySpec, service_ports: Mapping[int, int]) -> list[GatewayServer]:
    """The plain-HTTP servers of every Gateway selecting ``proxy``, oldest Gateway first.

    A server port equal to a gateway Service port becomes that port's targetPort. Resolved ports below
    1024 are skipped (with a warning), as istiod skips them on an unprivileged gateway pod."""
    out: list[GatewayServer] = []
    if proxy.kind != "gateway":
        return out
    for gw in index.gateways:
        if not labels_match(gw.selector, dict(proxy.labels)):
            continue
        for position, server in enumerate(gw.servers):
            port = as_dict(server.get("port"))
            if as_str(port.get("protocol")).upper() not in HTTP_SERVER_PROTOCOLS:
                continue  # check_supported reports the protocol
            number = as_int(port.get("number"))
            if not number:
                continue
            if gw.obj is None:
                # A Gateway API listener: its deployment's pod serves the listener port itself (istiod lets
                # it bind ports below 1024).
                out.append(GatewayServer(gw, position, number, number, _hosts(server)))
                continue
            resolved = service_ports.get(number, number)
            if resolved < FIRST_UNPRIVILEGED_PORT:
                index.warn(
                    f"Gateway {gw.namespace}/{gw.name}: spec.servers[{position}] port {number} resolves to "
                    f"{resolved} (< {FIRST_UNPRIVILEGED_PORT}); istiod gives an unprivileged gateway pod no "
                    "listener for it, so neither does the local mesh"
                )
                continue
            out.append(GatewayServer(gw, position, number, resolved, _hosts(server)))
    return out


def _hosts(server: JsonDict) -> tuple[str, ...]:
    return tuple(h for h in as_list(server.get("hosts")) if isinstance(h, str) and h)


def gateway_route_config(
    proxy: ProxySpec,
    resolved_port: int,
    servers: list[GatewayServer],
    index: MeshIndex,
    policies: PolicyResolver,
) -> JsonDict:
    """``http.<resolved port>``: one virtual host per intersected host, routes of every bound
    VirtualService concatenated with catch-alls moved last; ``blackhole:<port>`` when nothing binds."""
    by_host: dict[str, JsonDict] = {}
    for server in servers:
        ctx = RouteContext(
            index=index,
            policies=policies,
            client_namespace=proxy.namespace,
            client_labels=dict(proxy.labels),
            gateway_names=frozenset({server.gateway.ref}),
            listen_port=server.number,
        )
        for vs in visible_virtual_services(index.virtual_services, proxy.namespace, server.gateway.ref):
            usable = server_hosts_for_namespace(server.hosts, server.gateway.namespace, vs.namespace)
            hosts = intersect_hosts(usable, vs.hosts)
            if not hosts:
                continue
            routes = vs_routes(vs, ctx)
            if not routes:
                continue
            for host in hosts:
                key = host.lower()
                if key in by_host:
                    by_host[key]["routes"] = [*by_host[key]["routes"], *routes]
                else:
                    by_host[key] = {
                        "name": f"{key}:{server.number}",
                        "domains": [key],
                        "routes": list(routes),
                        "include_request_attempt_count": True,
                    }
    if not by_host:
        number = servers[0].number if servers else resolved_port
        virtual_hosts = [{"name": f"blackhole:{number}", "domains": ["*"], "routes": []}]
    else:
        virtual_hosts = _collapse(sorted(by_host.values(), key=lambda vh: str(vh["name"])))
    return {
        "@type": ROUTE_CONFIG_TYPE,
        "name": gateway_route_config_name(resolved_port),
        "virtual_hosts": virtual_hosts,
        **route_config_defaults(),
    }


def _collapse(virtual_hosts: list[JsonDict]) -> list[JsonDict]:
    """Move catch-all routes last (stable), then merge virtual hosts whose route lists are identical."""
    out: list[JsonDict] = []
    seen: dict[str, JsonDict] = {}
    for vh in virtual_hosts:
        routes = vh["routes"]
        vh["routes"] = [r for r in routes if not is_catch_all(r["match"])] + [
            r for r in routes if is_catch_all(r["match"])
        ]
        key = json.dumps(vh["routes"], sort_keys=True)
        if key in seen:
            seen[key]["domains"] += vh["domains"]
            continue
        seen[key] = vh
        out.append(vh)
    return out
