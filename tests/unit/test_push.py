"""Delayed pushes (--propagation-delay): parsing, per-proxy order, waiting for idle."""

from __future__ import annotations

import random
import threading
import time

import pytest

from meshrelease.backends.local.dataplane.push import Pusher
from meshrelease.backends.settings import parse_delay
from meshrelease.errors import UserInputError


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0.1..0.5", (0.1, 0.5)), ("50ms..200ms", (0.05, 0.2)), ("0.3", (0.3, 0.3)), ("1s..2s", (1.0, 2.0))],
)
def test_parse_delay(text: str, expected: tuple[float, float]) -> None:
    assert parse_delay(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["fast", "0.5..0.1", "-1..2", "1..x"])
def test_parse_delay_rejects(text: str) -> None:
    with pytest.raises(UserInputError, match="--propagation-delay"):
        parse_delay(text)


def test_writes_run_in_order_per_proxy_and_after_the_delay() -> None:
    pusher = Pusher((0.01, 0.05), random.Random(7))
    done: list[tuple[str, int, float]] = []
    lock = threading.Lock()
    t0 = time.monotonic()
    try:
        for version in range(5):
            for proxy in ("a", "b", "c"):

                def write(p: str = proxy, v: int = version) -> None:
                    with lock:
                        done.append((p, v, time.monotonic() - t0))

                pusher.schedule(proxy, write)
        assert pusher.wait_idle(time.monotonic() + 10) == []
    finally:
        pusher.close()
    assert len(done) == 15
    for proxy in ("a", "b", "c"):
        versions = [v for p, v, _ in done if p == proxy]
        assert versions == sorted(versions), f"updates to {proxy} overtook each other: {versions}"
    assert min(t for _, _, t in done) >= 0.01


def test_wait_idle_reports_pending_at_deadline() -> None:
    pusher = Pusher((5.0, 5.0), random.Random(1))
    try:
        pusher.schedule("slow-proxy", lambda: None)
        assert pusher.wait_idle(time.monotonic() + 0.05) == ["slow-proxy"]
    finally:
        pusher.close()
