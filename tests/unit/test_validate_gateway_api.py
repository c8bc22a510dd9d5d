"""Gateway and HTTPRoute validation through ObjectStore.apply, as the API server with the Gateway API v1.5.1
CRDs answers: the structural schema (unknown fields, enums, maxItems, patterns) and every CEL rule of
backends/local/validation/gateway_api.py, each with the CRD's message, and upstream-style manifests accepted."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from meshrelease.backends.local.apiserver.store import ObjectStore
from meshrelease.errors import ValidationError

Spec = dict[str, Any]
PREFIX = {"path": {"type": "PathPrefix", "value": "/api"}}
BACKEND = {"name": "reviews", "port": 9080}
REDIRECT = {"type": "RequestRedirect", "requestRedirect": {"scheme": "https"}}
REWRITE = {"type": "URLRewrite", "urlRewrite": {"hostname": "x.example"}}
ADD_HEADER = {"type": "RequestHeaderModifier", "requestHeaderModifier": {"add": [{"name": "a", "value": "b"}]}}
PREFIX_REDIRECT = {
    "type": "RequestRedirect",
    "requestRedirect": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/new"}},
}
PREFIX_REWRITE = {
    "type": "URLRewrite",
    "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/new"}},
}
CEL = 'Invalid value: "object": '
CEL_LIST = 'Invalid value: "array": '
PATH_SUFFIX = "when type one of ['Exact', 'PathPrefix']"


def http_route(mutate: Callable[[Spec], Any] = lambda s: None) -> dict[str, Any]:
    spec: Spec = {"parentRefs": [{"name": "gw"}], "rules": [{"matches": [PREFIX], "backendRefs": [BACKEND]}]}
    spec = copy.deepcopy(spec)
    mutate(spec)
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "r"}, "spec": spec}


def gateway(listeners: list[dict[str, Any]]) -> dict[str, Any]:
    spec = {"gatewayClassName": "istio", "listeners": listeners}
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "gw"}, "spec": spec}


def listener(name: str = "http", port: int = 80, protocol: str = "HTTP", **extra: Any) -> dict[str, Any]:
    return {"name": name, "port": port, "protocol": protocol, **extra}


def errors(doc: dict[str, Any]) -> list[str]:
    store = ObjectStore()
    with pytest.raises(ValidationError) as caught:
        store.apply([doc], source="gw.yaml")
    assert store.objects() == [] or all(o.key.kind == "Namespace" for o in store.objects())
    return list(caught.value.errors)


def rule(**fields: Any) -> Callable[[Spec], None]:
    def mutate(spec: Spec) -> None:
        spec["rules"][0].update(fields)

    return mutate


def one_rule(r: dict[str, Any]) -> Callable[[Spec], None]:
    def mutate(spec: Spec) -> None:
        spec["rules"] = [r]

    return mutate


SCHEMA_CASES = [
    (
        "unknown-field",
        http_route(lambda s: s.update(bogus=1)),
        'HTTPRoute in version "v1" cannot be handled as a HTTPRoute: strict decoding error: unknown field "spec.bogus"',
    ),
    (
        "enum",
        http_route(rule(matches=[{"path": {"type": "Prefix", "value": "/"}}])),
        'spec.rules[0].matches[0].path.type: Unsupported value: "Prefix": supported values: "Exact", "PathPrefix", '
        '"RegularExpression"',
    ),
    (
        "max-items-parent-refs",
        http_route(lambda s: s.update(parentRefs=[{"name": f"g{i}"} for i in range(33)])),
        "spec.parentRefs: Too many: 33: must have at most 32 items",
    ),
    (
        "max-items-rules",
        http_route(lambda s: s.update(rules=[{"backendRefs": [BACKEND]}] * 17)),
        "spec.rules: Too many: 17: must have at most 16 items",
    ),
    (
        "pattern-hostname",
        http_route(lambda s: s.update(hostnames=["Bad_Host"])),
        'spec.hostnames[0]: Invalid value: "Bad_Host": spec.hostnames[0] in body should match '
        "'^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'",
    ),
    (
        "pattern-duration",
        http_route(rule(timeouts={"request": "10x"})),
        'spec.rules[0].timeouts.request: Invalid value: "10x": spec.rules[0].timeouts.request in body should '
        "match '^([0-9]{1,5}(h|m|s|ms)){1,4}$'",
    ),
]


@pytest.mark.parametrize(("doc", "message"), [c[1:] for c in SCHEMA_CASES], ids=[c[0] for c in SCHEMA_CASES])
def test_schema_errors(doc: dict[str, Any], message: str) -> None:
    # Decoding errors (unknown fields) come before validation; the rest are "The HTTPRoute "r" is invalid".
    prefix = "" if message.startswith("HTTPRoute in version") else 'The HTTPRoute "r" is invalid: '
    assert errors(doc) == [f"gw.yaml: HTTPRoute default/r: {prefix}{message}"]


HTTP_ROUTE_RULES = [
    (
        "matches-total",
        lambda s: s.update(rules=[{"matches": [PREFIX] * 64, "backendRefs": [BACKEND]}] * 3),
        f"spec.rules: {CEL_LIST}While 16 rules and 64 matches per rule are allowed, the total number of matches "
        "across all rules in a route must be less than 128",
    ),
    (
        "rule-name-unique",
        lambda s: s.update(rules=[{"name": "a", "backendRefs": [BACKEND]}, {"name": "a", "backendRefs": [BACKEND]}]),
        f"spec.rules: {CEL_LIST}Rule name must be unique within the route",
    ),
    (
        "parent-needs-section",
        lambda s: s.update(parentRefs=[{"name": "gw"}, {"name": "gw", "sectionName": "http"}]),
        f"spec.parentRefs: {CEL_LIST}sectionName or port must be specified when parentRefs includes 2 or more "
        "references to the same parent",
    ),
    (
        "parent-section-unique",
        lambda s: s.update(parentRefs=[{"name": "gw", "sectionName": "a"}, {"name": "gw", "sectionName": "a"}]),
        f"spec.parentRefs: {CEL_LIST}sectionName or port must be unique when parentRefs includes 2 or more "
        "references to the same parent",
    ),
    (
        "redirect-with-backends",
        rule(filters=[REDIRECT]),
        f"spec.rules[0]: {CEL}RequestRedirect filter must not be used together with backendRefs",
    ),
    (
        "redirect-prefix-needs-one-prefix-match",
        one_rule({"matches": [PREFIX, PREFIX], "filters": [PREFIX_REDIRECT]}),
        f"spec.rules[0]: {CEL}When using RequestRedirect filter with path.replacePrefixMatch, exactly one "
        "PathPrefix match must be specified",
    ),
    (
        "rewrite-prefix-needs-prefix-match",
        rule(matches=[{"path": {"type": "Exact", "value": "/a"}}], filters=[PREFIX_REWRITE]),
        f"spec.rules[0]: {CEL}When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix "
        "match must be specified",
    ),
    (
        "redirect-and-rewrite",
        one_rule({"filters": [REDIRECT, REWRITE]}),
        f"spec.rules[0].filters: {CEL_LIST}May specify either httpRouteFilterRequestRedirect or "
        "httpRouteFilterRequestRewrite, but not both",
    ),
    (
        "filter-repeated",
        rule(filters=[ADD_HEADER, ADD_HEADER]),
        f"spec.rules[0].filters: {CEL_LIST}RequestHeaderModifier filter cannot be repeated",
    ),
    (
        "filter-field-must-be-nil",
        rule(filters=[{**ADD_HEADER, "urlRewrite": {"hostname": "x.example"}}]),
        f"spec.rules[0].filters[0]: {CEL}filter.urlRewrite must be nil if the filter.type is not URLRewrite",
    ),
    (
        "filter-field-must-be-set",
        rule(filters=[{"type": "URLRewrite"}]),
        f"spec.rules[0].filters[0]: {CEL}filter.urlRewrite must be specified for URLRewrite filter.type",
    ),
    (
        "path-modifier-value-missing",
        rule(filters=[{"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplaceFullPath"}}}]),
        f"spec.rules[0].filters[0].urlRewrite.path: {CEL}replaceFullPath must be specified when type is set to "
        "'ReplaceFullPath'",
    ),
    (
        "path-modifier-type-mismatch",
        rule(
            filters=[
                {
                    "type": "URLRewrite",
                    "urlRewrite": {
                        "path": {"type": "ReplaceFullPath", "replaceFullPath": "/a", "replacePrefixMatch": "/b"}
                    },
                }
            ]
        ),
        f"spec.rules[0].filters[0].urlRewrite.path: {CEL}type must be 'ReplacePrefixMatch' when replacePrefixMatch "
        "is set",
    ),
    (
        "mirror-percent-and-fraction",
        rule(
            filters=[
                {
                    "type": "RequestMirror",
                    "requestMirror": {"backendRef": BACKEND, "percent": 10, "fraction": {"numerator": 1}},
                }
            ]
        ),
        f"spec.rules[0].filters[0].requestMirror: {CEL}Only one of percent or fraction may be specified in "
        "HTTPRequestMirrorFilter",
    ),
    (
        "mirror-fraction-over-one",
        rule(
            filters=[
                {
                    "type": "RequestMirror",
                    "requestMirror": {"backendRef": BACKEND, "fraction": {"numerator": 5, "denominator": 4}},
                }
            ]
        ),
        f"spec.rules[0].filters[0].requestMirror.fraction: {CEL}numerator must be less than or equal to denominator",
    ),
    (
        "backend-needs-port",
        rule(backendRefs=[{"name": "reviews"}]),
        f"spec.rules[0].backendRefs[0]: {CEL}Must have port for Service reference",
    ),
    (
        "mirror-backend-needs-port",
        rule(filters=[{"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "reviews"}}}]),
        f"spec.rules[0].filters[0].requestMirror.backendRef: {CEL}Must have port for Service reference",
    ),
    (
        "backend-request-longer-than-request",
        rule(timeouts={"request": "1s", "backendRequest": "2s"}),
        f"spec.rules[0].timeouts: {CEL}backendRequest timeout cannot be longer than request timeout",
    ),
]
PATH_RULES = [
    ("relative", "api", f"value must be an absolute path and start with '/' {PATH_SUFFIX}"),
    ("double-slash", "/a//b", f"must not contain '//' {PATH_SUFFIX}"),
    ("dot-segment", "/a/./b", f"must not contain '/./' {PATH_SUFFIX}"),
    ("dot-dot-segment", "/a/../b", f"must not contain '/../' {PATH_SUFFIX}"),
    ("encoded-slash-lower", "/a%2fb", f"must not contain '%2f' {PATH_SUFFIX}"),
    ("encoded-slash-upper", "/a%2Fb", f"must not contain '%2F' {PATH_SUFFIX}"),
    ("ends-dot-dot", "/a/..", f"must not end with '/..' {PATH_SUFFIX}"),
    ("ends-dot", "/a/.", f"must not end with '/.' {PATH_SUFFIX}"),
]


@pytest.mark.parametrize(("mutate", "message"), [c[1:] for c in HTTP_ROUTE_RULES], ids=[c[0] for c in HTTP_ROUTE_RULES])
def test_http_route_cel_rules(mutate: Callable[[Spec], None], message: str) -> None:
    assert errors(http_route(mutate)) == [f'gw.yaml: HTTPRoute default/r: The HTTPRoute "r" is invalid: {message}']


@pytest.mark.parametrize(("value", "message"), [c[1:] for c in PATH_RULES], ids=[c[0] for c in PATH_RULES])
def test_http_route_path_rules(value: str, message: str) -> None:
    doc = http_route(rule(matches=[{"path": {"type": "PathPrefix", "value": value}}]))
    assert f"spec.rules[0].matches[0].path: {CEL}{message}" in "\n".join(errors(doc))


def test_http_route_path_characters_and_fragment() -> None:
    doc = http_route(rule(matches=[{"path": {"type": "Exact", "value": "/a#b"}}]))
    found = "\n".join(errors(doc))
    assert f"must not contain '#' {PATH_SUFFIX}" in found
    assert "must only contain valid characters" in found


def test_http_route_redirect_status_code_enum() -> None:
    doc = http_route(one_rule({"filters": [{"type": "RequestRedirect", "requestRedirect": {"statusCode": 305}}]}))
    (message,) = errors(doc)
    assert "spec.rules[0].filters[0].requestRedirect.statusCode: Unsupported value: 305: supported values: " in message
    assert "301" in message and "308" in message


GATEWAY_RULES = [
    (
        "tls-on-http",
        [listener(tls={"mode": "Terminate"})],
        f"spec.listeners: {CEL_LIST}tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']",
    ),
    (
        "https-passthrough",
        [listener(protocol="HTTPS", port=443, tls={"mode": "Passthrough"})],
        f"spec.listeners: {CEL_LIST}tls mode must be Terminate for protocol HTTPS",
    ),
    (
        "tls-mode-unset",
        [listener(protocol="TLS", port=443, hostname="a.example")],
        f"spec.listeners: {CEL_LIST}tls mode must be set for protocol TLS",
    ),
    (
        "hostname-on-tcp",
        [listener(protocol="TCP", port=9000, hostname="a.example")],
        f"spec.listeners: {CEL_LIST}hostname must not be specified for protocols ['TCP', 'UDP']",
    ),
    (
        "listener-name-unique",
        [listener(), listener(port=81)],
        f"spec.listeners: {CEL_LIST}Listener name must be unique within the Gateway",
    ),
    (
        "port-protocol-hostname-unique",
        [listener(), listener(name="other")],
        f"spec.listeners: {CEL_LIST}Combination of port, protocol and hostname must be unique for each listener",
    ),
]


@pytest.mark.parametrize(("listeners", "message"), [c[1:] for c in GATEWAY_RULES], ids=[c[0] for c in GATEWAY_RULES])
def test_gateway_cel_rules(listeners: list[dict[str, Any]], message: str) -> None:
    found = errors(gateway(listeners))
    assert f'gw.yaml: Gateway default/gw: The Gateway "gw" is invalid: {message}' in found, found


UPSTREAM_STYLE = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gateway, namespace: default}
spec:
  gatewayClassName: istio
  listeners:
  - name: default
    hostname: "*.domain.example"
    port: 80
    protocol: HTTP
    allowedRoutes:
      namespaces: {from: Selector, selector: {matchExpressions: [{key: team, operator: In, values: [a]}]}}
      kinds: [{kind: HTTPRoute}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: http, namespace: default}
spec:
  parentRefs: [{name: gateway, sectionName: default}, {group: "", kind: Service, name: reviews, port: 9080}]
  hostnames: ["first.domain.example", "*.second.domain.example"]
  rules:
  - name: route1
    matches:
    - path: {type: PathPrefix, value: /get}
      headers: [{name: my-header, value: some-value, type: Exact}]
      queryParams: [{name: q, value: "v.*", type: RegularExpression}]
      method: GET
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {add: [{name: a, value: b}], set: [{name: c, value: d}], remove: [e]}
    - type: URLRewrite
      urlRewrite: {hostname: new.example.com, path: {type: ReplacePrefixMatch, replacePrefixMatch: /replacement}}
    - type: RequestMirror
      requestMirror: {backendRef: {name: ratings, port: 9080}, fraction: {numerator: 4, denominator: 8}}
    backendRefs:
    - name: reviews
      port: 9080
      weight: 2
      filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {add: [{name: r, value: h}]}}]
    - {name: ratings, port: 9080, weight: 0}
    timeouts: {request: 2s, backendRequest: 1s}
    retry: {attempts: 3, backoff: 3ms, codes: [503, 429]}
  - matches: [{path: {type: Exact, value: /exact}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https, port: 8443, statusCode: 301, path: {type: ReplaceFullPath, replaceFullPath: /x}}
  - matches: [{path: {type: RegularExpression, value: "/re/.*"}}]
"""


def test_upstream_style_manifests_apply() -> None:
    import yaml

    store = ObjectStore()
    docs = [d for d in yaml.safe_load_all(UPSTREAM_STYLE) if d]
    result = store.apply(docs, source="ok.yaml")
    assert result.lines == [
        "gateway.gateway.networking.k8s.io/gateway created",
        "httproute.gateway.networking.k8s.io/http created",
    ]
    assert {o.key.kind for o in store.objects()} >= {"Gateway", "HTTPRoute"}
