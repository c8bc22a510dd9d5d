"""VirtualService ``http[]`` rules -> Envoy routes, and the default route of a host without one.

Which routes exist, their order, actions, destinations, weights and cluster names come from the model
both backends share (:mod:`meshrelease.k8s.istio_routes`); this module adds the Envoy side as istiod
renders it (istio/istio 1.30.3 pilot/pkg/networking/core/route/route.go; docs/istio-semantics.md): the
default retry policy, ``timeout: 0s`` unless set, faults as ``typed_per_filter_config``, mirrors, header
operations, redirects, rewrites and direct responses.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from meshrelease.backends.local.translate.match import route_match
from meshrelease.backends.local.translate.policy import PolicyResolver
from meshrelease.backends.local.translate.registry import MeshIndex, ServiceInfo, ServicePort
from meshrelease.backends.local.translate.values import (
    JsonDict,
    as_dict,
    as_float,
    as_int,
    as_list,
    as_str,
    hundred_percent,
    million_percent,
    proto_duration,
)
from meshrelease.k8s.gateway_api import GATEWAY_SEMANTICS
from meshrelease.k8s.istio_routes import (
    DEFAULT_ROUTE_NAME,
    DestinationRef,
    Proxy,
    RouteAction,
    VirtualService,
    config_metadata,
    default_route_action,
    plan_routes,
    route_action,
)

PREFIX_REPLACE = "%PREFIX()%"  # what the Gateway API conversion puts before a redirect's replacement prefix
FAULT_FILTER = "envoy.filters.http.fault"
FAULT_TYPE = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"
NO_TIMEOUT = "0s"
DEFAULT_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
PREVIOUS_HOSTS = {
    "name": "envoy.retry_host_predicates.previous_hosts",
    "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"
    },
}
PREVIOUS_PRIORITIES = {
    "name": "envoy.retry_priorities.previous_priorities",
    "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig",
        "update_frequency": 2,
    },
}
_REDIRECT_CODES = {
    0: "MOVED_PERMANENTLY",
    301: "MOVED_PERMANENTLY",
    302: "FOUND",
    303: "SEE_OTHER",
    307: "TEMPORARY_REDIRECT",
    308: "PERMANENT_REDIRECT",
}
SUPPORTED_REDIRECT_CODES = frozenset(_REDIRECT_CODES)
GRPC_CODES = {
    "OK": 0,
    "CANCELLED": 1,
    "UNKNOWN": 2,
    "INVALID_ARGUMENT": 3,
    "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6,
    "PERMISSION_DENIED": 7,
    "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9,
    "ABORTED": 10,
    "OUT_OF_RANGE": 11,
    "UNIMPLEMENTED": 12,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
    "DATA_LOSS": 15,
    "UNAUTHENTICATED": 16,
}


@dataclass(frozen=True)
class RouteContext:
    """Who the routes are built for: a client proxy, one listener port, the gateways it stands for."""

    index: MeshIndex
    policies: PolicyResolver
    client_namespace: str
    client_labels: dict[str, str]
    gateway_names: Collection[str]  # {"mesh"} for sidecars, {"<ns>/<gateway>"} on a gateway server
    listen_port: int  # the sidecar listener port, or the Gateway server port number

    @property
    def proxy(self) -> Proxy:
        return Proxy(self.client_namespace, self.client_labels, self.gateway_names, self.listen_port)


def default_retry_policy(*, hashing: bool = False) -> JsonDict:
    """The retry policy istiod renders when a route sets no ``retries``."""
    policy: JsonDict = {"retry_on": DEFAULT_RETRY_ON, "num_retries": 2}
    if not hashing:
        policy["retry_host_predicate"] = [PREVIOUS_HOSTS]
    policy["host_selection_retry_max_attempts"] = 5
    return policy


def vs_routes(vs: VirtualService, ctx: RouteContext) -> list[JsonDict]:
    """The Envoy routes of one VirtualService for this proxy and port (possibly none: then the caller
    falls back to the default route). Stops after the first catch-all route."""
    return [
        http_route(vs, planned.rule, f"{vs.ref}: spec.http[{planned.index}]", planned.match, ctx)
        for planned in plan_routes(vs, ctx.proxy).routes
    ]


def http_route(vs: VirtualService, rule: JsonDict, where: str, match: JsonDict | None, ctx: RouteContext) -> JsonDict:
    """One Envoy route for ``rule`` and one of its match blocks."""
    route: JsonDict = {}
    name = _route_name(rule, match)
    if name:
        route["name"] = name
    gateway_semantics = vs.semantics == GATEWAY_SEMANTICS
    route["match"] = route_match(match, gateway_semantics=gateway_semantics)
    route["metadata"] = {"filter_metadata": {"istio": {"config": config_metadata(vs.namespace, vs.name)}}}
    if match is not None and as_str(match.get("statPrefix")):
        route["stat_prefix"] = match["statPrefix"]
    ops, authority = header_operations(rule.get("headers"))
    route.update(ops)
    action = route_action(rule, vs.namespace, ctx.index.cluster_domain)
    if action.kind == "redirect":
        redirect = redirect_action(rule["redirect"], ctx.listen_port, gateway_semantics=gateway_semantics)
        if redirect is not None:
            route["redirect"] = redirect
    elif action.kind == "direct":
        route["direct_response"] = direct_response(rule["directResponse"])
    else:
        match_prefix = as_str(route["match"].get("path_separated_prefix"))
        route["route"], dest_ops = _route_action(vs, action, rule, where, authority, ctx, match_prefix)
        for key, values in dest_ops.items():  # one destination: its header operations follow the route's
            route[key] = [*route.get(key, []), *values]
    route["decorator"] = {"operation": _operation(route, vs.name, ctx.listen_port)}
    fault = fault_filter_config(rule.get("fault"), f"{where}.fault")
    if fault is not None:
        route["typed_per_filter_config"] = {FAULT_FILTER: fault}
    return route


def _route_name(rule: JsonDict, match: JsonDict | None) -> str:
    name = as_str(rule.get("name"))
    match_name = as_str(match.get("name")) if match else ""
    return f"{name}.{match_name}" if match_name else name


def _route_action(
    vs: VirtualService,
    route: RouteAction,
    rule: JsonDict,
    where: str,
    authority: str | None,
    ctx: RouteContext,
    match_prefix: str = "",
) -> tuple[JsonDict, JsonDict]:
    """The route action, and the header operations of a single destination (to append to the route's)."""
    action: JsonDict = {}
    if vs.semantics == GATEWAY_SEMANTICS:
        action["cluster_not_found_response_code"] = "INTERNAL_SERVER_ERROR"  # a missing backend answers 500
    dest_ops: JsonDict = {}
    hash_policies: list[JsonDict] = []
    if route.weighted:
        weighted: list[JsonDict] = []
        for dest in route.destinations:
            name, port = _cluster(dest.destination, ctx)
            entry: JsonDict = {"name": name, "weight": dest.weight}
            entry_ops, entry_authority = header_operations(dest.spec.get("headers"))
            entry.update(entry_ops)
            if entry_authority:
                entry["host_rewrite_literal"] = entry_authority
            weighted.append(entry)
            hash_policies += _hash_policy(dest.destination, port, ctx)
        action["weighted_clusters"] = {"clusters": weighted}
    elif route.destinations:
        dest = route.destinations[0]
        name, port = _cluster(dest.destination, ctx)
        action["cluster"] = name
        hash_policies += _hash_policy(dest.destination, port, ctx)
        dest_ops, dest_authority = header_operations(dest.spec.get("headers"))
        authority = authority or dest_authority
    timeout = proto_duration(rule["timeout"], f"{where}.timeout") if rule.get("timeout") is not None else NO_TIMEOUT
    action["timeout"] = timeout
    action["max_grpc_timeout"] = timeout  # deprecated in Envoy, still rendered by istiod
    rewrite = as_dict(rule.get("rewrite"))
    regex_rewrite = as_dict(rewrite.get("uriRegexRewrite"))
    if regex_rewrite:
        action["regex_rewrite"] = {
            "pattern": {"regex": as_str(regex_rewrite.get("match"))},
            "substitution": as_str(regex_rewrite.get("rewrite")),
        }
    elif as_str(rewrite.get("uri")) == "/" and vs.semantics == GATEWAY_SEMANTICS and match_prefix:
        # Gateway API ReplacePrefixMatch "/": drop the matched prefix, keeping one "/" (route.go).
        action["regex_rewrite"] = {
            "pattern": {"regex": f"^{re.escape(match_prefix)}(/?)(.*)"},
            "substitution": "/\\2",
        }
    elif as_str(rewrite.get("uri")):
        action["prefix_rewrite"] = rewrite["uri"]
    authority = as_str(rewrite.get("authority")) or authority
    if authority:
        action["host_rewrite_literal"] = authority
    retry = retry_policy(rule.get("retries"), hashing=bool(hash_policies), where=f"{where}.retries")
    if retry is not None:
        action["retry_policy"] = retry
    mirrors = mirror_policies(rule, vs, ctx)
    if mirrors:
        action["request_mirror_policies"] = mirrors
    if hash_policies:
        action["hash_policy"] = hash_policies
    return action, dest_ops


def _cluster(dest: DestinationRef, ctx: RouteContext) -> tuple[str, int]:
    """(cluster name, port) of a route or mirror destination."""
    svc = ctx.index.service(dest.host)
    port = dest.resolved_port([p.port for p in svc.ports] if svc is not None else None, ctx.listen_port)
    return dest.cluster(port), port


def _hash_policy(dest: DestinationRef, port: int, ctx: RouteContext) -> list[JsonDict]:
    return ctx.policies.hash_policy(ctx.client_namespace, dest.host, port, dest.subset or None)


def default_route(svc: ServiceInfo, port: ServicePort, ctx: RouteContext) -> JsonDict:
    """The route of a host without a VirtualService: all endpoints, no timeout, default retries."""
    dest = default_route_action(svc.fqdn).destinations[0].destination
    hashes = _hash_policy(dest, port.port, ctx)
    action: JsonDict = {
        "cluster": dest.cluster(port.port),
        "timeout": NO_TIMEOUT,
        "retry_policy": default_retry_policy(hashing=bool(hashes)),
        "max_grpc_timeout": NO_TIMEOUT,
    }
    if hashes:
        action["hash_policy"] = hashes
    return {
        "name": DEFAULT_ROUTE_NAME,
        "match": {"prefix": "/"},
        "route": action,
        "decorator": {"operation": f"{svc.fqdn}:{port.port}/*"},
    }


def retry_policy(retries: Any, *, hashing: bool, where: str) -> JsonDict | None:
    """``retries`` -> Envoy retry policy; absent -> the default, ``attempts <= 0`` -> none."""
    if not isinstance(retries, dict):
        return default_retry_policy(hashing=hashing)
    attempts = as_int(retries.get("attempts"))
    if attempts <= 0:
        return None
    policy = default_retry_policy(hashing=hashing)
    policy["num_retries"] = attempts
    retry_on = as_str(retries.get("retryOn"))
    if retry_on:
        tokens: list[str] = []
        codes: list[int] = []
        for token in (t.strip() for t in retry_on.split(",")):
            if not token:
                continue
            if token.isdigit() and int(token) in HTTPStatus._value2member_map_:
                codes.append(int(token))
            else:
                tokens.append(token)
        if codes and "retriable-status-codes" not in tokens:
            tokens.append("retriable-status-codes")
        policy["retry_on"] = ",".join(tokens)
        if codes:
            policy["retriable_status_codes"] = codes
    if retries.get("perTryTimeout") is not None:
        policy["per_try_timeout"] = proto_duration(retries["perTryTimeout"], f"{where}.perTryTimeout")
    if retries.get("retryIgnorePreviousHosts") is False:
        policy.pop("retry_host_predicate", None)
    if retries.get("retryRemoteLocalities") is True:
        policy["retry_priority"] = PREVIOUS_PRIORITIES
    if retries.get("backoff") is not None:
        policy["retry_back_off"] = {"base_interval": proto_duration(retries["backoff"], f"{where}.backoff")}
    # Keep istiod's field order: host_selection_retry_max_attempts after the predicate.
    policy["host_selection_retry_max_attempts"] = policy.pop("host_selection_retry_max_attempts")
    return policy


def fault_filter_config(fault: Any, where: str = "fault") -> JsonDict | None:
    """``fault`` -> HTTPFault for ``typed_per_filter_config``; ``None`` when nothing is injected.

    An absent ``percentage`` injects nothing (delay: the deprecated int ``percent`` over HUNDRED, 0 if
    unset; abort: no percentage at all, which Envoy never fires)."""
    fault = as_dict(fault)
    out: JsonDict = {"@type": FAULT_TYPE}
    delay = as_dict(fault.get("delay"))
    if delay.get("fixedDelay") is not None:
        fixed = proto_duration(delay["fixedDelay"], f"{where}.delay.fixedDelay")
        if isinstance(delay.get("percentage"), dict):
            percentage = million_percent(delay["percentage"])
        else:
            percentage = hundred_percent(as_int(delay.get("percent")))
        out["delay"] = {"fixed_delay": fixed, "percentage": percentage}
    abort = as_dict(fault.get("abort"))
    abort_out: JsonDict | None = None
    if abort.get("httpStatus") is not None:
        abort_out = {"http_status": as_int(abort["httpStatus"])}
    elif as_str(abort.get("grpcStatus")) in GRPC_CODES:
        abort_out = {"grpc_status": GRPC_CODES[as_str(abort["grpcStatus"])]}
    if abort_out is not None:
        if isinstance(abort.get("percentage"), dict):
            abort_out["percentage"] = million_percent(abort["percentage"])
        out["abort"] = abort_out
    return out if len(out) > 1 else None


def mirror_policies(rule: JsonDict, vs: VirtualService, ctx: RouteContext) -> list[JsonDict]:
    """``mirror`` (first) and ``mirrors[]``; an absent percentage mirrors 100 %, an explicit 0 nothing."""
    out: list[JsonDict] = []
    if isinstance(rule.get("mirror"), dict):
        fraction: JsonDict | None = hundred_percent(100)
        if isinstance(rule.get("mirrorPercentage"), dict):
            value = as_float(rule["mirrorPercentage"].get("value"))
            fraction = million_percent(rule["mirrorPercentage"]) if value > 0 else None
        else:
            legacy = rule.get("mirrorPercent", rule.get("mirror_percent"))
            if legacy is not None:
                fraction = hundred_percent(as_int(legacy)) if as_int(legacy) > 0 else None
        if fraction is not None:
            out.append(_mirror(rule["mirror"], fraction, vs, ctx))
    for entry in as_list(rule.get("mirrors")):
        entry = as_dict(entry)
        if not isinstance(entry.get("destination"), dict):
            continue
        fraction = hundred_percent(100)
        if isinstance(entry.get("percentage"), dict):
            value = as_float(entry["percentage"].get("value"))
            fraction = million_percent(entry["percentage"]) if value > 0 else None
        if fraction is not None:
            out.append(_mirror(entry["destination"], fraction, vs, ctx))
    return out


def _mirror(destination: Any, fraction: JsonDict, vs: VirtualService, ctx: RouteContext) -> JsonDict:
    name = _cluster(DestinationRef.parse(destination, vs.namespace, ctx.index.cluster_domain), ctx)[0]
    return {
        "cluster": name,
        "runtime_fraction": {"default_value": fraction},
        "trace_sampled": False,
        "disable_shadow_host_suffix_append": True,  # DISABLE_SHADOW_HOST_SUFFIX, default true since 1.28
    }


def header_operations(headers: Any) -> tuple[JsonDict, str | None]:
    """``headers.request/response {set, add, remove}`` -> Envoy header fields, plus an authority rewrite.

    ``set`` entries (OVERWRITE_IF_EXISTS_OR_ADD) come first, then ``add`` (APPEND_IF_EXISTS_OR_ADD), each
    sorted by name; pseudo-headers and ``host`` are dropped, an ``:authority``/``host`` value (``set`` wins)
    becomes the authority rewrite."""
    headers = as_dict(headers)
    out: JsonDict = {}
    authority: str | None = None
    for direction in ("request", "response"):
        ops = as_dict(headers.get(direction))
        to_add: list[JsonDict] = []
        for op, action in (("set", "OVERWRITE_IF_EXISTS_OR_ADD"), ("add", "APPEND_IF_EXISTS_OR_ADD")):
            for key, value in sorted(as_dict(ops.get(op)).items()):
                key = str(key)
                if _is_internal(key):
                    if direction == "request" and key.lower() in (":authority", "host") and authority is None:
                        authority = str(value)
                    continue
                to_add.append({"header": {"key": key, "value": _header_value(value)}, "append_action": action})
        to_remove = [str(k) for k in as_list(ops.get("remove")) if not _is_internal(str(k))]
        if to_add:
            out[f"{direction}_headers_to_add"] = to_add
        if to_remove:
            out[f"{direction}_headers_to_remove"] = to_remove
    return out, authority


def _is_internal(name: str) -> bool:
    return name.startswith(":") or name.lower() == "host"


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def redirect_action(redirect: JsonDict, listen_port: int, *, gateway_semantics: bool = False) -> JsonDict | None:
    """``redirect`` -> Envoy RedirectAction; ``None`` for a code istiod does not map (see check_supported).
    With Gateway API semantics a ``%PREFIX()%`` URI replaces the matched prefix (``prefix_rewrite``)."""
    code = as_int(redirect.get("redirectCode"))
    if code not in _REDIRECT_CODES:
        return None
    out: JsonDict = {}
    if as_str(redirect.get("authority")):
        out["host_redirect"] = redirect["authority"]
    uri = as_str(redirect.get("uri"))
    if gateway_semantics and uri.startswith(PREFIX_REPLACE):
        out["prefix_rewrite"] = uri[len(PREFIX_REPLACE) :]
    elif uri:
        out["path_redirect"] = uri
    scheme = as_str(redirect.get("scheme"))
    if scheme:
        out["scheme_redirect"] = scheme
    port = 0
    if redirect.get("port") is not None:
        port = as_int(redirect["port"])
    elif as_str(redirect.get("derivePort")) == "FROM_REQUEST_PORT":
        port = listen_port  # Envoy cannot derive it; istiod renders the listener's port
    effective_scheme = scheme or "http"
    if port and not (effective_scheme == "http" and port == 80) and not (effective_scheme == "https" and port == 443):
        out["port_redirect"] = port
    out["response_code"] = _REDIRECT_CODES[code]
    return out


def direct_response(spec: JsonDict) -> JsonDict:
    """``directResponse`` -> Envoy DirectResponseAction (``body.bytes`` is base64 already)."""
    out: JsonDict = {"status": as_int(spec.get("status"))}
    body = as_dict(spec.get("body"))
    if isinstance(body.get("string"), str):
        out["body"] = {"inline_string": body["string"]}
    elif isinstance(body.get("bytes"), str):
        out["body"] = {"inline_bytes": body["bytes"]}
    return out


def _operation(route: JsonDict, vs_name: str, listen_port: int) -> str:
    """``decorator.operation``: ``<fqdn>:<port><path>`` for one cluster, else ``<vs>:<port><path>``."""
    match = route["match"]
    if "prefix" in match:
        path = f"{match['prefix']}*"
    elif "path" in match:
        path = str(match["path"])
    elif "safe_regex" in match:
        path = str(match["safe_regex"]["regex"])
    else:
        path = "/*"
    cluster = as_str(as_dict(route.get("route")).get("cluster"))
    parts = cluster.split("|")
    if len(parts) == 4 and parts[0] == "outbound" and parts[1].isdigit():
        return f"{parts[3]}:{parts[1]}{path}"
    return f"{vs_name}:{listen_port}{path}"
