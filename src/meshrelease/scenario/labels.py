"""Labelling a page against an expectation: what one productpage says about it.

A label is the reviews version the page shows (or ``"ok"`` for an expectation without ``reviews``) when every
per-page check of the expectation holds, otherwise a description of the first violation, which the verdicts
count as a foreign label.
"""

from __future__ import annotations

from typing import Protocol

from meshrelease.bookinfo.page import PageObservation
from meshrelease.scenario.model import Expectation

OK_LABEL = "ok"
NO_VERSION = "no version shown"

# Envoy runs its timers (a fault delay, a timeout) on the event loop's cached clock with millisecond
# resolution, so an injected 2 s delay can complete a few milliseconds early on the client's clock
# (1.995 s was seen). A lower latency bound allows this much; a real miss (no delay at all) is far below.
LATENCY_MIN_SLACK = 0.05


class PageSample(Protocol):
    """One fetched page: what was read from it, and its HTML when the expectation needs the text."""

    @property
    def observation(self) -> PageObservation: ...

    @property
    def html(self) -> str | None: ...


def expected_set(exp: Expectation) -> tuple[str, dict[str, float]]:
    """(kind, expected label -> weight)."""
    rev = exp.reviews
    if rev is None:
        return "page", {OK_LABEL: 1.0}
    if rev.kind == "version":
        assert rev.version is not None
        return "version", {rev.version: 1.0}
    if rev.kind == "split":
        return "split", dict(rev.weights)
    return "spread", {v: 1.0 for v in rev.versions}


def label_page(exp: Expectation, sample: PageSample) -> str:
    """What one page says about ``exp``: the reviews version (or "ok") when every per-page check holds,
    otherwise a description of the first violation (which the verdict counts as a foreign label)."""
    obs = sample.observation
    if obs.status != exp.status:
        if obs.status is None:
            return f"fetch error: {obs.error or 'unknown'}"[:120]
        return f"status {obs.status}"
    if exp.status != 200:
        return OK_LABEL if exp.reviews is None else (obs.label() or NO_VERSION)
    if obs.error:
        return f"fetch error: {obs.error}"[:120]
    if exp.user is not None and obs.user != exp.user:
        # The page was not rendered for the expected user, so its routing proves nothing about that user.
        return f"not signed in as {exp.user} (page shows {obs.user or 'nobody'})"
    violations: list[str] = []
    if exp.stars is not None and obs.stars != exp.stars:
        violations.append(f"stars {obs.stars}")
    if exp.ratings is not None and (obs.ratings_error != (exp.ratings == "unavailable")):
        violations.append("ratings unavailable" if obs.ratings_error else "ratings shown")
    if exp.details is not None and (obs.details_error != (exp.details == "unavailable")):
        violations.append("details unavailable" if obs.details_error else "details shown")
    html = sample.html or ""
    violations += [f"missing {text!r}" for text in exp.contains if text not in html]
    violations += [f"contains {text!r}" for text in exp.not_contains if text in html]
    elapsed = obs.elapsed or 0.0
    if exp.latency_min is not None and elapsed < exp.latency_min - LATENCY_MIN_SLACK:
        violations.append(f"latency {elapsed:.2f}s < {exp.latency_min:g}s")
    if exp.latency_max is not None and elapsed > exp.latency_max:
        violations.append(f"latency {elapsed:.2f}s > {exp.latency_max:g}s")
    if violations:
        return "; ".join(violations)
    if exp.reviews is None:
        return OK_LABEL
    return obs.label() or NO_VERSION
