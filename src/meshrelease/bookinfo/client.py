"""HTTP client for Bookinfo's productpage: sign-in/out and fetching pages as observations.

One :class:`BookinfoClient` holds one ``requests.Session`` (one cookie jar), so it represents one user: use
one client per user (and per thread). Fetching never raises: a page that cannot be fetched becomes a
:class:`~meshrelease.bookinfo.page.PageObservation` with ``error`` set, so a sampler can count and report it.
Signing in and out raise :class:`SignInError` when the outcome cannot be confirmed on the page.

Only connection set-up is retried (bounded, with tenacity): a connect error means the request never reached
the server, so retrying cannot skew a sample. Read timeouts and HTTP errors are observations, never retried.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)
from tenacity.stop import stop_base
from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError

from meshrelease._version import __version__
from meshrelease.bookinfo.page import PageObservation, parse_page, parse_reviews_json
from meshrelease.errors import MeshReleaseError, UserInputError

# Retry waits grow 0.1, 0.2, 0.4 … s, capped at 1 s each, and stop once ~2 s were spent waiting.
_RETRY_WAIT_FIRST = 0.1
_RETRY_WAIT_MAX = 1.0
_RETRY_IDLE_LIMIT = 2.0
_EXCERPT_BYTES = 200
_GATEWAY_ROUTES_HINT = (
    "check that the ingress gateway routes /login, /logout and /productpage to productpage "
    "(the bookinfo-gateway VirtualService) and that base_url is the gateway's address"
)


class SignInError(MeshReleaseError):
    """Signing in (or out) of productpage could not be confirmed on the page that followed."""


@dataclass
class _Exchange:
    """One HTTP exchange: the response, or why there is none."""

    method: str
    url: str
    request_id: str
    response: requests.Response | None
    error: str | None
    elapsed: float


class BookinfoClient:
    """A productpage client for one user, on one ``requests.Session``.

    ``base_url`` is where productpage is reached (the ingress gateway), e.g. ``http://127.0.0.1:8080``.
    ``user``: sign in as this user lazily, before the first fetch (see :meth:`ensure_signed_in`).
    ``timeout`` is the read timeout (productpage can legitimately take ~6 s under a ratings delay);
    ``connect_timeout`` and ``connect_attempts`` bound connection set-up. ``trust_env`` lets requests read
    proxy settings and .netrc from the environment (off by default, so runs do not depend on the shell).
    """

    def __init__(
        self,
        base_url: str,
        *,
        user: str | None = None,
        timeout: float = 15.0,
        connect_timeout: float = 3.0,
        connect_attempts: int = 3,
        trust_env: bool = False,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UserInputError(
                f"{base_url!r} is not an http(s) URL",
                field="base_url",
                hint="give the ingress gateway address, e.g. http://127.0.0.1:8080",
            )
        for name, value in (("timeout", timeout), ("connect_timeout", connect_timeout)):
            if not value > 0:
                raise UserInputError(f"must be a positive number of seconds, not {value!r}", field=name)
        if connect_attempts < 1:
            raise UserInputError(f"must be at least 1, not {connect_attempts!r}", field="connect_attempts")
        if user is not None:
            _check_user_name(user)
        self.base_url = base_url.rstrip("/")
        self.user = user
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.connect_attempts = connect_attempts
        self._signed_in_as: str | None = None
        self._session = requests.Session()
        self._session.trust_env = trust_env
        self._session.headers["User-Agent"] = f"meshrelease/{__version__} python-requests/{requests.__version__}"

    # -- lifecycle -------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the session's connections. The client must not be used afterwards."""
        self._session.close()

    def __enter__(self) -> BookinfoClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def signed_in_as(self) -> str | None:
        """The user whose sign-in was last confirmed on a page, or None."""
        return self._signed_in_as

    def another_tab(self) -> BookinfoClient:
        """A new client with its own ``requests.Session`` carrying this client's session cookie, as a second
        browser tab of the same signed-in user would: no second sign-in (whose confirming page can take as long
        as any page under a fault). Pages it fetches still show which user they were rendered for."""
        tab = BookinfoClient(
            self.base_url,
            user=self.user,
            timeout=self.timeout,
            connect_timeout=self.connect_timeout,
            connect_attempts=self.connect_attempts,
            trust_env=self._session.trust_env,
        )
        tab._session.cookies.update(self._session.cookies)
        tab._signed_in_as = self._signed_in_as
        return tab

    # -- sign-in -----------------------------------------------------------------------------------------

    def ensure_signed_in(self) -> PageObservation | None:
        """Sign in as ``self.user`` unless that was already confirmed; returns the confirming page, if any."""
        if self.user is None or self._signed_in_as == self.user:
            return None
        return self.sign_in(self.user)

    def sign_in(self, user: str) -> PageObservation:
        """POST ``/login`` as ``user`` (any password) and confirm the user on the page that follows.

        Sends ``Referer: <base>/productpage`` and does not follow redirects blindly: a 302 to a proper
        same-origin Location is fetched; a missing Location or the literal ``Location: None`` (what
        productpage answers without a Referer) is not followed and ``/productpage`` is fetched instead.
        """
        _check_user_name(user)
        self._signed_in_as = None  # unknown until the page confirms it
        login_url = self._url("/login")
        ex = self._send("POST", login_url, data={"username": user, "passwd": "password"})
        if ex.response is None:
            raise SignInError(f"could not sign in as {user!r}: POST {login_url}: {ex.error}", hint=_GATEWAY_ROUTES_HINT)
        cookie_set = "session" in ex.response.cookies
        answer, target = self._after_redirect(ex, f"sign in as {user!r}")
        page = self._fetch_page_url(target)
        if page.error is None and page.user == user:
            self._signed_in_as = user
            self.user = user
            return page
        shown = f"user {page.user!r}" if page.user is not None else "no signed-in user"
        if page.signed_in and page.user is None:
            shown = "a signed-in marker without a readable user name"
        if page.error is not None:
            shown = f"an error ({page.error})"
        raise SignInError(
            f"sign-in as {user!r} not confirmed: {answer}, a 'session' cookie was "
            f"{'set' if cookie_set else 'NOT set'}; then GET {target} showed {shown}",
            hint=(
                "check that productpage answers POST /login with a `session` cookie for this host and that "
                "the gateway routes /login and /productpage to the same productpage; user names are "
                "case-sensitive"
            ),
        )

    def sign_out(self) -> PageObservation:
        """GET ``/logout`` (Referer, redirects as in :meth:`sign_in`) and confirm nobody is signed in."""
        self._signed_in_as = None  # unknown until the page confirms it
        logout_url = self._url("/logout")
        ex = self._send("GET", logout_url)
        if ex.response is None:
            raise SignInError(f"could not sign out: GET {logout_url}: {ex.error}", hint=_GATEWAY_ROUTES_HINT)
        answer, target = self._after_redirect(ex, "sign out")
        page = self._fetch_page_url(target)
        if page.error is None and not page.signed_in:
            self._signed_in_as = None
            self.user = None
            return page
        shown = f"an error ({page.error})" if page.error is not None else f"still signed in as {page.user!r}"
        raise SignInError(
            f"sign-out not confirmed: {answer}; then GET {target} showed {shown}",
            hint="check that the gateway routes /logout to productpage; a fresh client starts signed out",
        )

    def _after_redirect(self, ex: _Exchange, what: str) -> tuple[str, str]:
        """Describe the login/logout answer and pick the page to read next; raise on an HTTP error."""
        assert ex.response is not None
        resp = ex.response
        page_url = self._url("/productpage")
        answer = f"{ex.method} {urlsplit(ex.url).path} answered {resp.status_code}"
        if 300 <= resp.status_code < 400:
            location = resp.headers.get("Location")
            answer += f" with Location {location!r}" if location is not None else " without a Location"
            if location is None or location.strip() in ("", "None"):
                return answer, page_url
            target = urljoin(ex.url, location.strip())
            if _origin(target) != _origin(self.base_url):
                return answer + " (other origin, not followed)", page_url
            return answer, target
        if resp.status_code == 200:
            return answer, page_url
        raise SignInError(
            f"could not {what}: {answer}: {_excerpt(resp)}",
            hint=_GATEWAY_ROUTES_HINT,
        )

    # -- fetching ----------------------------------------------------------------------------------------

    def fetch_page(self, path: str = "/productpage") -> PageObservation:
        """GET a productpage HTML page and parse it; failures become an observation with ``error`` set."""
        url = self._url(path)
        failed = self._lazy_sign_in(url)
        if failed is not None:
            return failed
        return self._fetch_page_url(url)

    def fetch_reviews_json(self, product_id: int = 0) -> PageObservation:
        """GET ``/api/v1/products/<id>/reviews`` and parse the JSON (productpage's error reply included)."""
        url = self._url(f"/api/v1/products/{int(product_id)}/reviews")
        failed = self._lazy_sign_in(url)
        if failed is not None:
            failed.ui = "json"
            return failed
        ex = self._send("GET", url, headers={"Accept": "application/json"})
        if ex.response is None:
            return self._fill(PageObservation(ui="json", error=ex.error), ex)
        resp = ex.response
        data: Any = None
        with contextlib.suppress(ValueError):
            data = resp.json()
        if isinstance(data, dict) and (resp.status_code == 200 or "error" in data):
            obs = parse_reviews_json(data)
            if resp.status_code != 200:
                obs.note(f"HTTP {resp.status_code} with productpage's error reply")
        elif resp.status_code != 200:
            obs = PageObservation(ui="json", error=_http_error(resp))
        else:
            content_type = resp.headers.get("Content-Type") or "missing"
            obs = PageObservation(ui="json", error=f"not a JSON object (content-type {content_type}): {_excerpt(resp)}")
        return self._fill(obs, ex)

    def _lazy_sign_in(self, url: str) -> PageObservation | None:
        try:
            self.ensure_signed_in()
        except SignInError as exc:
            return PageObservation(url=url, error=f"sign-in as {self.user!r} failed: {exc.message}")
        return None

    def _fetch_page_url(self, url: str) -> PageObservation:
        ex = self._send("GET", url)
        if ex.response is None:
            return self._fill(PageObservation(error=ex.error), ex)
        resp = ex.response
        if resp.status_code != 200:
            return self._fill(PageObservation(error=_http_error(resp)), ex)
        text = resp.text
        content_type = resp.headers.get("Content-Type") or ""
        if not text.strip():
            obs = PageObservation(error="HTTP 200 with an empty body")
        elif "html" not in content_type.lower() and not text.lstrip().startswith("<"):
            obs = PageObservation(
                error=f"not an HTML page (content-type {content_type or 'missing'}): {_excerpt(resp)}"
            )
        else:
            obs = parse_page(text)
            if self._signed_in_as is not None and obs.user != self._signed_in_as:
                obs.note(
                    f"signed in as {self._signed_in_as!r} but the page shows "
                    f"{'user ' + repr(obs.user) if obs.user is not None else 'nobody signed in'}",
                    inconsistent=True,
                )
        return self._fill(obs, ex)

    def _fill(self, obs: PageObservation, ex: _Exchange) -> PageObservation:
        obs.url = ex.url
        obs.elapsed = ex.elapsed
        obs.request_id = ex.request_id
        if ex.response is not None:
            obs.status = ex.response.status_code
            obs.request_id = ex.response.headers.get("x-request-id") or ex.request_id
            obs.body = ex.response.text
        return obs

    # -- transport ---------------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def _send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
    ) -> _Exchange:
        """One request with a fresh x-request-id; connect errors retried (bounded), everything else reported.

        ``elapsed`` is the time of the attempt that got a response (headers and body), or the whole time spent
        when there is no response.
        """
        request_id = str(uuid.uuid4())
        sent_headers = {"x-request-id": request_id, "Referer": self._url("/productpage"), **(headers or {})}
        attempts = 0
        attempt_started = started = time.monotonic()

        def attempt() -> requests.Response:
            nonlocal attempts, attempt_started
            attempts += 1
            attempt_started = time.monotonic()
            return self._session.request(
                method,
                url,
                headers=sent_headers,
                data=data,
                timeout=(self.connect_timeout, self.timeout),
                allow_redirects=False,
            )

        retrying = Retrying(
            stop=stop_after_attempt(self.connect_attempts) | _StopAfterIdle(_RETRY_IDLE_LIMIT),
            wait=wait_exponential(multiplier=_RETRY_WAIT_FIRST, min=_RETRY_WAIT_FIRST, max=_RETRY_WAIT_MAX),
            retry=retry_if_exception(_is_connect_error),
            reraise=True,
        )
        error: str
        try:
            response = retrying(attempt)
        except requests.ReadTimeout:
            error = f"read timeout after {self.timeout:g} s: {method} {url}"
        except requests.RequestException as exc:
            spent = time.monotonic() - started
            if _is_connect_error(exc):
                reason = _describe_connect_error(exc, self.connect_timeout)
                tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
                error = f"{reason}: {method} {url} ({tries} in {spent:.1f} s)"
            else:
                error = f"request failed: {method} {url}: {exc}"
        else:
            return _Exchange(method, url, request_id, response, None, time.monotonic() - attempt_started)
        return _Exchange(method, url, request_id, None, error, time.monotonic() - started)


def _check_user_name(user: str) -> None:
    if not isinstance(user, str) or not user or user != user.strip():
        raise UserInputError(
            f"user name {user!r} must be a non-empty string without surrounding spaces",
            field="user",
            hint="routing matches the exact name, e.g. `jason` (not `Jason`)",
        )


class _StopAfterIdle(stop_base):
    """Stop once the retries have slept ``limit`` seconds in total (time spent connecting not counted)."""

    def __init__(self, limit: float) -> None:
        self.limit = limit

    def __call__(self, retry_state: RetryCallState) -> bool:
        return retry_state.idle_for >= self.limit


def _is_connect_error(exc: BaseException) -> bool:
    """True when the connection could not be set up (the request never left): refused, DNS, timeout."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and exc.args:
        cause = exc.args[0]
        if isinstance(cause, MaxRetryError):
            cause = cause.reason
        return isinstance(cause, NewConnectionError)
    return False


def _describe_connect_error(exc: requests.RequestException, connect_timeout: float) -> str:
    if isinstance(exc, requests.ConnectTimeout):
        return f"connect timeout after {connect_timeout:g} s"
    cause: object = exc.args[0] if exc.args else exc
    if isinstance(cause, MaxRetryError):
        cause = cause.reason
    if isinstance(cause, NameResolutionError):
        return "cannot resolve host"
    text = str(cause)
    # urllib3 prefixes the message with the connection object's repr; keep the part after the last ": ".
    detail = text.split("Failed to establish a new connection: ")[-1]
    if "refused" in text.lower():
        return f"connection refused ({detail})"
    return f"cannot connect ({detail})"


def _excerpt(resp: requests.Response) -> str:
    """The first 200 bytes of the body, whitespace collapsed to single spaces."""
    text = " ".join(resp.content[:_EXCERPT_BYTES].decode("utf-8", errors="replace").split())
    return text or "(empty body)"


def _http_error(resp: requests.Response) -> str:
    """``HTTP 503 from gateway: no healthy upstream``: Envoy's own replies carry no upstream service time."""
    server = (resp.headers.get("Server") or "").lower()
    from_gateway = "envoy" in server and "x-envoy-upstream-service-time" not in resp.headers
    source = " from gateway" if from_gateway else ""
    location = resp.headers.get("Location")
    redirect = f" (Location {location!r})" if location is not None and 300 <= resp.status_code < 400 else ""
    return f"HTTP {resp.status_code}{source}{redirect}: {_excerpt(resp)}"


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()
