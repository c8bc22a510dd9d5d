"""meshrelease.bookinfo.client against a local fake productpage (pytest-httpserver on 127.0.0.1)."""

from __future__ import annotations

import html
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from meshrelease.bookinfo.client import BookinfoClient, SignInError
from meshrelease.errors import MeshReleaseError, UserInputError

PAGES = Path(__file__).resolve().parents[1] / "data" / "pages"
ANONYMOUS_PAGE = (PAGES / "modern-v2-anonymous.html").read_text(encoding="utf-8")
JASON_PAGE = (PAGES / "modern-v2-signed-in-jason.html").read_text(encoding="utf-8")
USER_ELEMENT = '<p class="text-base font-medium text-gray-50">jason</p>'
assert USER_ELEMENT in JASON_PAGE
POD2 = "reviews-v2-7f8c9d6b5-x2k4q"


@pytest.fixture(scope="module")
def running_server() -> Iterator[HTTPServer]:
    # Threaded, so a handler stalled on purpose cannot hold up the next request.
    srv = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def server(running_server: HTTPServer) -> Iterator[HTTPServer]:
    """The module's server with no handlers and an empty log; handler exceptions fail the test."""
    try:
        yield running_server
        running_server.check_handler_errors()
    finally:
        running_server.clear()


@dataclass
class FakeProductpage:
    """A productpage stand-in: ``session`` cookie = user name, Referer-driven redirects, page per user."""

    login_location: str = "referer"  # "referer" | "absent" | "None"
    set_cookie: bool = True
    logout_works: bool = True
    show_user: str | None = None  # overrides the user shown on the page
    logins: list[Request] = field(default_factory=list)
    logouts: list[Request] = field(default_factory=list)
    pages: list[Request] = field(default_factory=list)

    def install(self, srv: HTTPServer) -> None:
        srv.expect_request("/login", method="POST").respond_with_handler(self.login)
        srv.expect_request("/logout", method="GET").respond_with_handler(self.logout)
        srv.expect_request("/productpage", method="GET").respond_with_handler(self.productpage)

    def login(self, request: Request) -> Response:
        self.logins.append(request)
        response = Response(status=302)
        referer = request.headers.get("Referer")
        if self.login_location == "referer" and referer:
            response.headers["Location"] = referer
        elif self.login_location == "None":
            response.headers["Location"] = "None"
        if self.set_cookie:
            response.set_cookie("session", request.form["username"], httponly=True, path="/")
        return response

    def logout(self, request: Request) -> Response:
        self.logouts.append(request)
        response = Response(status=302, headers={"Location": request.headers.get("Referer", "None")})
        if self.logout_works:
            response.delete_cookie("session", path="/")
        return response

    def productpage(self, request: Request) -> Response:
        self.pages.append(request)
        user = self.show_user if self.show_user is not None else request.cookies.get("session")
        if user:
            body = JASON_PAGE.replace(USER_ELEMENT, USER_ELEMENT.replace("jason", html.escape(user)))
        else:
            body = ANONYMOUS_PAGE
        return Response(body, content_type="text/html; charset=utf-8")


def base(srv: HTTPServer) -> str:
    return f"http://127.0.0.1:{srv.port}"


def paths(srv: HTTPServer) -> list[str]:
    return [request.path for request, _ in srv.log]


# -- sign-in ---------------------------------------------------------------------------------------


def test_sign_in_posts_form_with_referer_and_follows_proper_location(server: HTTPServer) -> None:
    fake = FakeProductpage()
    fake.install(server)
    with BookinfoClient(base(server)) as client:
        obs = client.sign_in("jason")
        assert (obs.user, obs.signed_in, obs.version, obs.status) == ("jason", True, "v2", 200)
        assert (obs.consistent, obs.findings) == (True, [])
        assert client.signed_in_as == "jason"
        again = client.fetch_page()
    login = fake.logins[0]
    assert login.headers["Referer"] == base(server) + "/productpage"
    assert login.form["username"] == "jason" and login.form["passwd"]
    assert paths(server) == ["/login", "/productpage", "/productpage"]
    assert fake.pages[-1].cookies.get("session") == "jason"
    assert again.user == "jason" and again.consistent


@pytest.mark.parametrize("location", ["absent", "None"])
def test_sign_in_with_unusable_location_reads_productpage_itself(server: HTTPServer, location: str) -> None:
    fake = FakeProductpage(login_location=location)
    fake.install(server)
    with BookinfoClient(base(server)) as client:
        obs = client.sign_in("jason")
    assert obs.user == "jason"
    sent = server.log[0][1]
    assert sent.status_code == 302
    assert sent.headers.get("Location") == (None if location == "absent" else "None")
    assert "/None" not in paths(server)
    assert paths(server) == ["/login", "/productpage"]


def test_sign_in_not_confirmed_without_cookie(server: HTTPServer) -> None:
    FakeProductpage(set_cookie=False).install(server)
    with BookinfoClient(base(server)) as client, pytest.raises(SignInError) as info:
        client.sign_in("jason")
    message = str(info.value)
    assert "sign-in as 'jason' not confirmed" in message
    assert "POST /login answered 302" in message
    assert "a 'session' cookie was NOT set" in message
    assert "showed no signed-in user" in message
    assert "hint:" in message
    assert isinstance(info.value, MeshReleaseError)
    assert client.signed_in_as is None


def test_sign_in_not_confirmed_when_page_shows_another_user(server: HTTPServer) -> None:
    FakeProductpage(show_user="Jason").install(server)
    with BookinfoClient(base(server)) as client, pytest.raises(SignInError) as info:
        client.sign_in("jason")
    message = str(info.value)
    assert "a 'session' cookie was set" in message
    assert "showed user 'Jason'" in message


def test_sign_in_http_error_names_status_and_body(server: HTTPServer) -> None:
    server.expect_request("/login", method="POST").respond_with_data("", status=404, headers={"server": "istio-envoy"})
    with BookinfoClient(base(server)) as client, pytest.raises(SignInError) as info:
        client.sign_in("jason")
    assert "could not sign in as 'jason': POST /login answered 404: (empty body)" in str(info.value)
    assert "routes /login" in str(info.value)


def test_sign_out_confirmed(server: HTTPServer) -> None:
    fake = FakeProductpage()
    fake.install(server)
    with BookinfoClient(base(server)) as client:
        client.sign_in("jason")
        obs = client.sign_out()
        after = client.fetch_page()
    assert (obs.user, obs.signed_in, obs.version) == (None, False, "v2")
    assert (obs.consistent, obs.findings) == (True, [])
    assert fake.logouts[0].headers["Referer"] == base(server) + "/productpage"
    assert (after.user, client.signed_in_as, client.user) == (None, None, None)
    assert "session" not in fake.pages[-1].cookies


def test_sign_out_not_confirmed(server: HTTPServer) -> None:
    FakeProductpage(logout_works=False).install(server)
    with BookinfoClient(base(server)) as client:
        client.sign_in("jason")
        with pytest.raises(SignInError) as info:
            client.sign_out()
    assert "sign-out not confirmed: GET /logout answered 302" in str(info.value)
    assert "still signed in as 'jason'" in str(info.value)


def test_switching_user_on_one_client(server: HTTPServer) -> None:
    FakeProductpage().install(server)
    with BookinfoClient(base(server)) as client:
        client.sign_in("jason")
        switched = client.sign_in("kurt")
        after = client.fetch_page()
    assert (switched.user, switched.consistent, switched.findings) == ("kurt", True, [])
    assert (after.user, after.consistent, client.signed_in_as, client.user) == ("kurt", True, "kurt", "kurt")


def test_two_clients_keep_separate_sessions(server: HTTPServer) -> None:
    FakeProductpage().install(server)
    with BookinfoClient(base(server)) as jason, BookinfoClient(base(server)) as kurt:
        jason.sign_in("jason")
        kurt.sign_in("kurt")
        pages = [jason.fetch_page(), kurt.fetch_page(), jason.fetch_page()]
        with BookinfoClient(base(server)) as anonymous:
            nobody = anonymous.fetch_page()
    assert [p.user for p in pages] == ["jason", "kurt", "jason"]
    assert all(p.consistent for p in pages)
    assert (nobody.user, nobody.signed_in) == (None, False)


def test_another_tab_shares_the_sign_in_without_signing_in_again(server: HTTPServer) -> None:
    fake = FakeProductpage()
    fake.install(server)
    with BookinfoClient(base(server), timeout=7.0) as jason:
        jason.sign_in("jason")
        with jason.another_tab() as tab:
            page = tab.fetch_page()
            assert (tab.signed_in_as, tab.user, tab.timeout) == ("jason", "jason", 7.0)
            tab.sign_out()  # its own session: signing the tab out leaves the original signed in
        again = jason.fetch_page()
    assert (page.user, page.consistent) == ("jason", True)
    assert again.user == "jason"
    assert len(fake.logins) == 1


def test_lazy_sign_in_happens_once_before_the_first_fetch(server: HTTPServer) -> None:
    fake = FakeProductpage()
    fake.install(server)
    with BookinfoClient(base(server), user="jason") as client:
        assert client.signed_in_as is None
        first, second = client.fetch_page(), client.fetch_page()
    assert (first.user, second.user) == ("jason", "jason")
    assert len(fake.logins) == 1
    assert paths(server) == ["/login", "/productpage", "/productpage", "/productpage"]


def test_lazy_sign_in_failure_is_an_error_observation(server: HTTPServer) -> None:
    FakeProductpage(set_cookie=False).install(server)
    with BookinfoClient(base(server), user="jason") as client:
        obs = client.fetch_page()
    assert obs.error is not None and obs.error.startswith("sign-in as 'jason' failed: sign-in as 'jason' not")
    assert obs.label() is None and not obs.fetched_ok


def test_lost_session_is_flagged_on_the_page(server: HTTPServer) -> None:
    fake = FakeProductpage()
    fake.install(server)
    with BookinfoClient(base(server), user="jason") as client:
        client.ensure_signed_in()
        fake.show_user = ""  # the server forgets the session: the page is anonymous again
        obs = client.fetch_page()
    assert obs.user is None and obs.consistent is False
    assert obs.findings == ["signed in as 'jason' but the page shows nobody signed in"]


# -- failures become observations ------------------------------------------------------------------


def test_read_timeout_is_an_error_observation_and_not_retried() -> None:
    release = threading.Event()
    calls: list[str] = []

    def stall(request: Request) -> Response:
        calls.append(request.path)
        release.wait(30)  # bounded; released at teardown below
        return Response("late", content_type="text/html")

    # A server of its own: the stalled request finishes (and is logged) only after the release, which
    # must not leak into the shared server's log of the next test.
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    try:
        server.expect_request("/productpage").respond_with_handler(stall)
        with BookinfoClient(base(server), timeout=0.3) as client:
            obs = client.fetch_page()
    finally:
        release.set()
        server.stop()
    assert obs.error == f"read timeout after 0.3 s: GET {base(server)}/productpage"
    assert (obs.status, obs.label(), obs.fetched_ok) == (None, None, False)
    assert obs.elapsed is not None and obs.elapsed > 0.25  # the client really waited for the read timeout
    assert obs.url == base(server) + "/productpage"
    assert calls == ["/productpage"]


def test_connection_refused_after_bounded_retries() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port now; 3 attempts wait 0.1 s + 0.2 s in between.
    with BookinfoClient(f"http://127.0.0.1:{port}", connect_attempts=3) as client:
        obs = client.fetch_page()
        json_obs = client.fetch_reviews_json()
    assert obs.error is not None
    assert obs.error.startswith("connection refused (")
    assert f"GET http://127.0.0.1:{port}/productpage (3 attempts in " in obs.error
    assert obs.status is None and obs.label() is None
    assert obs.elapsed is not None and obs.elapsed >= 0.3  # both back-off waits really happened
    assert json_obs.ui == "json" and json_obs.error is not None and "(3 attempts in " in json_obs.error


def test_connect_attempts_one_means_no_retry() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with BookinfoClient(f"http://127.0.0.1:{port}", connect_attempts=1) as client:
        obs = client.fetch_page()
    assert obs.error is not None and "(1 attempt in " in obs.error


def test_sign_in_connection_refused_raises_sign_in_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with (
        BookinfoClient(f"http://127.0.0.1:{port}", connect_attempts=1) as client,
        pytest.raises(SignInError) as info,
    ):
        client.sign_in("jason")
    assert "could not sign in as 'jason': POST" in str(info.value)
    assert "connection refused" in str(info.value)


def test_gateway_404_and_503_are_error_observations(server: HTTPServer) -> None:
    envoy = {"server": "envoy"}
    server.expect_request("/productpage").respond_with_data("no healthy upstream", status=503, headers=envoy)
    server.expect_request("/missing").respond_with_data("", status=404, headers=envoy)
    with BookinfoClient(base(server)) as client:
        unavailable = client.fetch_page()
        missing = client.fetch_page("/missing")
    assert (unavailable.status, unavailable.error) == (503, "HTTP 503 from gateway: no healthy upstream")
    assert (missing.status, missing.error) == (404, "HTTP 404 from gateway: (empty body)")
    assert unavailable.label() is None and not unavailable.fetched_ok
    assert paths(server) == ["/productpage", "/missing"]  # HTTP errors are not retried


def test_upstream_error_body_is_cut_to_200_bytes(server: HTTPServer) -> None:
    body = "x" * 150 + " " + "y" * 300
    headers = {"server": "istio-envoy", "x-envoy-upstream-service-time": "4"}
    server.expect_request("/productpage").respond_with_data(body, status=500, headers=headers)
    with BookinfoClient(base(server)) as client:
        obs = client.fetch_page()
    assert obs.error == "HTTP 500: " + "x" * 150 + " " + "y" * 49
    assert obs.body == body


def test_redirect_is_reported_not_followed(server: HTTPServer) -> None:
    server.expect_request("/productpage").respond_with_data("", status=301, headers={"Location": "/elsewhere"})
    with BookinfoClient(base(server)) as client:
        obs = client.fetch_page()
    assert (obs.status, obs.error) == (301, "HTTP 301 (Location '/elsewhere'): (empty body)")
    assert paths(server) == ["/productpage"]


def test_non_html_body_is_an_error_observation(server: HTTPServer) -> None:
    server.expect_request("/productpage").respond_with_data('{"ok": true}', content_type="application/json")
    server.expect_request("/empty").respond_with_data("", content_type="text/html")
    with BookinfoClient(base(server)) as client:
        obs = client.fetch_page()
        empty = client.fetch_page("/empty")
    assert obs.status == 200
    assert obs.error == 'not an HTML page (content-type application/json): {"ok": true}'
    assert empty.error == "HTTP 200 with an empty body"


def test_request_ids_are_fresh_uuid4_and_recorded(server: HTTPServer) -> None:
    seen: list[str] = []

    def page(request: Request) -> Response:
        seen.append(request.headers["x-request-id"])
        return Response(ANONYMOUS_PAGE, content_type="text/html")

    server.expect_request("/productpage").respond_with_handler(page)
    with BookinfoClient(base(server)) as client:
        first, second = client.fetch_page(), client.fetch_page()
    assert [first.request_id, second.request_id] == seen
    assert seen[0] != seen[1]
    assert all(uuid.UUID(rid).version == 4 for rid in seen)
    assert first.elapsed is not None and first.elapsed > 0
    assert (first.status, first.error, first.fetched_ok, first.label()) == (200, None, True, "v2")


def test_response_request_id_wins(server: HTTPServer) -> None:
    server.expect_request("/productpage").respond_with_data(
        ANONYMOUS_PAGE, content_type="text/html", headers={"x-request-id": "from-gateway-1"}
    )
    with BookinfoClient(base(server)) as client:
        assert client.fetch_page().request_id == "from-gateway-1"


# -- reviews JSON ----------------------------------------------------------------------------------


def test_fetch_reviews_json(server: HTTPServer) -> None:
    payload = {
        "id": "0",
        "podname": POD2,
        "clustername": "null",
        "reviews": [
            {"reviewer": "Reviewer1", "text": "t1", "rating": {"stars": 5, "color": "black"}},
            {"reviewer": "Reviewer2", "text": "t2", "rating": {"stars": 4, "color": "black"}},
        ],
    }
    seen: list[str] = []

    def reviews(request: Request) -> Response:
        seen.append(request.headers["x-request-id"])
        return Response(json.dumps(payload), content_type="application/json")

    server.expect_request("/api/v1/products/0/reviews").respond_with_handler(reviews)
    with BookinfoClient(base(server)) as client:
        obs = client.fetch_reviews_json()
    assert (obs.ui, obs.version, obs.stars, obs.full_stars, obs.empty_stars) == ("json", "v2", "black", 9, 1)
    assert (obs.status, obs.error, obs.request_id, obs.label()) == (200, None, seen[0], "v2")


def test_fetch_reviews_json_error_reply_is_unavailable(server: HTTPServer) -> None:
    server.expect_request("/api/v1/products/0/reviews").respond_with_json(
        {"error": "Sorry, product reviews are currently unavailable for this book."}, status=503
    )
    server.expect_request("/api/v1/products/1/reviews").respond_with_data(
        "no healthy upstream", status=503, headers={"server": "envoy"}
    )
    with BookinfoClient(base(server)) as client:
        obs = client.fetch_reviews_json()
        gateway = client.fetch_reviews_json(1)
    assert (obs.status, obs.error, obs.reviews_error, obs.label()) == (503, None, True, "unavailable")
    assert obs.findings == ["HTTP 503 with productpage's error reply"]
    assert (gateway.status, gateway.error, gateway.label()) == (
        503,
        "HTTP 503 from gateway: no healthy upstream",
        None,
    )


# -- construction ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"base_url": "127.0.0.1:8080"}, "base_url"),
        ({"base_url": "ftp://host"}, "base_url"),
        ({"base_url": "http://h", "timeout": 0}, "timeout"),
        ({"base_url": "http://h", "connect_timeout": -1}, "connect_timeout"),
        ({"base_url": "http://h", "connect_attempts": 0}, "connect_attempts"),
        ({"base_url": "http://h", "user": ""}, "user"),
        ({"base_url": "http://h", "user": " jason"}, "user"),
    ],
)
def test_bad_arguments_are_user_errors(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(UserInputError) as info:
        BookinfoClient(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
