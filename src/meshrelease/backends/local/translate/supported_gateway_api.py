"""Gateway API fields the local backend cannot run (yet), as explicit errors naming the object and field.

The local mesh runs Gateways of class ``istio`` with HTTP listeners, and HTTPRoutes with path, header,
query-parameter and method matches, Service backends (weights included), the RequestHeaderModifier,
ResponseHeaderModifier, RequestRedirect, URLRewrite and RequestMirror filters, timeouts and retries.
"""

from __future__ import annotations

from typing import Any

from meshrelease.backends.local.translate.errors import unsupported
from meshrelease.backends.local.translate.values import as_dict, as_list, as_str

_UNSUPPORTED_FILTERS = ("ExtensionRef", "CORS", "ExternalAuth")


def scan_gateway_api(kind: str, ref: str, spec: dict[str, Any]) -> list[str]:
    """Error lines for one Gateway API object's unsupported fields."""
    if kind == "Gateway":
        return _gateway(ref, spec)
    if kind == "HTTPRoute":
        return _http_route(ref, spec)
    return []


def _gateway(ref: str, spec: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for field in ("addresses", "tls", "allowedListeners"):
        if spec.get(field):
            out.append(unsupported(ref, f"spec.{field}"))
    if as_dict(spec.get("infrastructure")).get("parametersRef") is not None:
        out.append(unsupported(ref, "spec.infrastructure.parametersRef"))
    for i, item in enumerate(as_list(spec.get("listeners"))):
        listener = as_dict(item)
        protocol = as_str(listener.get("protocol"))
        if protocol != "HTTP":
            out.append(
                unsupported(ref, f"spec.listeners[{i}].protocol", protocol, why="the local mesh serves HTTP listeners")
            )
        for kind in as_list(as_dict(listener.get("allowedRoutes")).get("kinds")):
            name = as_str(as_dict(kind).get("kind"))
            if name != "HTTPRoute":
                out.append(unsupported(ref, f"spec.listeners[{i}].allowedRoutes.kinds", name))
    return out


def _http_route(ref: str, spec: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for i, item in enumerate(as_list(spec.get("rules"))):
        rule = as_dict(item)
        where = f"spec.rules[{i}]"
        if rule.get("sessionPersistence") is not None:
            out.append(unsupported(ref, f"{where}.sessionPersistence"))
        out += _filters(ref, f"{where}.filters", as_list(rule.get("filters")))
        for j, backend in enumerate(as_list(rule.get("backendRefs"))):
            out += _filters(ref, f"{where}.backendRefs[{j}].filters", as_list(as_dict(backend).get("filters")))
    return out


def _filters(ref: str, where: str, filters: list[Any]) -> list[str]:
    out = []
    for i, item in enumerate(filters):
        kind = as_str(as_dict(item).get("type"))
        if kind in _UNSUPPORTED_FILTERS:
            out.append(unsupported(ref, f"{where}[{i}].type", kind))
    return out
