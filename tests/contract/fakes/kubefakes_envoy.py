#!/usr/bin/env python3
"""What the fake istioctl prints for ``proxy-config routes|clusters``: a small istiod of its own.

It renders, from the Istio objects a proxy was last pushed, the shapes of docs/istio-semantics.md §13 (route
configuration ``"9080"`` with one virtual host per service; a VirtualService's rules one route per match
block, stopping after a catch-all; ``weightedClusters``/``cluster``; ``outbound|port|subset|fqdn``; the
``istio.config`` metadata; the gateway's ``http.8080`` with ``blackhole:8080`` when nothing is bound), in
the lowerCamelCase JSON istioctl prints. Deliberately independent of the harness's own code.
"""

from __future__ import annotations

from typing import Any

SUFFIX = "svc.cluster.local"


def full(host: str, ns: str) -> str:
    return host if "." in host or host == "*" else f"{host}.{ns}.{SUFFIX}"


def services(cluster: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(name, namespace, port) of every Service port."""
    out = []
    for obj in cluster["objects"].values():
        if obj["kind"] == "Service":
            for port in (obj.get("spec") or {}).get("ports") or []:
                out.append((obj["metadata"]["name"], obj["metadata"]["namespace"], int(port["port"])))
    return sorted(out)


def service_port(cluster: dict[str, Any], fqdn: str) -> int:
    for name, ns, port in services(cluster):
        if full(name, ns) == fqdn:
            return port
    return 80


def config_path(vs: dict[str, Any]) -> str:
    meta = vs["metadata"]
    return f"/apis/networking.istio.io/v1/namespaces/{meta['namespace']}/virtual-service/{meta['name']}"


def _match(block: dict[str, Any] | None) -> dict[str, Any]:
    if not block:
        return {"prefix": "/"}
    out: dict[str, Any] = {"caseSensitive": True}
    uri = block.get("uri") or {}
    if "exact" in uri:
        out["path"] = uri["exact"]
    elif "regex" in uri:
        out["safeRegex"] = {"regex": uri["regex"]}
    else:
        out["prefix"] = uri.get("prefix", "/")
    headers = []
    for name, sm in sorted((block.get("headers") or {}).items()):
        if not sm:
            headers.append({"name": name, "presentMatch": True})
        else:
            kind, value = next(iter(sm.items()))
            headers.append({"name": name, "stringMatch": {kind if kind != "regex" else "safeRegex": value}})
    if headers:
        out["headers"] = headers
    return out


def _is_catch_all(block: dict[str, Any] | None) -> bool:
    if not block:
        return True
    keys = set(block) - {"name"}
    return keys == {"uri"} and block["uri"].get("prefix") == "/"


def _action(cluster: dict[str, Any], rule: dict[str, Any], ns: str) -> dict[str, Any]:
    dests = rule.get("route") or []

    def name(d: dict[str, Any]) -> str:
        dest = d["destination"]
        host = full(dest["host"], ns)
        port = (dest.get("port") or {}).get("number") or service_port(cluster, host)
        return f"outbound|{port}|{dest.get('subset', '')}|{host}"

    if len(dests) == 1:
        return {"route": {"cluster": name(dests[0]), "timeout": "0s"}}
    kept = [d for d in dests if d.get("weight", 0) > 0]
    return {
        "route": {
            "weightedClusters": {"clusters": [{"name": name(d), "weight": d["weight"]} for d in kept]},
            "timeout": "0s",
        }
    }


def vs_routes(cluster: dict[str, Any], vs: dict[str, Any]) -> list[dict[str, Any]]:
    ns = vs["metadata"]["namespace"]
    routes = []
    for rule in (vs.get("spec") or {}).get("http") or []:
        for block in rule.get("match") or [None]:
            route = {"name": rule.get("name", ""), "match": _match(block)}
            if "route" in rule:
                route.update(_action(cluster, rule, ns))
            elif "redirect" in rule:
                route["redirect"] = {"pathRedirect": rule["redirect"].get("uri", "/")}
            elif "directResponse" in rule:
                route["directResponse"] = {"status": rule["directResponse"]["status"]}
            route["metadata"] = {"filterMetadata": {"istio": {"config": config_path(vs)}}}
            routes.append(route)
            if _is_catch_all(block):
                return routes
    return routes


def _mesh_bound(vs: dict[str, Any]) -> bool:
    gateways = (vs.get("spec") or {}).get("gateways")
    return not gateways or "mesh" in gateways


def gamma_routes(route: dict[str, Any], port: int, fqdn: str) -> list[dict[str, Any]]:
    """What istiod renders on sidecars for an HTTPRoute whose parent is a Service (GAMMA), for the shapes the
    tests use: one route per rule and match (``<ns>.<name>.<rule>``), header matches before path-only ones,
    backendRefs as one cluster or weighted clusters of ``outbound|<port>||<svc>.<ns>.svc.cluster.local``."""
    ns, name = route["metadata"]["namespace"], route["metadata"]["name"]
    config = f"/apis/networking.istio.io/v1/namespaces/{ns}/virtual-service/{ns}~{port}~{fqdn}"
    out = []
    for index, rule in enumerate((route.get("spec") or {}).get("rules") or [{}]):
        refs = [r for r in rule.get("backendRefs") or [] if r.get("weight", 1) > 0]
        names = [f"outbound|{r['port']}||{r['name']}.{ns}.{SUFFIX}" for r in refs]
        if len(names) == 1:
            action: dict[str, Any] = {"route": {"cluster": names[0], "timeout": "0s"}}
        else:
            weighted = [{"name": n, "weight": r.get("weight", 1)} for n, r in zip(names, refs, strict=True)]
            action = {"route": {"weightedClusters": {"clusters": weighted}, "timeout": "0s"}}
        for match in rule.get("matches") or [{}]:
            headers = [{"name": h["name"], "stringMatch": {"exact": h["value"]}} for h in match.get("headers") or []]
            envoy_match: dict[str, Any] = {"prefix": "/", "caseSensitive": True}
            if headers:
                envoy_match["headers"] = headers
            out.append(
                {
                    "name": f"{ns}.{name}.{index}",
                    "match": envoy_match,
                    **action,
                    "metadata": {"filterMetadata": {"istio": {"config": config}}},
                }
            )
    return sorted(out, key=lambda r: -len(r["match"].get("headers", [])))


def _gamma_parent(route: dict[str, Any], fqdn: str) -> int | None:
    """The port of the route's Service parent naming ``fqdn`` (None: it has none)."""
    ns = route["metadata"]["namespace"]
    for ref in (route.get("spec") or {}).get("parentRefs") or []:
        if ref.get("kind") == "Service" and full(ref["name"], ref.get("namespace", ns)) == fqdn:
            return int(ref.get("port", 0))
    return None


def sidecar_routes(cluster: dict[str, Any], snapshot: list[dict[str, Any]], pod_ns: str) -> list[dict[str, Any]]:
    by_port: dict[int, list[dict[str, Any]]] = {}
    vss = sorted(
        (o for o in snapshot if o["kind"] == "VirtualService" and _mesh_bound(o)),
        key=lambda o: (o["metadata"]["creationTimestamp"], o["metadata"]["name"]),
    )
    http_routes = sorted(
        (o for o in snapshot if o["kind"] == "HTTPRoute"),
        key=lambda o: (o["metadata"]["creationTimestamp"], o["metadata"]["name"]),
    )
    for name, ns, port in services(cluster):
        fqdn = full(name, ns)
        domains = [fqdn, fqdn + "."] + ([name] if ns == pod_ns else []) + [f"{name}.{ns}.svc", f"{name}.{ns}"]
        winner = next(
            (vs for vs in vss if fqdn in {full(h, vs["metadata"]["namespace"]) for h in vs["spec"].get("hosts", [])}),
            None,
        )
        gamma = next((r for r in http_routes if _gamma_parent(r, fqdn) in (port, 0)), None)
        if winner is None and gamma is not None:
            routes = gamma_routes(gamma, port, fqdn)
        elif winner is not None:
            routes = vs_routes(cluster, winner)
        else:
            routes = [
                {
                    "name": "default",
                    "match": {"prefix": "/"},
                    "route": {"cluster": f"outbound|{port}||{fqdn}", "timeout": "0s"},
                }
            ]
        by_port.setdefault(port, []).append(
            {
                "name": f"{fqdn}:{port}",
                "domains": domains,
                "routes": routes,
                "includeRequestAttemptCount": True,
            }
        )
    out = []
    for port, vhosts in sorted(by_port.items()):
        vhosts.append(
            {
                "name": "allow_any",
                "domains": ["*"],
                "routes": [
                    {
                        "name": "allow_any",
                        "match": {"prefix": "/"},
                        "route": {"cluster": "PassthroughCluster"},
                    }
                ],
            }
        )
        out.append(
            {
                "name": str(port),
                "virtualHosts": vhosts,
                "validateClusters": False,
                "ignorePortInHostMatching": True,
            }
        )
    out.append(
        {
            "name": "InboundPassthroughCluster",
            "virtualHosts": [
                {
                    "name": "inbound|http|0",
                    "domains": ["*"],
                    "routes": [
                        {
                            "name": "default",
                            "match": {"prefix": "/"},
                            "route": {"cluster": "InboundPassthroughCluster"},
                        }
                    ],
                }
            ],
        }
    )
    return out


def gateway_routes(cluster: dict[str, Any], snapshot: list[dict[str, Any]]) -> list[dict[str, Any]]:
    bound = [
        o
        for o in snapshot
        if o["kind"] == "VirtualService" and (o.get("spec") or {}).get("gateways") and not _mesh_bound(o)
    ]
    routes: list[dict[str, Any]] = []
    for vs in sorted(bound, key=lambda o: o["metadata"]["creationTimestamp"]):
        routes += vs_routes(cluster, vs)
    vhosts = (
        [{"name": "*:8080", "domains": ["*"], "routes": routes}]
        if routes
        else [{"name": "blackhole:8080", "domains": ["*"], "routes": []}]
    )
    return [
        {
            "name": "http.8080",
            "virtualHosts": vhosts,
            "validateClusters": False,
            "ignorePortInHostMatching": True,
        }
    ]


def gateway_api_routes(snapshot: list[dict[str, Any]], ns: str, gateway: str) -> list[dict[str, Any]]:
    """The route configurations of a Gateway API gateway's pod: ``http.<port>`` per listener, with a ``*:<port>``
    virtual host holding the routes of the HTTPRoutes attached to it (host ``*``), each route naming the
    VirtualService istiod converts them into."""
    gw = next(
        (
            o
            for o in snapshot
            if o["kind"] == "Gateway" and o["metadata"]["name"] == gateway and "listeners" in o["spec"]
        ),
        None,
    )
    out = []
    for listener in (gw or {}).get("spec", {}).get("listeners") or []:
        port, section = listener["port"], listener["name"]
        config = (
            f"/apis/networking.istio.io/v1/namespaces/{ns}/virtual-service/"
            f"{ns}~{gateway}~istio-autogenerated-k8s-gateway~{section}~*"
        )
        routes = []
        for route in sorted(
            (o for o in snapshot if o["kind"] == "HTTPRoute"), key=lambda o: o["metadata"]["creationTimestamp"]
        ):
            refs = (route.get("spec") or {}).get("parentRefs") or []
            if not any(r.get("name") == gateway and r.get("kind", "Gateway") == "Gateway" for r in refs):
                continue
            rname = route["metadata"]["name"]
            for index, rule in enumerate(route["spec"].get("rules") or [{}]):
                backend = (rule.get("backendRefs") or [{}])[0]
                cluster_name = f"outbound|{backend.get('port')}||{backend.get('name')}.{ns}.{SUFFIX}"
                for match in rule.get("matches") or [{}]:
                    path = match.get("path") or {"type": "PathPrefix", "value": "/"}
                    key = "path" if path["type"] == "Exact" else "pathSeparatedPrefix"
                    routes.append(
                        {
                            "name": f"{ns}.{rname}.{index}",
                            "match": {key: path["value"], "caseSensitive": True},
                            "route": {"cluster": cluster_name, "timeout": "0s"},
                            "metadata": {"filterMetadata": {"istio": {"config": config}}},
                        }
                    )
        vhosts = (
            [{"name": f"*:{port}", "domains": ["*"], "routes": routes}]
            if routes
            else [{"name": f"blackhole:{port}", "domains": ["*"], "routes": []}]
        )
        out.append({"name": f"http.{port}", "virtualHosts": vhosts, "validateClusters": False})
    return out


def clusters(cluster: dict[str, Any], snapshot: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = [
        {"name": "BlackHoleCluster", "type": "STATIC"},
        {"name": "PassthroughCluster", "type": "ORIGINAL_DST"},
    ]
    for name, ns, port in services(cluster):
        fqdn = full(name, ns)
        out.append({"name": f"outbound|{port}||{fqdn}", "type": "EDS"})
        for dr in snapshot:
            if dr["kind"] == "DestinationRule" and full(dr["spec"]["host"], dr["metadata"]["namespace"]) == fqdn:
                for subset in dr["spec"].get("subsets") or []:
                    out.append({"name": f"outbound|{port}|{subset['name']}|{fqdn}", "type": "EDS"})
    return out
