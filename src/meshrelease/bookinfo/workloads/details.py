"""details: ``GET /details/<id>`` with the book's details, ``GET /health``."""

from __future__ import annotations

import re

from aiohttp import web

from meshrelease.bookinfo.workloads import catalog
from meshrelease.bookinfo.workloads.config import PodConfig

_INTEGER = re.compile(r"\s*[+-]?\d+\s*")


def build_details_app(cfg: PodConfig) -> web.Application:
    """The details service; ``SERVICE_VERSION=v2`` (or ENABLE_EXTERNAL_BOOK_SERVICE=true) answers with the
    external edition's data."""
    external = cfg.getenv("SERVICE_VERSION") == "v2" or cfg.getenv("ENABLE_EXTERNAL_BOOK_SERVICE").lower() == "true"

    async def details(request: web.Request) -> web.Response:
        raw = request.match_info["id"]
        if not _INTEGER.fullmatch(raw):
            return web.json_response({"error": "please provide numeric product id"}, status=400)
        product_id = int(raw)
        data = catalog.external_book_details(product_id) if external else catalog.book_details(product_id)
        return web.json_response(data)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "Details is healthy"})

    app = web.Application()
    app.router.add_get("/details/{id}", details)
    app.router.add_get("/health", health)
    return app
