"""The kube sync's route prediction where its former copy of the rules differed from istiod's (and from the
local translator): these now come from the shared model, meshrelease.k8s.istio_routes."""

from __future__ import annotations

from typing import Any

from meshrelease.backends.kube.routes import expect_virtual_service, winning_virtual_service
from meshrelease.k8s.istio_routes import Proxy

REVIEWS = "reviews.default.svc.cluster.local"
SIDECAR = Proxy(namespace="default", gateways={"mesh"})


def vs(
    name: str, *rules: dict[str, Any], namespace: str = "default", created: str = "2026-01-01T00:00:00Z", **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": created},
        "spec": {"hosts": spec.pop("hosts", [REVIEWS]), "http": list(rules) or [{"route": [route("v1")]}], **spec},
    }


def route(subset: str) -> dict[str, Any]:
    return {"destination": {"host": "reviews", "subset": subset}}


def winner(*live: dict[str, Any]) -> str | None:
    found = winning_virtual_service(live, REVIEWS, client_namespace="default", default_namespace="default")
    return None if found is None else str(found["metadata"]["name"])


def test_the_most_specific_wildcard_wins_not_the_oldest() -> None:
    broad = vs("broad", hosts=["*.svc.cluster.local"], created="2026-01-01T00:00:00Z")
    narrow = vs("narrow", hosts=["*.default.svc.cluster.local"], created="2026-01-01T00:00:05Z")
    assert winner(broad, narrow) == "narrow"


def test_a_private_virtual_service_beats_an_older_public_one() -> None:
    public = vs("public", created="2026-01-01T00:00:00Z")
    private = vs("private", created="2026-01-01T00:00:05Z", exportTo=["."])
    assert winner(public, private) == "private"


def test_equal_creation_times_are_ordered_by_name_then_namespace() -> None:
    assert winner(vs("b", namespace="a"), vs("a", namespace="z", hosts=[REVIEWS])) == "a"


def test_a_match_on_the_mesh_gateway_alone_ends_the_sidecars_routes() -> None:
    spec = vs(
        "r",
        {"match": [{"gateways": ["mesh"]}], "route": [route("v2")]},
        {"route": [route("v1")]},
    )
    expected = expect_virtual_service(spec, "default", SIDECAR)
    assert expected.exact
    assert [s.describe() for s in expected.shapes] == ["[reviews/v2 100%]"]
    # Not knowing which proxy: both routes may exist.
    loose = expect_virtual_service(spec, "default")
    assert not loose.exact
    assert len(loose.shapes) == 2


def test_a_regex_slash_dot_star_does_not_end_the_routes() -> None:
    spec = vs("r", {"match": [{"uri": {"regex": "/.*"}}], "route": [route("v2")]}, {"route": [route("v1")]})
    expected = expect_virtual_service(spec, "default", SIDECAR)
    assert [s.describe() for s in expected.shapes] == ["[reviews/v2 100%]", "[reviews/v1 100%]"]
