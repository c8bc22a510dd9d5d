"""DestinationRules as istiod applies them: which rule a client sees, merging, and the traffic policy
(load balancer, consistent hash) in force for one port and subset.

Lookup (istio/istio 1.30.3 pilot/pkg/model/push_context.go destinationRule; docs/istio-semantics.md): the
client's namespace, then the service's, then the root namespace; the first namespace with a rule for the
host wins, the most specific host first. Rules for the same host in that namespace merge: subsets
concatenated (a duplicate name keeps its first, i.e. oldest, definition) and the first top-level
``trafficPolicy`` wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from meshrelease.backends.local.translate.hosts import host_matches
from meshrelease.backends.local.translate.registry import ROOT_NAMESPACE, DestinationRuleInfo, MeshIndex
from meshrelease.backends.local.translate.values import JsonDict, as_dict, as_int, as_list, as_str, proto_duration
from meshrelease.k8s.hosts import exported_to, most_specific

_POLICY_FIELDS = ("loadBalancer", "connectionPool", "outlierDetection", "tls", "tunnel", "proxyProtocol")
_SIMPLE_LB = {
    "UNSPECIFIED": "LEAST_REQUEST",
    "LEAST_CONN": "LEAST_REQUEST",
    "LEAST_REQUEST": "LEAST_REQUEST",
    "ROUND_ROBIN": "ROUND_ROBIN",
    "RANDOM": "RANDOM",
}
DEFAULT_LB_POLICY = "LEAST_REQUEST"


@dataclass
class MergedDestinationRule:
    """The DestinationRule a client uses for one host (possibly several objects merged)."""

    host: str
    namespace: str
    traffic_policy: JsonDict | None
    subsets: list[JsonDict] = field(default_factory=list)
    sources: list[DestinationRuleInfo] = field(default_factory=list)

    def subset(self, name: str) -> JsonDict | None:
        return next((s for s in self.subsets if s.get("name") == name), None)


class PolicyResolver:
    """DestinationRule lookups for clients, cached per (client namespace, host)."""

    def __init__(self, index: MeshIndex) -> None:
        self.index = index
        self._cache: dict[tuple[str, str], MergedDestinationRule | None] = {}

    def rule_for(self, client_namespace: str, host: str) -> MergedDestinationRule | None:
        key = (client_namespace, host)
        if key not in self._cache:
            self._cache[key] = self._lookup(client_namespace, host)
        return self._cache[key]

    def _lookup(self, client_namespace: str, host: str) -> MergedDestinationRule | None:
        svc = self.index.service(host)
        order = [client_namespace]
        for ns in (svc.namespace if svc else None, ROOT_NAMESPACE):
            if ns and ns not in order:
                order.append(ns)
        for ns in order:
            candidates = [
                dr
                for dr in self.index.destination_rules
                if dr.namespace == ns
                and dr.host
                and host_matches(host, dr.host)
                and exported_to(dr.export_to, dr.namespace, client_namespace)
            ]
            if candidates:
                best = most_specific(host.lower(), [dr.host.lower() for dr in candidates])
                return _merge([dr for dr in candidates if dr.host.lower() == best], host, ns)
        return None

    def policy(self, client_namespace: str, host: str, port: int, subset: str | None) -> JsonDict:
        """The traffic policy in force for ``host`` on ``port`` (and ``subset``); ``{}`` when none."""
        rule = self.rule_for(client_namespace, host)
        if rule is None:
            return {}
        policy = _port_level(rule.traffic_policy or {}, port)
        if subset is not None:
            sub = rule.subset(subset)
            sub_policy = as_dict(sub.get("trafficPolicy")) if sub else {}
            if sub_policy:
                merged = dict(policy)
                for name in _POLICY_FIELDS:
                    if sub_policy.get(name) is not None:
                        merged[name] = sub_policy[name]
                for pls in as_list(sub_policy.get("portLevelSettings")):
                    pls = as_dict(pls)
                    if as_int(as_dict(pls.get("port")).get("number")) == port:
                        merged = {name: pls[name] for name in _POLICY_FIELDS if pls.get(name) is not None}
                        break
                policy = merged
        return policy

    def hash_policy(self, client_namespace: str, host: str, port: int, subset: str | None) -> list[JsonDict]:
        """Route ``hash_policy`` for a destination whose DestinationRule uses ``consistentHash``."""
        policy = self.policy(client_namespace, host, port, subset)
        chash = as_dict(as_dict(policy.get("loadBalancer")).get("consistentHash"))
        return consistent_hash_policy(chash, f"DestinationRule for {host}") if chash else []


def _merge(rules: list[DestinationRuleInfo], host: str, namespace: str) -> MergedDestinationRule:
    merged = MergedDestinationRule(host=host, namespace=namespace, traffic_policy=None, sources=list(rules))
    seen: set[str] = set()
    for dr in rules:  # already oldest first
        if merged.traffic_policy is None and dr.traffic_policy is not None:
            merged.traffic_policy = dr.traffic_policy
        for subset in dr.subsets:
            name = as_str(subset.get("name"))
            if name not in seen:
                seen.add(name)
                merged.subsets.append(subset)
    return merged


def _port_level(policy: JsonDict, port: int) -> JsonDict:
    """DR-level policy for ``port``: a matching ``portLevelSettings`` entry replaces it without inheriting."""
    for pls in as_list(policy.get("portLevelSettings")):
        pls = as_dict(pls)
        if as_int(as_dict(pls.get("port")).get("number")) == port:
            return {name: pls[name] for name in _POLICY_FIELDS if pls.get(name) is not None}
    return {name: policy[name] for name in _POLICY_FIELDS if policy.get(name) is not None}


def cluster_lb_fields(policy: JsonDict) -> JsonDict:
    """Cluster fields for a policy's ``loadBalancer``: ``lb_policy`` and any ring/maglev config."""
    lb = as_dict(policy.get("loadBalancer"))
    chash = lb.get("consistentHash")
    if isinstance(chash, dict):
        maglev = chash.get("maglev")
        if isinstance(maglev, dict):
            out: JsonDict = {"lb_policy": "MAGLEV"}
            if as_int(maglev.get("tableSize")):
                out["maglev_lb_config"] = {"table_size": as_int(maglev.get("tableSize"))}
            return out
        ring = chash.get("ringHash")
        if isinstance(ring, dict):
            out = {"lb_policy": "RING_HASH"}
            if as_int(ring.get("minimumRingSize")):
                out["ring_hash_lb_config"] = {"minimum_ring_size": as_int(ring.get("minimumRingSize"))}
            return out
        # Neither algorithm named: ring hash with the deprecated minimumRingSize, Envoy's 1024 by default.
        size = as_int(chash.get("minimumRingSize")) or 1024
        return {"lb_policy": "RING_HASH", "ring_hash_lb_config": {"minimum_ring_size": size}}
    simple = as_str(lb.get("simple")) or "UNSPECIFIED"
    return {"lb_policy": _SIMPLE_LB.get(simple, DEFAULT_LB_POLICY)}


def consistent_hash_policy(chash: JsonDict, where: str) -> list[JsonDict]:
    """Envoy route ``hash_policy`` for an Istio ``consistentHash``."""
    if as_str(chash.get("httpHeaderName")):
        return [{"header": {"header_name": chash["httpHeaderName"]}}]
    cookie = chash.get("httpCookie")
    if isinstance(cookie, dict):
        out: JsonDict = {"name": as_str(cookie.get("name"))}
        if as_str(cookie.get("path")):
            out["path"] = cookie["path"]
        if cookie.get("ttl") is not None:
            out["ttl"] = proto_duration(cookie["ttl"], f"{where}: consistentHash.httpCookie.ttl")
        return [{"cookie": out}]
    if chash.get("useSourceIp") is True:
        return [{"connection_properties": {"source_ip": True}}]
    if as_str(chash.get("httpQueryParameterName")):
        return [{"query_parameter": {"name": chash["httpQueryParameterName"]}}]
    return []
