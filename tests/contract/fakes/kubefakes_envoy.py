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


def sidecar_routes(cluster: dict[str, Any], snapshot: list[dict[str, Any]], pod_ns: str) -> list[dict[str, Any]]:
    by_port: dict[int, list[dict[str, Any]]] = {}
    vss = sorted(
        (o for o in snapshot if o["kind"] == "VirtualService" and _mesh_bound(o)),
        key=lambda o: (o["metadata"]["creationTimestamp"], o["metadata"]["name"]),
    )
    for name, ns, port in services(cluster):
        fqdn = full(name, ns)
        domains = [fqdn, fqdn + "."] + ([name] if ns == pod_ns else []) + [f"{name}.{ns}.svc", f"{name}.{ns}"]
        winner = next(
            (vs for vs in vss if fqdn in {full(h, vs["metadata"]["namespace"]) for h in vs["spec"].get("hosts", [])}),
            None,
        )
        if winner is not None:
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
