"""Cross-object checks in the manner of ``istioctl analyze``: warnings, never rejections.

The webhook sees one object at a time; these checks look at the whole state (istio/istio 1.30.3
pkg/config/analysis/analyzers; docs/istio-semantics.md): a route to a subset no DestinationRule defines
(IST0101, the 503 NC case), a destination host that is no Service (IST0101), a port the Service lacks
(IST0101) or a missing port on a multi-port Service (IST0112), a gateway that does not exist (IST0101),
unreachable rules and ineffective matches (IST0130, IST0131, in the webhook's wording), two mesh
VirtualServices for one host (IST0109), a subset that selects no pods (IST0173, the 503 UH case) and a
DestinationRule for a host with no Service (IST0174). Short host names are expanded by istioctl analyze's
own rule (:func:`meshrelease.k8s.hosts.analyzer_fqdn`).

Lines read ``<Level> [<code>] (<Kind> <namespace>/<name>) <message>``, as istioctl prints them for objects
in a cluster.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from meshrelease.backends.local.model import StoredObject
from meshrelease.backends.local.validation.kube import selector_matches
from meshrelease.k8s.hosts import MESH_GATEWAY, matches, resolve_gateway_refs
from meshrelease.k8s.hosts import analyzer_fqdn as fqdn
from meshrelease.k8s.objects import ISTIO_GROUP

__all__ = ["analyze", "fqdn", "unreachable_rule_messages"]

_LEVELS = {
    "IST0101": "Error",
    "IST0109": "Error",
    "IST0112": "Error",
    "IST0130": "Warning",
    "IST0131": "Info",
    "IST0173": "Error",
    "IST0174": "Warning",
}


def _message(obj: StoredObject, code: str, text: str) -> str:
    return f"{_LEVELS[code]} [{code}] ({obj.key.kind} {obj.key.namespace}/{obj.key.name}) {text}"


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class _Destination:
    host: str
    subset: str
    port: int | None
    mirror: bool


def _route_destinations(spec: dict[str, Any]) -> list[_Destination]:
    found = []
    for section in ("http", "tcp", "tls"):
        for rule in _dicts(spec.get(section)):
            for entry in _dicts(rule.get("route")):
                found.append(_destination(_dict(entry.get("destination")), mirror=False))
    return [d for d in found if d.host]


def _mirror_destinations(spec: dict[str, Any]) -> list[_Destination]:
    found = []
    for rule in _dicts(spec.get("http")):
        if isinstance(rule.get("mirror"), dict):
            found.append(_destination(rule["mirror"], mirror=True))
        for mirror in _dicts(rule.get("mirrors")):
            found.append(_destination(_dict(mirror.get("destination")), mirror=True))
    return [d for d in found if d.host]


def _destination(destination: dict[str, Any], *, mirror: bool) -> _Destination:
    port = _dict(destination.get("port")).get("number")
    return _Destination(
        host=str(destination.get("host", "")),
        subset=str(destination.get("subset", "")),
        port=port if isinstance(port, int) else None,
        mirror=mirror,
    )


class _State:
    """Indexes of the objects the checks look things up in."""

    def __init__(self, objects: Sequence[StoredObject]) -> None:
        self.objects = sorted(objects, key=lambda o: (o.key.kind, o.key.namespace, o.key.name))
        self.services = {fqdn(o.key.name, o.key.namespace): o for o in self.objects if self._is(o, "", "Service")}
        self.subsets: set[tuple[str, str]] = set()
        for rule in self.of_kind("DestinationRule"):
            host = fqdn(str(rule.spec.get("host", "")), rule.key.namespace)
            self.subsets |= {(host, str(s.get("name", ""))) for s in _dicts(rule.spec.get("subsets"))}
        self.gateways = {(o.key.namespace, o.key.name) for o in self.of_kind("Gateway")}

    @staticmethod
    def _is(obj: StoredObject, group: str, kind: str) -> bool:
        return obj.key.group == group and obj.key.kind == kind

    def of_kind(self, kind: str) -> list[StoredObject]:
        group = "" if kind == "Service" else ("apps" if kind == "Deployment" else ISTIO_GROUP)
        return [o for o in self.objects if self._is(o, group, kind)]

    def pod_labels(self, service: StoredObject) -> list[dict[str, str]] | None:
        """Labels of the pods behind ``service`` (from its namespace's Deployments), or None when the
        Service has no selector (its endpoints are managed by hand)."""
        selector = _dict(service.spec.get("selector"))
        if not selector:
            return None
        selected = []
        for deployment in self.of_kind("Deployment"):
            if deployment.key.namespace != service.key.namespace or deployment.spec.get("replicas", 1) == 0:
                continue
            template = _dict(_dict(deployment.spec.get("template")).get("metadata")).get("labels")
            labels = {str(k): str(v) for k, v in _dict(template).items()}
            if selector_matches({"matchLabels": selector}, labels):
                selected.append(labels)
        return selected


def analyze(objects: Sequence[StoredObject]) -> list[str]:
    """Every analyzer message for the state ``objects``, ordered by object, without duplicates."""
    state = _State(objects)
    messages: list[str] = []
    for service in state.of_kind("VirtualService"):
        messages += _virtual_service_messages(service, state)
    messages += _conflicting_mesh_hosts(state)
    for rule in state.of_kind("DestinationRule"):
        messages += _destination_rule_messages(rule, state)
    order = {(o.key.kind, o.key.namespace, o.key.name): i for i, o in enumerate(state.objects)}

    def position(message: str) -> int:
        ref = message.split("(", 1)[1].split(")", 1)[0]
        kind, _, rest = ref.partition(" ")
        namespace, _, name = rest.partition("/")
        return order.get((kind, namespace, name), len(order))

    return sorted(dict.fromkeys(messages), key=position)


def _virtual_service_messages(service: StoredObject, state: _State) -> list[str]:
    namespace = service.key.namespace
    messages = []
    for destination in _route_destinations(service.spec) + _mirror_destinations(service.spec):
        what = "mirror host" if destination.mirror else "host"
        target = state.services.get(fqdn(destination.host, namespace))
        if target is None:
            messages.append(
                _message(service, "IST0101", f"Referenced {what} not found: {json.dumps(destination.host)}")
            )
        else:
            messages += _port_messages(service, destination, target)
    for destination in _route_destinations(service.spec) + _mirror_destinations(service.spec):
        if destination.subset and (fqdn(destination.host, namespace), destination.subset) not in state.subsets:
            what = "mirror+subset" if destination.mirror else "host+subset"
            shown = json.dumps(f"{destination.host}+{destination.subset}")
            messages.append(_message(service, "IST0101", f"Referenced {what} in destinationrule not found: {shown}"))
    for gateway in _gateway_references(service.spec):
        gw_namespace, slash, gw_name = gateway.partition("/")
        key = (gw_namespace, gw_name) if slash else (namespace, gateway)
        if key not in state.gateways:
            messages.append(_message(service, "IST0101", f"Referenced gateway not found: {json.dumps(gateway)}"))
    messages += unreachable_rule_messages(service)
    return messages


def _port_messages(service: StoredObject, destination: _Destination, target: StoredObject) -> list[str]:
    ports = [p.get("port") for p in _dicts(target.spec.get("ports")) if isinstance(p.get("port"), int)]
    if destination.port is None:
        if len(ports) > 1:
            listed = "[" + " ".join(str(p) for p in ports) + "]"
            return [
                _message(
                    service,
                    "IST0112",
                    f"This VirtualService routes to a service {json.dumps(destination.host)} that exposes "
                    f"multiple ports {listed}. Specifying a port in the destination is required to "
                    "disambiguate.",
                )
            ]
        return []
    if destination.port not in ports:
        shown = json.dumps(f"{destination.host}:{destination.port}")
        return [_message(service, "IST0101", f"Referenced host:port not found: {shown}")]
    return []


def _gateway_references(spec: dict[str, Any]) -> list[str]:
    names = [str(g) for g in spec.get("gateways") or [] if isinstance(g, str)]
    for rule in _dicts(spec.get("http")):
        for match in _dicts(rule.get("match")):
            names += [str(g) for g in match.get("gateways") or [] if isinstance(g, str)]
    return [n for n in dict.fromkeys(names) if n != MESH_GATEWAY]


# ------------------------------------------------------------------------------------------ IST0130/0131
def _rule_name(rule: dict[str, Any], index: int) -> str:
    return json.dumps(rule["name"]) if rule.get("name") else f"#{index}"


def _match_name(match: dict[str, Any], index: int) -> str:
    return json.dumps(match["name"]) if match.get("name") else f"#{index}"


@dataclass(frozen=True)
class _PrefixMatch:
    """A match block with a uri prefix, reduced to what Istio compares to find overlapping matches."""

    rule: str
    match: str
    prefix: str
    port: Any
    method: str
    authority: str
    headers: dict[str, str]
    query_params: dict[str, str]
    without_headers: dict[str, str]


def _exact_or_prefix(value: Any) -> str:
    value = _dict(value)
    if value.get("exact"):
        return f"exact:{value['exact']}"
    if value.get("prefix"):
        return f"prefix:{value['prefix']}"
    return ""


def _prefix_match(rule: str, match_name: str, match: dict[str, Any]) -> _PrefixMatch | None:
    prefix = _dict(match.get("uri")).get("prefix")
    if not prefix:
        return None
    return _PrefixMatch(
        rule=rule,
        match=match_name,
        prefix=str(prefix),
        port=match.get("port"),
        method=_exact_or_prefix(match.get("method")) or "exact:GET",
        authority=_exact_or_prefix(match.get("authority")),
        headers={k: _exact_or_prefix(v) for k, v in _dict(match.get("headers")).items()},
        query_params={k: _exact_or_prefix(v) for k, v in _dict(match.get("queryParams")).items()},
        without_headers={k: _exact_or_prefix(v) for k, v in _dict(match.get("withoutHeaders")).items()},
    )


def _covers(first: _PrefixMatch, later: _PrefixMatch) -> bool:
    """Whether the earlier prefix match catches every request the later one would (Istio's heuristic:
    a shorter path prefix, the same port, and each other condition equal or looser)."""

    def looser(a: str, b: str) -> bool:
        return a == b or a.startswith(b)

    def maps(a: dict[str, str], b: dict[str, str]) -> bool:
        return len(a) == len(b) and all(k in b and looser(v, b[k]) for k, v in a.items())

    return (
        later.prefix.startswith(first.prefix)
        and first.port == later.port
        and looser(first.method, later.method)
        and looser(first.authority, later.authority)
        and maps(first.headers, later.headers)
        and maps(first.query_params, later.query_params)
        and maps(first.without_headers, later.without_headers)
    )


def unreachable_rule_messages(service: StoredObject) -> list[str]:
    """IST0130 (a rule never used) and IST0131 (a match never used) for one VirtualService's http rules."""
    messages: list[str] = []

    def unused(rule: str, reason: str) -> None:
        messages.append(_message(service, "IST0130", f"virtualService rule {rule} not used ({reason})"))

    def ineffective(rule: str, match: str, duplicate_of: str) -> None:
        text = (
            f"virtualService rule {rule} match {match} is not used (duplicate/overlapping match in rule {duplicate_of})"
        )
        messages.append(_message(service, "IST0131", text))

    rules: list[Any] = _list(service.spec.get("http"))
    seen: dict[str, int] = {}
    catch_all_at = -1
    prefixes: list[_PrefixMatch] = []
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict):
            continue
        name = _rule_name(rule, index)
        matches = _list(rule.get("match"))
        if not matches:
            if catch_all_at >= 0:
                unused(name, "only the last rule can have no matches")
            catch_all_at = index
            continue
        duplicates = 0
        for m_index, match in enumerate(matches):
            if catch_all_at >= 0:
                unused(name, "route without matches defined before")
                continue
            match = _dict(match)
            canonical = json.dumps({k: v for k, v in match.items() if k != "name"}, sort_keys=True)
            if canonical in seen:
                first = seen[canonical]
                ineffective(name, _match_name(match, m_index), _rule_name(_dict(rules[first]), first))
                duplicates += 1
                continue
            seen[canonical] = index
            prefix = _prefix_match(name, _match_name(match, m_index), match)
            if prefix is not None:
                prefixes.append(prefix)
        if duplicates == len(matches):
            unused(name, "all matches used by prior rules")
    for i, earlier in enumerate(prefixes):
        for later in prefixes[i + 1 :]:
            if later.prefix != earlier.prefix and _covers(earlier, later):
                ineffective(
                    later.rule,
                    f"{later.match} of prefix {later.prefix}",
                    f"{earlier.match} of prefix {earlier.prefix} on {earlier.rule}",
                )
    return messages


# ------------------------------------------------------------------------------------------ IST0109
def _conflicting_mesh_hosts(state: _State) -> list[str]:
    by_host: dict[str, list[StoredObject]] = {}
    for service in state.of_kind("VirtualService"):
        if MESH_GATEWAY not in resolve_gateway_refs(_list(service.spec.get("gateways")), service.key.namespace):
            continue
        export_to = [str(e) for e in service.spec.get("exportTo") or []]
        if not export_to or "*" in export_to:
            scopes = ["*"]
        else:
            scopes = sorted({service.key.namespace if e == "." else e for e in export_to})
        for scope in scopes:
            for host in service.spec.get("hosts") or []:
                by_host.setdefault(f"{scope}/{fqdn(str(host), service.key.namespace)}", []).append(service)
    messages = []
    reported: set[tuple[str, str]] = set()
    for scoped in sorted(by_host):
        services = list(by_host[scoped])
        scope, _, host = scoped.partition("/")
        if scope != "*":
            services += _exported_everywhere(by_host, host)
        if len(services) < 2:
            continue
        names = ",".join(f"{s.key.namespace}/{s.key.name}" for s in services)
        for service in services:
            ident = (service.key.namespace, service.key.name)
            if ident in reported:
                continue
            reported.add(ident)
            text = (
                f"The VirtualServices {names} associated with mesh gateway define the same host {scoped} "
                "which can lead to undefined behavior. This can be fixed by merging the conflicting "
                "VirtualServices into a single resource."
            )
            messages.append(_message(service, "IST0109", text))
    return messages


def _exported_everywhere(by_host: dict[str, list[StoredObject]], host: str) -> list[StoredObject]:
    found: list[StoredObject] = []
    for scoped, services in sorted(by_host.items()):
        scope, _, other = scoped.partition("/")
        if scope == "*" and matches(host, other):
            found += services
    return found


# ------------------------------------------------------------------------------------------ IST0173/0174
def _destination_rule_messages(rule: StoredObject, state: _State) -> list[str]:
    host = str(rule.spec.get("host", ""))
    service = state.services.get(fqdn(host, rule.key.namespace))
    if service is None:
        text = f"The host {host} defined in the DestinationRule does not match any services in the mesh."
        return [_message(rule, "IST0174", text)]
    pods = state.pod_labels(service)
    if pods is None:
        return []
    messages = []
    for subset in _dicts(rule.spec.get("subsets")):
        wanted = {str(k): str(v) for k, v in _dict(subset.get("labels")).items()}
        if not any(_superset(labels, wanted) for labels in pods):
            text = (
                f"The Subset {subset.get('name', '')} defined in the DestinationRule does not select any "
                "pods. Which may lead to 503 UH (NoHealthyUpstream)."
            )
            messages.append(_message(rule, "IST0173", text))
    return messages


def _superset(labels: dict[str, str], wanted: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in wanted.items())
