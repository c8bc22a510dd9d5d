"""The workloads behind a real Envoy used as productpage's sidecar (an HTTP proxy, as the local mesh runs it):
absolute-form requests are routed on their Host, and a signed-in jason reaches reviews v2 through an
``end-user`` header match while anonymous users get v1."""

from __future__ import annotations

import json
import random
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from meshrelease.backends.local.dataplane.envoy_binary import EnvoyNotFound, find_envoy
from meshrelease.bookinfo.client import BookinfoClient
from meshrelease.bookinfo.workloads import PodConfig, ThreadedWorkloadHost, default_env
from meshrelease.bookinfo.workloads.host import RunningPod
from meshrelease.bookinfo.workloads.standalone import pod_name

pytestmark = pytest.mark.envoy
READY_TIMEOUT = 20.0
HCM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cluster(name: str, port: int) -> dict[str, Any]:
    endpoint = {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": port}}}}
    return {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [endpoint]}]},
    }


def bootstrap(listen: int, details: int, reviews_v1: int, reviews_v2: int) -> dict[str, Any]:
    route = {"match": {"prefix": "/"}, "route": {"cluster": "details"}}
    jason = {
        "match": {"prefix": "/", "headers": [{"name": "end-user", "string_match": {"exact": "jason"}}]},
        "route": {"cluster": "reviews-v2"},
    }
    manager = {
        "@type": HCM_TYPE,
        "stat_prefix": "outbound",
        "route_config": {
            "virtual_hosts": [
                {"name": "details", "domains": ["details:9080"], "routes": [route]},
                {
                    "name": "reviews",
                    "domains": ["reviews:9080"],
                    "routes": [jason, {"match": {"prefix": "/"}, "route": {"cluster": "reviews-v1"}}],
                },
            ]
        },
        "http_filters": [
            {
                "name": "envoy.filters.http.router",
                "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
            }
        ],
    }
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        "static_resources": {
            "listeners": [
                {
                    "name": "outbound",
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": listen}},
                    "filter_chains": [
                        {
                            "filters": [
                                {
                                    "name": "envoy.filters.network.http_connection_manager",
                                    "typed_config": manager,
                                }
                            ]
                        }
                    ],
                }
            ],
            "clusters": [
                cluster("details", details),
                cluster("reviews-v1", reviews_v1),
                cluster("reviews-v2", reviews_v2),
            ],
        },
    }


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"envoy exited with status {proc.returncode} before listening on {port}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"envoy not listening on 127.0.0.1:{port} after {timeout:g} s (process running: {proc.poll() is None})")


@pytest.fixture(scope="module")
def host() -> Iterator[ThreadedWorkloadHost]:
    with ThreadedWorkloadHost() as h:
        yield h


@pytest.fixture(scope="module")
def mesh(host: ThreadedWorkloadHost, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        envoy = find_envoy()
    except EnvoyNotFound as exc:
        pytest.skip(str(exc))
    rng = random.Random(3)

    def start(service: str, version: str, upstreams: dict[str, str] | None = None) -> RunningPod:
        return host.start_pod(
            PodConfig(
                service,
                pod_name(f"{service}-{version}", rng),
                default_env(service, version),
                upstreams=upstreams or {},
            )
        )

    ratings = start("ratings", "v1")
    details = start("details", "v1")
    v1 = start("reviews", "v1")
    v2 = start("reviews", "v2", {"ratings:9080": f"127.0.0.1:{ratings.port}"})
    listen = free_port()
    workdir = Path(tmp_path_factory.mktemp("envoy"))
    config = workdir / "bootstrap.json"
    config.write_text(json.dumps(bootstrap(listen, details.port, v1.port, v2.port)))
    with (workdir / "envoy.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                envoy.path,
                "-c",
                str(config),
                "--concurrency",
                "1",
                "--use-dynamic-base-id",
                "--log-level",
                "warn",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        wait_listening(listen, proc, READY_TIMEOUT)
        page = host.start_pod(
            PodConfig(
                "productpage",
                pod_name("productpage-v1", rng),
                {},
                proxies={9080: f"http://127.0.0.1:{listen}"},
            )
        )
        yield page.url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_anonymous_pages_route_to_reviews_v1_through_envoy(mesh: str) -> None:
    with BookinfoClient(mesh, timeout=10.0) as client:
        obs = client.fetch_page()
    assert obs.error is None
    assert (obs.version, obs.stars, obs.details_error, obs.reviews_error) == ("v1", "none", False, False)


def test_jason_routes_to_reviews_v2_through_the_end_user_match(mesh: str) -> None:
    with BookinfoClient(mesh, user="jason", timeout=10.0) as client:
        obs = client.fetch_page()
        api = client.fetch_reviews_json()
    assert (obs.user, obs.version, obs.stars, obs.full_stars) == ("jason", "v2", "black", 9)
    assert api.version == "v2"


def test_a_header_alone_does_not_route_like_jason(mesh: str) -> None:
    html = requests.get(mesh + "/productpage", headers={"end-user": "jason"}, timeout=10).text
    assert "reviews-v1-" in html
    assert "reviews-v2-" not in html
