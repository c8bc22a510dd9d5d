"""Does what a real browser showed a user agree with the verdicts on that user's expectations? (``--browser``)

A verdict says an expectation held over hundreds of pages; the browser shows one page, signed in by clicking
"Sign in" as a person does. That page must be one the verdict allows: its reviews version in the expected set
(a version with a positive weight, for a split), the stars and the colour the browser drew them in as
expected, and the signed-in user the expectation's user. Only passed expectations are compared: a failed one
fails the step already. Nothing here imports the browser module; a :class:`BrowserPage` is only read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from meshrelease.bookinfo.page import STAR_COLOURS
from meshrelease.engine.results import BrowserView, ExpectationResult
from meshrelease.scenario.labels import expected_set
from meshrelease.scenario.model import Expectation

if TYPE_CHECKING:
    from meshrelease.bookinfo.browser import BrowserPage

_RGB = re.compile(r"^rgba?\((\d+),\s*(\d+),\s*(\d+)")
_SLUG = re.compile(r"[^A-Za-z0-9_.-]+")


def colour_name(css: str | None) -> str | None:
    """The name of a star colour as the browser computed it (``rgb(239, 68, 68)`` -> red, a near-black ->
    black); another colour stays as written, None when nothing was drawn."""
    if css is None:
        return None
    m = _RGB.match(css.strip())
    if m is None:
        return css
    r, g, b = (int(x) for x in m.groups())
    if max(r, g, b) < 80:
        return "black"
    if r > 180 and g < 110 and b < 110:
        return "red"
    return css


def screenshot_name(scenario: str, step: str, user: str | None) -> str:
    """The screenshot's file in the report directory."""
    who = user if user is not None else "anonymous"
    return "screenshots/" + "--".join(_SLUG.sub("_", part) for part in (scenario, step, who)) + ".png"


def judge_view(
    page: BrowserPage, checks: Sequence[tuple[Expectation, ExpectationResult]], *, screenshot: str
) -> BrowserView:
    """The browser's view of one user as results.json records it, with every disagreement with a passed
    verdict of that user's expectations (``checks``) in ``problems``, each naming both views."""
    obs = page.observation
    label = obs.label()
    drawn = colour_name(page.star_colour)
    view = BrowserView(
        user=page.user,
        url=page.url,
        label=label,
        pod=obs.pod,
        stars=obs.stars,
        star_colour=page.star_colour,
        signed_in_as=obs.user,
        ui=obs.ui,
        actions=list(page.actions),
        screenshot=screenshot,
        seconds=page.seconds,
        png=page.png,
    )
    problems: list[str] = []
    if obs.error is not None:
        problems.append(f"the browser could not show the page: {obs.error}")
    if obs.user != page.user:
        problems.append(f"the page shows {obs.user or 'nobody'} signed in, not {page.user or 'nobody (anonymous)'}")
    if label in STAR_COLOURS and obs.stars != "none" and drawn is not None and drawn != STAR_COLOURS[label]:
        problems.append(f"the page shows reviews {label} but the browser drew its stars {drawn}")
    for exp, res in checks:
        if not res.passed:
            continue
        verdict = f"the verdict passed {res.description!r} over {res.requests} pages"
        kind, expected = expected_set(exp)
        allowed = sorted(k for k, w in expected.items() if w > 0)
        if kind != "page" and label not in allowed:
            seen = f"the browser saw reviews {label or 'none'} (pod {obs.pod})"
            problems.append(f"{seen}; {verdict} ({', '.join(allowed)})")
        if exp.stars is not None:
            if obs.stars != exp.stars:
                problems.append(f"the browser saw stars {obs.stars}; {verdict} (stars {exp.stars})")
            elif exp.stars != "none" and drawn != exp.stars:
                problems.append(f"the browser drew the stars {drawn}; {verdict} (stars {exp.stars})")
    view.problems = problems
    view.agrees = not problems
    return view
