"""The Gateway API on the real local mesh: a release through an HTTPRoute, the two mistakes a release with
HTTPRoutes typically makes caught with the usual failure table, and what ``get`` shows of the objects.

The must-fail scenarios: a canary whose backendRefs weigh 60/40 under a 50/50 expectation, and a header canary
whose rule lists the header match next to a catch-all path match (matches are ORed, so anonymous users take the
canary too).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from meshrelease.backends.local import listing
from meshrelease.backends.local.mesh import LocalMesh
from meshrelease.backends.local.options import LocalMeshOptions
from meshrelease.cli import kubectl_output
from meshrelease.data import data_file
from meshrelease.engine.runner import RunnerOptions, StepRunner
from meshrelease.errors import MeshReleaseError
from meshrelease.k8s.manifest import load_manifests
from meshrelease.report.failure import failure_message
from meshrelease.scenario.loader import load_scenario
from meshrelease.scenario.model import Scenario

pytestmark = [pytest.mark.envoy]

ROUTE_HEADER = """\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: reviews
spec:
  parentRefs:
    - group: ""
      kind: Service
      name: reviews
      port: 9080
  rules:
"""


def _route(rules: str) -> str:
    return ROUTE_HEADER + textwrap.indent(textwrap.dedent(rules), "    ")


SPLIT_60_40 = _route(
    """\
    - backendRefs:
        - {name: reviews-v2, port: 9080, weight: 60}
        - {name: reviews-v3, port: 9080, weight: 40}
    """
)
HEADER_ALSO_CATCHES_EVERYONE = _route(
    """\
    - matches:
        - headers: [{name: end-user, value: jason}]
        - path: {type: PathPrefix, value: /}
      backendRefs:
        - {name: reviews-v3, port: 9080}
    - backendRefs:
        - {name: reviews-v2, port: 9080}
    """
)


def _scenario(tmp_path: Path, name: str, route: str, expect: str) -> Scenario:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "route.yaml").write_text(route)
    (folder / "scenario.yaml").write_text(
        textwrap.dedent(
            f"""\
            name: {name}
            ingress: {{gateway: bookinfo-gateway}}
            steps:
              - name: release
                apply:
                  - "meshrelease:bookinfo-versions.yaml"
                  - "meshrelease:gateway-api-bookinfo-gateway.yaml"
                  - route.yaml
                expect:
            """
        )
        + textwrap.indent(textwrap.dedent(expect), "      ")
    )
    return load_scenario(folder)


@pytest.fixture(scope="module")
def mesh() -> Iterator[LocalMesh]:
    with LocalMesh(LocalMeshOptions()) as m:
        yield m


@pytest.fixture
def runner(mesh: LocalMesh) -> Iterator[StepRunner]:
    r = StepRunner(mesh, RunnerOptions(converge_timeout=5))
    mesh.reset_routing()
    try:
        yield r
    finally:
        r.close()


def test_a_60_40_route_fails_a_50_50_expectation_with_the_table(tmp_path: Path, runner: StepRunner) -> None:
    sc = _scenario(tmp_path, "split-60-40", SPLIT_60_40, "- reviews: {v2: 50, v3: 50}\n  delta: 0.05\n")
    result = runner.run(sc, sc.step("release"))
    assert result.error is None, result.error
    assert not result.passed
    (split,) = result.expectations
    assert split.decision == "fail", split.explanation
    assert set(split.counts) == {"v2", "v3"} and split.counts["v2"] > split.counts["v3"]
    message = failure_message(result)
    assert "reviews v2:50/v3:50" in message and "FAIL" in message.upper()


def test_a_header_match_that_also_catches_anonymous_users_fails(tmp_path: Path, runner: StepRunner) -> None:
    expect = """\
    - reviews: v2
      stars: black
    - user: jason
      reviews: v3
      stars: red
    """
    sc = _scenario(tmp_path, "header-catches-all", HEADER_ALSO_CATCHES_EVERYONE, expect)
    result = runner.run(sc, sc.step("release"))
    assert not result.passed
    anonymous, jason = result.expectations
    assert anonymous.decision == "fail", anonymous.explanation
    # Every anonymous page shows v3's red stars (the label names the first thing that is wrong).
    assert set(anonymous.counts) <= {"v3", "stars red"} and sum(anonymous.counts.values()) > 0, anonymous.counts
    assert jason.passed, jason.explanation
    assert "anonymous: reviews v2" in failure_message(result)


def test_the_gateway_serves_only_the_routed_paths_and_reports_its_status(mesh: LocalMesh) -> None:
    mesh.reset_routing()
    docs = [
        *load_manifests(data_file("bookinfo-versions.yaml")),
        *load_manifests(data_file("gateway-api-bookinfo-gateway.yaml")),
    ]
    mesh.apply(docs)
    mesh.wait_synced(30)
    url = mesh.gateway_url("default", "bookinfo-gateway")
    assert url != mesh.ingress_url
    assert requests.get(f"{url}/productpage", timeout=10).status_code == 200
    # Exact /productpage and segment-aware PathPrefix /static: nothing else reaches productpage.
    assert requests.get(f"{url}/productpagex", timeout=10).status_code == 404
    assert requests.get(f"{url}/staticx", timeout=10).status_code == 404
    assert requests.get(f"{url}/", timeout=10).status_code == 404
    with pytest.raises(MeshReleaseError, match="no HTTP listener on port 8080"):
        mesh.gateway_url("default", "bookinfo-gateway", 8080)
    with pytest.raises(MeshReleaseError, match="no gateway runs for the Gateway API Gateway default/other"):
        mesh.gateway_url("default", "other")

    route = listing.list_objects(mesh, "httproute", ["bookinfo"], "default")["objects"][0]["object"]
    (parent,) = route["status"]["parents"]
    assert parent["controllerName"] == "istio.io/gateway-controller"
    assert parent["parentRef"] == {"name": "bookinfo-gateway", "group": "gateway.networking.k8s.io", "kind": "Gateway"}
    conditions = {c["type"]: (c["status"], c["reason"], c["message"]) for c in parent["conditions"]}
    assert conditions == {
        "Accepted": ("True", "Accepted", "Route was valid"),
        "ResolvedRefs": ("True", "ResolvedRefs", "All references resolved"),
    }
    entries = listing.list_objects(mesh, "gtw", [], "default")["objects"]
    assert [e["name"] for e in entries] == ["bookinfo-gateway"]
    table = kubectl_output.kind_table(entries, "Gateway", all_namespaces=False, wide=False)
    header, row = table.splitlines()
    assert header.split() == ["NAME", "CLASS", "ADDRESS", "PROGRAMMED", "AGE"]
    assert row.split()[:4] == ["bookinfo-gateway", "istio", "127.0.0.1", "True"]
    gateway_status = entries[0]["object"]["status"]
    (listener,) = gateway_status["listeners"]
    assert listener["attachedRoutes"] == 1
    # Istio's own Gateway named the same is a different kind: `get gw` does not list the Gateway API one.
    assert all(e["group"] == "networking.istio.io" for e in listing.list_objects(mesh, "gw", [], None)["objects"])


def test_a_route_to_a_missing_backend_answers_500_and_says_so(mesh: LocalMesh) -> None:
    mesh.reset_routing()
    docs = [
        *load_manifests(data_file("bookinfo-versions.yaml")),
        *load_manifests(data_file("gateway-api-bookinfo-gateway.yaml")),
    ]
    mesh.apply(docs)
    broken = textwrap.dedent(
        """\
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: details}
        spec:
          parentRefs: [{group: "", kind: Service, name: details, port: 9080}]
          rules:
            - backendRefs: [{name: details-v9, port: 9080}]
        """
    )
    import yaml

    mesh.apply([yaml.safe_load(broken)])
    mesh.wait_synced(30)
    page = requests.get(f"{mesh.gateway_url('default', 'bookinfo-gateway')}/productpage", timeout=10)
    assert page.status_code == 200
    assert "Error fetching product details" in page.text or "unavailable" in page.text.lower()
    route = listing.list_objects(mesh, "httproute", ["details"], "default")["objects"][0]["object"]
    conditions = {c["type"]: c for c in route["status"]["parents"][0]["conditions"]}
    assert conditions["ResolvedRefs"]["status"] == "False"
    assert conditions["ResolvedRefs"]["reason"] == "BackendNotFound"
    assert conditions["ResolvedRefs"]["message"] == "backend(details-v9.default.svc.cluster.local) not found"


FILTERS_ROUTE = """\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: shop
spec:
  parentRefs: [{name: bookinfo-gateway}]
  rules:
    - matches: [{path: {type: PathPrefix, value: /shop}}]
      filters:
        - type: URLRewrite
          urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}
        - type: RequestMirror
          requestMirror: {backendRef: {name: productpage-v1, port: 9080}, fraction: {numerator: 1, denominator: 2}}
      backendRefs: [{name: productpage, port: 9080}]
      timeouts: {request: 10s}
    - matches: [{path: {type: PathPrefix, value: /old}}]
      filters:
        - type: RequestRedirect
          requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /api/v1}, statusCode: 301}
    - matches:
        - path: {type: Exact, value: /api/v1/products}
          queryParams: [{name: tier, value: gold}]
          method: GET
      filters:
        - type: ResponseHeaderModifier
          responseHeaderModifier: {set: [{name: X-Release, value: gold}]}
        - type: RequestHeaderModifier
          requestHeaderModifier: {add: [{name: X-Tier, value: gold}], remove: [x-debug]}
      backendRefs: [{name: productpage, port: 9080}]
"""


def test_gateway_filters_run_on_a_real_envoy(mesh: LocalMesh) -> None:
    """Rewrite, redirect, header modifiers, a mirror, query/method matches and a timeout, as Envoy runs them
    (a configuration Envoy refused would make wait_synced time out)."""
    import yaml

    mesh.reset_routing()
    docs = [
        *load_manifests(data_file("bookinfo-versions.yaml")),
        *load_manifests(data_file("gateway-api-bookinfo-gateway.yaml")),
    ]
    mesh.apply([*docs, yaml.safe_load(FILTERS_ROUTE)])
    mesh.wait_synced(30)
    url = mesh.gateway_url("default", "bookinfo-gateway")
    # ReplacePrefixMatch "/" drops the matched prefix: /shop/productpage reaches /productpage
    rewritten = requests.get(f"{url}/shop/productpage", timeout=10)
    assert rewritten.status_code == 200 and "reviews-v" in rewritten.text
    # segment-aware: /shopping is not under /shop
    assert requests.get(f"{url}/shopping/productpage", timeout=10).status_code == 404
    # ReplacePrefixMatch on a redirect keeps the rest of the path; the request's port is kept
    moved = requests.get(f"{url}/old/products", timeout=10, allow_redirects=False)
    assert moved.status_code == 301
    assert moved.headers["location"].endswith("/api/v1/products"), moved.headers["location"]
    # query parameter and method match, response header set
    gold = requests.get(f"{url}/api/v1/products", params={"tier": "gold"}, timeout=10)
    plain = requests.get(f"{url}/api/v1/products", timeout=10)
    assert gold.status_code == plain.status_code == 200
    assert gold.headers.get("x-release") == "gold" and "x-release" not in plain.headers
    translation = mesh.last_translation
    assert translation is not None
    gateway = next(p for p in translation.proxies if p.startswith("bookinfo-gateway-istio-"))
    routes = {
        r["name"]: r
        for rc in translation.proxies[gateway].route_configs
        for vh in rc["virtual_hosts"]
        for r in vh["routes"]
    }
    assert routes["default.shop.0"]["route"]["timeout"] == "10s"
    assert routes["default.shop.0"]["route"]["request_mirror_policies"][0]["runtime_fraction"]["default_value"] == {
        "numerator": 500000,
        "denominator": "MILLION",
    }
