"""reviews: ``GET /reviews/<id>`` (two reviews; v2/v3 add each reviewer's rating from ratings) and
``GET /health``. The version is chosen by env only: ENABLE_RATINGS and STAR_COLOR."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from meshrelease.bookinfo.workloads import catalog
from meshrelease.bookinfo.workloads.config import PodConfig, Timeouts, service_authority
from meshrelease.bookinfo.workloads.outbound import Outbound, OutboundError, reviews_forward_headers

_INTEGER = re.compile(r"-?\d+")


def _stars(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def build_reviews_app(cfg: PodConfig, outbound: Outbound, timeouts: Timeouts) -> web.Application:
    """The reviews service configured by the pod's env (see :func:`config.default_env`)."""
    ratings_enabled = cfg.getenv("ENABLE_RATINGS", "false").strip().lower() == "true"
    star_color = cfg.getenv("STAR_COLOR") or "black"
    podname = cfg.getenv("HOSTNAME")
    cluster_name = cfg.env.get("CLUSTER_NAME", "null")  # the Java app prints a missing value as "null"
    ratings_host, ratings_port = service_authority(cfg, "ratings")
    ratings_timeout = timeouts.ratings_black if star_color == "black" else timeouts.ratings_other

    async def fetch_ratings(product_id: int, request: web.Request) -> dict[str, int]:
        """Stars by reviewer; a reviewer is missing when ratings failed or did not rate them."""
        try:
            reply = await outbound.get(
                ratings_host,
                ratings_port,
                f"/ratings/{product_id}",
                reviews_forward_headers(request.headers),
                ratings_timeout,
            )
            if reply.status != 200:
                return {}
            ratings = reply.json().get("ratings")
        except (OutboundError, ValueError, AttributeError):
            return {}
        if not isinstance(ratings, dict):
            return {}
        found = {name: _stars(ratings.get(name)) for name in catalog.REVIEWERS}
        return {name: stars for name, stars in found.items() if stars is not None}

    async def reviews(request: web.Request) -> web.Response:
        raw = request.match_info["id"]
        if not _INTEGER.fullmatch(raw):
            # JAX-RS answers 404 when an int path parameter does not convert.
            return web.Response(status=404, text="Not Found")
        product_id = int(raw)
        entries: list[dict[str, Any]] = [
            {"reviewer": name, "text": catalog.REVIEW_TEXTS[name]} for name in catalog.REVIEWERS
        ]
        if ratings_enabled:
            stars = await fetch_ratings(product_id, request)
            for entry in entries:
                count = stars.get(entry["reviewer"])
                entry["rating"] = (
                    {"stars": count, "color": star_color}
                    if count is not None
                    else {"error": catalog.RATINGS_UNAVAILABLE}
                )
        body = {"id": str(product_id), "podname": podname, "clustername": cluster_name, "reviews": entries}
        return web.json_response(body)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "Reviews is healthy"})

    app = web.Application()
    app.router.add_get("/reviews/{id}", reviews)
    app.router.add_get("/health", health)
    return app
