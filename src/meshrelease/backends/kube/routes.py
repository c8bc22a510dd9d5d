"""Reading Envoy route dumps (``istioctl proxy-config routes -o json``); predicting them from Istio objects.

The prediction comes from the route model the local translator also builds on
(:mod:`meshrelease.k8s.istio_routes`; docs/istio-semantics.md): which VirtualService serves a host, one
Envoy route per applicable ``match`` block stopping after the first catch-all, one destination as
``cluster``, several as ``weighted_clusters`` with weight-0 entries dropped, cluster names
``outbound|<port>|<subset>|<fqdn>`` and the ``istio.config`` metadata naming the VirtualService; a host
without a VirtualService gets the default route to ``outbound|<port>||<fqdn>``. Routes are compared by
shape (action, destinations and their shares, source VirtualService), not byte for byte, so Envoy's
defaults and Istio's version differences do not matter.

istioctl prints protobuf JSON in lowerCamelCase; Envoy's admin API prints snake_case. Both are read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from meshrelease.k8s.hosts import MESH_GATEWAY
from meshrelease.k8s.istio_routes import (
    Proxy,
    VirtualService,
    config_from_metadata,
    creation_order,
    default_route_action,
    parse_cluster_name,
    plan_routes,
    route_action,
    sidecar_owners,
    visible_virtual_services,
)
from meshrelease.k8s.objects import CLUSTER_DOMAIN

__all__ = [
    "Destination",
    "Expectation",
    "RouteShape",
    "describe_routes",
    "expect_default_route",
    "expect_model",
    "expect_virtual_service",
    "parse_cluster_name",
    "route_shape",
    "routes_from",
    "subset_clusters",
    "summarize",
    "virtual_host_routes",
    "winning_virtual_service",
]


def _get(data: Mapping[str, Any] | None, snake: str, camel: str | None = None) -> Any:
    if not isinstance(data, Mapping):
        return None
    if snake in data:
        return data[snake]
    return data.get(camel) if camel else None


@dataclass(frozen=True)
class Destination:
    """One cluster a route sends to, and the share of its traffic (per mille)."""

    host: str  # FQDN
    subset: str  # "" for all endpoints
    port: int | None  # None: not known / not compared
    share: int  # 0..1000

    def describe(self) -> str:
        name = self.host.split(".", 1)[0] if self.host.endswith(CLUSTER_DOMAIN) else self.host
        return f"{name}{'/' + self.subset if self.subset else ''} {self.share / 10:g}%"


@dataclass(frozen=True)
class RouteShape:
    """What one Envoy route does, reduced to what a release step changes."""

    action: str  # "route" | "redirect" | "direct" | "other"
    destinations: tuple[Destination, ...] = ()
    config: str = ""  # "namespace/name" of the VirtualService it came from; "" for the default route

    def describe(self) -> str:
        if self.action != "route":
            body = self.action
        else:
            body = ", ".join(d.describe() for d in self.destinations) or "no destination"
        return f"[{body}]"

    def matches(self, actual: RouteShape) -> bool:
        """Whether ``actual`` (read from a proxy) is this expected shape."""
        if self.action != actual.action:
            return False
        if actual.config and self.config != actual.config:
            return False
        if self.action != "route":
            return True
        mine = sorted(self.destinations, key=lambda d: (d.host, d.subset))
        theirs = sorted(actual.destinations, key=lambda d: (d.host, d.subset))
        if len(mine) != len(theirs):
            return False
        for want, got in zip(mine, theirs, strict=True):
            if (want.host, want.subset) != (got.host, got.subset):
                return False
            if want.port is not None and got.port is not None and want.port != got.port:
                return False
            if abs(want.share - got.share) > 2:
                return False
        return True


@dataclass(frozen=True)
class Expectation:
    """The routes a proxy should serve for one host (or from one gateway-bound VirtualService)."""

    shapes: tuple[RouteShape, ...]
    exact: bool = True  # False: rules filtered per proxy (sourceLabels, port, …) make the count uncertain
    source: str = ""  # "VirtualService ns/name" or "default route"

    def satisfied_by(self, actual: Sequence[RouteShape]) -> bool:
        if self.exact:
            return len(actual) == len(self.shapes) and all(
                want.matches(got) for want, got in zip(self.shapes, actual, strict=True)
            )
        if not self.shapes:
            return not actual
        return bool(actual) and all(any(want.matches(got) for want in self.shapes) for got in actual)

    def describe(self) -> str:
        shapes = " ".join(s.describe() for s in self.shapes) or "no routes"
        return f"{shapes} ({self.source})" if self.source else shapes


def describe_routes(shapes: Sequence[RouteShape]) -> str:
    if not shapes:
        return "no routes"
    configs = sorted({s.config for s in shapes})
    source = ", ".join(f"VirtualService {c}" if c else "default route" for c in configs)
    return f"{' '.join(s.describe() for s in shapes)} ({source})"


# -- reading dumps ----------------------------------------------------------------------------------------


def route_shape(route: Mapping[str, Any]) -> RouteShape:
    """The shape of one Envoy route (as printed by istioctl or Envoy's admin API)."""
    config = ""
    metadata = _get(_get(route, "metadata"), "filter_metadata", "filterMetadata")
    istio = _get(metadata, "istio")
    if isinstance(istio, Mapping):
        config = config_from_metadata(str(istio.get("config", "")))
    if _get(route, "redirect") is not None:
        return RouteShape("redirect", config=config)
    if _get(route, "direct_response", "directResponse") is not None:
        return RouteShape("direct", config=config)
    action = _get(route, "route")
    if not isinstance(action, Mapping):
        return RouteShape("other", config=config)
    weighted = _get(action, "weighted_clusters", "weightedClusters")
    entries: list[tuple[str, float]] = []
    if isinstance(weighted, Mapping):
        for entry in _get(weighted, "clusters") or []:
            weight = _get(entry, "weight")
            if isinstance(weight, Mapping):
                weight = weight.get("value", 0)
            entries.append((str(_get(entry, "name") or ""), float(weight or 0)))
    elif _get(action, "cluster"):
        entries.append((str(_get(action, "cluster")), 1.0))
    total = sum(w for _, w in entries) or 1.0
    destinations = []
    for name, weight in entries:
        parsed = parse_cluster_name(name)
        port, subset, host = parsed if parsed else (None, "", name)
        destinations.append(Destination(host, subset, port, round(weight * 1000 / total)))
    return RouteShape("route", tuple(destinations), config)


def virtual_host_routes(route_configs: Iterable[Mapping[str, Any]], host: str) -> list[RouteShape] | None:
    """Routes of the sidecar virtual host serving ``host`` (an FQDN); None when no virtual host lists it."""
    configs = list(route_configs)
    # A sidecar's outbound route configurations are named after the port ("9080"); prefer those.
    configs.sort(key=lambda c: 0 if str(_get(c, "name") or "").isdigit() else 1)
    for config in configs:
        for vhost in _get(config, "virtual_hosts", "virtualHosts") or []:
            if host in (_get(vhost, "domains") or []):
                return [route_shape(r) for r in _get(vhost, "routes") or []]
    return None


def routes_from(route_configs: Iterable[Mapping[str, Any]], config: str) -> list[RouteShape]:
    """Every route (all route configurations, in order) that VirtualService ``config`` ("ns/name") made."""
    out: list[RouteShape] = []
    for rc in route_configs:
        for vhost in _get(rc, "virtual_hosts", "virtualHosts") or []:
            out += [s for s in (route_shape(r) for r in _get(vhost, "routes") or []) if s.config == config]
    return out


def subset_clusters(clusters: Iterable[Mapping[str, Any]]) -> set[tuple[str, str]]:
    """(subset, fqdn) of every outbound subset cluster in ``istioctl proxy-config clusters -o json``."""
    out: set[tuple[str, str]] = set()
    for entry in clusters:
        cluster = _get(entry, "cluster") if "name" not in entry else entry
        parsed = parse_cluster_name(str(_get(cluster, "name") or ""))
        if parsed and parsed[1]:
            out.add((parsed[1], parsed[2]))
    return out


# -- predicting from Istio objects ------------------------------------------------------------------------


def winning_virtual_service(
    live: Iterable[Mapping[str, Any]], host: str, *, client_namespace: str, default_namespace: str
) -> Mapping[str, Any] | None:
    """The VirtualService a sidecar in ``client_namespace`` uses for ``host`` (an FQDN): of those it sees,
    in istiod's order, the first naming the host, else the first with the most specific wildcard covering it."""
    parsed = sorted(
        ((VirtualService.from_object(obj, default_namespace), obj) for obj in live),
        key=lambda pair: creation_order(pair[1]),
    )
    visible = visible_virtual_services([vs for vs, _ in parsed], client_namespace, MESH_GATEWAY)
    owner = sidecar_owners(visible, [host]).get(host)
    return next((obj for vs, obj in parsed if vs is owner), None)


def expect_virtual_service(vs: Mapping[str, Any], default_namespace: str, proxy: Proxy | None = None) -> Expectation:
    """The routes istiod renders for ``vs``'s HTTP rules on ``proxy`` (by default: any proxy they apply to;
    rules that depend on what is not known of it make the expectation inexact)."""
    return expect_model(VirtualService.from_object(vs, default_namespace), proxy)


def expect_model(rules: VirtualService, proxy: Proxy | None = None) -> Expectation:
    """:func:`expect_virtual_service` for a VirtualService model (also one converted from Gateway API routes)."""
    plan = plan_routes(rules, proxy or Proxy())
    shapes: list[RouteShape] = []
    for planned in plan.routes:
        action = route_action(planned.rule, rules.namespace)
        destinations = tuple(Destination(d.host, d.subset, d.port, share) for d, share in action.per_mille())
        shapes.append(RouteShape(action.kind, destinations if action.kind == "route" else (), rules.config))
    return Expectation(tuple(shapes), plan.certain, rules.ref)


def expect_default_route(host: str) -> Expectation:
    """A host without a VirtualService: one route to all of the service's endpoints."""
    action = default_route_action(host)
    destinations = tuple(Destination(d.host, d.subset, d.port, share) for d, share in action.per_mille())
    return Expectation((RouteShape(action.kind, destinations),), True, "default route")


def summarize(route_configs: Iterable[Mapping[str, Any]], *, only_namespace: str | None = None) -> str:
    """One line per virtual host: its name and what its routes do (for failure reports)."""
    lines: list[str] = []
    for rc in route_configs:
        rc_name = str(_get(rc, "name") or "")
        if rc_name.lower().startswith("inbound"):
            continue  # the sidecar's own inbound side: routing does not happen there
        for vhost in _get(rc, "virtual_hosts", "virtualHosts") or []:
            name = str(_get(vhost, "name") or "")
            if name.startswith(("allow_any", "block_all", "blackhole")):
                continue
            if only_namespace and f".{only_namespace}." not in name and rc_name.isdigit():
                continue
            shapes = [route_shape(r) for r in _get(vhost, "routes") or []]
            lines.append(f"{rc_name} {name}: {describe_routes(shapes)}")
    return "\n".join(lines) or "no routes"
