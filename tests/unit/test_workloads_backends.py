"""details, ratings and reviews: routes, JSON shapes and field order, status codes, header propagation to
ratings, the reviews->ratings timeouts and the ratings error (docs/bookinfo-contract.md §3, §4)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from meshrelease.bookinfo.workloads import PodConfig, ThreadedWorkloadHost, default_env
from meshrelease.bookinfo.workloads.host import RunningPod
from meshrelease.bookinfo.workloads.testing import CannedReply, RecordedRequest, RecordingServer

RATINGS_ERROR = "Ratings service is currently unavailable"
TEXT1 = "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!"
TEXT2 = "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare."


@pytest.fixture(scope="module")
def host() -> Iterator[ThreadedWorkloadHost]:
    with ThreadedWorkloadHost() as h:
        yield h


def start(
    host: ThreadedWorkloadHost,
    service: str,
    version: str,
    name: str,
    *,
    env: dict[str, str] | None = None,
    upstreams: dict[str, str] | None = None,
    proxies: dict[int, str] | None = None,
) -> RunningPod:
    cfg = PodConfig(
        service=service,
        name=name,
        env={**default_env(service, version), **(env or {})},
        upstreams=upstreams or {},
        proxies=proxies or {},
    )
    return host.start_pod(cfg)


def get(pod: RunningPod, path: str, headers: dict[str, str] | None = None) -> requests.Response:
    return requests.get(pod.url + path, headers=headers, timeout=10)


def recording(host: ThreadedWorkloadHost, script: CannedReply | None = None) -> RecordingServer:
    return host.run(RecordingServer(script).start())


# -- details -----------------------------------------------------------------------------------------------


def test_details_json_field_order_and_health(host: ThreadedWorkloadHost) -> None:
    pod = start(host, "details", "v1", "details-v1-aaaaaaaaaa-bbbbb")
    try:
        resp = get(pod, "/details/0")
        assert resp.status_code == 200
        assert resp.headers["Content-Type"].startswith("application/json")
        assert list(resp.json().items()) == [
            ("id", 0),
            ("author", "William Shakespeare"),
            ("year", 1595),
            ("type", "paperback"),
            ("pages", 200),
            ("publisher", "PublisherA"),
            ("language", "English"),
            ("ISBN-10", "1234567890"),
            ("ISBN-13", "123-1234567890"),
        ]
        assert get(pod, "/details/7").json()["id"] == 7
        bad = get(pod, "/details/abc")
        assert bad.status_code == 400
        assert bad.json() == {"error": "please provide numeric product id"}
        assert get(pod, "/health").json() == {"status": "Details is healthy"}
        assert get(pod, "/nope").status_code == 404
    finally:
        host.stop_pod(pod.name)


def test_details_v2_answers_the_external_edition(host: ThreadedWorkloadHost) -> None:
    pod = start(host, "details", "v2", "details-v2-aaaaaaaaaa-bbbbb")
    try:
        data = get(pod, "/details/0").json()
        assert data["ISBN-10"] == "0486424618"
        assert list(data)[:2] == ["id", "author"]
    finally:
        host.stop_pod(pod.name)


# -- ratings -----------------------------------------------------------------------------------------------


def test_ratings_get_post_per_pod_and_errors(host: ThreadedWorkloadHost) -> None:
    one = start(host, "ratings", "v1", "ratings-v1-aaaaaaaaaa-bbbbb")
    two = start(host, "ratings", "v1", "ratings-v1-aaaaaaaaaa-ccccc")
    try:
        resp = get(one, "/ratings/0")
        assert resp.status_code == 200
        assert resp.text.replace(" ", "") == '{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}'
        bad = get(one, "/ratings/abc")
        assert bad.status_code == 400
        assert bad.json() == {"error": "please provide numeric product ID"}
        posted = requests.post(one.url + "/ratings/0", json={"Reviewer1": 1, "Reviewer2": 0}, timeout=10)
        assert posted.status_code == 200
        assert get(one, "/ratings/0").json()["ratings"] == {"Reviewer1": 1, "Reviewer2": 0}
        # In memory, per pod: the other replica and other products keep the defaults.
        assert get(two, "/ratings/0").json()["ratings"] == {"Reviewer1": 5, "Reviewer2": 4}
        assert get(one, "/ratings/1").json()["ratings"] == {"Reviewer1": 5, "Reviewer2": 4}
        garbage = requests.post(one.url + "/ratings/0", data=b"{not json", timeout=10)
        assert garbage.status_code == 400
        assert get(one, "/health").json() == {"status": "Ratings is healthy"}
    finally:
        host.stop_pod(one.name)
        host.stop_pod(two.name)


def test_ratings_v2_refuses_post_with_501(host: ThreadedWorkloadHost) -> None:
    pod = start(host, "ratings", "v2", "ratings-v2-aaaaaaaaaa-bbbbb")
    try:
        assert requests.post(pod.url + "/ratings/0", json={"Reviewer1": 1}, timeout=10).status_code == 501
        assert get(pod, "/ratings/0").json()["ratings"] == {"Reviewer1": 5, "Reviewer2": 4}
    finally:
        host.stop_pod(pod.name)


# -- reviews -----------------------------------------------------------------------------------------------


def test_reviews_v1_shape_without_rating_and_null_cluster(host: ThreadedWorkloadHost) -> None:
    pod = start(host, "reviews", "v1", "reviews-v1-aaaaaaaaaa-bbbbb")
    try:
        resp = get(pod, "/reviews/0")
        assert resp.status_code == 200
        data = resp.json()
        assert list(data) == ["id", "podname", "clustername", "reviews"]
        assert data["id"] == "0"
        assert data["podname"] == "reviews-v1-aaaaaaaaaa-bbbbb"
        assert data["clustername"] == "null"
        assert data["reviews"] == [
            {"reviewer": "Reviewer1", "text": TEXT1},
            {"reviewer": "Reviewer2", "text": TEXT2},
        ]
        assert [list(r) for r in data["reviews"]] == [["reviewer", "text"]] * 2
        assert get(pod, "/reviews/abc").status_code == 404
        assert get(pod, "/health").json() == {"status": "Reviews is healthy"}
    finally:
        host.stop_pod(pod.name)


def test_reviews_uses_hostname_and_cluster_name_env(host: ThreadedWorkloadHost) -> None:
    pod = start(
        host,
        "reviews",
        "v1",
        "reviews-v1-aaaaaaaaaa-ddddd",
        env={"HOSTNAME": "custom-host", "CLUSTER_NAME": "east"},
    )
    try:
        data = get(pod, "/reviews/3").json()
        assert (data["id"], data["podname"], data["clustername"]) == ("3", "custom-host", "east")
    finally:
        host.stop_pod(pod.name)


@pytest.mark.parametrize(("version", "color"), [("v2", "black"), ("v3", "red")])
def test_reviews_with_ratings_gives_stars_in_the_version_colour(
    host: ThreadedWorkloadHost, version: str, color: str
) -> None:
    ratings = start(host, "ratings", "v1", f"ratings-v1-for{version}xxxxx-bbbbb")
    pod = start(
        host,
        "reviews",
        version,
        f"reviews-{version}-aaaaaaaaaa-bbbbb",
        upstreams={"ratings:9080": f"127.0.0.1:{ratings.port}"},
    )
    try:
        data = get(pod, "/reviews/0").json()
        assert [r["rating"] for r in data["reviews"]] == [
            {"stars": 5, "color": color},
            {"stars": 4, "color": color},
        ]
        assert list(data["reviews"][0]) == ["reviewer", "text", "rating"]
    finally:
        host.stop_pod(pod.name)
        host.stop_pod(ratings.name)


@pytest.mark.parametrize("version", ["v2", "v3"])
def test_reviews_ratings_unreachable_gives_the_error_object(host: ThreadedWorkloadHost, version: str) -> None:
    pod = start(host, "reviews", version, f"reviews-{version}-nnnnnnnnnn-bbbbb")  # no route to ratings at all
    try:
        resp = get(pod, "/reviews/0")
        assert resp.status_code == 200
        assert [r["rating"] for r in resp.json()["reviews"]] == [{"error": RATINGS_ERROR}] * 2
    finally:
        host.stop_pod(pod.name)


def test_reviews_ratings_non_200_or_partial_answer(host: ThreadedWorkloadHost) -> None:
    upstream = recording(host, CannedReply(status=500, body={"error": "boom"}))
    pod = start(host, "reviews", "v2", "reviews-v2-pppppppppp-bbbbb", upstreams={"ratings:9080": upstream.address})
    try:
        assert [r["rating"] for r in get(pod, "/reviews/0").json()["reviews"]] == [{"error": RATINGS_ERROR}] * 2
        upstream.set_script(CannedReply(body={"id": 0, "ratings": {"Reviewer1": 2}}))
        ratings = [r["rating"] for r in get(pod, "/reviews/0").json()["reviews"]]
        assert ratings == [{"stars": 2, "color": "black"}, {"error": RATINGS_ERROR}]
        upstream.set_script(CannedReply(body="not json", content_type="text/plain"))
        assert [r["rating"] for r in get(pod, "/reviews/0").json()["reviews"]] == [{"error": RATINGS_ERROR}] * 2
    finally:
        host.stop_pod(pod.name)
        host.run(upstream.close())


def test_reviews_propagates_headers_and_end_user_to_ratings(host: ThreadedWorkloadHost) -> None:
    upstream = recording(host, CannedReply(body={"id": 0, "ratings": {"Reviewer1": 5, "Reviewer2": 4}}))
    pod = start(host, "reviews", "v3", "reviews-v3-hhhhhhhhhh-bbbbb", upstreams={"ratings:9080": upstream.address})
    sent = {
        "x-request-id": "req-1",
        "x-b3-traceid": "80f198ee56343ba864fe8b2a57d3eff7",
        "x-b3-spanid": "e457b5a2e4d86bd1",
        "x-b3-sampled": "1",
        "traceparent": "00-80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-01",
        "cookie": "session=abc",
        "end-user": "jason",
        "x-not-propagated": "no",
    }
    try:
        assert get(pod, "/reviews/0", headers=sent).status_code == 200
        (request,) = upstream.requests
        assert request.method == "GET"
        assert request.target == "/ratings/0"
        assert request.headers["host"] == "ratings:9080"
        for name, value in sent.items():
            if name == "x-not-propagated":
                assert name not in request.headers
            else:
                assert request.headers.get(name) == value, name
    finally:
        host.stop_pod(pod.name)
        host.run(upstream.close())


def test_reviews_sends_no_tracing_headers_when_none_came_in(host: ThreadedWorkloadHost) -> None:
    upstream = recording(host, CannedReply(body={"id": 0, "ratings": {"Reviewer1": 5, "Reviewer2": 4}}))
    pod = start(host, "reviews", "v2", "reviews-v2-tttttttttt-bbbbb", upstreams={"ratings:9080": upstream.address})
    try:
        get(pod, "/reviews/0", headers={"User-Agent": "probe/1"})
        (request,) = upstream.requests
        assert request.headers["user-agent"] == "probe/1"
        assert not [h for h in request.headers if h.startswith(("x-b3", "x-request-id", "traceparent", "end-user"))]
    finally:
        host.stop_pod(pod.name)
        host.run(upstream.close())


def test_reviews_calls_ratings_through_the_sidecar_proxy_in_absolute_form(host: ThreadedWorkloadHost) -> None:
    sidecar = recording(host, CannedReply(body={"id": 0, "ratings": {"Reviewer1": 3, "Reviewer2": 1}}))
    pod = start(
        host,
        "reviews",
        "v3",
        "reviews-v3-ssssssssss-bbbbb",
        env={"SERVICES_DOMAIN": "default.svc.cluster.local"},
        proxies={9080: sidecar.url},
        # An upstream for the same name is ignored when a proxy serves the port.
        upstreams={"ratings.default.svc.cluster.local:9080": "127.0.0.1:1"},
    )
    try:
        ratings = [r["rating"] for r in get(pod, "/reviews/0").json()["reviews"]]
        assert ratings == [{"stars": 3, "color": "red"}, {"stars": 1, "color": "red"}]
        (request,) = sidecar.requests
        assert request.target == "http://ratings.default.svc.cluster.local:9080/ratings/0"
        assert request.headers["host"] == "ratings.default.svc.cluster.local:9080"
    finally:
        host.stop_pod(pod.name)
        host.run(sidecar.close())


def test_reviews_ratings_timeout_is_longer_for_black_than_for_red(host: ThreadedWorkloadHost) -> None:
    """Scaled by 0.2: black waits 2 s, red 0.5 s; ratings answers after 1 s."""
    slow = recording(host, CannedReply(delay=1.0, body={"id": 0, "ratings": {"Reviewer1": 5, "Reviewer2": 4}}))
    upstreams = {"ratings:9080": slow.address}
    env = {"MESHRELEASE_TIMEOUT_SCALE": "0.2"}
    black = start(host, "reviews", "v2", "reviews-v2-ddddddddd-bbbbb", env=env, upstreams=upstreams)
    red = start(host, "reviews", "v3", "reviews-v3-ddddddddd-bbbbb", env=env, upstreams=upstreams)
    try:
        assert [r["rating"] for r in get(black, "/reviews/0").json()["reviews"]] == [
            {"stars": 5, "color": "black"},
            {"stars": 4, "color": "black"},
        ]
        assert [r["rating"] for r in get(red, "/reviews/0").json()["reviews"]] == [{"error": RATINGS_ERROR}] * 2
        assert len(slow.requests) == 2
    finally:
        host.stop_pod(black.name)
        host.stop_pod(red.name)
        host.run(slow.close())


def test_recorded_request_path_of_absolute_form() -> None:
    assert RecordedRequest("GET", "http://ratings:9080/ratings/0", {}).path == "/ratings/0"
    assert RecordedRequest("GET", "/ratings/0", {}).path == "/ratings/0"
    assert json.loads(CannedReply(body={"a": 1}).encoded()) == {"a": 1}


def test_ratings_v_faulty_fails_about_half_the_gets_with_503(host: ThreadedWorkloadHost) -> None:
    pod = start(host, "ratings", "v-faulty", "ratings-v-faulty-aaaaaaaaaa-bbbbb")
    try:
        answers = [get(pod, "/ratings/0") for _ in range(60)]  # all 60 alike has probability 2 * 2**-60
        statuses = {r.status_code for r in answers}
        assert statuses == {200, 503}
        assert next(r for r in answers if r.status_code == 503).json() == {"error": "Service unavailable"}
    finally:
        host.stop_pod(pod.name)
