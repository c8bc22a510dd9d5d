"""The CEL rules of the Gateway API CRDs (v1.5.1) for Gateway and HTTPRoute, with the CRDs' own messages.

The API server runs these after the structural schema (:mod:`.gateway_api_schema`) and words a failure as
``<field>: Invalid value: "object": <message>`` (``"array"`` for a rule on a list). Only rules of fields the
schema models are here; each names the field it is declared on in the CRD.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from meshrelease.backends.local.validation.common import Problem
from meshrelease.k8s.gateway_api import gateway_duration_seconds
from meshrelease.k8s.objects import FieldPath as Path
from meshrelease.k8s.objects import format_path

REDIRECT_CODES = (301, 302, 303, 307, 308)
_PATH_CHARS = re.compile(r"^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$")
_FILTER_FIELDS = {
    "RequestHeaderModifier": "requestHeaderModifier",
    "ResponseHeaderModifier": "responseHeaderModifier",
    "RequestMirror": "requestMirror",
    "RequestRedirect": "requestRedirect",
    "URLRewrite": "urlRewrite",
    "ExtensionRef": "extensionRef",
    "CORS": "cors",
    "ExternalAuth": "externalAuth",
}
_UNREPEATABLE = ("CORS", "RequestHeaderModifier", "ResponseHeaderModifier", "RequestRedirect", "URLRewrite")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _invalid(path: Path, message: str, what: str = "object") -> Problem:
    return Problem(path, f'{format_path(path)}: Invalid value: "{what}": {message}')


def gateway_api_problems(kind: str, spec: Mapping[str, Any]) -> list[Problem]:
    """The CEL-rule failures of one Gateway API object's spec (the schema already passed)."""
    if kind == "HTTPRoute":
        return _http_route(spec)
    if kind == "Gateway":
        return _gateway(spec)
    return []


# ------------------------------------------------------------------------------------------ HTTPRoute
def _http_route(spec: Mapping[str, Any]) -> list[Problem]:
    problems = _parent_refs(_list(spec.get("parentRefs")), ("spec", "parentRefs"))
    rules = _list(spec.get("rules"))
    if sum(len(_list(_dict(r).get("matches"))) for r in rules) > 128:
        problems.append(
            _invalid(
                ("spec", "rules"),
                "While 16 rules and 64 matches per rule are allowed, the total number of matches across all "
                "rules in a route must be less than 128",
                "array",
            )
        )
    names = [_dict(r).get("name") for r in rules if _dict(r).get("name") is not None]
    if len(names) != len(set(names)):
        problems.append(_invalid(("spec", "rules"), "Rule name must be unique within the route", "array"))
    for i, raw in enumerate(rules):
        problems += _rule(_dict(raw), ("spec", "rules", i))
    return problems


def _parent_refs(refs: list[Any], path: Path) -> list[Problem]:
    def same_parent(a: dict[str, Any], b: dict[str, Any]) -> bool:
        keys = ("group", "kind", "name", "namespace")
        return all(a.get(k) == b.get(k) for k in keys)

    items = [_dict(r) for r in refs]
    for i, a in enumerate(items):
        for b in items[i + 1 :]:
            if not same_parent(a, b):
                continue
            if not (a.get("sectionName") or a.get("port")) or not (b.get("sectionName") or b.get("port")):
                return [
                    _invalid(
                        path,
                        "sectionName or port must be specified when parentRefs includes 2 or more references "
                        "to the same parent",
                        "array",
                    )
                ]
            if a.get("sectionName") == b.get("sectionName") and a.get("port") == b.get("port"):
                return [
                    _invalid(
                        path,
                        "sectionName or port must be unique when parentRefs includes 2 or more references to "
                        "the same parent",
                        "array",
                    )
                ]
    return []


def _rule(rule: dict[str, Any], path: Path) -> list[Problem]:
    problems: list[Problem] = []
    filters = [_dict(f) for f in _list(rule.get("filters"))]
    backends = [_dict(b) for b in _list(rule.get("backendRefs"))]
    matches = [_dict(m) for m in _list(rule.get("matches"))]
    if backends and any(f.get("type") == "RequestRedirect" or "requestRedirect" in f for f in filters):
        problems.append(_invalid(path, "RequestRedirect filter must not be used together with backendRefs"))
    for kind, field in (("RequestRedirect", "requestRedirect"), ("URLRewrite", "urlRewrite")):
        if _uses_prefix_replace(filters, field) and not _one_prefix_match(matches):
            problems.append(
                _invalid(
                    path,
                    f"When using {kind} filter with path.replacePrefixMatch, exactly one PathPrefix match must be "
                    "specified",
                )
            )
    problems += _filters(filters, (*path, "filters"))
    for i, match in enumerate(matches):
        problems += _path_match(_dict(match.get("path")), (*path, "matches", i, "path"))
    for i, backend in enumerate(backends):
        problems += _backend_ref(backend, (*path, "backendRefs", i))
        problems += _filters([_dict(f) for f in _list(backend.get("filters"))], (*path, "backendRefs", i, "filters"))
    timeouts = _dict(rule.get("timeouts"))
    request, backend_request = timeouts.get("request"), timeouts.get("backendRequest")
    if isinstance(request, str) and isinstance(backend_request, str):
        limit, wanted = gateway_duration_seconds(request), gateway_duration_seconds(backend_request)
        if limit is not None and wanted is not None and limit != 0 and wanted > limit:
            problems.append(
                _invalid((*path, "timeouts"), "backendRequest timeout cannot be longer than request timeout")
            )
    return problems


def _uses_prefix_replace(filters: list[dict[str, Any]], field: str) -> bool:
    return any(_dict(_dict(f.get(field)).get("path")).get("type") == "ReplacePrefixMatch" for f in filters)


def _one_prefix_match(matches: list[dict[str, Any]]) -> bool:
    if len(matches) != 1:
        return False
    path = _dict(matches[0].get("path"))
    return bool(path.get("type", "PathPrefix") == "PathPrefix")


def _filters(filters: list[dict[str, Any]], path: Path) -> list[Problem]:
    problems: list[Problem] = []
    types = [f.get("type") for f in filters]
    if "RequestRedirect" in types and "URLRewrite" in types:
        problems.append(
            _invalid(
                path,
                "May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both",
                "array",
            )
        )
    for kind in _UNREPEATABLE:
        if types.count(kind) > 1:
            problems.append(_invalid(path, f"{kind} filter cannot be repeated", "array"))
    for i, item in enumerate(filters):
        where = (*path, i)
        filter_type = item.get("type")
        for name, field in _FILTER_FIELDS.items():
            if field in item and filter_type != name:
                problems.append(_invalid(where, f"filter.{field} must be nil if the filter.type is not {name}"))
            if filter_type == name and field not in item:
                problems.append(_invalid(where, f"filter.{field} must be specified for {name} filter.type"))
        for field in ("requestRedirect", "urlRewrite"):
            modifier = _dict(_dict(item.get(field)).get("path"))
            if modifier:
                problems += _path_modifier(modifier, (*where, field, "path"))
        redirect = _dict(item.get("requestRedirect"))
        code = redirect.get("statusCode")
        if isinstance(code, int) and code not in REDIRECT_CODES:
            supported = ", ".join(str(c) for c in REDIRECT_CODES)
            problems.append(
                Problem(
                    (*where, "requestRedirect", "statusCode"),
                    f"{format_path((*where, 'requestRedirect', 'statusCode'))}: Unsupported value: {code}: "
                    f"supported values: {supported}",
                )
            )
        mirror = _dict(item.get("requestMirror"))
        if mirror:
            if "percent" in mirror and "fraction" in mirror:
                problems.append(
                    _invalid(
                        (*where, "requestMirror"),
                        "Only one of percent or fraction may be specified in HTTPRequestMirrorFilter",
                    )
                )
            fraction = _dict(mirror.get("fraction"))
            numerator, denominator = fraction.get("numerator"), fraction.get("denominator", 100)
            if isinstance(numerator, int) and isinstance(denominator, int) and numerator > denominator:
                problems.append(
                    _invalid(
                        (*where, "requestMirror", "fraction"), "numerator must be less than or equal to denominator"
                    )
                )
            problems += _backend_ref(_dict(mirror.get("backendRef")), (*where, "requestMirror", "backendRef"))
    return problems


def _path_modifier(modifier: dict[str, Any], path: Path) -> list[Problem]:
    problems: list[Problem] = []
    kind = modifier.get("type")
    for name, field in (("ReplaceFullPath", "replaceFullPath"), ("ReplacePrefixMatch", "replacePrefixMatch")):
        if kind == name and field not in modifier:
            problems.append(_invalid(path, f"{field} must be specified when type is set to '{name}'"))
        if field in modifier and kind != name:
            problems.append(_invalid(path, f"type must be '{name}' when {field} is set"))
    return problems


def _backend_ref(ref: dict[str, Any], path: Path) -> list[Problem]:
    if ref.get("group", "") == "" and ref.get("kind", "Service") == "Service" and "port" not in ref:
        return [_invalid(path, "Must have port for Service reference")]
    return []


def _path_match(match: dict[str, Any], path: Path) -> list[Problem]:
    if not match:
        return []
    kind = match.get("type", "PathPrefix")
    value = match.get("value", "/")
    if kind not in ("Exact", "PathPrefix") or not isinstance(value, str):
        return []
    suffix = "when type one of ['Exact', 'PathPrefix']"
    checks = [
        (not value.startswith("/"), f"value must be an absolute path and start with '/' {suffix}"),
        ("//" in value, f"must not contain '//' {suffix}"),
        ("/./" in value, f"must not contain '/./' {suffix}"),
        ("/../" in value, f"must not contain '/../' {suffix}"),
        ("%2f" in value, f"must not contain '%2f' {suffix}"),
        ("%2F" in value, f"must not contain '%2F' {suffix}"),
        ("#" in value, f"must not contain '#' {suffix}"),
        (value.endswith("/.."), f"must not end with '/..' {suffix}"),
        (value.endswith("/."), f"must not end with '/.' {suffix}"),
        (
            _PATH_CHARS.match(value) is None,
            "must only contain valid characters (matching ^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$) "
            "for types ['Exact', 'PathPrefix']",
        ),
    ]
    return [_invalid(path, message) for failed, message in checks if failed]


# ------------------------------------------------------------------------------------------ Gateway
def _gateway(spec: Mapping[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    path: Path = ("spec", "listeners")
    listeners = [_dict(item) for item in _list(spec.get("listeners"))]
    protocols = [item.get("protocol") for item in listeners]
    pairs = list(zip(listeners, protocols, strict=True))
    if any(item.get("tls") is not None and p in ("HTTP", "TCP", "UDP") for item, p in pairs):
        problems.append(_invalid(path, "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']", "array"))
    if any(p == "HTTPS" and _dict(item.get("tls")).get("mode", "Terminate") != "Terminate" for item, p in pairs):
        problems.append(_invalid(path, "tls mode must be Terminate for protocol HTTPS", "array"))
    if any(p == "TLS" and not _dict(item.get("tls")).get("mode") for item, p in pairs):
        problems.append(_invalid(path, "tls mode must be set for protocol TLS", "array"))
    if any(item.get("hostname") and p in ("TCP", "UDP") for item, p in pairs):
        problems.append(_invalid(path, "hostname must not be specified for protocols ['TCP', 'UDP']", "array"))
    names = [item.get("name") for item in listeners]
    if len(names) != len(set(names)):
        problems.append(_invalid(path, "Listener name must be unique within the Gateway", "array"))
    combos = [(item.get("port"), item.get("protocol"), item.get("hostname") or "") for item in listeners]
    if len(combos) != len(set(combos)):
        problems.append(
            _invalid(path, "Combination of port, protocol and hostname must be unique for each listener", "array")
        )
    return problems
