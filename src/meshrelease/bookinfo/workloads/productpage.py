"""productpage: the bookstore page (both UI generations), sign-in through a signed session cookie, the
product API, ``/metrics`` and static files. Backend failures are rendered into a 200 page."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

from meshrelease.bookinfo.workloads import catalog
from meshrelease.bookinfo.workloads.config import PodConfig, Timeouts, service_authority
from meshrelease.bookinfo.workloads.metrics import RequestResults
from meshrelease.bookinfo.workloads.outbound import (
    Outbound,
    OutboundError,
    Reply,
    productpage_forward_headers,
)
from meshrelease.bookinfo.workloads.render import render_index, render_product_page
from meshrelease.bookinfo.workloads.session import (
    SESSION_COOKIE,
    decode_session,
    encode_session,
    session_user,
)

STATIC_DIR = Path(__file__).resolve().parent / "static"
HTML = "text/html"


class ProductPage:
    """The request handlers of one productpage pod."""

    def __init__(self, cfg: PodConfig, outbound: Outbound, timeouts: Timeouts) -> None:
        self.ui = cfg.ui
        self.outbound = outbound
        self.timeouts = timeouts
        self.details_at = service_authority(cfg, "details")
        self.reviews_at = service_authority(cfg, "reviews")
        self.ratings_at = service_authority(cfg, "ratings")
        self.results = RequestResults()

    # -- backend calls ---------------------------------------------------------------------------

    async def _get(self, at: tuple[str, int], path: str, headers: dict[str, str], timeout: float) -> Reply | None:
        try:
            return await self.outbound.get(at[0], at[1], path, headers, timeout)
        except OutboundError:
            return None

    def _outcome(self, app: str, reply: Reply | None, error: str) -> tuple[int, dict[str, Any]]:
        """``(status, json)`` as productpage reports a backend call: the backend's JSON on 200, else the
        backend's status (500 when there was no reply or the body was not a JSON object) and ``error``."""
        if reply is not None and reply.status == 200:
            try:
                data = reply.json()
            except ValueError:
                data = None
            if isinstance(data, dict):
                self.results.inc(app, 200)
                return 200, data
        status = reply.status if reply is not None and reply.status != 200 else 500
        self.results.inc(app, status)
        return status, {"error": error}

    async def fetch_details(self, product_id: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """One attempt with the details timeout (3 s)."""
        reply = await self._get(self.details_at, f"/details/{product_id}", headers, self.timeouts.details)
        return self._outcome("details", reply, catalog.DETAILS_ERROR)

    async def fetch_reviews(self, product_id: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Up to two attempts of 3 s each; a new attempt follows an exception or any non-200 reply. Each
        attempt is a new request, so the sidecar may route it to another subset."""
        reply: Reply | None = None
        for _ in range(self.timeouts.reviews_attempts):
            reply = await self._get(self.reviews_at, f"/reviews/{product_id}", headers, self.timeouts.reviews)
            if reply is not None and reply.status == 200:
                break
        return self._outcome("reviews", reply, catalog.REVIEWS_ERROR)

    async def fetch_ratings(self, product_id: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """One attempt with the ratings timeout (3 s); used by the API route only."""
        reply = await self._get(self.ratings_at, f"/ratings/{product_id}", headers, self.timeouts.ratings)
        return self._outcome("ratings", reply, catalog.RATINGS_ERROR)

    # -- handlers --------------------------------------------------------------------------------

    def _headers(self, request: web.Request) -> tuple[str | None, dict[str, str]]:
        """The session user (None when anonymous, or when the session holds a null user) and the headers
        for backend calls: ``end-user`` is sent whenever the session names a user, even an empty name."""
        user = session_user(request.cookies.get(SESSION_COOKIE))
        return user, productpage_forward_headers(request.headers, user)

    async def index(self, request: web.Request) -> web.Response:
        return web.Response(text=render_index(self.ui), content_type=HTML)

    async def health(self, request: web.Request) -> web.Response:
        return web.Response(text="Product page is healthy")

    async def login(self, request: web.Request) -> web.Response:
        form = await request.post()
        raw = request.query["username"] if "username" in request.query else form.get("username")
        user = raw if isinstance(raw, str) else None
        response = self._redirect_to_referer(request)
        response.set_cookie(SESSION_COOKIE, encode_session({"user": user}), httponly=True, path="/")
        return response

    async def logout(self, request: web.Request) -> web.Response:
        response = self._redirect_to_referer(request)
        if SESSION_COOKIE in request.cookies:
            session = decode_session(request.cookies[SESSION_COOKIE])
            session.pop("user", None)
            if session:
                response.set_cookie(SESSION_COOKIE, encode_session(session), httponly=True, path="/")
            else:
                response.del_cookie(SESSION_COOKIE, path="/")
        return response

    @staticmethod
    def _redirect_to_referer(request: web.Request) -> web.Response:
        # The real app redirects to request.referrer; without a Referer it sends the literal "None".
        location = request.headers.get("Referer") or "None"
        return web.Response(
            status=302,
            headers={"Location": location},
            text=f'<a href="{quote(location, safe=":/?&=#%")}">Redirecting</a>',
            content_type=HTML,
        )

    async def product_page(self, request: web.Request) -> web.Response:
        user, headers = self._headers(request)
        product_id = str(catalog.PRODUCT_ID)
        # Sequential, as in the real app, so a slow details call adds to the page latency.
        details_status, details = await self.fetch_details(product_id, headers)
        reviews_status, reviews = await self.fetch_reviews(product_id, headers)
        html = render_product_page(
            self.ui,
            user=user,
            details=details if details_status == 200 else None,
            reviews=reviews if reviews_status == 200 else None,
        )
        return web.Response(text=html, content_type=HTML)

    async def products(self, request: web.Request) -> web.Response:
        return web.json_response(catalog.products())

    async def product(self, request: web.Request) -> web.Response:
        _, headers = self._headers(request)
        status, body = await self.fetch_details(quote(request.match_info["id"], safe=""), headers)
        return web.json_response(body, status=status)

    async def product_reviews(self, request: web.Request) -> web.Response:
        _, headers = self._headers(request)
        status, body = await self.fetch_reviews(quote(request.match_info["id"], safe=""), headers)
        return web.json_response(body, status=status)

    async def product_ratings(self, request: web.Request) -> web.Response:
        _, headers = self._headers(request)
        status, body = await self.fetch_ratings(quote(request.match_info["id"], safe=""), headers)
        return web.json_response(body, status=status)

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self.results.render().encode(),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )


def build_productpage_app(cfg: PodConfig, outbound: Outbound, timeouts: Timeouts) -> web.Application:
    """The productpage service of one pod (UI generation from ``cfg.ui``)."""
    page = ProductPage(cfg, outbound, timeouts)
    app = web.Application()
    app.router.add_get("/", page.index)
    app.router.add_get("/index.html", page.index)
    app.router.add_get("/health", page.health)
    app.router.add_post("/login", page.login)
    app.router.add_get("/logout", page.logout)
    app.router.add_get("/productpage", page.product_page)
    app.router.add_get("/api/v1/products", page.products)
    app.router.add_get("/api/v1/products/{id}", page.product)
    app.router.add_get("/api/v1/products/{id}/reviews", page.product_reviews)
    app.router.add_get("/api/v1/products/{id}/ratings", page.product_ratings)
    app.router.add_get("/metrics", page.metrics)
    app.router.add_static("/static", STATIC_DIR)
    return app
