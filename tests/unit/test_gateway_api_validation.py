"""Gateway API objects through the local API server: the CRDs' structural schema and CEL rules (Gateway API
v1.5.1), each refused with the API server's wording, and nothing stored when one object of a batch is refused."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from meshrelease.backends.local.apiserver.store import ObjectStore
from meshrelease.errors import ValidationError

V1 = "gateway.networking.k8s.io/v1"
ROUTE: dict[str, Any] = {
    "apiVersion": V1,
    "kind": "HTTPRoute",
    "metadata": {"name": "r"},
    "spec": {
        "parentRefs": [{"group": "", "kind": "Service", "name": "reviews", "port": 9080}],
        "rules": [{"backendRefs": [{"name": "reviews-v1", "port": 9080}]}],
    },
}
GATEWAY: dict[str, Any] = {
    "apiVersion": V1,
    "kind": "Gateway",
    "metadata": {"name": "g"},
    "spec": {"gatewayClassName": "istio", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]},
}


def with_spec(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(base)
    node: Any = doc["spec"]
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    last = parts[-1]
    if last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return doc


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            with_spec(ROUTE, "rules.0.backendRefs.0", {"name": "reviews-v1"}),
            'The HTTPRoute "r" is invalid: spec.rules[0].backendRefs[0]: Invalid value: "object": '
            "Must have port for Service reference",
        ),
        (
            with_spec(ROUTE, "rules.0.filters", [{"type": "RequestRedirect", "requestRedirect": {"statusCode": 301}}]),
            'spec.rules[0]: Invalid value: "object": RequestRedirect filter must not be used together with backendRefs',
        ),
        (
            with_spec(ROUTE, "rules.0.matches", [{"path": {"type": "PathPrefix", "value": "reviews"}}]),
            'spec.rules[0].matches[0].path: Invalid value: "object": value must be an absolute '
            "path and start with '/' when type one of ['Exact', 'PathPrefix']",
        ),
        (
            with_spec(ROUTE, "rules.0.matches", [{"path": {"type": "Exact", "value": "/a//b"}}]),
            "must not contain '//' when type one of ['Exact', 'PathPrefix']",
        ),
        (
            with_spec(ROUTE, "rules.0.filters", [{"type": "RequestHeaderModifier"}]),
            'spec.rules[0].filters[0]: Invalid value: "object": filter.requestHeaderModifier must be '
            "specified for RequestHeaderModifier filter.type",
        ),
        (
            with_spec(
                ROUTE,
                "rules.0.filters",
                [
                    {
                        "type": "URLRewrite",
                        "urlRewrite": {"path": {"type": "ReplaceFullPath", "replacePrefixMatch": "/x"}},
                    }
                ],
            ),
            "replaceFullPath must be specified when type is set to 'ReplaceFullPath'",
        ),
        (
            with_spec(ROUTE, "rules.0.timeouts", {"request": "1s", "backendRequest": "2s"}),
            'spec.rules[0].timeouts: Invalid value: "object": backendRequest timeout cannot be '
            "longer than request timeout",
        ),
        (
            with_spec(ROUTE, "rules.0.timeouts", {"request": "1.5s"}),
            "spec.rules[0].timeouts.request in body should match",
        ),
        (
            with_spec(ROUTE, "hostnames", ["Shop.Example"]),
            'spec.hostnames[0]: Invalid value: "Shop.Example": spec.hostnames[0] in body should match',
        ),
        (
            with_spec(ROUTE, "hostnames", [f"h{i}.example" for i in range(17)]),
            "spec.hostnames: Too many: 17: must have at most 16 items",
        ),
        (
            with_spec(ROUTE, "rules.0.backendRefs.0.weight", -1),
            "spec.rules[0].backendRefs[0].weight in body should be greater than or equal to 0",
        ),
        (
            with_spec(ROUTE, "rules.0.matches", [{"method": "FETCH"}]),
            'spec.rules[0].matches[0].method: Unsupported value: "FETCH"',
        ),
        (
            with_spec(ROUTE, "rules.0.matchez", []),
            'HTTPRoute in version "v1" cannot be handled as a HTTPRoute: strict decoding error: '
            'unknown field "spec.rules[0].matchez"',
        ),
        (
            with_spec(
                ROUTE,
                "parentRefs",
                [
                    {"kind": "Service", "group": "", "name": "reviews"},
                    {"kind": "Service", "group": "", "name": "reviews"},
                ],
            ),
            "sectionName or port must be specified when parentRefs includes 2 or more references to the same parent",
        ),
        (
            with_spec(
                GATEWAY,
                "listeners",
                [{"name": "http", "port": 80, "protocol": "HTTP"}, {"name": "http", "port": 81, "protocol": "HTTP"}],
            ),
            'The Gateway "g" is invalid: spec.listeners: Invalid value: "array": Listener name must '
            "be unique within the Gateway",
        ),
        (
            with_spec(GATEWAY, "listeners.0.tls", {"mode": "Terminate"}),
            "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']",
        ),
        (
            with_spec(GATEWAY, "listeners.0.port", 70000),
            "spec.listeners[0].port in body should be less than or equal to 65535",
        ),
        ({**GATEWAY, "spec": {"listeners": GATEWAY["spec"]["listeners"]}}, "spec.gatewayClassName: Required value"),
    ],
)
def test_the_api_server_refuses_with_the_crds_message(doc: dict[str, Any], message: str) -> None:
    store = ObjectStore()
    with pytest.raises(ValidationError) as err:
        store.apply([doc], source="x.yaml")
    assert any(message in e for e in err.value.errors), err.value.errors
    assert [o for o in store.objects() if o.key.group == "gateway.networking.k8s.io"] == []


def test_valid_gateway_api_objects_are_stored_at_v1_and_v1beta1() -> None:
    store = ObjectStore()
    beta = {**copy.deepcopy(ROUTE), "apiVersion": "gateway.networking.k8s.io/v1beta1", "metadata": {"name": "b"}}
    result = store.apply([GATEWAY, ROUTE, beta])
    assert result.lines == [
        "gateway.gateway.networking.k8s.io/g created",
        "httproute.gateway.networking.k8s.io/r created",
        "httproute.gateway.networking.k8s.io/b created",
    ]
    assert store.resolve_kind("gtw") == ("gateway.networking.k8s.io", "Gateway")
    assert store.resolve_kind("gw") == ("networking.istio.io", "Gateway")
    assert [o.key.name for o in store.list("httproutes")] == ["b", "r"]
