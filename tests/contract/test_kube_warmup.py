"""The warm-up loop on its own: counts, bounds and what a timeout reports (no tools, no network)."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from meshrelease.backends.kube.warmup import warm_up
from meshrelease.errors import WaitTimeout


class ScriptedFetcher:
    """Answers the given (version, error) pairs in order, then repeats the last one."""

    def __init__(self, answers: list[tuple[str | None, str | None]]) -> None:
        self.answers: Iterator[tuple[str | None, str | None]] = iter(answers)
        self.last = answers[-1]
        self.fetched = 0

    def fetch_page(self, path: str = "/productpage") -> Any:
        self.fetched += 1
        self.last = next(self.answers, self.last)
        return SimpleNamespace(version=self.last[0], error=self.last[1])

    def close(self) -> None:
        pass


def test_stops_as_soon_as_every_version_answered_counting_errors_on_the_way() -> None:
    fetcher = ScriptedFetcher([(None, "connection refused"), ("v1", None), ("v1", None), ("v3", None), ("v2", None)])
    seen = warm_up(fetcher, url="http://gw", timeout=30, interval=0.0)
    assert dict(seen) == {"error": 1, "v1": 2, "v3": 1, "v2": 1}
    assert fetcher.fetched == 5


def test_with_no_versions_asked_one_good_page_is_enough() -> None:
    fetcher = ScriptedFetcher([(None, "HTTP 503 from gateway: no healthy upstream"), ("v1", None)])
    seen = warm_up(fetcher, url="http://gw", versions=(), timeout=30, interval=0.0)
    assert dict(seen) == {"error": 1, "v1": 1}


def test_gives_up_after_max_requests_and_reports_what_it_saw() -> None:
    fetcher = ScriptedFetcher([(None, "read timeout after 15 s"), ("v1", None)])
    with pytest.raises(WaitTimeout) as err:
        warm_up(fetcher, url="http://gw", versions=("v1", "v2"), timeout=60, interval=0.0, max_requests=6)
    assert fetcher.fetched == 6
    message = str(err.value)
    assert "every reviews version (v1, v2) to answer through http://gw" in message
    assert "last seen: v1: 5, v2: 0; error: 1 (last error: read timeout after 15 s)" in message


def test_gives_up_at_the_deadline() -> None:
    fetcher = ScriptedFetcher([(None, "connection refused")])
    expected = (
        r"timed out after 0\.05 s waiting .*last seen: v1: 0, v2: 0, v3: 0; error: \d+ "
        r"\(last error: connection refused\)"
    )
    with pytest.raises(WaitTimeout, match=expected):
        warm_up(fetcher, url="http://gw", timeout=0.05, interval=0.01)
    assert 1 <= fetcher.fetched < 5000
