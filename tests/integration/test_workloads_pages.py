"""Both productpage UIs, through the real chain of workloads, read by the harness's page parser and client
in every state: reviews v1/v2/v3, ratings down, reviews down, details down, signed in and out."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import pytest
import requests

from meshrelease.bookinfo.client import BookinfoClient
from meshrelease.bookinfo.page import PageObservation, parse_page
from meshrelease.bookinfo.workloads import PodConfig, ThreadedWorkloadHost, default_env
from meshrelease.bookinfo.workloads.host import RunningPod
from meshrelease.bookinfo.workloads.standalone import pod_name, start_standalone

UIS = ["classic", "modern"]


@dataclass
class Chain:
    host: ThreadedWorkloadHost
    ratings: RunningPod
    details: RunningPod
    reviews: dict[str, RunningPod]  # v1, v2, v3 with ratings up
    ratings_down: dict[str, RunningPod]  # v2, v3 whose ratings pod has been stopped


def addr(pod: RunningPod) -> str:
    return f"127.0.0.1:{pod.port}"


@pytest.fixture(scope="module")
def chain() -> Iterator[Chain]:
    rng = random.Random(20)
    with ThreadedWorkloadHost() as host:

        def start(service: str, version: str, upstreams: dict[str, str] | None = None) -> RunningPod:
            name = pod_name(f"{service}-{version}", rng)
            return host.start_pod(PodConfig(service, name, default_env(service, version), upstreams=upstreams or {}))

        ratings = start("ratings", "v1")
        doomed = start("ratings", "v1")
        details = start("details", "v1")
        reviews = {v: start("reviews", v, {"ratings:9080": addr(ratings)}) for v in ("v1", "v2", "v3")}
        down = {v: start("reviews", v, {"ratings:9080": addr(doomed)}) for v in ("v2", "v3")}
        host.stop_pod(doomed.name)  # its port now refuses connections: ratings is down for `down`
        yield Chain(host, ratings, details, reviews, down)


class MakePage(Protocol):
    def __call__(self, ui: str, reviews: RunningPod | None, *, details: bool = True) -> str: ...


@pytest.fixture
def make_page(chain: Chain) -> Iterator[MakePage]:
    started: list[RunningPod] = []

    def make(ui: str, reviews: RunningPod | None, *, details: bool = True) -> str:
        upstreams = {}
        if details:
            upstreams["details:9080"] = addr(chain.details)
        if reviews is not None:
            upstreams["reviews:9080"] = addr(reviews)
        name = pod_name("productpage-v1")
        pod = chain.host.start_pod(PodConfig("productpage", name, {}, ui=ui, upstreams=upstreams))
        started.append(pod)
        return pod.url

    yield make
    for pod in started:
        chain.host.stop_pod(pod.name)


def fetch(url: str, user: str | None = None) -> PageObservation:
    with BookinfoClient(url, user=user, timeout=10.0) as client:
        return client.fetch_page()


def assert_clean(obs: PageObservation, ui: str) -> None:
    assert obs.error is None, obs.error
    assert obs.status == 200
    assert obs.ui == ui
    assert obs.title == "Simple Bookstore App"
    assert obs.consistent, obs.findings
    assert obs.findings == []


@pytest.mark.parametrize("ui", UIS)
@pytest.mark.parametrize(
    ("version", "stars", "full", "empty"),
    [("v1", "none", 0, 0), ("v2", "black", 9, 1), ("v3", "red", 9, 1)],
)
def test_each_reviews_version_is_read_correctly(
    chain: Chain, make_page: MakePage, ui: str, version: str, stars: str, full: int, empty: int
) -> None:
    pod = chain.reviews[version]
    obs = fetch(make_page(ui, pod))
    assert_clean(obs, ui)
    assert (obs.version, obs.pod, obs.cluster) == (version, pod.name, None)
    assert (obs.stars, obs.full_stars, obs.empty_stars) == (stars, full, empty)
    assert (obs.ratings_error, obs.reviews_error, obs.details_error) == (False, False, False)
    assert (obs.user, obs.signed_in, obs.review_count) == (None, False, 2)


@pytest.mark.parametrize("ui", UIS)
@pytest.mark.parametrize("version", ["v2", "v3"])
def test_ratings_down_shows_the_ratings_error_and_no_stars(
    chain: Chain, make_page: MakePage, ui: str, version: str
) -> None:
    pod = chain.ratings_down[version]
    obs = fetch(make_page(ui, pod))
    assert_clean(obs, ui)
    assert (obs.version, obs.pod) == (version, pod.name)
    assert (obs.stars, obs.full_stars, obs.empty_stars) == ("none", 0, 0)
    assert (obs.ratings_error, obs.reviews_error, obs.details_error) == (True, False, False)
    assert obs.body is not None
    assert obs.body.count("Ratings service is currently unavailable") == 2


@pytest.mark.parametrize("ui", UIS)
def test_reviews_down_shows_the_reviews_error_and_no_pod(make_page: MakePage, ui: str) -> None:
    obs = fetch(make_page(ui, None))
    assert_clean(obs, ui)
    assert (obs.version, obs.pod, obs.stars) == (None, None, "none")
    assert (obs.ratings_error, obs.reviews_error, obs.details_error) == (False, True, False)
    assert obs.label() == "unavailable"


@pytest.mark.parametrize("ui", UIS)
def test_details_down_shows_the_details_error_and_reviews(chain: Chain, make_page: MakePage, ui: str) -> None:
    obs = fetch(make_page(ui, chain.reviews["v3"], details=False))
    assert_clean(obs, ui)
    assert (obs.version, obs.stars) == ("v3", "red")
    assert (obs.ratings_error, obs.reviews_error, obs.details_error) == (False, False, True)


@pytest.mark.parametrize("ui", UIS)
def test_jason_signs_in_through_the_client_and_out_again(chain: Chain, make_page: MakePage, ui: str) -> None:
    url = make_page(ui, chain.reviews["v2"])
    with BookinfoClient(url, timeout=10.0) as client:
        signed_in = client.sign_in("jason")
        assert (signed_in.user, signed_in.signed_in, signed_in.ui) == ("jason", True, ui)
        page = client.fetch_page()
        assert_clean(page, ui)
        assert (page.user, page.version, page.stars) == ("jason", "v2", "black")
        assert page.body is not None and "Sign in" in page.body  # the sign-in form stays in the DOM
        signed_out = client.sign_out()
        assert (signed_out.user, signed_out.signed_in) == (None, False)
        assert client.fetch_page().user is None


@pytest.mark.parametrize("ui", UIS)
def test_classic_comment_and_modern_quirks_are_present_and_parsed(chain: Chain, make_page: MakePage, ui: str) -> None:
    obs = fetch(make_page(ui, chain.reviews["v3"]), user="jason")
    assert obs.user == "jason"
    body = obs.body or ""
    if ui == "classic":
        assert "<!--" in body and "Signed in as jason" in body  # the commented-out old navbar
        assert body.count("glyphicon glyphicon-star") == 10  # the substring also matches -empty
        assert body.count(chain.reviews["v3"].name) == 1
        assert '<i class="glyphicon glyphicon-user"' in body
        assert 'jason ( <a href="logout">sign out</a> )' in body
    else:
        assert 'class="container mx-auto px-4 sm:px-6 lg:px-8>' in body  # the unclosed class quote
        assert body.count('id="glyphicon glyphicon-star"') == 9
        assert "glyphicon-star-empty" not in body
        assert body.count(chain.reviews["v3"].name) == 2
        assert '<dialog id="dialog"' in body and 'id="sign-in-button"' not in body
        assert '<a href="logout"' in body and ">Sign out</a>" in body
        assert "<html" not in body and "<body" not in body


@pytest.mark.parametrize("ui", UIS)
def test_cluster_name_is_shown_when_set(chain: Chain, make_page: MakePage, ui: str) -> None:
    name = pod_name("reviews-v2")
    env = {**default_env("reviews", "v2"), "CLUSTER_NAME": "east-1"}
    pod = chain.host.start_pod(PodConfig("reviews", name, env, upstreams={"ratings:9080": addr(chain.ratings)}))
    try:
        obs = fetch(make_page(ui, pod))
        assert (obs.version, obs.cluster, obs.stars) == ("v2", "east-1", "black")
        assert obs.consistent, obs.findings
    finally:
        chain.host.stop_pod(name)


def test_cookie_minted_by_one_replica_is_valid_on_another(chain: Chain, make_page: MakePage) -> None:
    first = make_page("modern", chain.reviews["v1"])
    second = make_page("classic", chain.reviews["v1"])
    login = requests.post(first + "/login", data={"username": "jason"}, allow_redirects=False, timeout=10)
    cookie = login.cookies["session"]
    html = requests.get(second + "/productpage", cookies={"session": cookie}, timeout=10).text
    obs = parse_page(html)
    assert (obs.ui, obs.user) == ("classic", "jason")


@pytest.mark.parametrize("ui", UIS)
def test_standalone_chain_round_robins_reviews_and_serves_jason(ui: str) -> None:
    with ThreadedWorkloadHost() as host:
        productpage = host.run(start_standalone(host.host, port=0, ui=ui))
        with BookinfoClient(productpage.url, timeout=10.0) as anonymous:
            pages = [anonymous.fetch_page() for _ in range(3)]
        for obs in pages:
            assert_clean(obs, ui)
        assert sorted(obs.version or "" for obs in pages) == ["v1", "v2", "v3"]
        assert {obs.version: obs.stars for obs in pages} == {"v1": "none", "v2": "black", "v3": "red"}
        with BookinfoClient(productpage.url, user="jason", timeout=10.0) as jason:
            page = jason.fetch_page()
            assert (page.user, page.error) == ("jason", None)
            api = jason.fetch_reviews_json()
            assert api.error is None
            assert api.version in ("v1", "v2", "v3")
