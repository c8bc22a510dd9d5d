"""HTTPMatchRequest -> Envoy RouteMatch (istio/istio 1.30.3 pilot/pkg/networking/core/route/route.go
TranslateRouteMatch; docs/istio-semantics.md). Whether a match block yields a route at all (port,
sourceLabels, sourceNamespace, match-level gateways) is decided in :mod:`meshrelease.k8s.istio_routes`.
"""

from __future__ import annotations

from typing import Any

from meshrelease.backends.local.translate.values import JsonDict, as_dict, as_str

# Pseudo-headers appended after the sorted header matchers, in this order.
_PSEUDO_HEADERS = (("method", ":method"), ("authority", ":authority"), ("scheme", ":scheme"))


def is_presence_match(match: Any) -> bool:
    """``{}`` (or null) and ``regex: "*"`` mean "present", whatever the value."""
    m = as_dict(match)
    if not any(k in m for k in ("exact", "prefix", "regex")):
        return True
    return m.get("regex") == "*"


def string_matcher(match: Any) -> JsonDict:
    """Istio StringMatch (exact/prefix/regex) as Envoy StringMatcher (regex: full-match RE2)."""
    m = as_dict(match)
    if "exact" in m:
        return {"exact": as_str(m["exact"])}
    if "prefix" in m:
        return {"prefix": as_str(m["prefix"])}
    return {"safe_regex": {"regex": as_str(m.get("regex"))}}


def header_matcher(name: str, match: Any, *, invert: bool = False) -> JsonDict:
    """One Envoy HeaderMatcher; ``invert`` renders a ``withoutHeaders`` entry."""
    out: JsonDict = {"name": name}
    presence = is_presence_match(match)
    if presence:
        out["present_match"] = True
    else:
        out["string_match"] = string_matcher(match)
    if invert:
        out["invert_match"] = True
        if not presence:
            # A missing header counts as "" so that "without x: exact foo" matches requests lacking x;
            # Envoy rejects the flag together with present_match.
            out["treat_missing_header_as_empty"] = True
    return out


def route_match(match: JsonDict | None, *, gateway_semantics: bool = False) -> JsonDict:
    """The Envoy ``match`` for one match block (``None``: a rule without ``match``). With Gateway API
    semantics a path prefix other than ``/`` matches whole segments (``path_separated_prefix``)."""
    if match is None:
        return {"prefix": "/"}
    out: JsonDict = {}
    uri = match.get("uri")
    if isinstance(uri, dict) and "exact" in uri:
        out["path"] = as_str(uri["exact"])
    elif isinstance(uri, dict) and "prefix" in uri and gateway_semantics and as_str(uri["prefix"]) != "/":
        prefix = as_str(uri["prefix"])
        out["path_separated_prefix"] = prefix[:-1] if prefix.endswith("/") else prefix
    elif isinstance(uri, dict) and "prefix" in uri:
        out["prefix"] = as_str(uri["prefix"])
    elif isinstance(uri, dict) and "regex" in uri:
        out["safe_regex"] = {"regex": as_str(uri["regex"])}
    else:
        out["prefix"] = "/"
    out["case_sensitive"] = match.get("ignoreUriCase") is not True
    headers = [header_matcher(str(k), v) for k, v in as_dict(match.get("headers")).items()]
    headers += [header_matcher(str(k), v, invert=True) for k, v in as_dict(match.get("withoutHeaders")).items()]
    headers.sort(key=lambda h: str(h["name"]))  # stable: a name in both lists keeps headers first
    for field, pseudo in _PSEUDO_HEADERS:
        if match.get(field) is not None:
            headers.append(header_matcher(pseudo, match[field]))
    if headers:
        out["headers"] = headers
    params = []
    for name, value in sorted(as_dict(match.get("queryParams")).items()):
        if is_presence_match(value):
            params.append({"name": str(name), "present_match": True})
        else:
            params.append({"name": str(name), "string_match": string_matcher(value)})
    if params:
        out["query_parameters"] = params
    return out


def is_catch_all(match: JsonDict) -> bool:
    """A rendered match that takes every request: prefix ``/`` (or regex ``.*``), no header/query matcher."""
    if match.get("headers") or match.get("query_parameters") or match.get("dynamic_metadata"):
        return False
    return match.get("prefix") == "/" or as_dict(match.get("safe_regex")).get("regex") == ".*"
