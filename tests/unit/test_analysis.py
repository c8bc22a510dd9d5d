"""Cross-object analyzer warnings (istioctl analyze codes): exact text, and that they never block."""

from __future__ import annotations

from typing import Any

from meshrelease.backends.local.apiserver.analysis import analyze, fqdn
from meshrelease.backends.local.apiserver.store import ObjectStore
from meshrelease.data import data_dir
from meshrelease.k8s.manifest import load_manifests

FIXTURES = data_dir()


def route(host: str = "reviews", subset: str | None = None, port: int | None = None) -> dict[str, Any]:
    destination: dict[str, Any] = {"host": host}
    if subset:
        destination["subset"] = subset
    if port:
        destination["port"] = {"number": port}
    return {"destination": destination}


def vs(name: str, http: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    body = {"hosts": ["reviews"], "http": http, **spec}
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": name},
        "spec": body,
    }


def dr(name: str, host: str, *subsets: str, namespace: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    spec = {"host": host, "subsets": [{"name": s, "labels": {"version": s}} for s in subsets]}
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": metadata,
        "spec": spec,
    }


def service(name: str, *ports: int, selector: dict[str, str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"ports": [{"port": p, "name": f"http-{p}"} for p in ports or (9080,)]}
    spec["selector"] = selector if selector is not None else {"app": name}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def deployment(name: str, labels: dict[str, str], replicas: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "i:1"}]},
            },
        },
    }


def reviews_app(*versions: str) -> list[dict[str, Any]]:
    docs = [service("reviews")]
    docs += [deployment(f"reviews-{v}", {"app": "reviews", "version": v}) for v in versions]
    return docs


def warnings_for(*docs: dict[str, Any]) -> list[str]:
    store = ObjectStore()
    result = store.apply(list(docs))
    found = analyze(store.objects())
    assert result.warnings == [w for w in result.warnings if w.startswith("Warning: ")] + found
    return found


# ------------------------------------------------------------------------------------------ IST0101
def test_subset_no_destination_rule_defines() -> None:
    found = warnings_for(
        *reviews_app("v1", "v3"),
        dr("reviews", "reviews", "v1"),
        vs("reviews", [{"route": [route(subset="v3")]}]),
    )
    assert found == [
        "Error [IST0101] (VirtualService default/reviews) Referenced host+subset in destinationrule not "
        'found: "reviews+v3"'
    ]


def test_subset_defined_in_the_destination_rule_of_the_fqdn() -> None:
    found = warnings_for(
        *reviews_app("v1"),
        dr("reviews", "reviews.default.svc.cluster.local", "v1"),
        vs("reviews", [{"route": [route(subset="v1")]}]),
    )
    assert found == []


def test_destination_rule_in_another_namespace_does_not_define_the_short_host() -> None:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}}
    found = warnings_for(
        namespace,
        *reviews_app("v1"),
        dr("reviews", "reviews", "v1", namespace="other"),
        vs("reviews", [{"route": [route(subset="v1")]}]),
    )
    assert (
        "Error [IST0101] (VirtualService default/reviews) Referenced host+subset in destinationrule not "
        'found: "reviews+v1"' in found
    )
    assert (
        "Warning [IST0174] (DestinationRule other/reviews) The host reviews defined in the DestinationRule "
        "does not match "
        "any services in the mesh."
    ) in found


def test_mirror_host_and_subset() -> None:
    found = warnings_for(
        *reviews_app("v1"),
        dr("reviews", "reviews", "v1"),
        vs(
            "reviews",
            [{"route": [route(subset="v1")], "mirror": {"host": "shadow"}, "mirrorPercentage": {"value": 5}}],
        ),
        vs(
            "reviews-m",
            [
                {
                    "route": [route(subset="v1")],
                    "mirrors": [{"destination": {"host": "reviews", "subset": "v9"}}],
                }
            ],
            hosts=["reviews.example.com"],
        ),
    )
    assert found == [
        'Error [IST0101] (VirtualService default/reviews) Referenced mirror host not found: "shadow"',
        "Error [IST0101] (VirtualService default/reviews-m) Referenced mirror+subset in destinationrule not "
        'found: "reviews+v9"',
    ]


def test_destination_host_not_in_the_registry() -> None:
    found = warnings_for(
        *reviews_app("v1"), vs("reviews", [{"route": [route("reviews.default")]}, {"route": [route("foo")]}])
    )
    assert 'Error [IST0101] (VirtualService default/reviews) Referenced host not found: "foo"' in found
    # A name with a dot is not expanded: "reviews.default" is not the Service's FQDN.
    assert 'Error [IST0101] (VirtualService default/reviews) Referenced host not found: "reviews.default"' in found


def test_ports_of_the_destination_service() -> None:
    found = warnings_for(
        service("reviews", 9080, 9090),
        vs("reviews", [{"route": [route()]}]),
        vs("reviews-port", [{"route": [route(port=9999)]}], hosts=["reviews.example.com"]),
        vs("reviews-ok", [{"route": [route(port=9090)]}], hosts=["reviews.example.org"]),
    )
    assert found == [
        'Error [IST0112] (VirtualService default/reviews) This VirtualService routes to a service "reviews" '
        "that exposes "
        "multiple ports [9080 9090]. Specifying a port in the destination is required to disambiguate.",
        'Error [IST0101] (VirtualService default/reviews-port) Referenced host:port not found: "reviews:9999"',
    ]


def test_gateway_references() -> None:
    gateway = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "bookinfo-gateway"},
        "spec": {"servers": [{"port": {"number": 8080, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}]},
    }
    found = warnings_for(
        *reviews_app("v1"),
        gateway,
        vs(
            "via-gw",
            [{"route": [route()]}],
            hosts=["*"],
            gateways=["bookinfo-gateway", "default/bookinfo-gateway"],
        ),
        vs(
            "missing-gw",
            [{"route": [route()]}],
            hosts=["reviews.example.com"],
            gateways=["istio-system/bookinfo-gateway", "mesh"],
        ),
    )
    assert found == [
        "Error [IST0101] (VirtualService default/missing-gw) Referenced gateway not found: "
        '"istio-system/bookinfo-gateway"'
    ]


# ------------------------------------------------------------------------------------------ IST0130/IST0131
def test_unreachable_rules_with_the_three_reasons() -> None:
    jason = {"headers": {"end-user": {"exact": "jason"}}}
    found = warnings_for(
        *reviews_app("v1"),
        vs(
            "reviews",
            [
                {"match": [jason], "route": [route()]},
                {"name": "dup", "match": [{"name": "again", **jason}], "route": [route()]},
                {"route": [route()]},
                {"route": [route()]},
                {"match": [{"uri": {"prefix": "/late"}}], "route": [route()]},
            ],
        ),
    )
    ref = "(VirtualService default/reviews)"
    assert found == [
        f'Info [IST0131] {ref} virtualService rule "dup" match "again" is not used (duplicate/overlapping '
        "match in rule #0)",
        f'Warning [IST0130] {ref} virtualService rule "dup" not used (all matches used by prior rules)',
        f"Warning [IST0130] {ref} virtualService rule #3 not used (only the last rule can have no matches)",
        f"Warning [IST0130] {ref} virtualService rule #4 not used (route without matches defined before)",
    ]


def test_overlapping_prefix_match() -> None:
    found = warnings_for(
        *reviews_app("v1"),
        vs(
            "reviews",
            [
                {"match": [{"uri": {"prefix": "/api"}}], "route": [route()]},
                {"match": [{"uri": {"prefix": "/api/v1"}}], "route": [route()]},
                {
                    "match": [{"uri": {"prefix": "/api/v2"}, "headers": {"x": {"exact": "1"}}}],
                    "route": [route()],
                },
            ],
        ),
    )
    assert found == [
        "Info [IST0131] (VirtualService default/reviews) virtualService rule #1 match #0 of prefix /api/v1 "
        "is not used "
        "(duplicate/overlapping match in rule #0 of prefix /api on #0)"
    ]


# ------------------------------------------------------------------------------------------ IST0109
def test_two_mesh_virtual_services_for_one_host() -> None:
    found = warnings_for(
        *reviews_app("v1"),
        vs("reviews-a", [{"route": [route()]}]),
        vs("reviews-b", [{"route": [route()]}], hosts=["reviews.default.svc.cluster.local"]),
        vs("reviews-gw", [{"route": [route()]}], gateways=["bookinfo-gateway"]),
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "Gateway",
            "metadata": {"name": "bookinfo-gateway"},
            "spec": {"servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}]},
        },
    )
    text = (
        "The VirtualServices default/reviews-a,default/reviews-b associated with mesh gateway define the "
        "same host "
        "*/reviews.default.svc.cluster.local which can lead to undefined behavior. This can be fixed by "
        "merging the "
        "conflicting VirtualServices into a single resource."
    )
    assert found == [
        f"Error [IST0109] (VirtualService default/reviews-a) {text}",
        f"Error [IST0109] (VirtualService default/reviews-b) {text}",
    ]


def test_mesh_virtual_services_exported_to_different_namespaces_do_not_conflict() -> None:
    found = warnings_for(
        *reviews_app("v1"),
        vs("reviews-a", [{"route": [route()]}], exportTo=["."]),
        vs("reviews-b", [{"route": [route()]}], exportTo=["istio-system"]),
    )
    assert found == []


# ------------------------------------------------------------------------------------------ IST0173/IST0174
def test_subset_that_selects_no_pods() -> None:
    found = warnings_for(*reviews_app("v1", "v2"), dr("reviews", "reviews", "v1", "v2", "v3"))
    assert found == [
        "Error [IST0173] (DestinationRule default/reviews) The Subset v3 defined in the DestinationRule does "
        "not "
        "select any pods. Which may lead to 503 UH (NoHealthyUpstream)."
    ]


def test_subset_pods_must_also_be_selected_by_the_service() -> None:
    found = warnings_for(
        service("reviews", selector={"app": "reviews"}),
        deployment("reviews-v1", {"app": "other", "version": "v1"}),
        deployment("reviews-v2", {"app": "reviews", "version": "v2"}, replicas=0),
        dr("reviews", "reviews", "v1", "v2"),
    )
    assert [w.split(" defined")[0] for w in found] == [
        "Error [IST0173] (DestinationRule default/reviews) The Subset v1",
        "Error [IST0173] (DestinationRule default/reviews) The Subset v2",
    ]


def test_destination_rule_for_a_host_with_no_service() -> None:
    found = warnings_for(dr("ghost", "ghost", "v1"))
    assert found == [
        "Warning [IST0174] (DestinationRule default/ghost) The host ghost defined in the DestinationRule "
        "does not "
        "match any services in the mesh."
    ]


# ------------------------------------------------------------------------------------------ whole states
def test_bookinfo_fixtures_give_the_same_warnings_as_istioctl() -> None:
    store = ObjectStore()
    docs = [
        m
        for f in ("bookinfo.yaml", "bookinfo-gateway.yaml", "destination-rule-all.yaml")
        for m in load_manifests(FIXTURES / f)
    ]
    result = store.apply(docs)
    tail = "defined in the DestinationRule does not select any pods. "
    tail += "Which may lead to 503 UH (NoHealthyUpstream)."
    assert result.warnings == [
        f"Error [IST0173] (DestinationRule default/details) The Subset v2 {tail}",
        f"Error [IST0173] (DestinationRule default/ratings) The Subset v2 {tail}",
        f"Error [IST0173] (DestinationRule default/ratings) The Subset v2-mysql {tail}",
        f"Error [IST0173] (DestinationRule default/ratings) The Subset v2-mysql-vm {tail}",
    ]


def test_warnings_do_not_block_and_deleting_a_destination_rule_reports_the_dangling_subset() -> None:
    store = ObjectStore()
    store.apply([*reviews_app("v1"), dr("reviews", "reviews", "v1"), vs("reviews", [{"route": [route(subset="v1")]}])])
    result = store.delete([dr("reviews", "reviews")])
    assert result.lines == ['destinationrule.networking.istio.io "reviews" deleted']
    assert result.warnings == [
        "Error [IST0101] (VirtualService default/reviews) Referenced host+subset in destinationrule not "
        'found: "reviews+v1"'
    ]


def test_empty_state_has_no_warnings() -> None:
    assert analyze([]) == []
    assert analyze(ObjectStore().objects()) == []


def test_fqdn_short_name_rule() -> None:
    assert fqdn("reviews", "shop") == "reviews.shop.svc.cluster.local"
    assert fqdn("reviews.default", "shop") == "reviews.default"
    assert fqdn("*.example.com", "shop") == "*.example.com"
