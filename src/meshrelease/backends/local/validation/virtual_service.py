"""Istio's webhook rules for VirtualService (istio/istio 1.30.3 pkg/config/validation/validation.go
ValidateVirtualService; docs/istio-semantics.md §14; the semantics they guard: §1-§10)."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Mapping
from typing import Any

from meshrelease.backends.local.validation.common import (
    go_quote,
    go_value,
    is_dns1123_label,
    parse_duration_ns,
    port_problem,
    wildcard_domain_problem,
)
from meshrelease.backends.local.validation.istio_common import (
    JWT_CLAIM_PREFIX,
    TOKEN_CHARS,
    WebhookResult,
    as_dict,
    as_list,
    check_destination,
    check_export_to,
    check_gateway_names,
    check_header_operations,
    duration_problem,
    go_list,
    header_name_or_claim_problem,
    http_status_problem,
    is_authority_header,
    percentage_problem,
    regex_problem,
    string_match_problem,
    string_match_regex_problem,
    tag_problems,
)
from meshrelease.k8s.hosts import MESH_GATEWAY, is_ip, matches
from meshrelease.k8s.objects import FieldPath as Path

_KIB = 1024
_MIB = 1024 * 1024
_CORS_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE", "*"}
_RETRY_ON = {
    "5xx",
    "gateway-error",
    "reset",
    "reset-before-request",
    "connect-failure",
    "retriable-4xx",
    "refused-stream",
    "retriable-status-codes",
    "retriable-headers",
    "envoy-ratelimited",
    "http3-post-connect-failure",
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "unavailable",
}
# Status codes Go's net/http has a text for: retryOn accepts them as retriable status codes.
_HTTP_STATUS_CODES = {
    *range(100, 104),
    *range(200, 209),
    226,
    *range(300, 309),
    *range(400, 419),
    *range(421, 427),
    428,
    429,
    431,
    451,
    *range(500, 509),
    510,
    511,
}
_GRPC_STATUSES = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
}


def validate_virtual_service(spec: Mapping[str, Any], namespace: str) -> WebhookResult:
    """The webhook's VirtualService rules."""
    result = WebhookResult()
    hosts = [str(h) for h in as_list(spec.get("hosts"))]
    gateways = [str(g) for g in as_list(spec.get("gateways"))]
    http = as_list(spec.get("http"))
    tls = as_list(spec.get("tls"))
    tcp = as_list(spec.get("tcp"))
    if not hosts:  # a delegate VirtualService
        if gateways:
            result.err(("spec", "gateways"), "delegate virtual service must have no gateways specified")
        if tls:
            result.err(("spec", "tls"), "delegate virtual service must have no tls route specified")
        if tcp:
            result.err(("spec", "tcp"), "delegate virtual service must have no tcp route specified")
    applies_to_gateway = False
    if gateways:
        check_gateway_names(result, gateways, ("spec", "gateways"))
        applies_to_gateway = MESH_GATEWAY not in gateways
    applies_to_mesh = not applies_to_gateway
    if not applies_to_gateway:
        _check_jwt_claims_need_gateway(result, http, gateways)

    all_hosts_valid = True
    for index, host in enumerate(hosts):
        problem = wildcard_domain_problem(host)
        if problem is not None:
            if not is_ip(host):
                result.err(("spec", "hosts", index), problem)
                all_hosts_valid = False
        elif applies_to_mesh and host == "*":
            result.err(
                ("spec", "hosts", index),
                "wildcard host * is not allowed for virtual services bound to the mesh gateway",
            )
            all_hosts_valid = False
    if all_hosts_valid:
        for i, first in enumerate(hosts):
            for second in hosts[i + 1 :]:
                if matches(first, second):
                    result.err(("spec", "hosts"), f"duplicate hosts in virtual service: {first} & {second}")

    if not http and not tcp and not tls:
        result.err(("spec",), "http, tcp or tls must be provided in virtual service")
    for index, route in enumerate(http):
        if route is None:
            result.err(("spec", "http", index), "http route may not be null")
            continue
        _check_http_route(result, route, ("spec", "http", index), delegate=not hosts)
    for index, route in enumerate(tls):
        _check_tls_route(result, as_dict(route), ("spec", "tls", index), hosts)
    for index, route in enumerate(tcp):
        _check_tcp_route(result, as_dict(route), ("spec", "tcp", index))
    check_export_to(result, spec.get("exportTo"), namespace, ("spec", "exportTo"))
    return result


def _check_jwt_claims_need_gateway(result: WebhookResult, http: list[Any], gateways: list[str]) -> None:
    for r_index, route in enumerate(http):
        for m_index, match in enumerate(as_list(as_dict(route).get("match"))):
            for field_name in ("headers", "withoutHeaders"):
                for key in as_dict(as_dict(match).get(field_name)):
                    if str(key).startswith(JWT_CLAIM_PREFIX):
                        result.err(
                            ("spec", "http", r_index, "match", m_index, field_name, key),
                            f"JWT claim based routing (key: {key}) is only supported for gateway, "
                            f"found no gateways: {go_list(gateways)}",
                        )


def _check_http_route(result: WebhookResult, route: dict[str, Any], path: Path, *, delegate: bool) -> None:
    _check_route_conflicts(result, route, path, delegate=delegate)
    for index, match in enumerate(as_list(route.get("match"))):
        if isinstance(match, dict):
            _check_match_request(result, match, (*path, "match", index))
    check_header_operations(result, route.get("headers"), (*path, "headers"))
    if "corsPolicy" in route:
        _check_cors(result, as_dict(route["corsPolicy"]), (*path, "corsPolicy"))
    if "fault" in route:
        _check_fault(result, as_dict(route["fault"]), (*path, "fault"))
    for key in ("mirrorPercent", "mirror_percent"):
        if key in route:
            value = route[key]
            if isinstance(value, int) and value > 100:
                result.err((*path, key), f"mirror_percent must have a max value of 100 (it has {value})")
            result.warn((*path, key), 'using deprecated setting "mirrorPercent", use "mirrorPercentage" instead')
    if "mirrorPercentage" in route:
        value = as_dict(route["mirrorPercentage"]).get("value", 0)
        if isinstance(value, int | float):
            if value > 100:
                result.err(
                    (*path, "mirrorPercentage"),
                    f"mirror_percentage must have a max value of 100 (it has {value:f})",
                )
            if value < 0:
                result.err(
                    (*path, "mirrorPercentage"),
                    f"mirror_percentage must have a min value of 0 (it has {value:f})",
                )
    check_destination(result, route.get("mirror"), (*path, "mirror"))
    _check_mirrors(result, as_list(route.get("mirrors")), (*path, "mirrors"))
    if "redirect" in route:
        result.err((*path, "redirect"), _redirect_problem(as_dict(route["redirect"])))
    if "directResponse" in route:
        _check_direct_response(result, as_dict(route["directResponse"]), (*path, "directResponse"))
    if "retries" in route:
        _check_retries(result, as_dict(route["retries"]), (*path, "retries"))
    if "rewrite" in route:
        result.err((*path, "rewrite"), _rewrite_problem(as_dict(route["rewrite"])))
    result.err((*path, "headers"), _authority_rewrite_problem(route))
    _check_route_destinations(result, as_list(route.get("route")), (*path, "route"), http=True)
    if "timeout" in route:
        result.err((*path, "timeout"), duration_problem(route["timeout"]))


def _check_route_conflicts(result: WebhookResult, route: dict[str, Any], path: Path, *, delegate: bool) -> None:
    has_route = bool(as_list(route.get("route")))
    name = str(route.get("name", ""))
    if not delegate and "delegate" in route:  # a root route: it may only delegate
        if "redirect" in route:
            result.err((*path, "redirect"), f"root HTTP route {name} must not specify redirect")
        if has_route:
            result.err((*path, "route"), f"root HTTP route {name} must not specify route")
        return
    if delegate and "delegate" in route:
        result.err((*path, "delegate"), "delegate HTTP route cannot contain delegate")
    if "redirect" in route:
        if has_route:
            result.err(path, "HTTP route cannot contain both route and redirect")
        if "fault" in route:
            result.err(path, "HTTP route cannot contain both fault and redirect")
        if "rewrite" in route:
            result.err(path, "HTTP route rule cannot contain both rewrite and redirect")
        if "directResponse" in route:
            result.err(path, "HTTP route rule cannot contain both direct_response and redirect")
    elif "directResponse" in route:
        if has_route:
            result.err(path, "HTTP route cannot contain both route and direct_response")
        if "fault" in route:
            result.err(path, "HTTP route cannot contain both fault and direct_response")
        if "rewrite" in route:
            result.err(path, "HTTP route rule cannot contain both rewrite and direct_response")
    elif not has_route:
        result.err(path, "HTTP route, redirect or direct_response is required")
    if "mirror" in route and as_list(route.get("mirrors")):
        result.err(path, "HTTP route cannot contain both mirror and mirrors")


def _check_match_request(result: WebhookResult, match: dict[str, Any], path: Path) -> None:
    for name, value in as_dict(match.get("headers")).items():
        here = (*path, "headers", name)
        result.err(here, header_name_or_claim_problem(name))
        result.err(here, string_match_problem(value, "headers"))
    for name, value in as_dict(match.get("withoutHeaders")).items():
        here = (*path, "withoutHeaders", name)
        result.err(here, header_name_or_claim_problem(name))
        if as_dict(value).get("regex") != "*":  # "*" means "present", it is not a regex
            result.err(here, string_match_problem(value, "withoutHeaders"))
    # An empty uri prefix is allowed (Envoy's path prefix may be empty); scheme/method/authority may not.
    result.err((*path, "uri"), string_match_regex_problem(match.get("uri"), "uri"))
    for key in ("scheme", "method", "authority"):
        result.err((*path, key), string_match_problem(match.get(key), key))
    for name, value in as_dict(match.get("queryParams")).items():
        result.err((*path, "queryParams", name), string_match_problem(value, "queryParams"))
    if match.get("port"):
        result.err((*path, "port"), port_problem(match["port"]))
    for problem in tag_problems(match.get("sourceLabels")):
        result.err((*path, "sourceLabels"), problem)
    check_gateway_names(result, match.get("gateways"), (*path, "gateways"))
    source_namespace = match.get("sourceNamespace")
    if source_namespace and not is_dns1123_label(str(source_namespace)):
        result.err((*path, "sourceNamespace"), f"sourceNamespace match {source_namespace} is invalid")


def _check_cors(result: WebhookResult, policy: dict[str, Any], path: Path) -> None:
    for index, origin in enumerate(as_list(policy.get("allowOrigins"))):
        origin = as_dict(origin)
        value = next((origin[k] for k in ("exact", "prefix", "regex") if k in origin), "")
        here = (*path, "allowOrigins", index)
        if value == "":
            result.err(here, f"'{value}' is not a valid match type for CORS allow origins")
        else:
            result.err(here, string_match_regex_problem(origin, "corsPolicy.allowOrigins"))
    for index, method in enumerate(as_list(policy.get("allowMethods"))):
        if method not in _CORS_METHODS:
            result.err((*path, "allowMethods", index), f"{go_quote(str(method))} is not a supported HTTP method")
    for key in ("allowHeaders", "exposeHeaders"):
        for index, name in enumerate(as_list(policy.get(key))):
            name = str(name)
            if name == "":
                result.err((*path, key, index), "header name cannot be empty")
            elif name != "*" and not set(name) <= TOKEN_CHARS:
                result.err((*path, key, index), f"header name {name} is not a valid header name")
    if "maxAge" in policy:
        result.err((*path, "maxAge"), duration_problem(policy["maxAge"]))
        nanos = parse_duration_ns(str(policy["maxAge"]))
        if nanos is not None and nanos % 1_000_000_000:
            result.err((*path, "maxAge"), "max_age duration is accurate only to seconds precision")


def _check_fault(result: WebhookResult, fault: dict[str, Any], path: Path) -> None:
    if "abort" not in fault and "delay" not in fault:
        result.err(path, "HTTP fault injection must have an abort and/or a delay")
    if "abort" in fault:
        abort = as_dict(fault["abort"])
        here = (*path, "abort")
        result.err((*here, "percentage"), percentage_problem(abort.get("percentage")))
        if "grpcStatus" in abort:
            status = str(abort["grpcStatus"])
            if status not in _GRPC_STATUSES:
                result.err(
                    (*here, "grpcStatus"),
                    f"gRPC status {go_quote(status)} is not supported. See "
                    "https://github.com/grpc/grpc/blob/master/doc/statuscodes.md "
                    "for a list of supported codes, for example 'NOT_FOUND'",
                )
        elif "http2Error" in abort:
            result.err((*here, "http2Error"), "HTTP/2 abort fault injection not supported yet")
        elif "httpStatus" in abort:
            result.err((*here, "httpStatus"), http_status_problem(abort["httpStatus"]))
        else:
            result.warn(here, "abort configured, but error type not set")
    if "delay" in fault:
        delay = as_dict(fault["delay"])
        here = (*path, "delay")
        result.err((*here, "percentage"), percentage_problem(delay.get("percentage")))
        if "fixedDelay" in delay:
            result.err((*here, "fixedDelay"), duration_problem(delay["fixedDelay"]))
        elif "exponentialDelay" in delay:
            result.err((*here, "exponentialDelay"), duration_problem(delay["exponentialDelay"]))
            result.err((*here, "exponentialDelay"), "exponentialDelay not supported yet")


def _check_mirrors(result: WebhookResult, mirrors: list[Any], path: Path) -> None:
    for index, mirror in enumerate(mirrors):
        here = (*path, index)
        if mirror is None:
            result.err(here, "mirror cannot be null")
            continue
        mirror = as_dict(mirror)
        if "destination" not in mirror:
            result.err(here, "destination is required for mirrors")
            continue
        check_destination(result, mirror["destination"], (*here, "destination"))
        if "percentage" in mirror:
            value = as_dict(mirror["percentage"]).get("value", 0)
            if isinstance(value, int | float):
                if value > 100:
                    result.err(
                        (*here, "percentage"),
                        f"mirror percentage must have a max value of 100 (it has {value:f})",
                    )
                if value < 0:
                    result.err(
                        (*here, "percentage"),
                        f"mirror percentage must have a min value of 0 (it has {value:f})",
                    )


def _redirect_problem(redirect: dict[str, Any]) -> str | None:
    """Istio reports only the first problem of a redirect."""
    if not any(redirect.get(k) for k in ("uri", "authority", "scheme")) and not (
        "port" in redirect or "derivePort" in redirect
    ):
        return "redirect must specify URI, authority, scheme, or port"
    code = redirect.get("redirectCode", 0)
    if code and not 300 <= code <= 399:
        return f"{code} is not a valid redirect code, must be 3xx"
    scheme = redirect.get("scheme")
    if scheme and scheme not in ("http", "https"):
        return 'invalid redirect scheme, must be "http" or "https"'
    port = redirect.get("port", 0)
    if port:
        return port_problem(port)
    return None


def _check_direct_response(result: WebhookResult, response: dict[str, Any], path: Path) -> None:
    body = as_dict(response.get("body"))
    size = 0
    if "string" in body:
        size = len(str(body["string"]).encode())
    elif "bytes" in body:
        try:
            size = len(base64.b64decode(str(body["bytes"]), validate=True))
        except (binascii.Error, ValueError):
            size = len(str(body["bytes"]))
    if size > _MIB:
        result.err(
            (*path, "body"),
            "large direct_responses may impact control plane performance, must be less than 1MB",
        )
    elif size > 100 * _KIB:
        result.warn((*path, "body"), "large direct_responses may impact control plane performance")
    result.err((*path, "status"), http_status_problem(response.get("status", 0)))


def _check_retries(result: WebhookResult, retries: dict[str, Any], path: Path) -> None:
    attempts = retries.get("attempts", 0)
    if isinstance(attempts, int) and attempts < 0:
        result.err((*path, "attempts"), "attempts cannot be negative")
    if attempts == 0 and ("perTryTimeout" in retries or retries.get("retryOn") or "retryRemoteLocalities" in retries):
        result.err(path, "http retry policy configured when attempts are set to 0 (disabled)")
    if "perTryTimeout" in retries:
        result.err((*path, "perTryTimeout"), duration_problem(retries["perTryTimeout"]))
    retry_on = retries.get("retryOn")
    if retry_on:
        for policy in str(retry_on).split(","):
            if not _is_status_code(policy) and policy not in _RETRY_ON:
                result.err((*path, "retryOn"), f"{go_quote(policy)} is not a valid retryOn policy")
    if "backoff" in retries:
        result.err((*path, "backoff"), duration_problem(retries["backoff"]))


def _is_status_code(text: str) -> bool:
    return text.isascii() and text.lstrip("+-").isdigit() and int(text) in _HTTP_STATUS_CODES


def _rewrite_problem(rewrite: dict[str, Any]) -> str | None:
    regex_rewrite = rewrite.get("uriRegexRewrite")
    if rewrite.get("uri") and regex_rewrite is not None:
        return "rewrite may only contain one of URI or UriRegexRewrite"
    if not rewrite.get("uri") and regex_rewrite is None and not rewrite.get("authority"):
        return (
            "rewrite must specify at least one of URI, UriRegexRewrite, or authority. Only one of URI or "
            "UriRegexRewrite may be specified"
        )
    if regex_rewrite is not None:
        regex_rewrite = as_dict(regex_rewrite)
        if not regex_rewrite.get("match") or not regex_rewrite.get("rewrite"):
            problem: str | None = "UriRegexRewrite requires both Rewrite and Match fields to be specified"
        else:
            problem = regex_problem(str(regex_rewrite["match"]), "HTTPRewrite.UriRegexRewrite.Match")
        if problem is not None:
            return f"UriRegexRewrite has errors\n{problem}"
    return None


def _authority_rewrite_problem(route: dict[str, Any]) -> str | None:
    current = str(as_dict(route.get("rewrite")).get("authority", ""))
    request = as_dict(as_dict(route.get("headers")).get("request"))
    for op in ("set", "add"):
        for name, value in as_dict(request.get(op)).items():
            if not is_authority_header(name):
                continue
            if current:
                return (
                    f"authority header cannot be set multiple times: have {go_quote(current)}, "
                    f"attempting to set {go_quote(str(value))}"
                )
            current = str(value)
    return None


def _check_route_destinations(result: WebhookResult, destinations: list[Any], path: Path, *, http: bool) -> None:
    total = 0
    for index, entry in enumerate(destinations):
        here = (*path, index)
        if entry is None:
            result.err(here, "weight may not be nil")
            continue
        entry = as_dict(entry)
        if "destination" not in entry:
            result.err(here, "destination is required")
        if http:
            check_header_operations(result, entry.get("headers"), (*here, "headers"))
        check_destination(result, entry.get("destination"), (*here, "destination"))
        weight = entry.get("weight", 0)
        if isinstance(weight, int | float):
            if weight < 0:
                result.err((*here, "weight"), f"weight {go_value(weight)} < 0")
            total += int(weight)
    if len(destinations) > 1 and total == 0:
        result.err(path, "total destination weight = 0")


def _check_tls_route(result: WebhookResult, route: dict[str, Any], path: Path, hosts: list[str]) -> None:
    matches = as_list(route.get("match"))
    if not matches:
        result.err(path, "TLS route must have at least one match condition")
    for index, match in enumerate(matches):
        here = (*path, "match", index)
        if match is None:
            result.err(here, "TLS match may not be null")
            continue
        match = as_dict(match)
        sni_hosts = [str(h) for h in as_list(match.get("sniHosts"))]
        if not sni_hosts:
            result.err((*here, "sniHosts"), "TLS match must have at least one SNI host")
        for sni in sni_hosts:
            problem = wildcard_domain_problem(sni)
            if problem is not None:
                if is_ip(sni):
                    result.warn(
                        (*here, "sniHosts"),
                        f"using an IP address ({go_quote(sni)}) goes against SNI spec and most clients do "
                        "not support this",
                    )
                else:
                    result.err((*here, "sniHosts"), problem)
            elif not any(_host_subset_of(sni, h) for h in hosts):
                result.err(
                    (*here, "sniHosts"),
                    f"SNI host {go_quote(sni)} is not a compatible subset of any of the virtual service "
                    f"hosts: [{', '.join(hosts)}]",
                )
        _check_l4_match(result, match, here)
    if not as_list(route.get("route")):
        result.err(path, "TLS route is required")
    _check_route_destinations(result, as_list(route.get("route")), (*path, "route"), http=False)


def _host_subset_of(host: str, other: str) -> bool:
    """Istio's host.Name.SubsetOf: ``host`` is covered by ``other``."""
    if host == other:
        return True
    if other.startswith("*"):
        suffix = other[1:]
        return host[1:].endswith(suffix) if host.startswith("*") else host.endswith(suffix)
    return False


def _check_tcp_route(result: WebhookResult, route: dict[str, Any], path: Path) -> None:
    for index, match in enumerate(as_list(route.get("match"))):
        here = (*path, "match", index)
        if match is None:
            result.err(here, "tcp match may not be nil")
            continue
        _check_l4_match(result, as_dict(match), here)
    if not as_list(route.get("route")):
        result.err(path, "TCP route is required")
    _check_route_destinations(result, as_list(route.get("route")), (*path, "route"), http=False)


def _check_l4_match(result: WebhookResult, match: dict[str, Any], path: Path) -> None:
    for index, subnet in enumerate(as_list(match.get("destinationSubnets"))):
        result.err((*path, "destinationSubnets", index), _subnet_problem(str(subnet)))
    if match.get("port"):
        result.err((*path, "port"), port_problem(match["port"]))
    for problem in tag_problems(match.get("sourceLabels")):
        result.err((*path, "sourceLabels"), problem)
    check_gateway_names(result, match.get("gateways"), (*path, "gateways"))


def _subnet_problem(text: str) -> str | None:
    try:
        if "/" in text:
            ipaddress.ip_network(text, strict=False)
        else:
            ipaddress.ip_address(text)
    except ValueError:
        return f"{go_quote(text)} is not a valid IP address or subnet"
    return None
