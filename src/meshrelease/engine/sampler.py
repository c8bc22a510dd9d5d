"""Concurrent page sampling for the verdicts.

A :class:`PageSampler` keeps a number of productpage requests in flight, one
:class:`~meshrelease.bookinfo.client.BookinfoClient` (its own ``requests.Session``, signed in when a user is
given) per worker thread, and hands completed observations out in completion order. Each observation is
stamped with the monotonic time its request started, so a phase can ignore pages requested before it began.
When pages are slow (a fault-injection delay), all ``max_concurrency`` workers are started at once so a sample
of a given size takes about one page latency; the verdict sees independent draws either way.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from meshrelease.bookinfo.client import BookinfoClient
from meshrelease.bookinfo.page import PageObservation
from meshrelease.errors import MeshReleaseError


@dataclass(frozen=True)
class Sample:
    observation: PageObservation
    started: float  # time.monotonic() when the request was sent
    html: str | None


ClientFactory = Callable[[], BookinfoClient]


class PageSampler:
    """Background workers fetching pages; ``next(timeout)`` returns the next completed one."""

    def __init__(
        self,
        client_factory: ClientFactory,
        *,
        concurrency: int = 8,
        max_concurrency: int = 96,
        slow_page: float = 0.5,
        keep_html: bool = False,
    ) -> None:
        self._factory = client_factory
        self._initial = max(1, concurrency)
        self._max = max(self._initial, max_concurrency)
        self._slow = slow_page
        self._keep_html = keep_html
        self._queue: queue.Queue[Sample | BaseException] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._elapsed_sum = 0.0
        self._elapsed_n = 0
        self._last_progress = time.monotonic()
        self.fetch_timeout = 15.0

    def __enter__(self) -> PageSampler:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def start(self) -> None:
        for _ in range(self._initial):
            self._spawn()

    def _spawn(self) -> None:
        t = threading.Thread(target=self._work, name=f"meshrelease-sampler-{len(self._threads)}", daemon=True)
        self._threads.append(t)
        t.start()

    def _work(self) -> None:
        try:
            client = self._factory()
        except BaseException as exc:  # sign-in failure etc.: surface it to the caller
            self._queue.put(exc)
            return
        self.fetch_timeout = client.timeout
        with client:
            while not self._stop.is_set():
                started = time.monotonic()
                obs = client.fetch_page()
                html = obs.body if self._keep_html else None
                if not self._keep_html:
                    obs.body = None  # pages are kept for the report; their HTML only when a check reads it
                if self._stop.is_set():
                    break
                self._queue.put(Sample(obs, started, html))
                self._note_elapsed(obs.elapsed if obs.elapsed is not None else time.monotonic() - started)

    def _note_elapsed(self, elapsed: float) -> None:
        with self._lock:
            self._elapsed_sum += elapsed
            self._elapsed_n += 1
            self._last_progress = time.monotonic()
            if self._elapsed_sum / self._elapsed_n > self._slow:
                self._scale_up()

    def _scale_up(self) -> None:
        # Slow pages: all the workers at once, so the settle window and the decision's pages (requested after
        # it) come from one wave of page latency instead of several.
        if self._stop.is_set() or len(self._threads) >= self._max:
            return
        for _ in range(self._max - len(self._threads)):
            self._spawn()
        self._last_progress = time.monotonic()

    def next(self, timeout: float) -> Sample:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise MeshReleaseError(
                    f"no page completed within {timeout:g} s ({len(self._threads)} requests in flight)"
                )
            try:
                item = self._queue.get(timeout=min(remaining, self._slow / 2))
                break
            except queue.Empty:
                with self._lock:
                    # Nothing completed for a while: pages are slow, so do not wait for them to say so.
                    if time.monotonic() - self._last_progress > self._slow:
                        self._scale_up()
        if isinstance(item, BaseException):
            raise item
        return item

    @property
    def workers(self) -> int:
        return len(self._threads)

    def close(self, wait: float = 1.0) -> None:
        """Stop the workers. Requests still in flight are dropped: their threads are joined for up to ``wait``
        seconds, and any still waiting on a slow page (a fault delay) finish on their own, bounded by the
        client's read timeout, instead of holding up the next check."""
        self._stop.set()
        deadline = time.monotonic() + wait
        for t in self._threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
