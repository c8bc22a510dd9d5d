"""A release step on the kind backend against the fake tools: apply, wait_synced, delete, reset, errors.

Every test runs against istioctl 1.29.8 (proxy-status: a table, ``-o json`` ignored) and 1.31.1 (proxy-status
JSON), the two forms the pinned releases print (tests/contract/fakes/istioctl_formats.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_world import FIXTURES, RotatingFetcher, World, enter_world

from meshrelease.backends.kube.kind_backend import KindBackend
from meshrelease.backends.settings import KindSettings
from meshrelease.errors import CommandError, ValidationError, WaitTimeout

pytestmark = pytest.mark.contract

CLUSTER = "kind-meshrelease"


@pytest.fixture(scope="module", params=["1.29.8", "1.31.1"])
def kind_mesh(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple[World, KindBackend]]:
    """One started kind backend per istioctl release (starting takes seconds); paths with spaces and quotes."""
    root = tmp_path_factory.mktemp("kind steps")
    with pytest.MonkeyPatch.context() as mp:
        world = enter_world(root, mp)
        with world.edit() as state:
            state["istioctl_version"] = request.param
        backend = KindBackend(
            KindSettings(
                istio_version=request.param,
                data_dir=FIXTURES,
                workdir=root / "session dir 'single' \"double\"",
                poll_interval=0.01,
                ingress_url="http://127.0.0.1:9",
            ),
            client_factory=RotatingFetcher,
        )
        backend.start()
        yield world, backend
        backend.close()


@pytest.fixture
def mesh(kind_mesh: tuple[World, KindBackend]) -> Iterator[tuple[World, KindBackend]]:
    world, backend = kind_mesh
    with world.edit() as state:
        state["clusters"][CLUSTER]["push_lag"] = 0
        state["clusters"][CLUSTER]["ack_lag"] = 0
        state["failures"] = []
    world.clear_calls()
    yield world, backend
    with world.edit() as state:
        state["clusters"][CLUSTER]["push_lag"] = 0
        state["failures"] = []
    backend.reset_routing()
    backend.wait_synced(10)
    world.clear_calls()


def vs(host: str, *routes: dict[str, Any], name: str | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1alpha3",
        "kind": "VirtualService",
        "metadata": {"name": name or host},
        "spec": {"hosts": [host], "http": list(routes), **spec},
    }


def to(host: str, subset: str, weight: int | None = None) -> dict[str, Any]:
    dest: dict[str, Any] = {"destination": {"host": host, "subset": subset}}
    if weight is not None:
        dest["weight"] = weight
    return dest


def dr(host: str, *subsets: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1alpha3",
        "kind": "DestinationRule",
        "metadata": {"name": host},
        "spec": {"host": host, "subsets": [{"name": s, "labels": {"version": s}} for s in subsets]},
    }


def normalized(calls: list[list[str]]) -> list[list[str]]:
    return [[re.sub(r"-[0-9a-f]{10}-[0-9a-f]{5}", "-<hash>", a) for a in call] for call in calls]


def kubeconfig(world: World) -> list[str]:
    return ["--kubeconfig", "<tmp>/session dir 'single' \"double\"/kind/kubeconfig"]


def manifest(world: World, call: list[str]) -> list[dict[str, Any]]:
    path = call[call.index("-f") + 1].replace("<tmp>", str(world.root))
    return list(yaml.safe_load_all(Path(path).read_text(encoding="utf-8")))


def test_a_step_is_dry_run_then_applied_and_synced_on_the_productpage_proxy(
    mesh: tuple[World, KindBackend],
) -> None:
    world, backend = mesh
    result = backend.apply([vs("reviews", {"route": [to("reviews", "v2")]})], source="steps/blue-green.yaml")
    assert result.lines == ["virtualservice.networking.istio.io/reviews created"]
    waited = backend.wait_synced(10)
    assert waited >= 0
    k = kubeconfig(world)
    calls = normalized(world.calls())
    files = [c[c.index("-f") + 1] for c in calls if "-f" in c]
    assert calls == [
        ["kubectl", *k, "get", "-f", files[0], "-o", "json", "--ignore-not-found"],
        ["kubectl", *k, "apply", "--dry-run=server", "-f", files[1]],
        ["kubectl", *k, "apply", "-f", files[1]],
        ["kubectl", *k, "get", "virtualservices.networking.istio.io", "-A", "-o", "json"],
        ["kubectl", *k, "get", "pods", "-n", "default", "-l", "app=productpage", "-o", "json"],
        ["istioctl", "proxy-config", "routes", "productpage-v1-<hash>.default", "-o", "json", *k],
        ["istioctl", "proxy-status", "-o", "json", "--verbosity=1", *k],
    ]
    written = manifest(world, world.calls()[1])
    assert written[0]["metadata"] == {"name": "reviews", "namespace": "default"}
    live = world.objects(CLUSTER, "VirtualService")["default/reviews"]
    assert live["spec"]["http"][0]["route"][0]["destination"]["subset"] == "v2"


def test_wait_synced_polls_until_the_push_reaches_the_proxy(mesh: tuple[World, KindBackend]) -> None:
    world, backend = mesh
    with world.edit() as state:
        state["clusters"][CLUSTER]["push_lag"] = 3  # the proxy gets the change on its 4th read
    backend.apply([vs("reviews", {"route": [to("reviews", "v2", 80), to("reviews", "v3", 20)]})])
    backend.wait_synced(10)
    reads = [c for c in world.calls("istioctl") if c[1:3] == ["proxy-config", "routes"]]
    assert len(reads) == 4


def test_wait_synced_timeout_names_the_lagging_proxy_and_what_it_still_serves(
    mesh: tuple[World, KindBackend],
) -> None:
    world, backend = mesh
    with world.edit() as state:
        state["clusters"][CLUSTER]["push_lag"] = -1  # istiod never pushes
    backend.apply([vs("reviews", {"route": [to("reviews", "v2")]})])
    with pytest.raises(WaitTimeout) as err:
        backend.wait_synced(0.3)
    message = str(err.value)
    assert "timed out after 0.3 s waiting for the client proxy to carry the routes for reviews.default.svc" in message
    assert re.search(
        r"last seen: productpage-v1-[0-9a-f-]+\.default: reviews\.default\.svc\.cluster\.local serves "
        r"\[reviews 100%\] \(default route\); "
        r"expected \[reviews/v2 100%\] \(VirtualService default/reviews\)",
        message,
    ), message
    # the change is still pending: once istiod pushes, the next wait sees it through
    with world.edit() as state:
        state["clusters"][CLUSTER]["push_lag"] = 0
    world.clear_calls()
    backend.wait_synced(10)
    assert [c[1:3] for c in world.calls("istioctl")][:1] == [["proxy-config", "routes"]]
    assert [c[1] for c in world.calls("istioctl")] == ["proxy-config", "proxy-status"]


def test_wait_synced_waits_until_proxy_status_shows_the_push_acknowledged(mesh: tuple[World, KindBackend]) -> None:
    world, backend = mesh
    with world.edit() as state:  # the routes arrive at once, the ACK only after two proxy-status reads
        state["clusters"][CLUSTER]["ack_lag"] = 2
    backend.apply([vs("reviews", {"route": [to("reviews", "v3")]})])
    backend.wait_synced(10)
    assert [c[1] for c in world.calls("istioctl")] == ["proxy-config", "proxy-status", "proxy-status", "proxy-status"]
    with world.edit() as state:  # never acknowledged: the wait names the proxy and the types still STALE
        state["clusters"][CLUSTER]["ack_lag"] = -1
    backend.apply([vs("reviews", {"route": [to("reviews", "v1")]})])
    with pytest.raises(WaitTimeout) as err:
        backend.wait_synced(0.3)
    message = str(err.value)
    assert "waiting for istioctl proxy-status to show every xDS type of the proxies SYNCED" in message
    assert re.search(
        r"productpage-v1-[0-9a-f-]+\.default: Istio 1\.\d+\.\d+ on istiod-[0-9a-f-]+, CDS STALE, ", message
    )
    assert "RDS STALE" in message
    with world.edit() as state:
        state["clusters"][CLUSTER]["ack_lag"] = 0
        for entry in state["clusters"][CLUSTER]["proxies"].values():
            entry["unacked"] = 0
    backend.wait_synced(10)


def test_weighted_header_and_subset_changes_sync(mesh: tuple[World, KindBackend]) -> None:
    world, backend = mesh
    backend.apply([dr("reviews", "v1", "v2", "v3")], source="destination-rules.yaml")
    header_canary = vs(
        "reviews",
        {"match": [{"headers": {"end-user": {"exact": "jason"}}}], "route": [to("reviews", "v3")]},
        {"route": [to("reviews", "v2", 50), to("reviews", "v3", 50), to("reviews", "v1", 0)]},
    )
    backend.apply([header_canary])
    backend.wait_synced(10)
    verbs = [c[1:3] for c in world.calls("istioctl")]
    assert ["proxy-config", "clusters"] in verbs  # the DestinationRule's subsets were checked
    assert ["proxy-config", "routes"] in verbs
    # the check is strict: the same proxy serving other weights is not "synced"
    with world.edit() as state:
        state["clusters"][CLUSTER]["push_lag"] = -1
    backend.apply([vs("reviews", {"route": [to("reviews", "v2", 90), to("reviews", "v3", 10)]})])
    with pytest.raises(WaitTimeout, match=r"expected \[reviews/v2 90%, reviews/v3 10%\]"):
        backend.wait_synced(0.3)


def test_delete_expects_the_default_route_back(mesh: tuple[World, KindBackend]) -> None:
    world, backend = mesh
    backend.apply([vs("reviews", {"route": [to("reviews", "v1")]})])
    backend.wait_synced(10)
    with world.edit() as state:
        state["clusters"][CLUSTER]["push_lag"] = 2
    result = backend.delete([vs("reviews", {"route": [to("reviews", "v1")]})], source="cleanup.yaml")
    assert result.lines == ['virtualservice.networking.istio.io "reviews" deleted']
    backend.wait_synced(10)
    assert "default/reviews" not in world.objects(CLUSTER, "VirtualService")
    deletes = [c for c in world.calls("kubectl") if "delete" in c]
    assert [("--dry-run=server" in c) for c in deletes] == [True, False]


def test_a_gateway_bound_virtual_service_is_checked_on_the_ingress_gateway(
    mesh: tuple[World, KindBackend],
) -> None:
    world, backend = mesh
    canary = vs(
        "*",
        {"match": [{"uri": {"prefix": "/canary"}}], "route": [to("productpage", "v1")]},
        name="productpage-canary",
        gateways=["bookinfo-gateway"],
    )
    backend.apply([canary])
    backend.wait_synced(10)
    reads = normalized([c for c in world.calls("istioctl") if c[1:3] == ["proxy-config", "routes"]])
    assert [c[3] for c in reads] == ["istio-ingressgateway-<hash>.istio-system"]


def test_a_rejected_apply_changes_nothing(mesh: tuple[World, KindBackend]) -> None:
    world, backend = mesh
    bad = vs("reviews", {"route": [to("reviews", "v2", -15), to("reviews", "v3", 115)]})
    with pytest.raises(ValidationError) as err:
        backend.apply([bad], source="scenarios/x/bad.yaml")
    assert 'error when applying "scenarios/x/bad.yaml"; nothing was changed' in str(err.value)
    assert any("denied the request: configuration is invalid: weight -15 < 0" in e for e in err.value.errors)
    applies = [c for c in world.calls("kubectl") if "apply" in c]
    assert len(applies) == 1 and "--dry-run=server" in applies[0]
    assert "default/reviews" not in world.objects(CLUSTER, "VirtualService")
    assert backend.wait_synced(1) == 0.0  # nothing pending: no proxy is read
    assert world.calls("istioctl") == []


def test_a_failing_apply_reports_argv_exit_code_and_stderr(mesh: tuple[World, KindBackend]) -> None:
    world, backend = mesh
    world.fail(
        "kubectl",
        ["apply"],
        excludes=("--dry-run=server",),
        exit=1,
        stderr="Unable to connect to the server: dial tcp 127.0.0.1:6443: connect: connection refused\n",
    )
    with pytest.raises(CommandError) as err:
        backend.apply([vs("reviews", {"route": [to("reviews", "v2")]})])
    exc = err.value
    assert exc.argv[0] == str(world.bin / "kubectl")
    assert exc.argv[3:5] == ["apply", "-f"]
    assert exc.returncode == 1
    assert "connect: connection refused" in exc.stderr
    assert "command failed (exit 1): " in str(exc)


def test_reset_routing_removes_what_the_run_created_and_restores_what_it_changed(
    mesh: tuple[World, KindBackend],
) -> None:
    world, backend = mesh
    import kubefakes_state as fk

    theirs = {
        "ratings": vs("ratings", {"route": [to("ratings", "v1")]}),
        "details": dr("details", "v1", "v2"),
        "untouched": vs("details", {"route": [to("details", "v1")]}, name="untouched"),
    }
    with world.edit() as state:  # objects someone else applied before this run
        for doc in theirs.values():
            fk.put(
                state,
                state["clusters"][CLUSTER],
                {**doc, "metadata": {**doc["metadata"], "namespace": "default"}},
            )
    backend.apply([dr("reviews", "v1", "v2", "v3"), vs("reviews", {"route": [to("reviews", "v2")]})])
    backend.apply([vs("ratings", {"route": [to("ratings", "v2")]})])  # changes theirs
    backend.delete([dr("details")])  # deletes theirs
    world.clear_calls()
    backend.reset_routing()
    calls = world.calls("kubectl")
    assert [c[3] for c in calls] == ["delete", "apply"]
    assert [d["kind"] for d in manifest(world, calls[0])] == ["VirtualService", "DestinationRule"]
    assert [(d["kind"], d["metadata"]["name"]) for d in manifest(world, calls[1])] == [
        ("DestinationRule", "details"),
        ("VirtualService", "ratings"),
    ]
    vss = world.objects(CLUSTER, "VirtualService")
    drs = world.objects(CLUSTER, "DestinationRule")
    assert "default/reviews" not in vss and "default/reviews" not in drs
    assert vss["default/ratings"]["spec"] == theirs["ratings"]["spec"]
    assert drs["default/details"]["spec"] == theirs["details"]["spec"]
    assert "default/untouched" in vss and "default/bookinfo" in vss  # never touched by the run
    for key in ("default/ratings", "default/untouched"):  # leave the module's world as it was
        with world.edit() as state:
            fk.remove(state["clusters"][CLUSTER], f"networking.istio.io|VirtualService|{key.replace('/', '|')}")
    with world.edit() as state:
        fk.remove(state["clusters"][CLUSTER], "networking.istio.io|DestinationRule|default|details")


def test_values_with_quotes_and_spaces_reach_the_cluster_intact(mesh: tuple[World, KindBackend]) -> None:
    world, backend = mesh
    value = 'o\'brien "the" tester; $(rm -rf /) `x`'
    backend.apply(
        [
            vs(
                "reviews",
                {"match": [{"headers": {"end-user": {"exact": value}}}], "route": [to("reviews", "v3")]},
                {"route": [to("reviews", "v2")]},
            )
        ]
    )
    live = world.objects(CLUSTER, "VirtualService")["default/reviews"]
    assert live["spec"]["http"][0]["match"][0]["headers"]["end-user"]["exact"] == value
    apply = next(c for c in world.calls("kubectl") if c[3] == "apply" and "--dry-run=server" not in c)
    # the work directory's spaces and quotes arrive as one argument each: no shell split anything
    assert apply[1:3] == kubeconfig(world)
    assert apply[-1].startswith("<tmp>/session dir 'single' \"double\"/session/manifests/")
    backend.wait_synced(10)


def test_access_log_lines_and_diagnostics_of_a_failed_step(mesh: tuple[World, KindBackend]) -> None:
    world, backend = mesh
    productpage = world.pod(CLUSTER, "productpage-v1-")
    gateway = world.pod(CLUSTER, "istio-ingressgateway-", namespace="istio-system")

    def access_line(request_id: str, path: str, authority: str, cluster: str) -> str:
        return (
            f'[2026-01-01T00:00:01.000Z] "GET {path} HTTP/1.1" 200 - via_upstream - "-" 0 295 5 4 "-" "x" '
            f'"{request_id}" "{authority}" "10.244.0.9:9080" {cluster}'
        )

    with world.edit() as state:
        state["clusters"][CLUSTER]["logs"] = {
            f"default/{productpage}/istio-proxy": [
                access_line(
                    "req-1",
                    "/reviews/0",
                    "reviews:9080",
                    "outbound|9080|v2|reviews.default.svc.cluster.local",
                ),
                access_line(
                    "req-2",
                    "/reviews/0",
                    "reviews:9080",
                    "outbound|9080|v1|reviews.default.svc.cluster.local",
                ),
            ],
            f"istio-system/{gateway}/istio-proxy": [
                access_line(
                    "req-1",
                    "/productpage",
                    "127.0.0.1:30080",
                    "outbound|9080||productpage.default.svc.cluster.local",
                ),
            ],
        }
    backend.apply([vs("reviews", {"route": [to("reviews", "v2")]})])
    backend.wait_synced(10)
    lines = backend.access_log_lines("req-1")
    assert len(lines) == 2
    assert lines[0].startswith("productpage: ") and "outbound|9080|v2|reviews" in lines[0]
    assert lines[1].startswith("ingress gateway: ") and '"GET /productpage' in lines[1]
    diagnostics = backend.diagnostics()
    routes = diagnostics[f"productpage routes ({productpage}.default)"]
    assert "9080 reviews.default.svc.cluster.local:9080: [reviews/v2 100%] (VirtualService default/reviews)" in routes
    assert "ratings.default.svc.cluster.local:9080: [ratings 100%] (default route)" in routes
    assert "kube-system" not in routes
    assert diagnostics[f"ingress gateway routes ({gateway}.istio-system)"].startswith("http.8080 *:8080: [productpage")
    log = diagnostics[f"productpage access log ({productpage}.default, last 20 lines)"]
    assert log.count("\n") == 1 and '"req-2"' in log
    assert f"{productpage}.default" in diagnostics["istioctl proxy-status"]


def test_an_unreachable_api_server_during_the_dry_run_is_not_reported_as_invalid_objects(
    mesh: tuple[World, KindBackend],
) -> None:
    world, backend = mesh
    # what kubectl 1.32 prints for `apply --dry-run=server` when the API server refuses connections
    world.fail(
        "kubectl",
        ["apply", "--dry-run=server"],
        stderr='error: error validating "m.yaml": error validating data: failed to download openapi: Get '
        '"https://127.0.0.1:6443/openapi/v2?timeout=32s": '
        "dial tcp 127.0.0.1:6443: connect: connection refused\n",
    )
    with pytest.raises(CommandError) as err:
        backend.apply([vs("reviews", {"route": [to("reviews", "v2")]})])
    assert "connection refused" in err.value.stderr
    assert [c for c in world.calls("kubectl") if "apply" in c and "--dry-run=server" not in c] == []


def test_a_destination_rule_for_a_host_that_is_no_service_has_nothing_to_wait_for(
    mesh: tuple[World, KindBackend],
) -> None:
    world, backend = mesh
    backend.apply([dr("no-such-service", "v1")])
    assert backend.wait_synced(5) < 5
    reads = [c for c in world.calls("istioctl") if c[1:3] == ["proxy-config", "clusters"]]
    assert len(reads) == 1  # read once, seen to have no such service, done
