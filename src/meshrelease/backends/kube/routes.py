"""Reading Envoy route dumps (``istioctl proxy-config routes -o json``); predicting them from Istio objects.

The prediction follows what istiod renders (istio-to-envoy.md §3-§5): one Envoy route per ``match`` block,
translation stopping after the first catch-all, one destination as ``cluster``, several as
``weighted_clusters`` with weight-0 entries dropped, cluster names ``outbound|<port>|<subset>|<fqdn>``, and
the ``istio.config`` metadata naming the VirtualService. A host without a VirtualService gets the default
route to ``outbound|<port>||<fqdn>``. Routes are compared by shape (action, destinations and their shares,
source VirtualService), not byte for byte, so Envoy's defaults and Istio's version differences do not matter.

istioctl prints protobuf JSON in lowerCamelCase; Envoy's admin API prints snake_case. Both are read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from meshrelease.k8s.objects import CLUSTER_DOMAIN

_SELECTOR_FIELDS = ("sourceLabels", "sourceNamespace", "port", "gateways")
_CONFIG_RE = re.compile(r"/namespaces/([^/]+)/virtual-service/([^/]+)$")


def fqdn(host: str, namespace: str) -> str:
    """Istio's short-name rule: a name without a dot gets ``.<namespace>.svc.cluster.local``."""
    if host == "*" or host.startswith("*.") or "." in host:
        return host
    return f"{host}.{namespace}.{CLUSTER_DOMAIN}"


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


def parse_cluster_name(name: str) -> tuple[int | None, str, str] | None:
    """``outbound|9080|v2|reviews.default.svc.cluster.local`` -> (9080, "v2", "reviews.default.svc…")."""
    parts = name.split("|")
    if len(parts) != 4 or parts[0] != "outbound":
        return None
    port = int(parts[1]) if parts[1].isdigit() else None
    return port, parts[2], parts[3]


def route_shape(route: Mapping[str, Any]) -> RouteShape:
    """The shape of one Envoy route (as printed by istioctl or Envoy's admin API)."""
    config = ""
    metadata = _get(_get(route, "metadata"), "filter_metadata", "filterMetadata")
    istio = _get(metadata, "istio")
    if isinstance(istio, Mapping):
        match = _CONFIG_RE.search(str(istio.get("config", "")))
        if match:
            config = f"{match.group(1)}/{match.group(2)}"
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


def _namespace(obj: Mapping[str, Any], default: str) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or default)


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def vs_hosts(vs: Mapping[str, Any], default_namespace: str) -> set[str]:
    spec = vs.get("spec") or {}
    ns = _namespace(vs, default_namespace)
    return {fqdn(str(h), ns) for h in spec.get("hosts") or []}


def mesh_bound(vs: Mapping[str, Any]) -> bool:
    """Applies to sidecars: no ``gateways`` (the reserved ``mesh``) or ``mesh`` listed."""
    gateways = (vs.get("spec") or {}).get("gateways")
    return not gateways or "mesh" in gateways


def gateway_bound(vs: Mapping[str, Any]) -> bool:
    gateways = (vs.get("spec") or {}).get("gateways") or []
    return any(g != "mesh" for g in gateways)


def _visible(vs: Mapping[str, Any], client_namespace: str, default_namespace: str) -> bool:
    export = (vs.get("spec") or {}).get("exportTo")
    if not export:
        return True
    ns = _namespace(vs, default_namespace)
    return "*" in export or client_namespace in export or ("." in export and ns == client_namespace)


def _host_matches(pattern: str, host: str) -> bool:
    return pattern == host or (pattern.startswith("*.") and host.endswith(pattern[1:]))


def winning_virtual_service(
    live: Iterable[Mapping[str, Any]], host: str, *, client_namespace: str, default_namespace: str
) -> Mapping[str, Any] | None:
    """The VirtualService a sidecar uses for ``host``: an exact host before a wildcard, then the oldest."""
    candidates: list[tuple[int, str, str, str, Mapping[str, Any]]] = []
    for vs in live:
        if not mesh_bound(vs) or not _visible(vs, client_namespace, default_namespace):
            continue
        hosts = vs_hosts(vs, default_namespace)
        if host in hosts:
            rank = 0
        elif any(_host_matches(h, host) for h in hosts):
            rank = 1
        else:
            continue
        created = str((vs.get("metadata") or {}).get("creationTimestamp") or "")
        candidates.append((rank, created, _namespace(vs, default_namespace), _name(vs), vs))
    if not candidates:
        return None
    return min(candidates, key=lambda c: c[:4])[4]


def _catch_all(match: Mapping[str, Any]) -> bool:
    rest = {k: v for k, v in match.items() if k not in ("name", "statPrefix", "ignoreUriCase")}
    if not rest:
        return True
    uri = rest.pop("uri", None)
    if rest or not isinstance(uri, Mapping):
        return False
    return uri.get("prefix") == "/" or uri.get("regex") in (".*", "/.*")


def _destinations(rule: Mapping[str, Any], namespace: str) -> tuple[Destination, ...]:
    routes = [r for r in rule.get("route") or [] if isinstance(r, Mapping)]
    if len(routes) > 1:
        routes = [r for r in routes if int(r.get("weight") or 0) > 0]
    weights = [int(r.get("weight") or 0) for r in routes] if len(routes) > 1 else [1]
    total = sum(weights) or 1
    out = []
    for route, weight in zip(routes, weights, strict=False):
        dest = route.get("destination") or {}
        port = (dest.get("port") or {}).get("number")
        out.append(
            Destination(
                fqdn(str(dest.get("host", "")), namespace),
                str(dest.get("subset") or ""),
                int(port) if port else None,
                round(weight * 1000 / total),
            )
        )
    return tuple(out)


def expect_virtual_service(vs: Mapping[str, Any], default_namespace: str) -> Expectation:
    """The routes istiod renders for ``vs``'s HTTP rules (on a proxy the rules apply to)."""
    ns = _namespace(vs, default_namespace)
    config = f"{ns}/{_name(vs)}"
    shapes: list[RouteShape] = []
    exact = True
    for rule in (vs.get("spec") or {}).get("http") or []:
        if not isinstance(rule, Mapping):
            continue
        if rule.get("delegate"):
            exact = False  # the delegate VirtualService's routes appear instead
            continue
        if rule.get("route"):
            shape = RouteShape("route", _destinations(rule, ns), config)
        elif rule.get("redirect"):
            shape = RouteShape("redirect", config=config)
        elif rule.get("directResponse"):
            shape = RouteShape("direct", config=config)
        else:
            shape = RouteShape("other", config=config)
        matches: list[Mapping[str, Any] | None] = [m for m in rule.get("match") or [] if isinstance(m, Mapping)]
        matches = matches or [None]
        for match in matches:
            if match is not None and any(f in match for f in _SELECTOR_FIELDS):
                exact = False
            shapes.append(shape)
            if match is None or _catch_all(match):
                return Expectation(tuple(shapes), exact, f"VirtualService {config}")
    return Expectation(tuple(shapes), exact, f"VirtualService {config}")


def expect_default_route(host: str) -> Expectation:
    """A host without a VirtualService: one route to all of the service's endpoints."""
    return Expectation((RouteShape("route", (Destination(host, "", None, 1000),)),), True, "default route")


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
