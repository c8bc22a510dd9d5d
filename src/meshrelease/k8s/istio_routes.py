"""The HTTP routes istiod renders for a proxy, decided once for both backends.

The local translator builds Envoy routes from this model (adding the Envoy specifics: matchers, retries,
timeouts, faults, mirrors, header operations); the kind/cluster sync predicts from it what
``istioctl proxy-config routes`` must show. What is decided here (istio/istio 1.30.3; see
docs/istio-semantics.md):

- which VirtualServices a proxy sees, in istiod's order: bound to the proxy's gateway (``mesh`` for
  sidecars), exported to its namespace, private ones first, then those exported to its namespace by name,
  then public ones, each group oldest first (pilot/pkg/model/push_context.go VirtualServicesForGateway,
  pilot/pkg/model/virtualservice.go SelectVirtualServices);
- which of them serves a service host on sidecars: the first naming the host itself, else the first naming
  the most specific wildcard covering it (pilot/pkg/model/sidecar.go computeWildcardHostVirtualServiceIndex,
  pilot/pkg/networking/core/route/route.go separateVSHostsAndServices);
- the routes one VirtualService yields: one per ``match`` block that applies to the proxy, in order,
  stopping after the first catch-all (route.go BuildHTTPRoutesForVirtualService, TranslateRoute,
  sourceMatchHTTP, IsCatchAllRoute);
- each route's action and destinations: redirect, direct response or route; one destination takes all
  traffic, several are weighted with zero weights dropped; clusters ``outbound|<port>|<subset>|<fqdn>``
  (route.go applyHTTPRouteDestination, GetDestinationCluster);
- the route of a service host no VirtualService claims: ``default``, every path, all endpoints.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from meshrelease.k8s.hosts import (
    DEFAULT_DOMAIN,
    MESH_GATEWAY,
    fqdn,
    is_wildcard,
    most_specific,
    resolve_gateway_ref,
    resolve_gateway_refs,
    subset_of,
)

__all__ = [
    "DEFAULT_ROUTE_NAME",
    "EXPORTED",
    "PRIVATE",
    "PUBLIC",
    "DestinationRef",
    "PlannedRoute",
    "Proxy",
    "RouteAction",
    "RoutePlan",
    "VirtualService",
    "WeightedDestination",
    "applies_to",
    "cluster_name",
    "config_from_metadata",
    "config_metadata",
    "creation_order",
    "default_route_action",
    "is_catch_all",
    "parse_cluster_name",
    "plan_routes",
    "route_action",
    "sidecar_owners",
    "split_hosts",
    "visibility_tier",
    "visible_virtual_services",
]

DEFAULT_ROUTE_NAME = "default"
_CONFIG_PREFIX = "/apis/networking.istio.io/v1/namespaces"
_CONFIG_RE = re.compile(r"/namespaces/([^/]+)/virtual-service/([^/]+)$")
# The visibility groups istiod lists VirtualServices in, first to last.
PRIVATE, EXPORTED, PUBLIC = 0, 1, 2


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int:
    """Numbers and digit strings as an int, anything else 0 (fields reach here schema-checked)."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return 0


# ------------------------------------------------------------------------------------------ names
def cluster_name(port: int, subset: str, host: str) -> str:
    """istiod's outbound cluster name: ``outbound|<port>|<subset>|<fqdn>`` (subset "" for all endpoints)."""
    return f"outbound|{port}|{subset}|{host}"


def parse_cluster_name(name: str) -> tuple[int | None, str, str] | None:
    """``outbound|9080|v2|reviews.default.svc.cluster.local`` -> (9080, "v2", "reviews.default.svc…")."""
    parts = name.split("|")
    if len(parts) != 4 or parts[0] != "outbound":
        return None
    port = int(parts[1]) if parts[1].isdigit() else None
    return port, parts[2], parts[3]


def config_metadata(namespace: str, name: str) -> str:
    """The ``istio.config`` route metadata naming the VirtualService a route came from."""
    return f"{_CONFIG_PREFIX}/{namespace}/virtual-service/{name}"


def config_from_metadata(text: str) -> str:
    """``namespace/name`` of the VirtualService an ``istio.config`` metadata value names; "" if none."""
    match = _CONFIG_RE.search(text)
    return f"{match.group(1)}/{match.group(2)}" if match else ""


# ------------------------------------------------------------------------------------------ objects
@dataclass(frozen=True, eq=False)
class VirtualService:
    """A VirtualService as istiod reads it: hosts and gateway names resolved in its namespace."""

    namespace: str
    name: str
    hosts: tuple[str, ...]  # short names expanded to FQDNs (k8s.hosts.fqdn), otherwise as written
    gateways: tuple[str, ...]  # ``ns/name`` or ``mesh``; ``("mesh",)`` when none are listed
    export_to: tuple[str, ...]
    http: tuple[dict[str, Any], ...]
    # "gateway" for what istiod converts from Gateway API routes: segment-aware path prefixes, 500 for a
    # missing backend, prefix-replacing redirects and rewrites (pilot/pkg/model/virtualservice.go
    # UseGatewaySemantics); "" for a VirtualService.
    semantics: str = ""

    @classmethod
    def from_spec(
        cls, namespace: str, name: str, spec: Mapping[str, Any], domain: str = DEFAULT_DOMAIN
    ) -> VirtualService:
        return cls(
            namespace=namespace,
            name=name,
            hosts=tuple(fqdn(h, namespace, domain) for h in _list(spec.get("hosts")) if isinstance(h, str) and h),
            gateways=tuple(resolve_gateway_refs(_list(spec.get("gateways")), namespace)),
            export_to=tuple(e for e in _list(spec.get("exportTo")) if isinstance(e, str)),
            http=tuple(_dict(r) for r in _list(spec.get("http"))),
        )

    @classmethod
    def from_object(
        cls, obj: Mapping[str, Any], default_namespace: str, domain: str = DEFAULT_DOMAIN
    ) -> VirtualService:
        """From a whole object as the API server returns it (a missing namespace is ``default_namespace``)."""
        metadata = _dict(obj.get("metadata"))
        namespace = _str(metadata.get("namespace")) or default_namespace
        return cls.from_spec(namespace, _str(metadata.get("name")), _dict(obj.get("spec")), domain)

    @property
    def config(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"

    @property
    def ref(self) -> str:
        """``VirtualService namespace/name``, as messages name it."""
        return f"VirtualService {self.config}"

    @property
    def mesh_bound(self) -> bool:
        """Whether its rules apply to sidecars."""
        return MESH_GATEWAY in self.gateways

    @property
    def gateway_bound(self) -> bool:
        """Whether its rules apply to some gateway."""
        return any(g != MESH_GATEWAY for g in self.gateways)


def creation_order(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    """istiod's order of objects read from an API server: creation time, then name, then namespace
    (pilot/pkg/model/config.go sortConfigByCreationTime)."""
    metadata = _dict(obj.get("metadata"))
    return (
        _str(metadata.get("creationTimestamp")),
        _str(metadata.get("name")),
        _str(metadata.get("namespace")),
    )


def visibility_tier(export_to: Sequence[str], own_namespace: str, client_namespace: str) -> int | None:
    """The group istiod lists an object in for clients of ``client_namespace`` (pilot/pkg/model/
    push_context.go initVirtualServices): PRIVATE (``.`` or its own namespace, seen from there), EXPORTED
    (``exportTo`` names the client's namespace), PUBLIC (no ``exportTo``, or ``*``); None: not visible."""
    if not export_to or "*" in export_to:
        return PUBLIC
    if "~" in export_to:
        return None
    if own_namespace == client_namespace and ("." in export_to or own_namespace in export_to):
        return PRIVATE
    if client_namespace in export_to:
        return EXPORTED
    return None


def visible_virtual_services(
    virtual_services: Iterable[VirtualService], client_namespace: str, gateway: str
) -> list[VirtualService]:
    """The VirtualServices bound to ``gateway`` (``mesh`` or ``ns/name``) that a proxy in
    ``client_namespace`` sees, in istiod's order. ``virtual_services`` must come oldest first.

    Among public ones, those converted from Gateway API routes of the client's own namespace come first
    (istiod's "consumer override" preference)."""
    tiered: list[tuple[int, int, int, VirtualService]] = []
    for position, vs in enumerate(virtual_services):
        tier = visibility_tier(vs.export_to, vs.namespace, client_namespace)
        if tier is not None and gateway in vs.gateways:
            own = tier == PUBLIC and vs.semantics == "gateway" and vs.namespace == client_namespace
            tiered.append((tier, 0 if own else 1, position, vs))
    return [vs for *_, vs in sorted(tiered, key=lambda t: t[:3])]


# ------------------------------------------------------------------------------------------ which VirtualService
def sidecar_owners(virtual_services: Sequence[VirtualService], hosts: Iterable[str]) -> dict[str, VirtualService]:
    """For each service host, the VirtualService sidecars use for it: the first (in the given, istiod's
    order) naming the host itself, else the first naming the most specific wildcard covering it. Hosts no
    VirtualService covers are left out. VirtualService hosts are compared lowercased, as istiod does."""
    exact: dict[str, VirtualService] = {}
    wildcard: dict[str, VirtualService] = {}
    for vs in virtual_services:
        for host in vs.hosts:
            host = host.lower()
            (wildcard if is_wildcard(host) else exact).setdefault(host, vs)
    out: dict[str, VirtualService] = {}
    patterns = [*exact, *wildcard]
    for host in hosts:
        best = most_specific(host.lower(), patterns)
        if best is not None:
            out[host] = exact.get(best) or wildcard[best]
    return out


def split_hosts(
    vs: VirtualService, services: Collection[str], owners: Mapping[str, VirtualService]
) -> tuple[list[str], list[str]]:
    """A mesh VirtualService's hosts on sidecars: (names that are no service, service hosts it serves).

    A host naming a service serves it; a wildcard serves the services it covers whose owner (see
    :func:`sidecar_owners`) this VirtualService is, and stands for itself when it covers no service."""
    others: list[str] = []
    served: list[str] = []
    wildcards: list[str] = []
    for host in (h.lower() for h in vs.hosts):
        if is_wildcard(host):
            wildcards.append(host)
        elif host in services:
            if host not in served:
                served.append(host)
        else:
            others.append(host)
    for pattern in wildcards:
        covered = sorted(s for s in services if subset_of(s, pattern))
        if not covered:
            others.append(pattern)
        served += [s for s in covered if owners.get(s) is vs and s not in served]
    return others, served


# ------------------------------------------------------------------------------------------ routes
@dataclass(frozen=True)
class Proxy:
    """The proxy routes are built for. A field left None is not known (a prediction for any such proxy):
    a rule that depends on it is kept, and the plan says it is uncertain."""

    namespace: str | None = None
    labels: Mapping[str, str] | None = None
    gateways: Collection[str] | None = None  # {"mesh"} for sidecars, {"<ns>/<gateway>"} on a gateway server
    port: int | None = None  # the sidecar listener port, or the Gateway server port number


def applies_to(match: Mapping[str, Any] | None, vs_namespace: str, proxy: Proxy) -> bool | None:
    """Whether a match block yields a route on this proxy; None when that depends on what is not known.

    ``port`` must equal the listener port. Match-level ``gateways``, when given, replace the other
    selectors: one must name the proxy's gateway. Otherwise ``sourceLabels`` must be a subset of the
    proxy's labels and ``sourceNamespace`` its namespace."""
    if match is None:
        return True
    verdicts: list[bool | None] = []
    port = _int(match.get("port"))
    if port:
        verdicts.append(None if proxy.port is None else port == proxy.port)
    gateways = [resolve_gateway_ref(g, vs_namespace) for g in _list(match.get("gateways")) if _str(g)]
    if gateways:
        verdicts.append(None if proxy.gateways is None else any(g in proxy.gateways for g in gateways))
    else:
        labels = {str(k): str(v) for k, v in _dict(match.get("sourceLabels")).items()}
        if labels:
            known = proxy.labels
            verdicts.append(None if known is None else all(known.get(k) == v for k, v in labels.items()))
        source_namespace = _str(match.get("sourceNamespace"))
        if source_namespace:
            verdicts.append(None if proxy.namespace is None else source_namespace == proxy.namespace)
    if False in verdicts:
        return False
    return None if None in verdicts else True


def is_catch_all(match: Mapping[str, Any] | None) -> bool:
    """Whether the route of this match block takes every request: its path is prefix ``/`` or regex
    ``.*`` and it tests no header, pseudo-header or query parameter. A rule without match is one."""
    if match is None:
        return True
    if _dict(match.get("headers")) or _dict(match.get("withoutHeaders")) or _dict(match.get("queryParams")):
        return False
    if any(match.get(field) is not None for field in ("method", "authority", "scheme")):
        return False
    uri = match.get("uri")
    if isinstance(uri, dict):
        if "exact" in uri:
            return False
        if "prefix" in uri:
            return _str(uri["prefix"]) == "/"
        if "regex" in uri:
            return _str(uri["regex"]) == ".*"
    return True


@dataclass(frozen=True)
class PlannedRoute:
    """One route istiod renders: a rule of ``spec.http`` and one of its match blocks."""

    index: int  # the rule's position in spec.http
    rule: dict[str, Any]
    match: dict[str, Any] | None  # None for a rule without match


@dataclass(frozen=True)
class RoutePlan:
    """The routes of one VirtualService on one proxy, in order."""

    routes: tuple[PlannedRoute, ...]
    certain: bool  # False: some route depends on what is not known of the proxy, or a rule delegates


def plan_routes(vs: VirtualService, proxy: Proxy) -> RoutePlan:
    """The routes ``vs`` yields on ``proxy``: one per applicable match block, stopping after the first
    catch-all that surely applies. A delegating rule is left out (its delegate's rules would appear)."""
    routes: list[PlannedRoute] = []
    certain = True
    for index, rule in enumerate(vs.http):
        if rule.get("delegate"):
            certain = False
            continue
        matches: list[dict[str, Any] | None] = [_dict(m) for m in _list(rule.get("match"))] or [None]
        for match in matches:
            applies = applies_to(match, vs.namespace, proxy)
            if applies is False:
                continue
            routes.append(PlannedRoute(index, rule, match))
            if applies is None:
                certain = False
            elif is_catch_all(match):
                return RoutePlan(tuple(routes), certain)
    return RoutePlan(tuple(routes), certain)


@dataclass(frozen=True)
class DestinationRef:
    """A ``destination`` (of a route or a mirror): the service host, subset and port as written."""

    host: str  # FQDN
    subset: str  # "" for all endpoints
    port: int | None  # ``port.number``; None when not written

    @classmethod
    def parse(cls, destination: Any, namespace: str, domain: str = DEFAULT_DOMAIN) -> DestinationRef:
        dest = _dict(destination)
        return cls(
            host=fqdn(_str(dest.get("host")), namespace, domain),
            subset=_str(dest.get("subset")),
            port=_int(_dict(dest.get("port")).get("number")) or None,
        )

    def resolved_port(self, service_ports: Sequence[int] | None, listen_port: int) -> int:
        """The port of its cluster: ``port.number``, else the service's only port, else the listener's."""
        if self.port:
            return self.port
        if service_ports is not None and len(service_ports) == 1:
            return service_ports[0]
        return listen_port

    def cluster(self, port: int) -> str:
        return cluster_name(port, self.subset, self.host)


@dataclass(frozen=True)
class WeightedDestination:
    destination: DestinationRef
    weight: int  # as written; meaningless when the action is not weighted
    spec: dict[str, Any]  # the ``route[]`` entry as written (its headers, …)


@dataclass(frozen=True)
class RouteAction:
    """What a route does with a request it matches."""

    kind: Literal["route", "redirect", "direct"]
    weighted: bool = False  # several destinations: relative weights, zero weights dropped
    destinations: tuple[WeightedDestination, ...] = ()

    def per_mille(self) -> list[tuple[DestinationRef, int]]:
        """Each destination and the share of requests it receives, per mille (rounded)."""
        if not self.weighted:
            return [(d.destination, 1000) for d in self.destinations]
        total = sum(d.weight for d in self.destinations) or 1
        return [(d.destination, round(d.weight * 1000 / total)) for d in self.destinations]


def route_action(rule: Mapping[str, Any], namespace: str, domain: str = DEFAULT_DOMAIN) -> RouteAction:
    """A rule's action: ``redirect``, else ``directResponse``, else a route to its destinations."""
    if isinstance(rule.get("redirect"), dict):
        return RouteAction("redirect")
    if isinstance(rule.get("directResponse"), dict):
        return RouteAction("direct")
    entries = [_dict(d) for d in _list(rule.get("route"))]
    weighted = len(entries) > 1
    destinations = tuple(
        WeightedDestination(
            DestinationRef.parse(entry.get("destination"), namespace, domain), _int(entry.get("weight")), entry
        )
        for entry in entries
        if not weighted or _int(entry.get("weight")) != 0
    )
    return RouteAction("route", weighted, destinations)


def default_route_action(host: str) -> RouteAction:
    """The route of a service host no VirtualService claims (named ``default``, every path): all of the
    service's endpoints, on the listener's port."""
    return RouteAction("route", False, (WeightedDestination(DestinationRef(host, "", None), 1, {}),))
