"""The route model both backends share (meshrelease.k8s.istio_routes): which VirtualService a proxy uses,
which routes it yields, their actions, destinations and cluster names."""

from __future__ import annotations

from typing import Any

import pytest

from meshrelease.backends.local.translate.match import is_catch_all as envoy_is_catch_all
from meshrelease.backends.local.translate.match import route_match
from meshrelease.k8s.istio_routes import (
    EXPORTED,
    PRIVATE,
    PUBLIC,
    DestinationRef,
    Proxy,
    VirtualService,
    applies_to,
    cluster_name,
    config_from_metadata,
    config_metadata,
    creation_order,
    default_route_action,
    is_catch_all,
    parse_cluster_name,
    plan_routes,
    route_action,
    sidecar_owners,
    split_hosts,
    visibility_tier,
    visible_virtual_services,
)

REVIEWS = "reviews.default.svc.cluster.local"
RATINGS = "ratings.default.svc.cluster.local"
SIDECAR = Proxy(namespace="default", labels={"app": "productpage"}, gateways={"mesh"}, port=9080)


def vs(name: str, *rules: dict[str, Any], namespace: str = "default", **spec: Any) -> VirtualService:
    return VirtualService.from_spec(namespace, name, {"hosts": ["reviews"], "http": list(rules), **spec})


def dest(subset: str, weight: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"destination": {"host": "reviews", "subset": subset}}
    if weight is not None:
        out["weight"] = weight
    return out


def names(plan_vs: VirtualService, proxy: Proxy) -> list[str]:
    return [
        str(p.rule.get("name", "")) + (f".{p.match['name']}" if p.match and "name" in p.match else "")
        for p in plan_routes(plan_vs, proxy).routes
    ]


# -- objects and names -------------------------------------------------------------------------------------


def test_a_virtual_service_is_read_as_istiod_resolves_it() -> None:
    obj = {
        "metadata": {"name": "r"},
        "spec": {"hosts": ["reviews", "reviews.other", "*.example.com"], "gateways": ["gw", "mesh"], "http": [None]},
    }
    parsed = VirtualService.from_object(obj, "shop")
    assert parsed.namespace == "shop"
    assert parsed.hosts == ("reviews.shop.svc.cluster.local", "reviews.other", "*.example.com")
    assert parsed.gateways == ("shop/gw", "mesh")
    assert parsed.mesh_bound and parsed.gateway_bound
    assert parsed.http == ({},)
    assert parsed.ref == "VirtualService shop/r"
    gateway_only = VirtualService.from_spec("shop", "g", {"gateways": ["gw"]})
    assert not gateway_only.mesh_bound and gateway_only.gateway_bound
    assert VirtualService.from_spec("shop", "m", {}).gateways == ("mesh",)


def test_names_round_trip() -> None:
    assert cluster_name(9080, "v2", REVIEWS) == f"outbound|9080|v2|{REVIEWS}"
    assert parse_cluster_name(cluster_name(9080, "", REVIEWS)) == (9080, "", REVIEWS)
    assert parse_cluster_name("PassthroughCluster") is None
    assert config_from_metadata(config_metadata("shop", "reviews")) == "shop/reviews"
    assert config_from_metadata("something else") == ""


def test_creation_order_is_time_then_name_then_namespace() -> None:
    def obj(name: str, namespace: str, created: str) -> dict[str, Any]:
        return {"metadata": {"name": name, "namespace": namespace, "creationTimestamp": created}}

    objs = [
        obj("b", "a", "2026-01-01T00:00:01Z"),
        obj("b", "a", "2026-01-01T00:00:00Z"),
        obj("a", "z", "2026-01-01T00:00:01Z"),
    ]
    assert [
        (o["metadata"]["name"], o["metadata"]["creationTimestamp"][-2:-1]) for o in sorted(objs, key=creation_order)
    ] == [
        ("b", "0"),
        ("a", "1"),
        ("b", "1"),
    ]


# -- which VirtualService ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("export_to", "own", "client", "tier"),
    [
        ([], "default", "default", PUBLIC),
        (["*"], "default", "default", PUBLIC),
        (["."], "default", "default", PRIVATE),
        (["default", "test"], "default", "default", PRIVATE),
        (["default", "test"], "default", "test", EXPORTED),
        (["."], "default", "test", None),
        (["~"], "default", "default", None),
    ],
)
def test_visibility_tier(export_to: list[str], own: str, client: str, tier: int | None) -> None:
    assert visibility_tier(export_to, own, client) == tier


def test_private_virtual_services_come_before_exported_and_public_ones() -> None:
    public = vs("public")  # oldest
    exported = vs("exported", namespace="other", exportTo=["default"])
    private = vs("private", exportTo=["."])  # newest
    gateway = vs("gateway", gateways=["gw"])
    hidden = vs("hidden", namespace="other", exportTo=["."])
    ordered = visible_virtual_services([public, exported, private, gateway, hidden], "default", "mesh")
    assert [v.name for v in ordered] == ["private", "exported", "public"]
    assert [v.name for v in visible_virtual_services([public, gateway], "default", "default/gw")] == ["gateway"]


def test_an_exact_host_beats_any_wildcard_then_the_most_specific_wildcard_wins() -> None:
    broad = vs("broad", hosts=["*.svc.cluster.local"])
    narrow = vs("narrow", hosts=["*.default.svc.cluster.local"])
    exact = vs("exact", hosts=["Reviews"])  # istiod lowercases VirtualService hosts
    also_exact = vs("also-exact", hosts=[REVIEWS])
    owners = sidecar_owners([broad, narrow, exact, also_exact], [REVIEWS, RATINGS, "details.shop.svc.cluster.local"])
    assert owners[REVIEWS] is exact  # the first of the two naming it
    assert owners[RATINGS] is narrow
    assert owners["details.shop.svc.cluster.local"] is broad
    assert sidecar_owners([exact], [RATINGS]) == {}


def test_split_hosts_gives_a_wildcard_only_the_services_it_owns() -> None:
    services = {REVIEWS, RATINGS}
    wild = vs("wild", hosts=["*.default.svc.cluster.local", "example.com", "*.example.org"])
    exact = vs("exact", hosts=["reviews"])
    owners = sidecar_owners([wild, exact], services)
    assert split_hosts(wild, services, owners) == (["example.com", "*.example.org"], [RATINGS])
    assert split_hosts(exact, services, owners) == ([], [REVIEWS])


# -- which routes ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "match",
    [
        None,
        {},
        {"name": "n", "statPrefix": "s", "ignoreUriCase": True},
        {"uri": {"prefix": "/"}},
        {"uri": {"prefix": "/v2"}},
        {"uri": {"exact": "/"}},
        {"uri": {"regex": ".*"}},
        {"uri": {"regex": "/.*"}},
        {"uri": {}},
        {"headers": {"end-user": {"exact": "jason"}}},
        {"headers": {}},
        {"withoutHeaders": {"x": {}}},
        {"queryParams": {"q": {"exact": "1"}}},
        {"method": {"exact": "GET"}},
        {"authority": {"prefix": "a"}},
        {"scheme": {"exact": "http"}},
        {"sourceLabels": {"app": "x"}, "port": 9080, "gateways": ["mesh"], "sourceNamespace": "default"},
    ],
)
def test_catch_all_is_decided_as_on_the_rendered_envoy_match(match: dict[str, Any] | None) -> None:
    assert is_catch_all(match) is envoy_is_catch_all(route_match(match))


def test_a_regex_slash_dot_star_is_not_a_catch_all() -> None:
    # The kube backend's former copy stopped its prediction there; istiod's IsCatchAllRoute only takes ".*".
    assert not is_catch_all({"uri": {"regex": "/.*"}})


@pytest.mark.parametrize(
    ("match", "proxy", "expected"),
    [
        ({"port": 9080}, SIDECAR, True),
        ({"port": 1234}, SIDECAR, False),
        ({"port": 1234}, Proxy(), None),
        ({"gateways": ["mesh"], "sourceLabels": {"app": "nobody"}}, SIDECAR, True),  # gateways replace labels
        ({"gateways": ["gw"]}, SIDECAR, False),
        ({"gateways": ["gw"]}, Proxy(gateways={"default/gw"}), True),
        ({"gateways": ["gw"]}, Proxy(), None),
        ({"sourceLabels": {"app": "productpage"}}, SIDECAR, True),
        ({"sourceLabels": {"app": "reviews"}}, SIDECAR, False),
        ({"sourceLabels": {"app": "reviews"}}, Proxy(namespace="default"), None),
        ({"sourceNamespace": "test"}, SIDECAR, False),
        ({"sourceNamespace": "test", "port": 1}, Proxy(namespace="default"), False),  # one "no" decides
        ({"headers": {"x": {}}}, Proxy(), True),
    ],
)
def test_applies_to(match: dict[str, Any], proxy: Proxy, expected: bool | None) -> None:
    assert applies_to(match, "default", proxy) is expected


def test_plan_one_route_per_applicable_match_stopping_after_the_first_catch_all() -> None:
    routes = vs(
        "r",
        {
            "name": "a",
            "match": [{"name": "jason", "headers": {"u": {"exact": "j"}}}, {"name": "other-port", "port": 1}],
        },
        {"name": "b", "match": [{"name": "mesh", "gateways": ["mesh"]}, {"name": "never", "uri": {"prefix": "/x"}}]},
        {"name": "c"},
    )
    plan = plan_routes(routes, SIDECAR)
    assert names(routes, SIDECAR) == ["a.jason", "b.mesh"]  # gateways [mesh] alone is a catch-all here
    assert plan.certain
    assert [p.index for p in plan.routes] == [0, 1]


def test_a_route_that_may_not_apply_never_ends_the_plan() -> None:
    routes = vs("r", {"name": "labelled", "match": [{"sourceLabels": {"app": "x"}}]}, {"name": "rest"})
    plan = plan_routes(routes, Proxy(namespace="default"))
    assert names(routes, Proxy(namespace="default")) == ["labelled", "rest"]
    assert not plan.certain
    assert names(routes, SIDECAR) == ["rest"]
    assert plan_routes(routes, SIDECAR).certain
    delegating = vs("d", {"name": "d", "delegate": {"name": "child"}}, {"name": "rest"})
    assert names(delegating, SIDECAR) == ["rest"]
    assert not plan_routes(delegating, SIDECAR).certain


# -- what a route does -------------------------------------------------------------------------------------


def test_route_actions_follow_istiods_order() -> None:
    assert route_action({"redirect": {}, "route": [dest("v1")]}, "default").kind == "redirect"
    assert route_action({"directResponse": {"status": 503}}, "default").kind == "direct"
    # No action at all: istiod still renders a route action, without clusters. The kube backend's former
    # copy predicted "other" here, which no dump of such a route reads as.
    empty = route_action({}, "default")
    assert (empty.kind, empty.destinations) == ("route", ())


def test_destinations_weights_and_shares() -> None:
    single = route_action({"route": [dest("v2", 0)]}, "default")
    assert not single.weighted
    assert [(d.host, d.subset, share) for d, share in single.per_mille()] == [(REVIEWS, "v2", 1000)]
    split = route_action({"route": [dest("v1", 0), dest("v2", 1), dest("v3", 3)]}, "default")
    assert split.weighted
    assert [(d.destination.subset, d.weight) for d in split.destinations] == [("v2", 1), ("v3", 3)]
    assert [share for _, share in split.per_mille()] == [250, 750]
    none_left = route_action({"route": [dest("v1", 0), dest("v2", 0)]}, "default")
    assert none_left.weighted and none_left.destinations == ()


def test_destination_ports_and_clusters() -> None:
    explicit = DestinationRef.parse({"host": "reviews", "port": {"number": 9080}}, "default")
    assert explicit.resolved_port([1, 2], 80) == 9080
    implicit = DestinationRef.parse({"host": "reviews.test.svc.cluster.local", "subset": "v1"}, "default")
    assert implicit.port is None
    assert implicit.resolved_port([9080], 80) == 9080  # the service's only port
    assert implicit.resolved_port([9080, 9443], 80) == 80  # else the listener's
    assert implicit.resolved_port(None, 80) == 80
    assert implicit.cluster(9080) == "outbound|9080|v1|reviews.test.svc.cluster.local"


def test_a_host_without_virtual_service_routes_to_all_endpoints() -> None:
    action = default_route_action(REVIEWS)
    assert (action.kind, action.weighted) == ("route", False)
    assert [(d.host, d.subset, d.port, share) for d, share in action.per_mille()] == [(REVIEWS, "", None, 1000)]
