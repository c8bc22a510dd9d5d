"""Tests written by hand against the mesh, with meshrelease's pytest fixtures (no scenario file).

Run with `pytest examples/test_bookinfo_by_hand.py` once meshrelease is installed: the plugin brings the
fixtures, and `--backend` (default: local, real Envoy) picks the mesh.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from meshrelease import Backend, BookinfoClient, data_file, load_manifests

MANIFESTS = Path(__file__).parent / "my-release" / "manifests"


@pytest.fixture
def routing(meshrelease_backend: Backend) -> Iterator[Callable[[str], None]]:
    """``routing("file.yaml")`` applies a manifest and waits until every proxy runs it; the routing is
    removed again after the test."""

    def apply(name: str) -> None:
        meshrelease_backend.apply(load_manifests(MANIFESTS / name))
        meshrelease_backend.wait_synced(60)

    yield apply
    meshrelease_backend.reset_routing()


def test_jason_sees_black_stars_and_others_see_none(
    routing: Callable[[str], None], bookinfo_client: Callable[..., BookinfoClient], meshrelease_backend: Backend
) -> None:
    meshrelease_backend.apply(load_manifests(data_file("destination-rule-all.yaml")))  # Bookinfo's subsets
    routing("reviews-jason-v2.yaml")
    jason = bookinfo_client("jason")
    anonymous = bookinfo_client()
    jason_pages = [jason.fetch_page() for _ in range(20)]
    anonymous_pages = [anonymous.fetch_page() for _ in range(20)]
    assert {p.user for p in jason_pages} == {"jason"}
    assert Counter((p.label(), p.stars) for p in jason_pages) == {("v2", "black"): 20}
    assert Counter((p.label(), p.stars) for p in anonymous_pages) == {("v1", "none"): 20}
