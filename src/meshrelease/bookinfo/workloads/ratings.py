"""ratings: ``GET``/``POST /ratings/<id>`` and ``GET /health``.

v1 keeps posted ratings in memory, per pod. ``v2`` would read a database; the local workload serves the
database's seed rows (5 and 4) and, like the real v2, refuses POST with 501. ``v-faulty`` fails half of the
GETs with 503 and ``v-delayed`` delays half of them by 7 s (scaled by MESHRELEASE_TIMEOUT_SCALE)."""

from __future__ import annotations

import asyncio
import json
import random
import re
from typing import Any

from aiohttp import web

from meshrelease.bookinfo.workloads import catalog
from meshrelease.bookinfo.workloads.config import PodConfig, Timeouts

_LEADING_INTEGER = re.compile(r"\s*([+-]?\d+)")  # how parseInt() reads an id: "12abc" is 12
_DELAYED_SECONDS = 7.0


def _parse_product_id(raw: str) -> int | None:
    match = _LEADING_INTEGER.match(raw)
    return int(match.group(1)) if match else None


def build_ratings_app(cfg: PodConfig, timeouts: Timeouts) -> web.Application:
    """The ratings service of ``SERVICE_VERSION`` (default v1)."""
    version = cfg.getenv("SERVICE_VERSION", "v1") or "v1"
    delay = _DELAYED_SECONDS * timeouts.scale
    stored: dict[int, Any] = {}

    def bad_id() -> web.Response:
        return web.json_response({"error": "please provide numeric product ID"}, status=400)

    async def get_ratings(request: web.Request) -> web.Response:
        product_id = _parse_product_id(request.match_info["id"])
        if product_id is None:
            return bad_id()
        if version == "v-faulty" and random.random() < 0.5:
            return web.json_response({"error": "Service unavailable"}, status=503)
        if version == "v-delayed" and random.random() < 0.5:
            await asyncio.sleep(delay)
        ratings = stored.get(product_id, catalog.DEFAULT_RATINGS)
        return web.json_response({"id": product_id, "ratings": ratings})

    async def post_ratings(request: web.Request) -> web.Response:
        product_id = _parse_product_id(request.match_info["id"])
        if product_id is None:
            return bad_id()
        if version == "v2":
            return web.json_response({"error": "Post not implemented for database backed ratings"}, status=501)
        try:
            ratings = json.loads(await request.read())
        except ValueError:
            return web.json_response({"error": "please provide valid ratings JSON"}, status=400)
        stored[product_id] = ratings
        return web.json_response({"id": product_id, "ratings": ratings})

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "Ratings is healthy"})

    app = web.Application()
    app.router.add_get("/ratings/{id}", get_ratings)
    app.router.add_post("/ratings/{id}", post_ratings)
    app.router.add_get("/health", health)
    return app
