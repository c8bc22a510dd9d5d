"""How one sampled page is labelled for an expectation (the input of every verdict)."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshrelease.bookinfo.page import PageObservation, parse_page
from meshrelease.engine.sampler import Sample
from meshrelease.scenario.labels import expected_set, label_page
from meshrelease.scenario.model import Expectation, ReviewsExpectation

PAGES = Path(__file__).resolve().parents[1] / "data" / "pages"


def sample(name: str, *, status: int = 200, elapsed: float = 0.05, user: str | None = None) -> Sample:
    html = (PAGES / name).read_text()
    obs = parse_page(html)
    obs.status, obs.elapsed = status, elapsed
    return Sample(obs, started=0.0, html=html)


def exp(**kw: object) -> Expectation:
    return Expectation(line=1, **kw)  # type: ignore[arg-type]


V2 = ReviewsExpectation(kind="version", version="v2")


def test_version_stars_and_user() -> None:
    assert label_page(exp(reviews=V2), sample("modern-v2-anonymous.html")) == "v2"
    assert label_page(exp(reviews=V2, stars="red"), sample("modern-v2-anonymous.html")) == "stars black"
    assert label_page(exp(user="jason", reviews=V2), sample("modern-v2-signed-in-jason.html")) == "v2"
    # A page not rendered for the expected user proves nothing about that user's routing.
    assert label_page(exp(user="jason", reviews=V2), sample("modern-v2-anonymous.html")) == (
        "not signed in as jason (page shows nobody)"
    )


def test_errors_ratings_details_and_text() -> None:
    assert (
        label_page(
            exp(reviews=ReviewsExpectation(kind="version", version="unavailable")), sample("modern-reviews-error.html")
        )
        == "unavailable"
    )
    assert label_page(exp(ratings="unavailable"), sample("modern-v3-ratings-error.html")) == "ok"
    assert label_page(exp(ratings="shown"), sample("modern-v3-ratings-error.html")) == "ratings unavailable"
    assert label_page(exp(details="shown"), sample("classic-details-error.html")) == "details unavailable"
    assert label_page(exp(contains=("Book Reviews",)), sample("modern-v1-anonymous.html")) == "ok"
    assert (
        label_page(exp(not_contains=("Book Reviews",)), sample("modern-v1-anonymous.html")) == "contains 'Book Reviews'"
    )


def test_latency_and_status() -> None:
    slow = sample("modern-v1-anonymous.html", elapsed=6.2)
    assert label_page(exp(latency_min=5.0, latency_max=9.0), slow) == "ok"
    assert label_page(exp(latency_max=3.0), slow) == "latency 6.20s > 3s"
    # An injected 2 s delay that Envoy's millisecond timers end a few ms early still meets "min: 2s" ...
    assert label_page(exp(latency_min=2.0), sample("modern-v1-anonymous.html", elapsed=1.995)) == "ok"
    # ... while a page that was not delayed at all does not.
    assert label_page(exp(latency_min=2.0), sample("modern-v1-anonymous.html", elapsed=1.9)) == "latency 1.90s < 2s"
    failed = Sample(PageObservation(status=503, error="HTTP 503 from gateway: no healthy upstream"), 0.0, None)
    assert label_page(exp(reviews=V2), failed) == "status 503"
    assert label_page(exp(status=503), failed) == "ok"
    refused = Sample(PageObservation(error="connection refused"), 0.0, None)
    assert label_page(exp(reviews=V2), refused) == "fetch error: connection refused"


@pytest.mark.parametrize(
    ("reviews", "kind", "expected"),
    [
        (None, "page", {"ok": 1.0}),
        (V2, "version", {"v2": 1.0}),
        (ReviewsExpectation(kind="split", weights={"v2": 50, "v3": 50}), "split", {"v2": 50, "v3": 50}),
        (ReviewsExpectation(kind="spread", versions=("v1", "v2")), "spread", {"v1": 1.0, "v2": 1.0}),
    ],
)
def test_expected_set(reviews: ReviewsExpectation | None, kind: str, expected: dict[str, float]) -> None:
    assert expected_set(exp(reviews=reviews)) == (kind, expected)
