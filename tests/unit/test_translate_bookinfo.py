"""Bookinfo as realistic input: the project's fixtures plus Istio's sample VirtualServices, step by step."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from meshrelease.backends.local.model import ProxySpec, StoredObject, Translation
from meshrelease.backends.local.translate.translator import translate
from tests.translate_builders import CASES_DIR, GATEWAY_ID, World, fixture_docs, load_yaml, stored, world

STEPS: dict[str, str] = yaml.safe_load((CASES_DIR / "samples" / "bookinfo-steps.yaml").read_text())
FQDN = "{}.default.svc.cluster.local"
SERVICES = ("details", "productpage", "ratings", "reviews")


def bookinfo_world() -> World:
    """Bookinfo, its gateway and every DestinationRule, as a user applies them."""
    docs = fixture_docs("bookinfo-gateway.yaml") + fixture_docs("destination-rule-all.yaml")
    return world(yaml.safe_dump_all(docs))


def apply(w: World, manifest: str) -> list[StoredObject]:
    """kubectl-apply semantics enough for these steps: replace by key, keep creation time and order."""
    objects = list(w.objects)
    new = stored(load_yaml(manifest), start=len(objects))
    by_key = {o.key: i for i, o in enumerate(objects)}
    for obj in new:
        if obj.key in by_key:
            old = objects[by_key[obj.key]]
            obj.created, obj.seq = old.created, old.seq
            objects[by_key[obj.key]] = obj
        else:
            by_key[obj.key] = len(objects)
            objects.append(obj)
    return objects


def vhost(t: Translation, proxy: ProxySpec, service: str) -> dict[str, Any]:
    rc = next(r for r in t.proxies[proxy.id].route_configs if r["name"] == "9080")
    return next(v for v in rc["virtual_hosts"] if v["name"] == f"{FQDN.format(service)}:9080")


def test_every_proxy_gets_the_bookinfo_layout() -> None:
    w = bookinfo_world()
    t = translate(w.objects, w.pods, w.proxies)
    assert t.warnings == []
    sidecars = [p for p in w.proxies if p.kind == "sidecar"]
    assert sorted(p.pod for p in sidecars) == [
        "details-v1-0",
        "productpage-v1-0",
        "ratings-v1-0",
        "reviews-v1-0",
        "reviews-v2-0",
        "reviews-v3-0",
    ]
    expected_clusters = [
        "outbound|9080||details.default.svc.cluster.local",
        "outbound|9080|v1|details.default.svc.cluster.local",
        "outbound|9080|v2|details.default.svc.cluster.local",
        "outbound|9080||productpage.default.svc.cluster.local",
        "outbound|9080|v1|productpage.default.svc.cluster.local",
        "outbound|9080||ratings.default.svc.cluster.local",
        "outbound|9080|v1|ratings.default.svc.cluster.local",
        "outbound|9080|v2|ratings.default.svc.cluster.local",
        "outbound|9080|v2-mysql|ratings.default.svc.cluster.local",
        "outbound|9080|v2-mysql-vm|ratings.default.svc.cluster.local",
        "outbound|9080||reviews.default.svc.cluster.local",
        "outbound|9080|v1|reviews.default.svc.cluster.local",
        "outbound|9080|v2|reviews.default.svc.cluster.local",
        "outbound|9080|v3|reviews.default.svc.cluster.local",
        "PassthroughCluster",
    ]
    for proxy in sidecars:
        res = t.proxies[proxy.id]
        assert [x["name"] for x in res.listeners] == ["0.0.0.0_9080"]
        assert [x["name"] for x in res.route_configs] == ["9080"]
        assert [v["name"] for v in res.route_configs[0]["virtual_hosts"]] == [
            *(f"{FQDN.format(s)}:9080" for s in SERVICES),
            "allow_any",
        ]
        assert [c["name"] for c in res.clusters] == expected_clusters
    gw = t.proxies[GATEWAY_ID]
    assert [x["name"] for x in gw.listeners] == ["0.0.0.0_8080"]
    routes = gw.route_configs[0]["virtual_hosts"][0]["routes"]
    assert [r["match"] for r in routes] == [
        {"path": "/productpage", "case_sensitive": True},
        {"prefix": "/static", "case_sensitive": True},
        {"path": "/login", "case_sensitive": True},
        {"path": "/logout", "case_sensitive": True},
        {"prefix": "/api/v1/products", "case_sensitive": True},
    ]
    assert {r["route"]["cluster"] for r in routes} == {"outbound|9080||productpage.default.svc.cluster.local"}
    # Subsets select the pods of their version; empty subsets exist with no endpoints (503 UH).
    clusters = {c["name"]: c for c in gw.clusters}
    ports = {
        name: [e["endpoint"]["address"]["socket_address"]["port_value"] for g in eps for e in g["lb_endpoints"]]
        for name, c in clusters.items()
        for eps in [c["load_assignment"]["endpoints"]]
    }
    assert ports["outbound|9080||reviews.default.svc.cluster.local"] == [20020, 20030, 20040]
    assert ports["outbound|9080|v3|reviews.default.svc.cluster.local"] == [20040]
    assert ports["outbound|9080|v2|ratings.default.svc.cluster.local"] == []
    assert ports["outbound|9080|v2|details.default.svc.cluster.local"] == []


@pytest.mark.parametrize(
    ("steps", "service", "expected"),
    [
        ([], "reviews", {"cluster": "outbound|9080||reviews.default.svc.cluster.local"}),
        (["all-v1"], "reviews", {"cluster": "outbound|9080|v1|reviews.default.svc.cluster.local"}),
        (["all-v1"], "details", {"cluster": "outbound|9080|v1|details.default.svc.cluster.local"}),
        (
            ["all-v1", "reviews-50-v3"],
            "reviews",
            {
                "weighted_clusters": {
                    "clusters": [
                        {"name": "outbound|9080|v1|reviews.default.svc.cluster.local", "weight": 50},
                        {"name": "outbound|9080|v3|reviews.default.svc.cluster.local", "weight": 50},
                    ]
                }
            },
        ),
        (["all-v1", "reviews-v2-timeout"], "reviews", {"timeout": "0.500s"}),
    ],
    ids=["default", "all-v1-reviews", "all-v1-details", "50-v3", "timeout"],
)
def test_release_steps_on_productpage_sidecar(steps: list[str], service: str, expected: dict[str, Any]) -> None:
    w = bookinfo_world()
    for step in steps:
        w.objects = apply(w, STEPS[step])
    t = translate(w.objects, w.pods, w.proxies)
    action = vhost(t, w.proxy("productpage-v1"), service)["routes"][-1]["route"]
    for key, value in expected.items():
        assert action[key] == value


def test_header_canary_only_on_the_first_route() -> None:
    w = bookinfo_world()
    w.objects = apply(w, STEPS["all-v1"])
    w.objects = apply(w, STEPS["reviews-test-v2"])
    t = translate(w.objects, w.pods, w.proxies)
    routes = vhost(t, w.proxy("productpage-v1"), "reviews")["routes"]
    assert [(r["match"], r["route"]["cluster"]) for r in routes] == [
        (
            {
                "prefix": "/",
                "case_sensitive": True,
                "headers": [{"name": "end-user", "string_match": {"exact": "jason"}}],
            },
            "outbound|9080|v2|reviews.default.svc.cluster.local",
        ),
        ({"prefix": "/"}, "outbound|9080|v1|reviews.default.svc.cluster.local"),
    ]


@pytest.mark.parametrize(
    ("step", "fault"),
    [
        (
            "ratings-test-delay",
            {"delay": {"fixed_delay": "7s", "percentage": {"numerator": 1000000, "denominator": "MILLION"}}},
        ),
        (
            "ratings-test-abort",
            {"abort": {"http_status": 500, "percentage": {"numerator": 1000000, "denominator": "MILLION"}}},
        ),
    ],
)
def test_fault_steps_reach_the_reviews_sidecars(step: str, fault: dict[str, Any]) -> None:
    w = bookinfo_world()
    w.objects = apply(w, STEPS["all-v1"])
    w.objects = apply(w, STEPS[step])
    t = translate(w.objects, w.pods, w.proxies)
    for pod in ("reviews-v2", "reviews-v3"):
        routes = vhost(t, w.proxy(pod), "ratings")["routes"]
        config = routes[0]["typed_per_filter_config"]["envoy.filters.http.fault"]
        assert {k: v for k, v in config.items() if k != "@type"} == fault
        assert "typed_per_filter_config" not in routes[1]


def test_replacing_a_virtualservice_keeps_its_age() -> None:
    # An older reviews VS replaced in place still wins over a newer one for the same host.
    w = bookinfo_world()
    w.objects = apply(w, STEPS["all-v1"])
    w.objects = apply(
        w,
        """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-newer}
spec:
  hosts: [reviews]
  http:
    - route: [{destination: {host: reviews, subset: v3}}]
""",
    )
    w.objects = apply(w, STEPS["reviews-50-v3"])
    t = translate(w.objects, w.pods, w.proxies)
    action = vhost(t, w.proxy("productpage-v1"), "reviews")["routes"][0]["route"]
    assert "weighted_clusters" in action
