"""productpage: routes, sign-in and the session cookie, header propagation, the details/reviews/ratings
timeouts and retries against a recording upstream, and the exact error strings (docs/bookinfo-contract.md §2,
§3, §6)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests

from meshrelease.bookinfo.workloads import PodConfig, ThreadedWorkloadHost
from meshrelease.bookinfo.workloads.catalog import book_details
from meshrelease.bookinfo.workloads.host import RunningPod
from meshrelease.bookinfo.workloads.outbound import PROPAGATED_HEADERS
from meshrelease.bookinfo.workloads.session import encode_session, session_user
from meshrelease.bookinfo.workloads.testing import CannedReply, RecordedRequest, RecordingServer

DETAILS_ERROR = "Sorry, product details are currently unavailable for this book."
REVIEWS_ERROR = "Sorry, product reviews are currently unavailable for this book."
RATINGS_API_ERROR = "Sorry, product ratings are currently unavailable for this book."
POD = "reviews-v2-7f8c9d6b5x-x2k4q"
REVIEWS_JSON = {
    "id": "0",
    "podname": POD,
    "clustername": "null",
    "reviews": [
        {"reviewer": "Reviewer1", "text": "one", "rating": {"stars": 5, "color": "black"}},
        {"reviewer": "Reviewer2", "text": "two", "rating": {"stars": 4, "color": "black"}},
    ],
}
RATINGS_JSON = {"id": 0, "ratings": {"Reviewer1": 5, "Reviewer2": 4}}


def backend(request: RecordedRequest) -> CannedReply:
    """A healthy details+reviews+ratings in one recording server, by path."""
    if request.path.startswith("/details/"):
        return CannedReply(body=book_details(0))
    if request.path.startswith("/reviews/"):
        return CannedReply(body=REVIEWS_JSON)
    if request.path.startswith("/ratings/"):
        return CannedReply(body=RATINGS_JSON)
    return CannedReply(status=404, body={})


@pytest.fixture(scope="module")
def host() -> Iterator[ThreadedWorkloadHost]:
    with ThreadedWorkloadHost() as h:
        yield h


@pytest.fixture
def upstream(host: ThreadedWorkloadHost) -> Iterator[RecordingServer]:
    server = host.run(RecordingServer(backend).start())
    yield server
    host.run(server.close())


_counter = iter(range(10_000))


def productpage(
    host: ThreadedWorkloadHost,
    upstream: RecordingServer | None,
    *,
    ui: str = "modern",
    env: dict[str, str] | None = None,
    proxies: dict[int, str] | None = None,
) -> RunningPod:
    addresses = {key: upstream.address for key in ("details:9080", "reviews:9080", "ratings:9080")} if upstream else {}
    cfg = PodConfig(
        service="productpage",
        name=f"productpage-v1-{next(_counter):010d}-abcde",
        env={"SERVICE_VERSION": "v1", **(env or {})},
        ui=ui,
        upstreams=addresses,
        proxies=proxies or {},
    )
    return host.start_pod(cfg)


@pytest.fixture
def page(host: ThreadedWorkloadHost, upstream: RecordingServer) -> Iterator[RunningPod]:
    pod = productpage(host, upstream)
    yield pod
    host.stop_pod(pod.name)


def signed_cookie(user: str) -> dict[str, str]:
    return {"Cookie": f"session={encode_session({'user': user})}"}


# -- routes ------------------------------------------------------------------------------


def test_landing_health_and_products_routes(page: RunningPod) -> None:
    for path in ("/", "/index.html"):
        resp = requests.get(page.url + path, timeout=10)
        assert resp.status_code == 200
        assert 'href="productpage?u=normal"' in resp.text
        assert 'href="productpage?u=test"' in resp.text
    health = requests.get(page.url + "/health", timeout=10)
    assert (health.status_code, health.text) == (200, "Product page is healthy")
    products = requests.get(page.url + "/api/v1/products", timeout=10).json()
    assert [list(p) for p in products] == [["id", "title", "descriptionHtml"]]
    assert (products[0]["id"], products[0]["title"]) == (0, "The Comedy of Errors")
    assert requests.get(page.url + "/nowhere", timeout=10).status_code == 404


def test_product_api_routes_pass_backend_json_and_status(
    host: ThreadedWorkloadHost, page: RunningPod, upstream: RecordingServer
) -> None:
    assert requests.get(page.url + "/api/v1/products/0", timeout=10).json() == book_details(0)
    assert requests.get(page.url + "/api/v1/products/0/reviews", timeout=10).json() == REVIEWS_JSON
    assert requests.get(page.url + "/api/v1/products/0/ratings", timeout=10).json() == RATINGS_JSON
    upstream.set_script(CannedReply(status=503, body="no healthy upstream", content_type="text/plain"))
    details = requests.get(page.url + "/api/v1/products/0", timeout=10)
    assert (details.status_code, details.json()) == (503, {"error": DETAILS_ERROR})
    reviews = requests.get(page.url + "/api/v1/products/0/reviews", timeout=10)
    assert (reviews.status_code, reviews.json()) == (503, {"error": REVIEWS_ERROR})
    ratings = requests.get(page.url + "/api/v1/products/0/ratings", timeout=10)
    assert (ratings.status_code, ratings.json()) == (503, {"error": RATINGS_API_ERROR})


def test_product_api_with_no_backend_reply_is_500(host: ThreadedWorkloadHost) -> None:
    pod = productpage(host, None)
    try:
        for path, error in (
            ("", DETAILS_ERROR),
            ("/reviews", REVIEWS_ERROR),
            ("/ratings", RATINGS_API_ERROR),
        ):
            resp = requests.get(f"{pod.url}/api/v1/products/0{path}", timeout=10)
            assert (resp.status_code, resp.json()) == (500, {"error": error})
    finally:
        host.stop_pod(pod.name)


def test_bad_product_id_reaches_details_which_answers_400(page: RunningPod, upstream: RecordingServer) -> None:
    upstream.set_script(CannedReply(status=400, body={"error": "please provide numeric product id"}))
    resp = requests.get(page.url + "/api/v1/products/abc", timeout=10)
    assert resp.status_code == 400
    assert upstream.requests[-1].path == "/details/abc"


def test_metrics_count_backend_results(page: RunningPod, upstream: RecordingServer) -> None:
    assert requests.get(page.url + "/productpage", timeout=10).status_code == 200
    upstream.set_script(CannedReply(status=503, body="x", content_type="text/plain"))
    assert requests.get(page.url + "/productpage", timeout=10).status_code == 200
    text = requests.get(page.url + "/metrics", timeout=10).text
    assert "# TYPE request_result counter" in text
    assert 'request_result_total{destination_app="details",response_code="200"} 1.0' in text
    assert 'request_result_total{destination_app="reviews",response_code="200"} 1.0' in text
    assert 'request_result_total{destination_app="details",response_code="503"} 1.0' in text
    assert 'request_result_total{destination_app="reviews",response_code="503"} 1.0' in text


def test_static_files_are_served_locally(page: RunningPod) -> None:
    html = requests.get(page.url + "/productpage", timeout=10).text
    assets = re.findall(r'(?:href|src)="(static/[^"]+)"', html)
    assert any(a.endswith(".css") for a in assets)
    for asset in assets:
        resp = requests.get(f"{page.url}/{asset}", timeout=10)
        assert resp.status_code == 200, asset
        assert resp.content
    assert "//cdn" not in html and "https://cdn" not in html


# -- sign-in ------------------------------------------------------------------------------


def test_login_sets_signed_httponly_session_cookie_and_redirects_to_referer(page: RunningPod) -> None:
    resp = requests.post(
        page.url + "/login",
        data={"username": "jason", "passwd": "anything"},
        headers={"Referer": page.url + "/productpage"},
        allow_redirects=False,
        timeout=10,
    )
    assert resp.status_code == 302
    assert resp.headers["Location"] == page.url + "/productpage"
    set_cookie = resp.headers["Set-Cookie"]
    assert set_cookie.startswith("session=")
    attributes = {part.strip().split("=")[0].lower() for part in set_cookie.split(";")[1:]}
    assert attributes == {"httponly", "path"}
    assert "Path=/" in set_cookie
    assert session_user(resp.cookies["session"]) == "jason"
    assert resp.cookies["session"] != "jason"


def test_login_without_referer_answers_location_none_and_still_signs_in(page: RunningPod) -> None:
    resp = requests.post(page.url + "/login", data={"username": "jason"}, allow_redirects=False, timeout=10)
    assert resp.status_code == 302
    assert resp.headers["Location"] == "None"
    assert session_user(resp.cookies["session"]) == "jason"


def test_login_reads_username_from_query_and_refuses_get(page: RunningPod) -> None:
    resp = requests.post(page.url + "/login?username=Jason", allow_redirects=False, timeout=10)
    assert session_user(resp.cookies["session"]) == "Jason"
    assert requests.get(page.url + "/login", timeout=10).status_code == 405


def test_page_shows_the_session_user_and_logout_clears_it(page: RunningPod) -> None:
    with requests.Session() as browser:
        browser.post(
            page.url + "/login",
            data={"username": "jason", "passwd": "x"},
            headers={"Referer": page.url + "/productpage"},
            timeout=10,
        )
        signed_in = browser.get(page.url + "/productpage", timeout=10).text
        assert '<p class="text-base font-medium text-gray-50">jason</p>' in signed_in
        assert '<a href="logout"' in signed_in
        out = browser.get(
            page.url + "/logout",
            headers={"Referer": page.url + "/productpage"},
            allow_redirects=False,
            timeout=10,
        )
        assert (out.status_code, out.headers["Location"]) == (302, page.url + "/productpage")
        assert "session" not in browser.cookies
        anonymous = browser.get(page.url + "/productpage", timeout=10).text
        assert "text-gray-50" not in anonymous
        assert 'id="sign-in-button"' in anonymous


def test_forged_or_plain_cookie_is_not_a_session(page: RunningPod, upstream: RecordingServer) -> None:
    forged = encode_session({"user": "jason"})[:-2] + "xx"
    for cookie in (f"session={forged}", "session=jason"):
        html = requests.get(page.url + "/productpage", headers={"Cookie": cookie}, timeout=10).text
        assert "text-gray-50" not in html
    assert not any("end-user" in r.headers for r in upstream.requests)


# -- header propagation ------------------------------------------------------------------------------


def test_propagated_headers_and_session_end_user_reach_details_and_reviews(
    page: RunningPod, upstream: RecordingServer
) -> None:
    incoming = {name: f"value-of-{name}" for name in PROPAGATED_HEADERS if name != "cookie"}
    cookie = signed_cookie("jason")["Cookie"]
    incoming["cookie"] = cookie
    incoming["end-user"] = "mallory"  # never copied: only the session names the user
    incoming["x-unrelated"] = "no"
    assert requests.get(page.url + "/productpage", headers=incoming, timeout=10).status_code == 200
    assert [r.path for r in upstream.requests] == ["/details/0", "/reviews/0"]
    for request in upstream.requests:
        for name in PROPAGATED_HEADERS:
            assert request.headers.get(name) == incoming[name], (request.path, name)
        assert request.headers["end-user"] == "jason"
        assert "x-unrelated" not in request.headers
    assert upstream.requests[0].headers["host"] == "details:9080"
    assert upstream.requests[1].headers["host"] == "reviews:9080"


def test_incoming_end_user_header_is_ignored_without_session(page: RunningPod, upstream: RecordingServer) -> None:
    requests.get(page.url + "/productpage", headers={"end-user": "jason"}, timeout=10)
    assert upstream.requests
    for request in upstream.requests:
        assert "end-user" not in request.headers
        assert not [h for h in request.headers if h.startswith(("x-b3", "traceparent", "x-request-id"))]


def test_api_routes_forward_end_user_from_the_session(page: RunningPod, upstream: RecordingServer) -> None:
    requests.get(page.url + "/api/v1/products/0/ratings", headers=signed_cookie("jason"), timeout=10)
    assert upstream.requests[-1].headers["end-user"] == "jason"


def test_calls_go_through_the_sidecar_proxy_with_service_hostnames(host: ThreadedWorkloadHost) -> None:
    sidecar = host.run(RecordingServer(backend).start())
    pod = productpage(
        host,
        None,
        env={
            "DETAILS_HOSTNAME": "book-details",
            "SERVICES_DOMAIN": "shop.svc",
            "REVIEWS_SERVICE_PORT": "9090",
        },
        proxies={9080: sidecar.url, 9090: sidecar.url},
    )
    try:
        html = requests.get(pod.url + "/productpage", timeout=10).text
        assert POD in html
        assert [r.target for r in sidecar.requests] == [
            "http://book-details.shop.svc:9080/details/0",
            "http://reviews.shop.svc:9090/reviews/0",
        ]
        assert [r.headers["host"] for r in sidecar.requests] == [
            "book-details.shop.svc:9080",
            "reviews.shop.svc:9090",
        ]
    finally:
        host.stop_pod(pod.name)
        host.run(sidecar.close())


# -- timeouts, retries and error rendering -----------------------------------------------------------------

SCALE = {"MESHRELEASE_TIMEOUT_SCALE": "0.05"}  # details 0.15 s, reviews 2 x 0.15 s


def test_hanging_details_gives_the_details_error_in_a_200_page(host: ThreadedWorkloadHost) -> None:
    def script(request: RecordedRequest) -> CannedReply:
        return CannedReply(hang=True) if request.path.startswith("/details/") else backend(request)

    upstream = host.run(RecordingServer(script).start())
    pod = productpage(host, upstream, env=SCALE)
    try:
        resp = requests.get(pod.url + "/productpage", timeout=10)
        assert resp.status_code == 200
        assert "Error fetching product details</p>" in resp.text
        assert DETAILS_ERROR in resp.text
        assert POD in resp.text  # reviews still shown
        assert [r.path for r in upstream.requests].count("/details/0") == 1  # one attempt only
    finally:
        host.stop_pod(pod.name)
        host.run(upstream.close())


def test_hanging_reviews_is_tried_twice_then_shows_the_reviews_error(host: ThreadedWorkloadHost) -> None:
    def script(request: RecordedRequest) -> CannedReply:
        return CannedReply(hang=True) if request.path.startswith("/reviews/") else backend(request)

    upstream = host.run(RecordingServer(script).start())
    pod = productpage(host, upstream, env=SCALE, ui="classic")
    try:
        resp = requests.get(pod.url + "/productpage", timeout=10)
        assert resp.status_code == 200
        assert "Error fetching product reviews!</h4>" in resp.text
        assert REVIEWS_ERROR in resp.text
        assert "Reviews served by" not in resp.text
        assert [r.path for r in upstream.requests].count("/reviews/0") == 2
        api = requests.get(pod.url + "/api/v1/products/0/reviews", timeout=10)
        assert (api.status_code, api.json()) == (500, {"error": REVIEWS_ERROR})
    finally:
        host.stop_pod(pod.name)
        host.run(upstream.close())


def test_reviews_second_attempt_after_non_200_succeeds(host: ThreadedWorkloadHost) -> None:
    answers = iter([CannedReply(status=503, body="upstream reset", content_type="text/plain")])

    def script(request: RecordedRequest) -> CannedReply:
        if request.path.startswith("/reviews/"):
            return next(answers, CannedReply(body=REVIEWS_JSON))
        return backend(request)

    upstream = host.run(RecordingServer(script).start())
    pod = productpage(host, upstream)
    try:
        html = requests.get(pod.url + "/productpage", timeout=10).text
        assert POD in html
        assert REVIEWS_ERROR not in html
        assert [r.path for r in upstream.requests].count("/reviews/0") == 2
    finally:
        host.stop_pod(pod.name)
        host.run(upstream.close())


def test_hanging_ratings_gives_the_ratings_api_error(host: ThreadedWorkloadHost) -> None:
    upstream = host.run(RecordingServer(CannedReply(hang=True)).start())
    pod = productpage(host, upstream, env=SCALE)
    try:
        resp = requests.get(pod.url + "/api/v1/products/0/ratings", timeout=10)
        assert (resp.status_code, resp.json()) == (500, {"error": RATINGS_API_ERROR})
        assert len(upstream.requests) == 1
    finally:
        host.stop_pod(pod.name)
        host.run(upstream.close())


@pytest.mark.parametrize(
    ("ui", "details_heading", "reviews_heading"),
    [
        (
            "classic",
            '<h4 class="text-center text-primary">Error fetching product details!</h4>',
            '<h4 class="text-center text-primary">Error fetching product reviews!</h4>',
        ),
        (
            "modern",
            '<p class="text-2xl text-red-500">Error fetching product details</p>',
            '<p class="text-2xl text-red-500">Error fetching product reviews</p>',
        ),
    ],
)
def test_backends_down_render_the_exact_headings_and_messages(
    host: ThreadedWorkloadHost, ui: str, details_heading: str, reviews_heading: str
) -> None:
    pod = productpage(host, None, ui=ui)  # no route to any backend
    try:
        resp = requests.get(pod.url + "/productpage", timeout=10)
        assert resp.status_code == 200
        assert "<title>Simple Bookstore App</title>" in resp.text
        assert details_heading in resp.text
        assert reviews_heading in resp.text
        assert DETAILS_ERROR in resp.text
        assert REVIEWS_ERROR in resp.text
        if ui == "modern":
            assert f'<p class="text-lg text-gray-600">{DETAILS_ERROR}</p>' in resp.text
            assert "fetching product details!" not in resp.text
    finally:
        host.stop_pod(pod.name)


def test_user_name_is_html_escaped(page: RunningPod) -> None:
    html = requests.get(page.url + "/productpage", headers=signed_cookie("<b>x</b>"), timeout=10).text
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert "<b>x</b>" not in html


def test_empty_user_name_is_still_sent_as_end_user(page: RunningPod, upstream: RecordingServer) -> None:
    login = requests.post(page.url + "/login", data={"username": ""}, allow_redirects=False, timeout=10)
    html = requests.get(page.url + "/productpage", cookies={"session": login.cookies["session"]}, timeout=10).text
    assert [r.headers.get("end-user") for r in upstream.requests] == ["", ""]
    assert 'id="sign-in-button"' in html  # an empty name shows no signed-in user
