"""istiod's conversion of Gateway API objects (meshrelease.k8s.gateway_api), case by case.

Expected names, hosts, routes and statuses follow istio/istio 1.30.3 pilot/pkg/config/kube/gateway (conversion.go,
route_collections.go, conditions.go) and its testdata goldens (mesh.yaml, http.yaml, route-precedence.yaml,
weighted.yaml, zero-weight.yaml, empty-backend-refs.yaml, mismatch.yaml).
"""

from __future__ import annotations

from typing import Any

import pytest

from meshrelease.k8s.gateway_api import Conversion, GatewayApiObject, convert, gateway_duration

SERVICES = [("default", n) for n in ("reviews", "reviews-v1", "reviews-v2", "reviews-v3", "productpage")] + [
    ("other", "ratings")
]


def route(name: str, spec: dict[str, Any], *, namespace: str = "default", order: int = 0) -> GatewayApiObject:
    return GatewayApiObject("HTTPRoute", namespace, name, spec, 1, (order,))


def gateway(name: str, *listeners: dict[str, Any], cls: str = "istio", namespace: str = "default") -> GatewayApiObject:
    return GatewayApiObject(
        "Gateway", namespace, name, {"gatewayClassName": cls, "listeners": list(listeners)}, 1, (-1,)
    )


def gamma(*rules: dict[str, Any], port: int | None = 9080, name: str = "reviews") -> dict[str, Any]:
    ref: dict[str, Any] = {"group": "", "kind": "Service", "name": "reviews"}
    if port is not None:
        ref["port"] = port
    return {"parentRefs": [ref], "rules": list(rules)}


def backends(*pairs: tuple[str, int | None]) -> list[dict[str, Any]]:
    out = []
    for name, weight in pairs:
        ref: dict[str, Any] = {"name": name, "port": 9080}
        if weight is not None:
            ref["weight"] = weight
        out.append(ref)
    return out


def only_vs(result: Conversion) -> Any:
    (pair,) = result.virtual_services
    return pair[1]


def test_a_gamma_route_becomes_a_mesh_virtual_service_keyed_by_namespace_port_and_host() -> None:
    result = convert(
        [route("reviews", gamma({"backendRefs": backends(("reviews-v1", 90), ("reviews-v2", 10))}))], SERVICES
    )
    vs = only_vs(result)
    assert (vs.namespace, vs.name) == ("default", "default~9080~reviews.default.svc.cluster.local")
    assert vs.hosts == ("reviews.default.svc.cluster.local",) and vs.gateways == ("mesh",)
    assert vs.semantics == "gateway"
    (rule,) = vs.http
    assert rule["name"] == "default.reviews.0"
    assert rule["match"] == [{"uri": {"prefix": "/"}, "port": 9080}]  # augmentPortMatch
    assert rule["route"] == [
        {"destination": {"host": "reviews-v1.default.svc.cluster.local", "port": {"number": 9080}}, "weight": 90},
        {"destination": {"host": "reviews-v2.default.svc.cluster.local", "port": {"number": 9080}}, "weight": 10},
    ]
    status = result.statuses[("HTTPRoute", "default", "reviews")]
    (parent,) = status["parents"]
    assert parent["parentRef"] == {"group": "", "kind": "Service", "name": "reviews", "port": 9080}
    assert [(c["type"], c["status"], c["reason"], c["message"]) for c in parent["conditions"]] == [
        ("Accepted", "True", "Accepted", "Route was valid"),
        ("ResolvedRefs", "True", "ResolvedRefs", "All references resolved"),
    ]


def test_a_gamma_route_without_a_port_has_no_port_match_and_a_shorter_key() -> None:
    vs = only_vs(
        convert([route("reviews", gamma({"backendRefs": backends(("reviews-v3", None))}, port=None))], SERVICES)
    )
    assert vs.name == "default~reviews.default.svc.cluster.local"
    assert vs.http[0]["match"] == [{"uri": {"prefix": "/"}}]


@pytest.mark.parametrize(
    ("refs", "expected"),
    [
        # one backend takes everything: its weight is dropped (weight 0 means "the only destination")
        ([("reviews-v2", 7)], [("reviews-v2", 0)]),
        # zero weights are dropped when others remain
        ([("reviews-v2", 100), ("reviews-v3", 0)], [("reviews-v2", 0)]),
        ([("reviews-v1", None), ("reviews-v2", None)], [("reviews-v1", 1), ("reviews-v2", 1)]),
    ],
)
def test_backend_weights(refs: list[tuple[str, int | None]], expected: list[tuple[str, int]]) -> None:
    vs = only_vs(convert([route("reviews", gamma({"backendRefs": backends(*refs)}))], SERVICES))
    got = [(d["destination"]["host"].split(".")[0], d["weight"]) for d in vs.http[0]["route"]]
    assert got == expected


@pytest.mark.parametrize(
    ("rule", "status"),
    [({}, 404), ({"backendRefs": backends(("reviews-v1", 0), ("reviews-v2", 0))}, 500)],
)
def test_no_backends_answer_404_and_all_zero_weights_answer_500(rule: dict[str, Any], status: int) -> None:
    vs = only_vs(convert([route("reviews", gamma(rule))], SERVICES))
    assert vs.http[0]["directResponse"] == {"status": status}
    assert "route" not in vs.http[0]


def test_a_missing_backend_keeps_its_destination_and_reports_backend_not_found() -> None:
    result = convert([route("reviews", gamma({"backendRefs": backends(("reviews-v9", None))}))], SERVICES)
    assert only_vs(result).http[0]["route"][0]["destination"]["host"] == "reviews-v9.default.svc.cluster.local"
    conditions = result.statuses[("HTTPRoute", "default", "reviews")]["parents"][0]["conditions"]
    assert conditions[1] == {
        "type": "ResolvedRefs",
        "status": "False",
        "reason": "BackendNotFound",
        "message": "backend(reviews-v9.default.svc.cluster.local) not found",
        "observedGeneration": 1,
    }


def test_a_missing_parent_service_is_not_accepted_and_yields_no_routes() -> None:
    spec = {"parentRefs": [{"group": "", "kind": "Service", "name": "nope", "port": 9080}], "rules": [{}]}
    result = convert([route("r", spec)], SERVICES)
    assert result.virtual_services == []
    accepted = result.statuses[("HTTPRoute", "default", "r")]["parents"][0]["conditions"][0]
    assert (accepted["status"], accepted["reason"], accepted["message"]) == (
        "False",
        "NoMatchingParent",
        'parent service: "nope" not found',
    )


def test_rules_split_per_match_and_sort_by_the_gateway_api_precedence() -> None:
    spec = gamma(
        {"matches": [{"path": {"type": "PathPrefix", "value": "/a"}}], "backendRefs": backends(("reviews-v1", None))},
        {
            "matches": [
                {"path": {"type": "PathPrefix", "value": "/a/b/"}},
                {"path": {"type": "Exact", "value": "/a"}},
                {"path": {"type": "PathPrefix", "value": "/a"}, "headers": [{"name": "end-user", "value": "jason"}]},
                {"path": {"type": "RegularExpression", "value": "/a.*"}},
                {"path": {"type": "PathPrefix", "value": "/a"}, "method": "POST"},
            ],
            "backendRefs": backends(("reviews-v2", None)),
        },
    )
    vs = only_vs(convert([route("reviews", spec)], SERVICES))
    order = [
        (r["name"], r["match"][0]["uri"], sorted(k for k in r["match"][0] if k not in ("uri", "port"))) for r in vs.http
    ]
    assert order == [
        ("default.reviews.1", {"exact": "/a"}, []),
        ("default.reviews.1", {"prefix": "/a/b"}, []),  # a trailing "/" is ignored; longer prefix first
        ("default.reviews.1", {"prefix": "/a"}, ["method"]),  # a method match before header matches
        ("default.reviews.1", {"prefix": "/a"}, ["headers"]),
        ("default.reviews.0", {"prefix": "/a"}, []),
        ("default.reviews.1", {"regex": "/a.*"}, []),
    ]


def test_routes_of_two_httproutes_for_one_service_merge_oldest_first() -> None:
    older = route("a", gamma({"backendRefs": backends(("reviews-v1", None))}), order=1)
    newer = route("b", gamma({"backendRefs": backends(("reviews-v3", None))}), order=2)
    vs = only_vs(convert([newer, older], SERVICES))  # the caller's order key decides, not the list order
    assert [r["name"] for r in vs.http] == ["default.a.0", "default.b.0"]


def test_a_named_rule_keeps_its_name() -> None:
    vs = only_vs(
        convert([route("reviews", gamma({"name": "canary", "backendRefs": backends(("reviews-v3", None))}))], SERVICES)
    )
    assert vs.http[0]["name"] == "canary"


def test_filters_become_istio_route_fields() -> None:
    rule = {
        "matches": [{"path": {"type": "PathPrefix", "value": "/shop"}}],
        "filters": [
            {
                "type": "RequestHeaderModifier",
                "requestHeaderModifier": {
                    "set": [{"name": "X-A", "value": "1"}, {"name": "x-a", "value": "2"}],
                    "remove": ["x-b"],
                },
            },
            {"type": "ResponseHeaderModifier", "responseHeaderModifier": {"add": [{"name": "X-C", "value": "3"}]}},
            {
                "type": "URLRewrite",
                "urlRewrite": {
                    "hostname": "internal",
                    "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/store/"},
                },
            },
            {
                "type": "RequestMirror",
                "requestMirror": {"backendRef": {"name": "reviews-v3", "port": 9080}, "percent": 20},
            },
        ],
        "backendRefs": [
            {
                "name": "reviews-v1",
                "port": 9080,
                "filters": [
                    {"type": "RequestHeaderModifier", "requestHeaderModifier": {"add": [{"name": "X-D", "value": "4"}]}}
                ],
            }
        ],
        "timeouts": {"request": "1m30s", "backendRequest": "500ms"},
    }
    (r,) = only_vs(convert([route("reviews", gamma(rule))], SERVICES)).http
    assert r["headers"] == {"request": {"set": {"x-a": "1"}, "remove": ["x-b"]}, "response": {"add": {"x-c": "3"}}}
    assert r["rewrite"] == {"uri": "/store", "authority": "internal"}
    assert r["mirrors"] == [
        {
            "destination": {"host": "reviews-v3.default.svc.cluster.local", "port": {"number": 9080}},
            "percentage": {"value": 20.0},
        }
    ]
    assert r["timeout"] == "0.5s"  # backendRequest replaces the request timeout when there are no retries
    assert r["route"][0]["headers"] == {"request": {"add": {"x-d": "4"}}}


@pytest.mark.parametrize(
    ("redirect", "expected"),
    [
        ({}, {"redirectCode": 302, "derivePort": "FROM_REQUEST_PORT"}),
        (
            {"scheme": "https", "statusCode": 301},
            {"redirectCode": 301, "scheme": "https", "derivePort": "FROM_PROTOCOL_DEFAULT"},
        ),
        ({"hostname": "x.example", "port": 8443}, {"redirectCode": 302, "authority": "x.example", "port": 8443}),
        (
            {"path": {"type": "ReplaceFullPath", "replaceFullPath": "/new"}},
            {"redirectCode": 302, "derivePort": "FROM_REQUEST_PORT", "uri": "/new"},
        ),
        (
            {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/v2"}},
            {"redirectCode": 302, "derivePort": "FROM_REQUEST_PORT", "uri": "%PREFIX()%/v2"},
        ),
    ],
)
def test_redirects(redirect: dict[str, Any], expected: dict[str, Any]) -> None:
    rule = {"filters": [{"type": "RequestRedirect", "requestRedirect": redirect}]}
    (r,) = only_vs(convert([route("reviews", gamma(rule))], SERVICES)).http
    assert r["redirect"] == expected and "route" not in r


def test_a_gateway_listener_becomes_an_internal_gateway_and_routes_attach_by_listener() -> None:
    gw = gateway(
        "web",
        {"name": "http", "port": 80, "protocol": "HTTP"},
        {
            "name": "all",
            "port": 8080,
            "protocol": "HTTP",
            "hostname": "shop.example",
            "allowedRoutes": {"namespaces": {"from": "All"}},
        },
    )
    attached = route(
        "site",
        {
            "parentRefs": [{"name": "web", "sectionName": "http"}],
            "rules": [{"backendRefs": [{"name": "productpage", "port": 9080}]}],
        },
    )
    result = convert([gw, attached], SERVICES)
    assert [(g.name, g.port, g.hosts) for g in result.gateways] == [
        ("web~istio-autogenerated-k8s-gateway~http", 80, ("default/*",)),
        ("web~istio-autogenerated-k8s-gateway~all", 8080, ("*/shop.example",)),
    ]
    vs = only_vs(result)
    assert vs.name == "default~web~istio-autogenerated-k8s-gateway~http~*"
    assert vs.gateways == ("default/web~istio-autogenerated-k8s-gateway~http",) and vs.hosts == ("*",)
    status = result.statuses[("Gateway", "default", "web")]
    assert [item["attachedRoutes"] for item in status["listeners"]] == [1, 0]
    assert status["conditions"][1]["message"] == (
        "Resource programmed, assigned to service(s) web-istio.default.svc.cluster.local:80, "
        "web-istio.default.svc.cluster.local:8080"
    )
    assert [m.deployment for m in result.managed] == ["web-istio"]


@pytest.mark.parametrize(
    ("ref", "hostnames", "namespace", "reason", "message"),
    [
        ({"name": "web", "sectionName": "nope"}, [], "default", "NoMatchingParent", 'sectionName "nope" not found'),
        ({"name": "web", "port": 81}, [], "default", "NoMatchingParent", "port 81 not found"),
        (
            {"name": "web"},
            ["other.example"],
            "default",
            "NoMatchingListenerHostname",
            'no hostnames matched parent hostname "shop.example"',
        ),
        (
            {"name": "web", "namespace": "default"},
            [],
            "other",
            "NotAllowedByListeners",
            'hostnames matched parent hostname "shop.example", but namespace "other" is not allowed by the parent',
        ),
    ],
)
def test_a_route_a_listener_refuses_is_not_accepted_with_istiods_reason(
    ref: dict[str, Any], hostnames: list[str], namespace: str, reason: str, message: str
) -> None:
    gw = gateway("web", {"name": "http", "port": 80, "protocol": "HTTP", "hostname": "shop.example"})
    spec: dict[str, Any] = {"parentRefs": [ref], "rules": [{"backendRefs": [{"name": "productpage", "port": 9080}]}]}
    if hostnames:
        spec["hostnames"] = hostnames
    result = convert([gw, route("site", spec, namespace=namespace)], SERVICES)
    assert result.virtual_services == []
    accepted = result.statuses[("HTTPRoute", namespace, "site")]["parents"][0]["conditions"][0]
    assert (accepted["status"], accepted["reason"], accepted["message"]) == ("False", reason, message)


def test_allowed_routes_from_selector_lists_the_matching_namespaces() -> None:
    gw = gateway(
        "web",
        {
            "name": "http",
            "port": 80,
            "protocol": "HTTP",
            "allowedRoutes": {"namespaces": {"from": "Selector", "selector": {"matchLabels": {"shared": "yes"}}}},
        },
    )
    result = convert([gw], SERVICES, {"a": {"shared": "yes"}, "b": {}, "c": {"shared": "yes"}})
    assert result.gateways[0].hosts == ("a/*", "c/*")
    none = convert([gw], SERVICES, {})
    assert none.gateways[0].hosts == ("~/*",)  # matches nothing, as istiod writes it


def test_cross_namespace_backends_need_a_reference_grant_on_gateways_only() -> None:
    backend = [{"name": "ratings", "namespace": "other", "port": 9080}]
    mesh = convert([route("reviews", gamma({"backendRefs": backend}))], SERVICES)
    assert mesh.statuses[("HTTPRoute", "default", "reviews")]["parents"][0]["conditions"][1]["status"] == "True"
    gw = gateway("web", {"name": "http", "port": 80, "protocol": "HTTP"})
    edge = convert(
        [gw, route("site", {"parentRefs": [{"name": "web"}], "rules": [{"backendRefs": backend}]})], SERVICES
    )
    resolved = edge.statuses[("HTTPRoute", "default", "site")]["parents"][0]["conditions"][1]
    assert (resolved["reason"], resolved["message"]) == (
        "RefNotPermitted",
        'backendRef ratings/other not accessible to a HTTPRoute in namespace "default" (missing a ReferenceGrant?)',
    )


def test_a_gateway_of_another_class_runs_nothing_and_says_so() -> None:
    result = convert([gateway("web", {"name": "http", "port": 80, "protocol": "HTTP"}, cls="nginx")], SERVICES)
    assert result.gateways == [] and result.managed == []
    assert result.warnings == [
        'Gateway default/web: gatewayClassName "nginx" is not a class Istio deploys ("istio"); no gateway runs '
        "for it and its routes attach nowhere"
    ]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10s", "10s"), ("1m30s", "90s"), ("500ms", "0.5s"), ("1h", "3600s"), ("x", None), ("10", None)],
)
def test_gateway_durations(text: str, seconds: str | None) -> None:
    assert gateway_duration(text) == seconds
