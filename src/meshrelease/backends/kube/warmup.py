"""Warming Bookinfo up through the ingress gateway until every reviews version has answered.

Bookinfo has no readiness probes and reviews (Liberty) starts slowly, so ``kubectl rollout status`` can
succeed before the pages do (docs/bookinfo-contract.md §8). With no VirtualService for reviews, Istio's default
load balancing spreads pages over v1, v2 and v3; the warm-up polls productpage until each has been seen,
bounded in time and in requests, and reports the counts it saw when it gives up.
"""

from __future__ import annotations

import importlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Protocol, cast

from meshrelease.errors import MeshReleaseError, WaitTimeout


class Observation(Protocol):
    """The part of :class:`meshrelease.bookinfo.page.PageObservation` the warm-up reads."""

    version: str | None
    error: str | None


class PageFetcher(Protocol):
    """The part of :class:`meshrelease.bookinfo.client.BookinfoClient` the warm-up uses."""

    def fetch_page(self, path: str = "/productpage") -> Observation: ...

    def close(self) -> None: ...


ClientFactory = Callable[[str], PageFetcher]


def bookinfo_client(base_url: str) -> PageFetcher:
    """The harness's own page client (:class:`meshrelease.bookinfo.client.BookinfoClient`)."""
    try:
        module = importlib.import_module("meshrelease.bookinfo.client")
    except ImportError as exc:
        raise MeshReleaseError(f"the Bookinfo page client is not available: {exc}") from None
    return cast(PageFetcher, module.BookinfoClient(base_url))


def warm_up(
    fetcher: PageFetcher,
    *,
    url: str,
    versions: Sequence[str] = ("v1", "v2", "v3"),
    timeout: float = 300.0,
    interval: float = 0.5,
    max_requests: int = 5000,
    hint: str | None = None,
) -> Counter[str]:
    """Fetch productpage until every one of ``versions`` has answered (with none asked: one good page).

    Returns the counts seen; raises WaitTimeout with them (and the last error) when time or requests run
    out."""
    seen: Counter[str] = Counter()
    last_error = ""
    deadline = time.monotonic() + timeout
    wanted = set(versions)
    for _ in range(max_requests):
        observation = fetcher.fetch_page()
        if observation.error:
            seen["error"] += 1
            last_error = observation.error
        elif observation.version:
            seen[observation.version] += 1
        else:
            seen["no version shown"] += 1
        answered = {v for v in wanted if seen[v]}
        if answered == wanted and (wanted or seen.total() > seen["error"]):
            return seen
        if time.monotonic() >= deadline:
            break
        if observation.error:
            time.sleep(interval)  # the gateway or a pod is not up yet: do not hammer it
    counts = ", ".join(f"{v}: {seen[v]}" for v in sorted(wanted)) or "pages without error: 0"
    extra = ", ".join(f"{k}: {n}" for k, n in sorted(seen.items()) if k not in wanted)
    state = f"{counts}{'; ' + extra if extra else ''}{f' (last error: {last_error})' if last_error else ''}"
    raise WaitTimeout(
        f"every reviews version ({', '.join(sorted(wanted))}) to answer through {url}"
        if wanted
        else f"productpage to answer through {url}",
        timeout,
        state,
        hint=hint,
    )
