"""Contract-test fixtures: fake kind, kubectl, istioctl and docker on PATH, and a local "gateway".

``fake_world`` puts wrappers named like the real tools in a fresh bin directory (PATH is that directory
only), each running the fake under this interpreter; the fakes share a JSON world and log every argv.
``bookinfo_gateway`` serves productpage pages rendered by meshrelease's Bookinfo templates on 127.0.0.1,
rotating reviews v1/v2/v3, as the real gateway does with no VirtualService for reviews.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from kube_world import World, enter_world, modern_page


@pytest.fixture
def fake_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    """All four fake tools on a PATH that holds nothing else; a fresh world."""
    return enter_world(tmp_path, monkeypatch)


@pytest.fixture
def bookinfo_gateway(httpserver: Any) -> Any:
    """productpage on 127.0.0.1 answering v1, v2, v3, v1, … (``httpserver.port`` is its port)."""
    from werkzeug import Request, Response

    pages = itertools.cycle([modern_page(v) for v in ("v1", "v2", "v3")])

    def handler(request: Request) -> Response:
        return Response(next(pages), content_type="text/html; charset=utf-8")

    httpserver.expect_request("/productpage").respond_with_handler(handler)
    return httpserver
