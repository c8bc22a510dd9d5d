"""Reading route dumps and predicting them from VirtualServices (pure functions; no tools needed)."""

from __future__ import annotations

from typing import Any

from meshrelease.backends.kube.routes import (
    Destination,
    RouteShape,
    expect_default_route,
    expect_virtual_service,
    parse_cluster_name,
    route_shape,
    subset_clusters,
    summarize,
    virtual_host_routes,
    winning_virtual_service,
)

REVIEWS = "reviews.default.svc.cluster.local"
CONFIG = "/apis/networking.istio.io/v1/namespaces/default/virtual-service/reviews"


def vs(name: str, *rules: dict[str, Any], created: str = "2026-01-01T00:00:00Z", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": "default", "creationTimestamp": created},
        "spec": {"hosts": spec.pop("hosts", ["reviews"]), "http": list(rules), **spec},
    }


def route(subset: str, weight: int | None = None, host: str = "reviews") -> dict[str, Any]:
    out: dict[str, Any] = {"destination": {"host": host, "subset": subset}}
    if weight is not None:
        out["weight"] = weight
    return out


def test_cluster_names_parse_like_istio_builds_them() -> None:
    assert parse_cluster_name(f"outbound|9080|v2|{REVIEWS}") == (9080, "v2", REVIEWS)
    assert parse_cluster_name(f"outbound|9080||{REVIEWS}") == (9080, "", REVIEWS)
    assert parse_cluster_name("inbound|9080||") is None
    assert parse_cluster_name("PassthroughCluster") is None


def test_camel_case_and_snake_case_dumps_read_the_same() -> None:
    camel = {
        "route": {
            "weightedClusters": {
                "clusters": [
                    {"name": f"outbound|9080|v2|{REVIEWS}", "weight": 1},
                    {"name": f"outbound|9080|v3|{REVIEWS}", "weight": 3},
                ]
            }
        },
        "metadata": {"filterMetadata": {"istio": {"config": CONFIG}}},
    }
    snake = {
        "route": {
            "weighted_clusters": {
                "clusters": [
                    {"name": f"outbound|9080|v2|{REVIEWS}", "weight": {"value": 1}},
                    {"name": f"outbound|9080|v3|{REVIEWS}", "weight": {"value": 3}},
                ]
            }
        },
        "metadata": {"filter_metadata": {"istio": {"config": CONFIG}}},
    }
    expected = RouteShape(
        "route",
        (Destination(REVIEWS, "v2", 9080, 250), Destination(REVIEWS, "v3", 9080, 750)),
        "default/reviews",
    )
    assert route_shape(camel) == expected
    assert route_shape(snake) == expected
    assert route_shape({"redirect": {"pathRedirect": "/x"}}).action == "redirect"
    assert route_shape({"directResponse": {"status": 503}}).action == "direct"


def test_a_virtual_service_renders_one_route_per_match_and_stops_after_a_catch_all() -> None:
    spec = vs(
        "reviews",
        {
            "match": [{"headers": {"end-user": {"exact": "jason"}}}, {"uri": {"prefix": "/v3"}}],
            "route": [route("v3")],
        },
        {"match": [{"uri": {"prefix": "/"}}], "route": [route("v2", 50), route("v3", 50), route("v1", 0)]},
        {"route": [route("v1")]},  # after a catch-all: never rendered
    )
    expected = expect_virtual_service(spec, "default")
    assert expected.exact
    assert [s.describe() for s in expected.shapes] == [
        "[reviews/v3 100%]",
        "[reviews/v3 100%]",
        "[reviews/v2 50%, reviews/v3 50%]",
    ]
    assert {s.config for s in expected.shapes} == {"default/reviews"}
    # one destination gets everything whatever its weight says
    single = expect_virtual_service(vs("reviews", {"route": [route("v2", 0)]}), "default")
    assert single.shapes[0].destinations == (Destination(REVIEWS, "v2", None, 1000),)
    # rules that select proxies make the count uncertain
    assert not expect_virtual_service(
        vs("reviews", {"match": [{"sourceLabels": {"app": "x"}}], "route": [route("v1")]}), "default"
    ).exact


def test_expectations_compare_destinations_shares_and_source() -> None:
    expected = expect_virtual_service(vs("reviews", {"route": [route("v2", 90), route("v3", 10)]}), "default")

    def actual(v2: int, v3: int, config: str = "default/reviews") -> list[RouteShape]:
        return [
            RouteShape("route", (Destination(REVIEWS, "v3", 9080, v3), Destination(REVIEWS, "v2", 9080, v2)), config)
        ]

    assert expected.satisfied_by(actual(900, 100))
    assert not expected.satisfied_by(actual(500, 500))
    assert not expected.satisfied_by(actual(900, 100, config="default/other"))  # another VirtualService serves
    assert expected.satisfied_by([RouteShape("route", actual(900, 100)[0].destinations, "")])  # no metadata: shape only
    assert not expected.satisfied_by(actual(900, 100) * 2)
    default = expect_default_route(REVIEWS)
    assert default.satisfied_by([RouteShape("route", (Destination(REVIEWS, "", 9080, 1000),))])
    assert not default.satisfied_by(actual(900, 100))


def test_the_oldest_mesh_virtual_service_wins_and_exact_hosts_beat_wildcards() -> None:
    old = vs("old", {"route": [route("v1")]}, created="2026-01-01T00:00:01Z")
    new = vs("new", {"route": [route("v2")]}, created="2026-01-01T00:00:02Z")
    gateway_only = vs("gw", {"route": [route("v3")]}, created="2026-01-01T00:00:00Z", gateways=["bookinfo-gateway"])
    hidden = vs("hidden", {"route": [route("v3")]}, created="2026-01-01T00:00:00Z", exportTo=["."])
    hidden["metadata"]["namespace"] = "other"
    hidden["spec"]["hosts"] = [REVIEWS]
    wildcard = vs(
        "wild",
        {"route": [route("v3")]},
        created="2026-01-01T00:00:00Z",
        hosts=["*.default.svc.cluster.local"],
    )
    live = [new, gateway_only, hidden, old, wildcard]
    winner = winning_virtual_service(live, REVIEWS, client_namespace="default", default_namespace="default")
    assert winner is old
    only_wild = winning_virtual_service(
        [wildcard, gateway_only], REVIEWS, client_namespace="default", default_namespace="default"
    )
    assert only_wild is wildcard
    assert (
        winning_virtual_service([gateway_only], REVIEWS, client_namespace="default", default_namespace="default")
        is None
    )


def test_virtual_hosts_subsets_and_summaries_are_read_from_dumps() -> None:
    dump = [
        {
            "name": "InboundPassthroughCluster",
            "virtualHosts": [{"name": "inbound", "domains": ["*"], "routes": []}],
        },
        {
            "name": "9080",
            "virtualHosts": [
                {
                    "name": f"{REVIEWS}:9080",
                    "domains": [REVIEWS, "reviews"],
                    "routes": [
                        {
                            "route": {"cluster": f"outbound|9080|v2|{REVIEWS}"},
                            "metadata": {"filterMetadata": {"istio": {"config": CONFIG}}},
                        }
                    ],
                },
                {
                    "name": "allow_any",
                    "domains": ["*"],
                    "routes": [{"route": {"cluster": "PassthroughCluster"}}],
                },
            ],
        },
    ]
    assert virtual_host_routes(dump, REVIEWS) == [
        RouteShape("route", (Destination(REVIEWS, "v2", 9080, 1000),), "default/reviews")
    ]
    assert virtual_host_routes(dump, "ratings.default.svc.cluster.local") is None
    assert summarize(dump) == f"9080 {REVIEWS}:9080: [reviews/v2 100%] (VirtualService default/reviews)"
    clusters = [
        {"name": f"outbound|9080|v1|{REVIEWS}"},
        {"name": f"outbound|9080||{REVIEWS}"},
        {"cluster": {"name": f"outbound|9080|v2|{REVIEWS}"}},
    ]
    assert subset_clusters(clusters) == {("v1", REVIEWS), ("v2", REVIEWS)}
