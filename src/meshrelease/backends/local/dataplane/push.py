"""Delayed configuration pushes: eventual consistency on demand.

With ``--propagation-delay MIN..MAX`` every proxy receives each update after its own random delay, as
proxies of a real mesh do after istiod's debounce and push queue. Updates to one proxy stay in order; a
newer update never overtakes an older one.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable


class Pusher:
    """Runs each proxy's config write after a random delay, in order per proxy, on one background thread."""

    def __init__(self, delay: tuple[float, float], rng: random.Random) -> None:
        self.delay = delay
        self._rng = rng
        self._cond = threading.Condition()
        self._queue: list[tuple[float, int, str, Callable[[], object]]] = []
        self._last_due: dict[str, float] = {}
        self._seq = 0
        self._busy = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="meshrelease-pusher", daemon=True)
        self._thread.start()

    def schedule(self, proxy_id: str, write: Callable[[], object]) -> None:
        with self._cond:
            due = time.monotonic() + self._rng.uniform(*self.delay)
            due = max(due, self._last_due.get(proxy_id, 0.0))  # keep per-proxy order
            self._last_due[proxy_id] = due
            self._seq += 1
            self._queue.append((due, self._seq, proxy_id, write))
            self._queue.sort()
            self._cond.notify_all()

    def pending(self) -> list[str]:
        with self._cond:
            return [q[2] for q in self._queue]

    def wait_idle(self, deadline: float) -> list[str]:
        """Wait until every scheduled write ran; returns the proxies still pending at the deadline."""
        with self._cond:
            while self._queue or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return [q[2] for q in self._queue]
                self._cond.wait(timeout=remaining)
            return []

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (not self._queue or self._queue[0][0] > time.monotonic()):
                    timeout = None if not self._queue else max(0.0, self._queue[0][0] - time.monotonic())
                    self._cond.wait(timeout=timeout)
                if self._closed:
                    return
                _, _, _, write = self._queue.pop(0)
                self._busy = True
            try:
                write()
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._cond.notify_all()
        self._thread.join(timeout=5)
