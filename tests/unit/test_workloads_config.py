"""Workload configuration, sessions, metrics and outbound addressing (no servers needed)."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from meshrelease.bookinfo.workloads import PodConfig, Timeouts, WorkloadConfigError, default_env
from meshrelease.bookinfo.workloads.config import pod_config_from_mapping, service_authority
from meshrelease.bookinfo.workloads.metrics import RequestResults
from meshrelease.bookinfo.workloads.outbound import Outbound, OutboundError
from meshrelease.bookinfo.workloads.session import decode_session, encode_session, session_user
from meshrelease.bookinfo.workloads.standalone import pod_name
from meshrelease.errors import MeshReleaseError


@pytest.mark.parametrize(
    ("service", "version", "expected"),
    [
        ("reviews", "v1", {"SERVICE_VERSION": "v1", "ENABLE_RATINGS": "false", "STAR_COLOR": "black"}),
        ("reviews", "v2", {"SERVICE_VERSION": "v2", "ENABLE_RATINGS": "true", "STAR_COLOR": "black"}),
        ("reviews", "v3", {"SERVICE_VERSION": "v3", "ENABLE_RATINGS": "true", "STAR_COLOR": "red"}),
        ("ratings", "v1", {"SERVICE_VERSION": "v1"}),
        ("details", "v1", {"SERVICE_VERSION": "v1"}),
        ("details", "v2", {"SERVICE_VERSION": "v2", "ENABLE_EXTERNAL_BOOK_SERVICE": "true"}),
        ("productpage", "v1", {"SERVICE_VERSION": "v1"}),
    ],
)
def test_default_env_is_what_the_images_bake_in(service: str, version: str, expected: dict[str, str]) -> None:
    assert default_env(service, version) == expected


def test_default_env_unknown_service_is_a_clear_error() -> None:
    with pytest.raises(WorkloadConfigError, match="mongodb") as info:
        default_env("mongodb", "v1")
    assert isinstance(info.value, MeshReleaseError)
    assert "productpage" in str(info.value)


def test_timeouts_default_to_the_real_apps() -> None:
    cfg = PodConfig("productpage", "productpage-v1-abc-def", {})
    t = Timeouts.for_pod(cfg)
    assert (t.details, t.reviews, t.reviews_attempts, t.ratings) == (3.0, 3.0, 2, 3.0)
    assert (t.ratings_black, t.ratings_other, t.scale) == (10.0, 2.5, 1.0)


def test_timeouts_scale_from_pod_env_and_process_env(monkeypatch: pytest.MonkeyPatch) -> None:
    scaled = Timeouts.for_pod(PodConfig("reviews", "r", {"MESHRELEASE_TIMEOUT_SCALE": "0.1"}))
    assert scaled.details == pytest.approx(0.3)
    assert scaled.ratings_black == pytest.approx(1.0)
    assert scaled.ratings_other == pytest.approx(0.25)
    assert scaled.reviews_attempts == 2
    monkeypatch.setenv("MESHRELEASE_TIMEOUT_SCALE", "0.5")
    assert Timeouts.for_pod(PodConfig("reviews", "r", {})).reviews == pytest.approx(1.5)
    with pytest.raises(WorkloadConfigError, match="MESHRELEASE_TIMEOUT_SCALE"):
        Timeouts.for_pod(PodConfig("reviews", "r", {"MESHRELEASE_TIMEOUT_SCALE": "-1"}))
    with pytest.raises(WorkloadConfigError, match="positive"):
        Timeouts.for_pod(PodConfig("reviews", "r", {"MESHRELEASE_TIMEOUT_SCALE": "fast"}))


def test_service_authority_reads_hostname_domain_and_port_overrides() -> None:
    plain = PodConfig("productpage", "p", {})
    assert service_authority(plain, "details") == ("details", 9080)
    cfg = PodConfig(
        "productpage",
        "p",
        {
            "DETAILS_HOSTNAME": "book-details",
            "SERVICES_DOMAIN": "shop.svc.cluster.local",
            "DETAILS_SERVICE_PORT": "9191",
        },
    )
    assert service_authority(cfg, "details") == ("book-details.shop.svc.cluster.local", 9191)
    assert service_authority(cfg, "reviews") == ("reviews.shop.svc.cluster.local", 9080)
    with pytest.raises(WorkloadConfigError, match="RATINGS_SERVICE_PORT"):
        service_authority(PodConfig("reviews", "r", {"RATINGS_SERVICE_PORT": "http"}), "ratings")


def test_hostname_defaults_to_the_pod_name() -> None:
    assert PodConfig("reviews", "reviews-v2-abc-def", {}).getenv("HOSTNAME") == "reviews-v2-abc-def"
    assert PodConfig("reviews", "x", {"HOSTNAME": "other"}).getenv("HOSTNAME") == "other"


def test_pod_config_from_json_mapping_converts_proxy_ports_and_rejects_mistakes() -> None:
    cfg = pod_config_from_mapping(
        {
            "service": "reviews",
            "name": "reviews-v2-abc-def",
            "env": {"STAR_COLOR": "black"},
            "proxies": {"9080": "http://127.0.0.1:41234"},
            "upstreams": {"ratings:9080": "127.0.0.1:41001"},
        }
    )
    assert cfg.proxies == {9080: "http://127.0.0.1:41234"}
    assert cfg.port == 0
    assert cfg.ui == "modern"
    with pytest.raises(WorkloadConfigError, match="replicas"):
        pod_config_from_mapping({"service": "reviews", "name": "r", "replicas": 2})
    with pytest.raises(WorkloadConfigError, match="not a Bookinfo service"):
        pod_config_from_mapping({"service": "mysqldb", "name": "m"})
    with pytest.raises(WorkloadConfigError, match="ui"):
        pod_config_from_mapping({"service": "productpage", "name": "p", "ui": "retro"})
    with pytest.raises(WorkloadConfigError, match="port"):
        pod_config_from_mapping({"service": "details", "name": "d", "port": "9080"})
    with pytest.raises(WorkloadConfigError, match="proxies"):
        pod_config_from_mapping({"service": "details", "name": "d", "proxies": {"http": "x"}})


def test_session_cookie_is_signed_json_with_the_user() -> None:
    value = encode_session({"user": "jason"})
    payload = value.split(".")[0]
    assert json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))) == {"user": "jason"}
    assert session_user(value) == "jason"
    # Change the payload but keep the signature: rejected.
    forged = base64.urlsafe_b64encode(b'{"user":"admin"}').decode().rstrip("=") + value[len(payload) :]
    assert decode_session(forged) == {}
    assert session_user(forged) is None
    # A plain-text or truncated cookie is no session either.
    assert decode_session("jason") == {}
    assert decode_session(value[:-3]) == {}
    assert decode_session(None) == {}


def test_session_user_keeps_case_and_null_user_is_none() -> None:
    assert session_user(encode_session({"user": "Jason"})) == "Jason"
    assert session_user(encode_session({"user": None})) is None


def test_metrics_render_prometheus_counter_by_app_and_code() -> None:
    results = RequestResults()
    results.inc("details", 200)
    results.inc("details", 200)
    results.inc("reviews", 503)
    text = results.render()
    assert "# TYPE request_result counter" in text
    assert 'request_result_total{destination_app="details",response_code="200"} 2.0' in text
    assert 'request_result_total{destination_app="reviews",response_code="503"} 1.0' in text
    assert results.count("reviews", 503) == 1


def test_outbound_without_proxy_or_upstream_fails_like_unresolvable_name() -> None:
    async def call() -> None:
        outbound = Outbound("p", {}, {"details:9080": "127.0.0.1:1"})
        try:
            await outbound.get("reviews", 9080, "/reviews/0", {}, 1.0)
        finally:
            await outbound.close()

    with pytest.raises(OutboundError, match="cannot resolve 'reviews'"):
        asyncio.run(call())


def test_outbound_rejects_malformed_upstream_addresses() -> None:
    with pytest.raises(WorkloadConfigError, match="host:port"):
        Outbound("p", {}, {"details:9080": "localhost"})
    with pytest.raises(WorkloadConfigError, match="no address"):
        Outbound("p", {}, {"details:9080": " , "})


def test_pod_names_look_like_kubernetes_pod_names() -> None:
    import random
    import re

    name = pod_name("reviews-v2", random.Random(7))
    assert re.fullmatch(r"reviews-v2-[a-z0-9]{10}-[a-z0-9]{5}", name)
    assert re.fullmatch(r"reviews-v(\d)-[a-z0-9]+-[a-z0-9]+", name)
