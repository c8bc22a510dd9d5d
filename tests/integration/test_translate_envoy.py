"""The real Envoy accepts every configuration the translator generates, and routes as Istio would.

``envoy --mode validate`` does not load path-based LDS/CDS/RDS (``test_validate_mode_ignores_path_based_xds``
proves it), so each configuration is validated as the equivalent static bootstrap; representative cases are
also loaded by a running Envoy from the files the runtime writes, checked through the admin API, and sent
real requests.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from meshrelease.backends.local.dataplane.envoy_binary import find_envoy
from meshrelease.backends.local.model import ProxyResources
from meshrelease.backends.local.translate.translator import ACCESS_LOG_FORMAT, TranslateOptions, translate
from tests.envoy_helpers import RunningEnvoy, dynamic_bootstrap, static_bootstrap, validate, write_xds
from tests.translate_builders import CASES_DIR, GATEWAY_ID, Case, World, fixture_docs, load_cases, world

pytestmark = pytest.mark.envoy

CASES = load_cases()
STEPS: dict[str, str] = yaml.safe_load((CASES_DIR / "samples" / "bookinfo-steps.yaml").read_text())


@pytest.fixture(scope="module")
def envoy() -> str:
    return find_envoy().path


def _options(case: Case) -> TranslateOptions:
    raw = dict(case.options)
    if "gateway_service_ports" in raw:
        raw["gateway_service_ports"] = {int(k): int(v) for k, v in raw["gateway_service_ports"].items()}
    return TranslateOptions(**raw)


def _distinct_configs(w: World, translation_proxies: dict[str, ProxyResources]) -> dict[str, ProxyResources]:
    """One proxy per distinct configuration (proxies of one namespace usually share theirs)."""
    seen: set[str] = set()
    out: dict[str, ProxyResources] = {}
    for proxy in w.proxies:
        res = translation_proxies[proxy.id]
        key = json.dumps([res.route_configs, res.clusters, [x["name"] for x in res.listeners]], sort_keys=True)
        if key not in seen:
            seen.add(key)
            out[proxy.id] = res
    return out


def _validate_world(envoy: str, w: World, options: TranslateOptions, tmp: Path) -> None:
    translation = translate(w.objects, w.pods, w.proxies, options)
    distinct = _distinct_configs(w, translation.proxies)
    assert any(res.route_configs for res in distinct.values()), "nothing to validate"
    for proxy_id, res in distinct.items():
        result = validate(envoy, static_bootstrap(res, proxy_id), tmp / proxy_id)
        assert result.ok, f"Envoy rejected the configuration of {proxy_id}:\n{result.output}"


@pytest.mark.parametrize("case", CASES, ids=[f"{c.source}:{c.id}" for c in CASES])
def test_every_case_is_accepted_by_envoy(envoy: str, case: Case, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    _validate_world(envoy, case.world(access_logs=str(logs)), _options(case), tmp_path)


@pytest.mark.parametrize("step", sorted(STEPS))
def test_bookinfo_samples_are_accepted_by_envoy(envoy: str, step: str, tmp_path: Path) -> None:
    docs = fixture_docs("bookinfo-gateway.yaml") + fixture_docs("destination-rule-all.yaml")
    w = world(yaml.safe_dump_all(docs) + "---\n" + STEPS[step])
    _validate_world(envoy, w, TranslateOptions(), tmp_path)


def _bookinfo_world(xds_root: Path, extra: str = "") -> World:
    docs = fixture_docs("bookinfo-gateway.yaml") + fixture_docs("destination-rule-all.yaml")
    w = world(yaml.safe_dump_all(docs) + ("---\n" + extra if extra else ""), xds_root=str(xds_root))
    for proxy in w.proxies:
        proxy.bind_ports = dict.fromkeys(proxy.bind_ports, 0)  # Envoy picks free ports; read back via admin
    return w


def test_validate_mode_ignores_path_based_xds(envoy: str, tmp_path: Path) -> None:
    """A broken route configuration in RDS files passes ``--mode validate``; the static form does not, and
    a running Envoy counts the rejected update."""
    w = _bookinfo_world(tmp_path / "xds")
    proxy = w.proxy("productpage-v1")
    res = translate(w.objects, w.pods, w.proxies).proxies[proxy.id]
    broken = copy.deepcopy(res)
    broken.route_configs[0]["virtual_hosts"][0]["routes"][0]["route"] = {"weighted_clusters": {"clusters": []}}
    write_xds(proxy.xds_dir, broken, "1")

    dynamic = validate(envoy, dynamic_bootstrap(proxy.xds_dir, proxy.id), tmp_path / "dynamic")
    assert dynamic.ok, dynamic.output  # Envoy's validate mode did not read the RDS file at all
    static = validate(envoy, static_bootstrap(broken, proxy.id), tmp_path / "static")
    assert not static.ok
    assert "WeightedClusterValidationError.Clusters: value must contain at least 1 item(s)" in static.output
    good = validate(envoy, static_bootstrap(res, proxy.id), tmp_path / "good")
    assert good.ok, good.output

    running = RunningEnvoy(envoy, dynamic_bootstrap(proxy.xds_dir, proxy.id), tmp_path / "run")
    with running, pytest.raises(AssertionError, match=r"rds\.9080\.update_rejected"):
        running.wait_loaded(broken, "1", timeout=10)


@pytest.mark.parametrize(
    "extra",
    ["", STEPS["all-v1"] + "---\n" + STEPS["reviews-test-v2"], STEPS["ratings-test-abort"]],
    ids=["bookinfo", "header-canary", "fault"],
)
def test_running_envoy_loads_every_resource_from_files(envoy: str, extra: str, tmp_path: Path) -> None:
    w = _bookinfo_world(tmp_path / "xds", extra)
    translation = translate(w.objects, w.pods, w.proxies)
    for proxy in (w.proxy("productpage-v1"), w.proxy("reviews-v2"), w.proxy("gateway")):
        res = translation.proxies[proxy.id]
        write_xds(proxy.xds_dir, res, "7")
        with RunningEnvoy(envoy, dynamic_bootstrap(proxy.xds_dir, proxy.id), tmp_path / proxy.id) as running:
            loaded = running.wait_loaded(res, "7")
            assert set(loaded.listeners) == {x["name"] for x in res.listeners}
            assert set(loaded.clusters) == {x["name"] for x in res.clusters}
            assert set(loaded.route_configs) == {x["name"] for x in res.route_configs}
            assert loaded.listener_errors == {}
            assert running.rejected_updates() == {}


# ----------------------------------------------------------------------------- real requests
@dataclasses.dataclass
class Backend:
    port: int
    requests: list[dict[str, str]]


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.seen.append({"path": self.path, "host": self.headers.get("host", "")})  # type: ignore[attr-defined]
        body = b"backend ok"
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def backend() -> Iterator[Backend]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Backend(server.server_address[1], server.seen)  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        assert not thread.is_alive()


ROUTING = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
    - name: jason
      match: [{headers: {end-user: {exact: jason}}}]
      route: [{destination: {host: reviews, subset: v2}}]
    - name: missing-subset
      match: [{uri: {prefix: /missing}}]
      route: [{destination: {host: reviews, subset: v9}}]
    - name: abort
      match: [{uri: {prefix: /abort}}]
      fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
      route: [{destination: {host: reviews, subset: v1}}]
    - name: rest
      route: [{destination: {host: reviews, subset: v1}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: details}
spec:
  hosts: [details]
  http:
    - name: empty-subset
      route: [{destination: {host: details, subset: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
    - name: only-jason
      match: [{headers: {end-user: {exact: jason}}}]
      route: [{destination: {host: ratings, subset: v1}}]
"""


def _read_log_lines(path: Path, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            return [json.loads(line) for line in lines]
        time.sleep(0.05)
    raise AssertionError(f"expected {count} access-log lines in {path} within {timeout} s, got {lines}")


def test_sidecar_routes_requests_like_istio(envoy: str, backend: Backend, tmp_path: Path) -> None:
    w = world(
        ROUTING + "---\n" + yaml.safe_dump_all(fixture_docs("destination-rule-all.yaml")),
        xds_root=str(tmp_path / "xds"),
        access_logs=str(tmp_path),
    )
    w.pods = [dataclasses.replace(p, ports=dict.fromkeys(p.ports, backend.port)) for p in w.pods]
    proxy = w.proxy("productpage-v1")
    proxy.bind_ports = {9080: 0}
    res = translate(w.objects, w.pods, w.proxies).proxies[proxy.id]
    write_xds(proxy.xds_dir, res, "1")
    with RunningEnvoy(envoy, dynamic_bootstrap(proxy.xds_dir, proxy.id), tmp_path / "run") as running:
        running.wait_loaded(res, "1")
        port = running.listener_port("0.0.0.0_9080")
        session = requests.Session()
        session.trust_env = False
        session.proxies = {"http": f"http://127.0.0.1:{port}"}

        def get(url: str, **headers: str) -> requests.Response:
            return session.get(url, headers=headers, timeout=10)

        ok = get("http://reviews:9080/reviews/0")
        jason = get("http://reviews:9080/reviews/0", **{"end-user": "jason"})
        missing = get("http://reviews:9080/missing")
        abort = get("http://reviews:9080/abort")
        empty = get("http://details:9080/details/0")
        unknown = get("http://unknown.example:9080/")
        no_route = get("http://ratings:9080/ratings/0")
        assert (ok.status_code, ok.text) == (200, "backend ok")
        assert jason.status_code == 200
        assert (missing.status_code, missing.text) == (503, "")
        assert (abort.status_code, abort.text) == (418, "fault filter abort")
        assert (empty.status_code, empty.text) == (503, "no healthy upstream")
        assert (unknown.status_code, unknown.text) == (503, "no healthy upstream")
        assert (no_route.status_code, no_route.text) == (404, "")
        assert backend.requests[0]["host"] == "reviews:9080"

        log = _read_log_lines(tmp_path / f"{proxy.id}.access.log", 7)
    assert all(set(line) == set(ACCESS_LOG_FORMAT) for line in log)
    assert {line["proxy"] for line in log} == {proxy.id}
    summary = [(x["route_name"], x["upstream_cluster"], x["response_code"], x["response_flags"]) for x in log]
    assert summary == [
        ("rest", "outbound|9080|v1|reviews.default.svc.cluster.local", 200, "-"),
        ("jason", "outbound|9080|v2|reviews.default.svc.cluster.local", 200, "-"),
        ("missing-subset", None, 503, "NC"),  # no such cluster: Envoy logs no upstream cluster
        ("abort", "outbound|9080|v1|reviews.default.svc.cluster.local", 418, "FI"),
        ("empty-subset", "outbound|9080|v2|details.default.svc.cluster.local", 503, "UH"),
        ("allow_any", "PassthroughCluster", 503, "UH"),
        (None, None, 404, "NR"),
    ]
    assert log[1]["end_user"] == "jason"
    assert log[0]["path"] == "/reviews/0" and log[0]["authority"] == "reviews:9080"


def test_gateway_routes_bookinfo_paths(envoy: str, backend: Backend, tmp_path: Path) -> None:
    w = _bookinfo_world(tmp_path / "xds")
    w.pods = [dataclasses.replace(p, ports=dict.fromkeys(p.ports, backend.port)) for p in w.pods]
    gateway = w.proxy("gateway")
    assert gateway.id == GATEWAY_ID
    res = translate(w.objects, w.pods, w.proxies).proxies[gateway.id]
    write_xds(gateway.xds_dir, res, "1")
    with RunningEnvoy(envoy, dynamic_bootstrap(gateway.xds_dir, gateway.id), tmp_path / "run") as running:
        running.wait_loaded(res, "1")
        base = f"http://127.0.0.1:{running.listener_port('0.0.0.0_8080')}"
        page = requests.get(f"{base}/productpage", timeout=10)
        static = requests.get(f"{base}/static/app.css", timeout=10)
        other = requests.get(f"{base}/health", timeout=10)
    assert (page.status_code, page.text) == (200, "backend ok")
    assert static.status_code == 200
    assert (other.status_code, other.text) == (404, "")
    assert [r["path"] for r in backend.requests] == ["/productpage", "/static/app.css"]


def test_route_change_is_picked_up_from_the_rds_file(envoy: str, backend: Backend, tmp_path: Path) -> None:
    """The runtime's update path: a new rds/9080.json moved into place is loaded without a restart."""
    w = world(yaml.safe_dump_all(fixture_docs("destination-rule-all.yaml")), xds_root=str(tmp_path / "xds"))
    w.pods = [dataclasses.replace(p, ports=dict.fromkeys(p.ports, backend.port)) for p in w.pods]
    proxy = w.proxy("productpage-v1")
    proxy.bind_ports = {9080: 0}
    first = translate(w.objects, w.pods, w.proxies).proxies[proxy.id]
    write_xds(proxy.xds_dir, first, "1")
    with RunningEnvoy(envoy, dynamic_bootstrap(proxy.xds_dir, proxy.id), tmp_path / "run") as running:
        running.wait_loaded(first, "1")
        w2 = world(
            yaml.safe_dump_all(fixture_docs("destination-rule-all.yaml")) + "---\n" + STEPS["reviews-v2-timeout"],
            xds_root=str(tmp_path / "xds"),
        )
        w2.pods = w.pods
        w2.proxy("productpage-v1").bind_ports = {9080: 0}
        second = translate(w2.objects, w2.pods, w2.proxies).proxies[proxy.id]
        write_xds(proxy.xds_dir, second, "2")
        running.wait_loaded(second, "2")
        dump = json.loads(running.admin("/config_dump?resource=dynamic_route_configs"))
    routes = [
        r
        for cfg in dump["configs"]
        for vh in cfg["route_config"]["virtual_hosts"]
        if vh["name"] == "reviews.default.svc.cluster.local:9080"
        for r in vh["routes"]
    ]
    assert [r["route"]["cluster"] for r in routes] == ["outbound|9080|v2|reviews.default.svc.cluster.local"]
    assert routes[0]["route"]["timeout"] == "0.500s"
