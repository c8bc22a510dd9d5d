"""A WorkloadHost on its own event-loop thread with a synchronous API, for synchronous callers (tests,
tools, a synchronous mesh runtime that wants the pods in-process)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

from meshrelease.bookinfo.workloads.config import PodConfig
from meshrelease.bookinfo.workloads.host import RunningPod, WorkloadHost
from meshrelease.errors import WaitTimeout

T = TypeVar("T")


class ThreadedWorkloadHost:
    """Runs an event loop in a daemon thread and a :class:`WorkloadHost` on it.

    :meth:`run` executes any coroutine on that loop (e.g. to start a helper server next to the pods).
    Use it as a context manager or call :meth:`close`; closing stops every pod and the thread."""

    def __init__(self, *, call_timeout: float = 30.0) -> None:
        self.call_timeout = call_timeout
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="workload-host-loop", daemon=True)
        self._thread.start()
        self.host: WorkloadHost = self.run(self._make_host())

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @staticmethod
    async def _make_host() -> WorkloadHost:
        return WorkloadHost()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the host's loop and return its result (raises WaitTimeout after ``timeout``)."""
        limit = self.call_timeout if timeout is None else timeout
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout=limit)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise WaitTimeout(
                f"{getattr(coro, '__qualname__', 'a coroutine')} on the workload loop",
                limit,
                f"still running; pods: {sorted(self.host.pods) if hasattr(self, 'host') else []}",
            ) from None

    def start_pod(self, cfg: PodConfig) -> RunningPod:
        """Start a pod and return it once it listens."""
        return self.run(self.host.start(cfg))

    def stop_pod(self, name: str) -> None:
        """Stop the pod ``name``."""
        self.run(self.host.stop(name))

    def close(self, timeout: float = 10.0) -> None:
        """Stop every pod, then the loop and its thread."""
        if self.loop.is_closed():
            return
        try:
            self.run(self.host.close(), timeout=timeout)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=timeout)
            if not self._thread.is_alive():
                self.loop.close()

    def __enter__(self) -> ThreadedWorkloadHost:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
