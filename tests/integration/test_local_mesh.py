"""Routing outcomes of the local mesh through real Envoy, observed as traffic (docs/architecture.md).

Pages are fetched through the ingress gateway like a user would (``BookinfoClient``) and, where the reason
matters, the proxies' access logs are read by the request id the client sent: the outcomes of
docs/istio-semantics.md §5 (404 NR, 503 NC, 503 UH, 504 UT, FI). One Bookinfo mesh is shared by the module;
every test starts from Bookinfo's baseline (``reset_routing``). Meshes with other options are started by the
tests that need them.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from meshrelease.backends.local.dataplane.envoy_binary import find_envoy
from meshrelease.backends.local.dataplane.pods import parse_workload_mappings
from meshrelease.backends.local.mesh import LocalMesh
from meshrelease.backends.local.options import LocalMeshOptions
from meshrelease.backends.local.translate.listeners import ACCESS_LOG_FORMAT
from meshrelease.bookinfo.client import BookinfoClient
from meshrelease.bookinfo.page import PageObservation
from meshrelease.data import data_dir
from meshrelease.errors import MeshReleaseError, ValidationError, WaitTimeout
from meshrelease.k8s.manifest import load_manifests
from meshrelease.verdict.checks import VerdictResult, check_split, check_spread, check_version

pytestmark = pytest.mark.envoy

DATA = Path(__file__).resolve().parent.parent / "data" / "mesh"
DR_ALL = data_dir() / "destination-rule-all.yaml"
SYNC_TIMEOUT = 30.0
REVIEWS_UNAVAILABLE = "Sorry, product reviews are currently unavailable for this book."
ECHO_IMAGE = "registry.example.com/meshrelease-tests/echo:1.0"


# -- fixtures ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shared_mesh() -> Iterator[LocalMesh]:
    with LocalMesh(LocalMeshOptions()) as mesh:
        yield mesh


@pytest.fixture
def mesh(shared_mesh: LocalMesh) -> LocalMesh:
    """The shared Bookinfo mesh, back at its start-up state (Bookinfo + its gateway, no routing)."""
    shared_mesh.reset_routing()
    shared_mesh.wait_synced(SYNC_TIMEOUT)
    return shared_mesh


@pytest.fixture
def anonymous(mesh: LocalMesh) -> Iterator[BookinfoClient]:
    with BookinfoClient(mesh.ingress_url) as client:
        yield client


@pytest.fixture
def jason(mesh: LocalMesh) -> Iterator[BookinfoClient]:
    """A client signed in as jason (before the test changes any routing)."""
    with BookinfoClient(mesh.ingress_url) as client:
        page = client.sign_in("jason")
        assert page.user == "jason", page
        yield client


# -- helpers -------------------------------------------------------------------------------------------------
def route(mesh: LocalMesh, *paths: Path) -> list[Any]:
    """Apply each file (one call per file, like ``kubectl apply -f``), then wait until every proxy runs it."""
    results = [mesh.apply(load_manifests(path), source=str(path)) for path in paths]
    mesh.wait_synced(SYNC_TIMEOUT)
    return results


class Sampler:
    """``sample()`` for the verdict checks: one fresh page, its reviews version; keeps the last page."""

    def __init__(self, client: BookinfoClient) -> None:
        self.client = client
        self.last: PageObservation | None = None

    def __call__(self) -> str | None:
        self.last = self.client.fetch_page()
        return self.last.version


def assert_verdict(result: VerdictResult, sampler: Sampler) -> None:
    assert result.passed, f"{result.explain()}\nlast page: {sampler.last}"


def proxy_id(mesh: LocalMesh, deployment: str) -> str:
    """The id of the (only) sidecar of ``deployment``'s pod."""
    pods = [w for w in mesh.status()["workloads"] if w["deployment"] == deployment]
    assert len(pods) == 1, pods
    return f"{pods[0]['pod']}.{pods[0]['namespace']}"


def gateway_id(mesh: LocalMesh) -> str:
    return next(p["id"] for p in mesh.status()["proxies"] if p["kind"] == "gateway")


def calls(entries: list[dict[str, Any]], proxy: str, path: str) -> list[dict[str, Any]]:
    return [e for e in entries if e["proxy"] == proxy and e["path"] == path]


def entries_until(
    mesh: LocalMesh, request_id: str, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 5.0
) -> list[dict[str, Any]]:
    """Access-log entries of one request, re-read until ``done`` holds or ``timeout`` passes (last read)."""
    deadline = time.monotonic() + timeout
    while True:
        entries = mesh.access_log_entries(request_id, wait=0.5)
        if done(entries) or time.monotonic() > deadline:
            return entries


def gateway_get(mesh: LocalMesh, path: str) -> tuple[requests.Response, str]:
    request_id = str(uuid.uuid4())
    resp = requests.get(mesh.ingress_url + path, headers={"x-request-id": request_id}, timeout=15)
    return resp, request_id


def store_snapshot(mesh: LocalMesh) -> dict[Any, tuple[int, dict[str, Any]]]:
    return {o.key: (o.generation, o.body) for o in mesh.store.objects()}


def config_versions(mesh: LocalMesh) -> dict[str, Any]:
    status = mesh.status()
    return {"mesh": status["config_version"]} | {p["id"]: p["config_version"] for p in status["proxies"]}


def bookinfo_deployments() -> dict[str, str]:
    """Deployment name -> image, from the Bookinfo manifest the mesh starts with."""
    docs = yaml.safe_load_all((data_dir() / "bookinfo.yaml").read_text(encoding="utf-8"))
    return {
        d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["image"]
        for d in docs
        if d and d.get("kind") == "Deployment"
    }


# -- routing -------------------------------------------------------------------------------------------------
def test_header_match_sends_jason_to_v3_and_everyone_else_to_v2(
    mesh: LocalMesh, anonymous: BookinfoClient, jason: BookinfoClient
) -> None:
    route(mesh, DR_ALL, DATA / "reviews-jason-v3.yaml")

    for client, version in ((jason, "v3"), (anonymous, "v2")):
        sampler = Sampler(client)
        assert_verdict(check_version(sampler, version), sampler)

    productpage = proxy_id(mesh, "productpage-v1")
    for client, user, subset in ((jason, "jason", "v3"), (anonymous, None, "v2")):
        page = client.fetch_page()
        reviews_calls = calls(mesh.access_log_entries(str(page.request_id)), productpage, "/reviews/0")
        assert [(e["end_user"], e["upstream_cluster"], e["response_code"]) for e in reviews_calls] == [
            (user, f"outbound|9080|{subset}|reviews.default.svc.cluster.local", 200)
        ]


@pytest.mark.slow
def test_weighted_split_follows_the_weights(mesh: LocalMesh, anonymous: BookinfoClient) -> None:
    route(mesh, DR_ALL, DATA / "reviews-v1-v3-50-50.yaml")
    sampler = Sampler(anonymous)
    assert_verdict(check_split(sampler, {"v1": 50, "v3": 50}), sampler)


def test_without_a_virtual_service_every_version_answers(mesh: LocalMesh, anonymous: BookinfoClient) -> None:
    sampler = Sampler(anonymous)
    assert_verdict(check_spread(sampler, ["v1", "v2", "v3"]), sampler)

    page = anonymous.fetch_page()
    reviews_calls = calls(mesh.access_log_entries(str(page.request_id)), proxy_id(mesh, "productpage-v1"), "/reviews/0")
    assert [e["upstream_cluster"] for e in reviews_calls] == ["outbound|9080||reviews.default.svc.cluster.local"]


# -- 404 / 503 -----------------------------------------------------------------------------------------------
def test_gateway_path_that_no_rule_exposes_is_404_nr(mesh: LocalMesh) -> None:
    exposed, _ = gateway_get(mesh, "/productpage")
    assert exposed.status_code == 200

    resp, request_id = gateway_get(mesh, "/health")  # productpage serves it, the gateway VS does not expose it

    assert (resp.status_code, resp.text) == (404, "")
    entries = mesh.access_log_entries(request_id)
    assert [(e["proxy"], e["response_code"], e["response_flags"], e["response_code_details"]) for e in entries] == [
        (gateway_id(mesh), 404, "NR", "route_not_found")
    ]


def test_mesh_virtual_service_without_a_matching_rule_is_404_nr(
    mesh: LocalMesh, anonymous: BookinfoClient, jason: BookinfoClient
) -> None:
    route(mesh, DR_ALL, DATA / "reviews-jason-only.yaml")

    page = anonymous.fetch_page()

    assert (page.status, page.error, page.reviews_error, page.version) == (200, None, True, None)
    assert REVIEWS_UNAVAILABLE in str(page.body)
    reviews_calls = calls(mesh.access_log_entries(str(page.request_id)), proxy_id(mesh, "productpage-v1"), "/reviews/0")
    # productpage tries twice; neither attempt falls back to the service (docs/istio-semantics.md §5).
    assert [(e["response_code"], e["response_flags"]) for e in reviews_calls] == [(404, "NR"), (404, "NR")]
    assert jason.fetch_page().version == "v1"  # the one rule does match jason


def test_subset_that_no_destination_rule_defines_is_503_nc(mesh: LocalMesh, anonymous: BookinfoClient) -> None:
    [_, result] = route(mesh, DR_ALL, DATA / "reviews-subset-v4.yaml")
    assert any("IST0101" in w and "reviews+v4" in w for w in result.warnings), result.warnings

    page = anonymous.fetch_page()

    assert (page.status, page.reviews_error, page.version) == (200, True, None)
    reviews_calls = calls(mesh.access_log_entries(str(page.request_id)), proxy_id(mesh, "productpage-v1"), "/reviews/0")
    assert reviews_calls
    assert {(e["response_code"], e["response_flags"], e["response_code_details"]) for e in reviews_calls} == {
        (503, "NC", "cluster_not_found")
    }


def test_subset_that_selects_no_pod_is_503_uh(mesh: LocalMesh, anonymous: BookinfoClient) -> None:
    [_, result] = route(mesh, DR_ALL, DATA / "reviews-subset-v9.yaml")
    assert any("IST0173" in w and "v9" in w for w in result.warnings), result.warnings
    v9 = "outbound|9080|v9|reviews.default.svc.cluster.local"

    page = anonymous.fetch_page()

    assert (page.status, page.reviews_error, page.version) == (200, True, None)
    reviews_calls = calls(mesh.access_log_entries(str(page.request_id)), proxy_id(mesh, "productpage-v1"), "/reviews/0")
    assert reviews_calls
    assert {(e["response_code"], e["response_flags"], e["upstream_cluster"]) for e in reviews_calls} == {
        (503, "UH", v9)
    }

    # The same subset bound at the gateway shows Envoy's own reply.
    resp, request_id = gateway_get(mesh, "/reviews/0")
    assert (resp.status_code, resp.text) == (503, "no healthy upstream")
    [entry] = mesh.access_log_entries(request_id)
    assert (entry["proxy"], entry["response_flags"], entry["upstream_cluster"]) == (gateway_id(mesh), "UH", v9)


# -- faults, timeouts, mirror --------------------------------------------------------------------------------
@pytest.mark.slow
def test_ratings_delay_for_jason_makes_reviews_unavailable_after_about_six_seconds(
    mesh: LocalMesh, anonymous: BookinfoClient, jason: BookinfoClient
) -> None:
    route(mesh, DR_ALL, DATA / "reviews-jason-v2.yaml", DATA / "ratings-delay-7s-jason.yaml")

    page = jason.fetch_page()

    # productpage gives reviews 3 s, twice; reviews v2 waits up to 10 s for the 7 s delayed ratings.
    assert page.elapsed is not None and 5.0 <= page.elapsed <= 9.0, page
    assert (page.status, page.error, page.reviews_error, page.version) == (200, None, True, None)
    assert REVIEWS_UNAVAILABLE in str(page.body)
    other = anonymous.fetch_page()
    assert (other.version, other.reviews_error) == ("v1", False)
    assert other.elapsed is not None and other.elapsed < 3.0, other


def test_ratings_abort_shows_the_ratings_error_to_jason_only(
    mesh: LocalMesh, anonymous: BookinfoClient, jason: BookinfoClient
) -> None:
    route(mesh, DR_ALL, DATA / "reviews-v2.yaml", DATA / "ratings-abort-jason.yaml")
    reviews_v2 = proxy_id(mesh, "reviews-v2")

    hit = jason.fetch_page()
    spared = anonymous.fetch_page()

    assert (hit.version, hit.ratings_error, hit.stars) == ("v2", True, "none")
    assert (spared.version, spared.ratings_error, spared.stars) == ("v2", False, "black")
    hit_calls = calls(mesh.access_log_entries(str(hit.request_id)), reviews_v2, "/ratings/0")
    assert {(e["response_code"], e["response_flags"], e["response_code_details"]) for e in hit_calls} == {
        (500, "FI", "fault_filter_abort")
    }
    spared_calls = calls(mesh.access_log_entries(str(spared.request_id)), reviews_v2, "/ratings/0")
    assert [(e["response_code"], e["response_flags"]) for e in spared_calls] == [(200, "-")]


def test_route_timeout_makes_reviews_unavailable_after_about_one_second(
    mesh: LocalMesh, anonymous: BookinfoClient
) -> None:
    route(mesh, DR_ALL, DATA / "ratings-delay-2s.yaml", DATA / "reviews-v2-timeout-0.5s.yaml")

    page = anonymous.fetch_page()

    # Two productpage attempts, each cut at 0.5 s; without the timeout the page would take the 2 s delay.
    assert page.elapsed is not None and 0.95 <= page.elapsed < 1.9, page
    assert (page.status, page.reviews_error, page.version) == (200, True, None)
    reviews_calls = calls(mesh.access_log_entries(str(page.request_id)), proxy_id(mesh, "productpage-v1"), "/reviews/0")
    assert [(e["response_code"], e["response_flags"], e["response_code_details"]) for e in reviews_calls] == [
        (504, "UT", "response_timeout"),
        (504, "UT", "response_timeout"),
    ]


def test_mirror_copies_requests_to_the_mirror_pod(mesh: LocalMesh, anonymous: BookinfoClient) -> None:
    reviews_v3 = proxy_id(mesh, "reviews-v3")

    def v3_calls_ratings(entries: list[dict[str, Any]]) -> bool:
        return bool(calls(entries, reviews_v3, "/ratings/0"))

    route(mesh, DR_ALL, DATA / "reviews-v1.yaml")
    control = anonymous.fetch_page()
    assert control.version == "v1"
    assert not v3_calls_ratings(mesh.access_log_entries(str(control.request_id))), "v3 busy without a mirror"

    route(mesh, DATA / "reviews-v1-mirror-v3.yaml")
    sampler = Sampler(anonymous)
    assert_verdict(check_version(sampler, "v1"), sampler)  # the mirror's answers are discarded
    for _ in range(3):
        page = anonymous.fetch_page()
        entries = entries_until(mesh, str(page.request_id), v3_calls_ratings)
        # reviews v3 calls ratings: the mirrored request reached it, with the original x-request-id.
        assert v3_calls_ratings(entries), entries
        reviews_calls = calls(entries, proxy_id(mesh, "productpage-v1"), "/reviews/0")
        assert [e["upstream_cluster"] for e in reviews_calls] == ["outbound|9080|v1|reviews.default.svc.cluster.local"]


# -- sync ----------------------------------------------------------------------------------------------------
def test_traffic_follows_every_change_right_after_wait_synced(mesh: LocalMesh, anonymous: BookinfoClient) -> None:
    route(mesh, DR_ALL)
    targets = ["v1", "v2", "v1", "v2", "v1", "v2"]
    seen = []
    for target in targets:
        mesh.apply(load_manifests(DATA / f"reviews-{target}.yaml"), source=target)
        mesh.wait_synced(SYNC_TIMEOUT)
        # No settling: the very first pages after wait_synced must show the new routing.
        seen.append([anonymous.fetch_page().version for _ in range(5)])
    assert seen == [[t] * 5 for t in targets]


@pytest.fixture(scope="module")
def delayed_mesh() -> Iterator[LocalMesh]:
    with LocalMesh(LocalMeshOptions(propagation_delay=(0.3, 0.6), seed=7)) as mesh:
        yield mesh


def test_propagation_delay_is_waited_for_and_a_short_wait_names_the_lagging_proxies(
    delayed_mesh: LocalMesh,
) -> None:
    mesh = delayed_mesh
    mesh.apply(load_manifests(DR_ALL), source="dr")
    started = time.monotonic()
    mesh.apply(load_manifests(DATA / "reviews-v1.yaml"), source="v1")
    mesh.wait_synced(SYNC_TIMEOUT)
    assert time.monotonic() - started >= 0.3  # no proxy may get the update before the minimum delay
    with BookinfoClient(mesh.ingress_url) as client:
        assert [client.fetch_page().version for _ in range(5)] == ["v1"] * 5

        mesh.apply(load_manifests(DATA / "reviews-v2.yaml"), source="v2")
        with pytest.raises(WaitTimeout) as timed_out:
            mesh.wait_synced(0.05)  # shorter than the minimum delay: every push is still pending
        status = mesh.status()
        message = str(timed_out.value)
        assert f"version {status['config_version']}" in message
        assert any(p["id"] in message for p in status["proxies"]), message

        mesh.wait_synced(SYNC_TIMEOUT)
        assert [client.fetch_page().version for _ in range(5)] == ["v2"] * 5


# -- objects -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("manifest", "fragments"),
    [
        ("invalid-negative-weight.yaml", ['admission webhook "validation.istio.io" denied', "weight -10 < 0"]),
        ("unsupported-image.yaml", ["registry.example.com/meshrelease-tests/unmapped-echo:1.0", "--workload"]),
        ("too-many-replicas.yaml", ["Deployment default/ratings-v1: spec.replicas is 6", "at most 5 replicas"]),
    ],
)
def test_rejected_apply_changes_nothing(mesh: LocalMesh, manifest: str, fragments: list[str]) -> None:
    route(mesh, DR_ALL, DATA / "reviews-v1.yaml")
    objects, versions, pods = store_snapshot(mesh), config_versions(mesh), sorted(p.name for p in mesh.pods())
    path = DATA / manifest

    with pytest.raises(ValidationError) as rejected:
        mesh.apply(load_manifests(path), source=str(path))

    message = str(rejected.value)
    assert str(path) in message and "nothing was changed" in message
    for fragment in fragments:
        assert fragment in message
    assert store_snapshot(mesh) == objects
    assert config_versions(mesh) == versions
    assert sorted(p.name for p in mesh.pods()) == pods


def test_an_ignored_istio_mutual_mode_is_a_warning_of_the_apply(mesh: LocalMesh, anonymous: BookinfoClient) -> None:
    path = DATA / "destination-rule-istio-mutual.yaml"
    [result] = route(mesh, path)
    assert "destinationrule.networking.istio.io/reviews created" in result.lines
    [warning] = [w for w in result.warnings if "ISTIO_MUTUAL" in w]
    assert warning.startswith("DestinationRule default/reviews: spec.trafficPolicy.tls.mode ISTIO_MUTUAL is ignored")
    assert "plaintext" in warning
    # Applying it again changes nothing, so nothing is repeated; routing works in plaintext.
    [again] = route(mesh, path)
    assert not [w for w in again.warnings if "ISTIO_MUTUAL" in w]
    route(mesh, DATA / "reviews-v2.yaml")
    assert anonymous.fetch_page().version == "v2"


def test_deployed_versions_are_those_of_the_running_pods(mesh: LocalMesh) -> None:
    assert mesh.deployed_versions("reviews") == ["v1", "v2", "v3"]
    assert mesh.deployed_versions("productpage") == ["v1"]
    assert mesh.deployed_versions("nothing") == []


def test_workload_command_runs_a_user_service_behind_the_mesh(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "echo").mkdir(parents=True)
    token = f"served by the echo pod {uuid.uuid4()}"
    (site / "echo" / "hello.txt").write_text(token, encoding="utf-8")
    command = (
        f"{shlex.quote(sys.executable)} -m http.server {{port}} --bind 127.0.0.1 --directory {shlex.quote(str(site))}"
    )
    options = LocalMeshOptions(bookinfo=False, workloads=parse_workload_mappings([f"{ECHO_IMAGE}={command}"]))

    with LocalMesh(options) as mesh:
        [result] = route(mesh, DATA / "echo-workload.yaml")
        assert "deployment.apps/echo-v1 created" in result.lines
        [pod] = mesh.status()["workloads"]
        assert pod["deployment"] == "echo-v1" and pod["image"] == ECHO_IMAGE
        assert pod["implementation"].startswith("command: ") and "http.server" in pod["implementation"]

        resp, request_id = gateway_get(mesh, "/echo/hello.txt")

        assert (resp.status_code, resp.text) == (200, token)
        [entry] = mesh.access_log_entries(request_id)
        assert (entry["proxy"], entry["upstream_cluster"], entry["response_code"]) == (
            gateway_id(mesh),
            "outbound|8000||echo.default.svc.cluster.local",
            200,
        )


def test_reset_routing_restores_the_bookinfo_baseline(mesh: LocalMesh, anonymous: BookinfoClient) -> None:
    baseline = store_snapshot(mesh)
    version = mesh.status()["config_version"]
    mesh.reset_routing()
    assert mesh.status()["config_version"] == version  # nothing changed: nothing pushed

    route(mesh, DR_ALL, DATA / "reviews-v1.yaml", DATA / "bookinfo-gateway-api-only.yaml")
    assert gateway_get(mesh, "/productpage")[0].status_code == 404

    mesh.reset_routing()
    mesh.wait_synced(SYNC_TIMEOUT)

    assert {k: body for k, (_, body) in store_snapshot(mesh).items()} == {k: b for k, (_, b) in baseline.items()}
    sampler = Sampler(anonymous)
    assert_verdict(check_spread(sampler, ["v1", "v2", "v3"]), sampler)


# -- introspection -------------------------------------------------------------------------------------------
def test_access_log_entries_carry_the_documented_keys_and_are_found_by_request_id(
    mesh: LocalMesh, anonymous: BookinfoClient
) -> None:
    page = anonymous.fetch_page()
    request_id = str(page.request_id)

    entries = mesh.access_log_entries(request_id)

    assert entries and all(set(e) == set(ACCESS_LOG_FORMAT) for e in entries), entries
    assert {e["request_id"] for e in entries} == {request_id}
    assert {e["proxy"] for e in entries} <= {p["id"] for p in mesh.status()["proxies"]}
    [front] = [e for e in entries if e["proxy"] == gateway_id(mesh)]
    assert (front["method"], front["path"], front["response_code"], front["upstream_cluster"]) == (
        "GET",
        "/productpage",
        200,
        "outbound|9080||productpage.default.svc.cluster.local",
    )
    productpage = proxy_id(mesh, "productpage-v1")
    assert sorted(e["path"] for e in entries if e["proxy"] == productpage) == ["/details/0", "/reviews/0"]
    if page.version in ("v2", "v3"):  # those versions call ratings, through their own sidecar
        assert calls(entries, proxy_id(mesh, f"reviews-{page.version}"), "/ratings/0")
    assert [json.loads(line) for line in mesh.access_log_lines(request_id)] == [
        json.loads(json.dumps(e, sort_keys=True)) for e in entries
    ]
    assert mesh.access_log_entries(str(uuid.uuid4()), wait=0.2) == []


def test_describe_and_status_report_the_running_mesh(mesh: LocalMesh, leak_probe: Any) -> None:
    deployments = bookinfo_deployments()
    tags = {re.sub(r".*:", "", image) for image in deployments.values()}

    info = mesh.describe()
    status = mesh.status()

    assert info.backend == "local"
    assert find_envoy().version_text in info.mesh
    assert info.bookinfo == ",".join(sorted(tags))
    assert status["ingress_url"] == mesh.ingress_url and Path(status["run_dir"]).is_dir()
    proxies = status["proxies"]
    assert sorted(p["kind"] for p in proxies) == ["gateway"] + ["sidecar"] * len(deployments)
    assert all(p["alive"] and p["synced"] and p["lag"] is None for p in proxies), proxies
    assert all(p["config_version"] == str(status["config_version"]) for p in proxies), proxies
    children = leak_probe.own_children()
    assert all(p["pid"] in children and children[p["pid"]].name == "envoy" for p in proxies), (proxies, children)
    [gateway] = [p for p in proxies if p["kind"] == "gateway"]
    assert gateway["listeners"] == {"8080": int(mesh.ingress_url.rsplit(":", 1)[1])}
    workloads = status["workloads"]
    assert sorted(w["deployment"] for w in workloads) == sorted(deployments)
    for w in workloads:
        assert re.fullmatch(rf"{w['deployment']}-[a-z0-9]{{10}}-[a-z0-9]{{5}}", w["pod"]), w
        assert w["image"] == deployments[w["deployment"]]
        service, version = w["deployment"].rsplit("-", 1)
        assert w["implementation"].startswith(f"bookinfo {service} {version} ")
        assert any(p["id"] == f"{w['pod']}.{w['namespace']}" for p in proxies)
    assert len({w["port"] for w in workloads}) == len(workloads)


def test_an_apply_whose_pod_cannot_start_is_rolled_back(tmp_path: Path, leak_probe: Any) -> None:
    crash = f"{shlex.quote(sys.executable)} -c 'import sys; sys.exit(3)' {{port}}"
    options = LocalMeshOptions(bookinfo=False, workloads=parse_workload_mappings([f"{ECHO_IMAGE}={crash}"]))
    with LocalMesh(options) as mesh:
        before = {o.key: o.resource_version for o in mesh.store.objects()}
        with pytest.raises(MeshReleaseError, match="exited with code 3"):
            mesh.apply(load_manifests(DATA / "echo-workload.yaml"), source="echo-workload.yaml")
        after = {o.key: o.resource_version for o in mesh.store.objects()}
        assert set(after) == set(before), "the objects of the failed apply were not rolled back"
        assert mesh.status()["workloads"] == []
        mesh.wait_synced(10)  # the proxies run the restored configuration
