"""What a real browser showed, judged against the verdicts (no browser runs here: the pages are built)."""

from __future__ import annotations

import pytest

from meshrelease.bookinfo.browser import BrowserPage
from meshrelease.bookinfo.page import PageObservation
from meshrelease.engine.browser_check import colour_name, judge_view, screenshot_name
from meshrelease.engine.results import ExpectationResult
from meshrelease.scenario.model import Expectation, ReviewsExpectation


def page(version: str | None, stars: str = "none", colour: str | None = None, user: str | None = None) -> BrowserPage:
    obs = PageObservation(version=version, pod=f"reviews-{version}-a-b" if version else None, stars=stars, user=user)
    obs.signed_in = user is not None
    obs.status = 200
    return BrowserPage(
        user=user, url="http://127.0.0.1:1/productpage", observation=obs, star_colour=colour, png=b"png", seconds=0.5
    )


def verdict(exp: Expectation, decision: str = "pass") -> ExpectationResult:
    return ExpectationResult(
        description=exp.describe(), user=exp.user, kind="version", expected={}, decision=decision, requests=66
    )


def version(v: str, *, user: str | None = None, stars: str | None = None) -> Expectation:
    return Expectation(line=1, user=user, reviews=ReviewsExpectation(kind="version", version=v), stars=stars)


def split(weights: dict[str, float]) -> Expectation:
    return Expectation(line=1, reviews=ReviewsExpectation(kind="split", weights=weights))


def test_a_page_the_verdict_allows_agrees() -> None:
    exp = version("v3", user="jason", stars="red")
    view = judge_view(page("v3", "red", "rgb(239, 68, 68)", "jason"), [(exp, verdict(exp))], screenshot="s.png")
    assert view.agrees and view.problems == []
    assert (view.label, view.stars, view.signed_in_as, view.screenshot, view.png) == (
        "v3",
        "red",
        "jason",
        "s.png",
        b"png",
    )


def test_another_version_than_the_verdict_passed_disagrees_naming_both_views() -> None:
    exp = version("v3", user="jason")
    view = judge_view(page("v2", "black", "rgb(17, 17, 17)", "jason"), [(exp, verdict(exp))], screenshot="")
    assert not view.agrees
    assert view.problems == [
        "the browser saw reviews v2 (pod reviews-v2-a-b); the verdict passed 'jason: reviews v3' over 66 pages (v3)"
    ]


def test_a_split_allows_each_version_with_a_positive_weight_only() -> None:
    exp = split({"v2": 100, "v3": 0})
    assert judge_view(page("v2", "black", "rgb(0, 0, 0)"), [(exp, verdict(exp))], screenshot="").agrees
    view = judge_view(page("v3", "red", "rgb(255, 0, 0)"), [(exp, verdict(exp))], screenshot="")
    assert not view.agrees and "(v2)" in view.problems[0]


def test_star_colour_as_drawn_and_the_signed_in_user_are_checked() -> None:
    exp = version("v2", stars="black")
    wrong_colour = judge_view(page("v2", "black", "rgb(239, 68, 68)"), [(exp, verdict(exp))], screenshot="")
    assert not wrong_colour.agrees
    assert "the page shows reviews v2 but the browser drew its stars red" in wrong_colour.problems
    assert any("the browser drew the stars red" in p for p in wrong_colour.problems)
    jason = version("v2", user="jason")
    not_signed_in_user = judge_view(  # the browser tried to sign in as jason but the page shows nobody
        BrowserPage("jason", "u", page("v2", "black", "rgb(0, 0, 0)").observation, "rgb(0, 0, 0)", b"", 0.1),
        [(jason, verdict(jason))],
        screenshot="",
    )
    assert "the page shows nobody signed in, not jason" in not_signed_in_user.problems


def test_a_failed_verdict_is_not_compared_again() -> None:
    exp = version("v1")
    view = judge_view(page("v2", "black", "rgb(0, 0, 0)"), [(exp, verdict(exp, "fail"))], screenshot="")
    assert view.agrees  # the step fails on the verdict already; the view is only shown


@pytest.mark.parametrize(
    ("css", "name"),
    [
        ("rgb(17, 17, 17)", "black"),
        ("rgb(0, 0, 0)", "black"),
        ("rgb(239, 68, 68)", "red"),
        ("rgba(255, 0, 0, 1)", "red"),
        ("rgb(30, 100, 200)", "rgb(30, 100, 200)"),
        (None, None),
    ],
)
def test_colour_names(css: str | None, name: str | None) -> None:
    assert colour_name(css) == name


def test_screenshot_names_are_file_names() -> None:
    assert (
        screenshot_name("asm release", "header/canary", None) == "screenshots/asm_release--header_canary--anonymous.png"
    )
    assert screenshot_name("a", "b", "jason") == "screenshots/a--b--jason.png"
