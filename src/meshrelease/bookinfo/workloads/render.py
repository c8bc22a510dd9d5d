"""HTML of productpage: the product page in either UI generation and the landing page (Jinja2,
autoescaped)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jinja2
from markupsafe import Markup

from meshrelease.bookinfo.workloads import catalog

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("meshrelease.bookinfo.workloads", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class ReviewView:
    """One review as drawn: ``stars`` full stars (1-5, the rest empty) in ``color``, or the ratings error,
    or neither (v1, or a rating of 0 which draws nothing)."""

    reviewer: str
    text: str
    stars: int = 0
    color: str = ""
    rating_error: str = ""


def review_views(reviews_json: dict[str, Any]) -> list[ReviewView]:
    """The reviews of a reviews-service reply, normalised for the templates."""
    views: list[ReviewView] = []
    entries = reviews_json.get("reviews")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        rating = entry.get("rating")
        stars, color, error = 0, "", ""
        if isinstance(rating, dict):
            raw = rating.get("stars")
            if isinstance(raw, int) and not isinstance(raw, bool):
                stars = max(0, min(5, raw))
                color = str(rating.get("color", ""))
            elif "error" in rating:
                error = str(rating["error"])
        views.append(ReviewView(str(entry.get("reviewer", "")), str(entry.get("text", "")), stars, color, error))
    return views


def render_product_page(
    ui: str,
    *,
    user: str | None,
    details: dict[str, Any] | None,
    reviews: dict[str, Any] | None,
) -> str:
    """The product page. ``details``/``reviews`` are the services' JSON, or None when the call failed
    (the page then shows that section's error heading and message)."""
    template = _ENV.get_template("classic.html" if ui == "classic" else "modern.html")
    return template.render(
        user=user or None,
        product={"title": catalog.PRODUCT_TITLE, "description": Markup(catalog.PRODUCT_DESCRIPTION_HTML)},  # noqa: S704 - our own constant
        details_ok=details is not None,
        details=details or {},
        details_error=catalog.DETAILS_ERROR,
        reviews_ok=reviews is not None,
        reviews=review_views(reviews) if reviews is not None else [],
        podname=str((reviews or {}).get("podname", "")),
        clustername=str((reviews or {}).get("clustername", "null")),
        reviews_error=catalog.REVIEWS_ERROR,
    )


def render_index(ui: str) -> str:
    """The landing page of ``/`` and ``/index.html``."""
    return _ENV.get_template("index.html").render(ui="classic" if ui == "classic" else "modern")
