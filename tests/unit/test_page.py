"""meshrelease.bookinfo.page against pages written from docs/bookinfo-contract.md §5 (tests/data/pages)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from meshrelease.bookinfo.page import (
    DETAILS_ERROR,
    RATINGS_ERROR,
    REVIEWS_ERROR,
    PageObservation,
    parse_page,
    parse_reviews_json,
)

PAGES = Path(__file__).resolve().parents[1] / "data" / "pages"
POD1 = "reviews-v1-5b7d8c9f6-2xk7q"
POD2 = "reviews-v2-7f8c9d6b5-x2k4q"
POD3 = "reviews-v3-6c4d5f8b9-pl9zt"


def page(name: str) -> str:
    return (PAGES / f"{name}.html").read_text(encoding="utf-8")


# Every parsed field, per fixture. Defaults are overridden per row to keep the table readable.
BASE: dict[str, Any] = {
    "version": None,
    "pod": None,
    "cluster": None,
    "stars": "none",
    "full_stars": 0,
    "empty_stars": 0,
    "ratings_error": False,
    "reviews_error": False,
    "details_error": False,
    "user": None,
    "signed_in": False,
    "title": "Simple Bookstore App",
    "review_count": 2,
    "consistent": True,
    "findings": [],
}
V1 = {"version": "v1", "pod": POD1, "label": "v1"}
V2 = {"version": "v2", "pod": POD2, "stars": "black", "full_stars": 9, "empty_stars": 1, "label": "v2"}
V3 = {"version": "v3", "pod": POD3, "stars": "red", "full_stars": 9, "empty_stars": 1, "label": "v3"}
RATINGS_DOWN = {"ratings_error": True}
REVIEWS_DOWN = {"reviews_error": True, "review_count": 0, "label": "unavailable"}
JASON = {"user": "jason", "signed_in": True}

EXPECTED: dict[str, dict[str, Any]] = {
    "v1-anonymous": V1,
    "v2-anonymous": V2,
    "v3-anonymous": V3,
    "v2-ratings-error": {"version": "v2", "pod": POD2, "label": "v2", **RATINGS_DOWN},
    "v3-ratings-error": {"version": "v3", "pod": POD3, "label": "v3", **RATINGS_DOWN},
    "reviews-error": REVIEWS_DOWN,
    "details-error": {**V1, "details_error": True},
}
CLASSIC_ONLY: dict[str, dict[str, Any]] = {
    "v3-signed-in-jason": {**V3, **JASON},
    # The commented-out old navbar says "Signed in as jason" and has a sign-out link: it must be ignored.
    "v1-anonymous-commented-navbar": V1,
    "v2-signed-in-escaped": {**V2, "user": "O'Neil & <Co>", "signed_in": True},
    "inconsistent-v3-pod-black-stars": {
        **V3,
        "stars": "black",
        "consistent": False,
        "findings": [f"pod {POD3} says v3 but stars are black"],
    },
    # Reviewer1 rated 1, Reviewer2 rated 0: the 0 draws nothing, so 1 full and 4 empty stars.
    "v2-zero-star": {**V2, "full_stars": 1, "empty_stars": 4},
    "v2-cluster": {**V2, "cluster": "cluster-east"},
    # Images <= 1.16.2 print no pod name: the version comes from the colour, with a finding.
    "v3-no-pod-name": {**V3, "pod": None, "findings": ["no pod name; version v3 taken from the red stars"]},
}
MODERN_ONLY: dict[str, dict[str, Any]] = {
    "v2-signed-in-jason": {**V2, **JASON},
    "v1-signed-in-escaped": {**V1, "user": "Jason <jr> & co", "signed_in": True},
    "inconsistent-v2-pod-red-stars": {
        **V2,
        "stars": "red",
        "consistent": False,
        "findings": [f"pod {POD2} says v2 but stars are red"],
    },
    "v3-zero-star": {**V3, "full_stars": 1, "empty_stars": 4},
    "v3-cluster": {**V3, "cluster": "cluster-east"},
}

CASES = (
    [(f"{ui}-{name}", ui, exp) for ui in ("classic", "modern") for name, exp in EXPECTED.items()]
    + [(f"classic-{name}", "classic", exp) for name, exp in CLASSIC_ONLY.items()]
    + [(f"modern-{name}", "modern", exp) for name, exp in MODERN_ONLY.items()]
)


@pytest.mark.parametrize(("name", "ui", "expected"), CASES, ids=[c[0] for c in CASES])
def test_every_field_of_every_fixture(name: str, ui: str, expected: dict[str, Any]) -> None:
    obs = parse_page(page(name))
    want = {**BASE, "ui": ui, **expected}
    label = want.pop("label", None)
    got = {key: getattr(obs, key) for key in want}
    assert got == want
    assert obs.label() == label
    # Fetch fields stay empty: parse_page does not fetch.
    assert (obs.status, obs.elapsed, obs.error, obs.request_id, obs.url) == (None, None, None, None, None)


def test_fixture_set_covers_every_file() -> None:
    """Every page under tests/data/pages is asserted above (no fixture silently left out)."""
    assert {p.stem for p in PAGES.glob("*.html")} == {c[0] for c in CASES}


# -- the fixtures really carry the traps the parser must survive -----------------------------------


def test_substring_counts_mislead_but_elements_do_not() -> None:
    classic, modern = page("classic-v2-anonymous"), page("modern-v2-anonymous")
    assert classic.count("glyphicon glyphicon-star") == 10  # the substring also matches "-empty"
    assert modern.count("glyphicon glyphicon-star") == 9  # the repeated svg id; empty stars have none
    for html in (classic, modern):
        obs = parse_page(html)
        assert (obs.full_stars, obs.empty_stars) == (9, 1)


def test_text_red_500_on_errors_is_not_red_stars() -> None:
    for name in ("modern-reviews-error", "modern-v2-ratings-error", "modern-details-error"):
        html = page(name)
        assert "text-red-500" in html
        assert parse_page(html).stars == "none"


def test_modern_pod_name_twice_with_whitespace() -> None:
    html = page("modern-v2-anonymous")
    assert html.count(POD2) == 2
    assert f"\n                                        {POD2}\n" in html
    assert parse_page(html).pod == POD2


def test_modern_unclosed_quote_is_present_and_harmless() -> None:
    html = page("modern-v3-anonymous")
    assert '<div class="container mx-auto px-4 sm:px-6 lg:px-8>' in html
    assert "<html" not in html and "<body" not in html and "<!DOCTYPE" not in html
    obs = parse_page(html)
    assert (obs.version, obs.stars, obs.full_stars, obs.empty_stars) == ("v3", "red", 9, 1)


def test_sign_in_text_is_always_present_but_not_a_marker() -> None:
    for name in ("classic-v1-anonymous", "modern-v1-anonymous", "classic-v3-signed-in-jason"):
        assert "Sign in" in page(name)
    assert parse_page(page("modern-v1-anonymous")).signed_in is False


def test_commented_navbar_names_a_user_and_links_logout() -> None:
    html = page("classic-v1-anonymous-commented-navbar")
    assert "Signed in as jason" in html and 'href="logout"' in html
    obs = parse_page(html)
    assert (obs.user, obs.signed_in) == (None, False)


def test_signed_in_pages_keep_the_name_case() -> None:
    html = page("modern-v2-signed-in-jason").replace(">jason</p>", ">Jason</p>")
    assert parse_page(html).user == "Jason"


# -- cross-checks and odd pages --------------------------------------------------------------------


def test_two_different_pods_on_one_page_are_inconsistent() -> None:
    html = page("modern-v2-anonymous")
    other = "reviews-v2-7f8c9d6b5-zzzzz"
    first = html.index(POD2) + len(POD2)
    html = html[:first] + html[first:].replace(POD2, other, 1)
    obs = parse_page(html)
    assert obs.pod == POD2 and obs.version == "v2"
    assert obs.consistent is False
    assert obs.findings == [f"page names several reviews pods: {[POD2, other]}"]


def test_v2_pod_without_any_star_is_inconsistent() -> None:
    html = page("classic-v2-anonymous").replace('<font color="black">', "<!--").replace("</font>", "-->")
    obs = parse_page(html)
    assert (obs.version, obs.stars, obs.full_stars, obs.empty_stars) == ("v2", "none", 0, 0)
    assert obs.consistent is False
    assert len(obs.findings) == 1 and "says v2 but no stars are drawn" in obs.findings[0]


def test_v1_pod_with_ratings_error_is_inconsistent() -> None:
    html = page("modern-v2-ratings-error").replace(POD2, POD1)
    obs = parse_page(html)
    assert (obs.version, obs.ratings_error, obs.consistent) == ("v1", True, False)
    assert "v1 does not call ratings" in obs.findings[0]


def test_ratings_error_without_pod_name_cannot_tell_the_version() -> None:
    html = page("classic-v3-ratings-error").replace(f"<u>{POD3}</u>", "")
    obs = parse_page(html)
    assert (obs.version, obs.pod, obs.ratings_error, obs.label()) == (None, None, True, None)
    assert "v2 or v3 cannot be told" in obs.findings[0]


def test_no_pod_and_no_stars_is_taken_as_v1_with_a_finding() -> None:
    html = page("modern-v1-anonymous").replace(POD1, "")
    obs = parse_page(html)
    assert (obs.version, obs.pod) == ("v1", None)
    assert obs.findings == ["no pod name and no stars; taken as v1 (a v2/v3 whose ratings are all 0 looks the same)"]


def test_unusual_pod_name_is_reported_whole() -> None:
    html = page("classic-v2-anonymous").replace(POD2, "reviews-v2-standalone")
    obs = parse_page(html)
    assert (obs.pod, obs.version, obs.consistent) == ("reviews-v2-standalone", "v2", True)
    assert obs.findings == ["pod name 'reviews-v2-standalone' is not of the form reviews-vN-<replicaset>-<id>"]


def test_pod_name_in_a_script_is_not_read() -> None:
    html = page("classic-v1-anonymous")
    assert "reviews-v9-" in html  # the fixture's script mentions a fake pod
    assert parse_page(html).pod == POD1


def test_stars_in_two_colours_are_mixed() -> None:
    html = page("modern-v2-anonymous").replace("text-black-500", "text-red-500", 1)
    obs = parse_page(html)
    assert obs.stars == "mixed"
    assert obs.consistent is False
    assert obs.findings[0] == "stars in several colours: ['black', 'red']"


def test_not_a_productpage() -> None:
    obs = parse_page("<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>")
    assert (obs.ui, obs.version, obs.pod, obs.title, obs.label()) == (
        "unknown",
        None,
        None,
        "404 Not Found",
        None,
    )
    assert obs.findings == [
        "page has the markers of neither productpage UI",
        "no reviews section on the page",
    ]


@pytest.mark.parametrize("html", ["", "<", "<div class='", "\x00\x01", "<font color=red><span class=glyphicon-star>"])
def test_garbage_never_raises(html: str) -> None:
    obs = parse_page(html)
    assert isinstance(obs, PageObservation)
    assert obs.pod is None


# -- observation object ----------------------------------------------------------------------------


def test_to_dict_is_json_and_hides_the_body_unless_asked() -> None:
    obs = parse_page(page("modern-v3-cluster"))
    obs.body = "<html>…</html>"
    obs.status, obs.elapsed, obs.request_id = 200, 0.25, "rid-1"
    data = json.loads(json.dumps(obs.to_dict()))
    assert "body" not in data
    assert data["label"] == "v3" and data["fetched_ok"] is True
    assert data["cluster"] == "cluster-east" and data["elapsed"] == 0.25 and data["findings"] == []
    assert obs.to_dict(include_body=True)["body"] == "<html>…</html>"


def test_label_and_fetched_ok() -> None:
    assert PageObservation(version="v2", status=200).label() == "v2"
    assert PageObservation(version="v2", status=200).fetched_ok is True
    assert PageObservation(reviews_error=True, status=200).label() == "unavailable"
    failed = PageObservation(version="v2", status=503, error="HTTP 503")
    assert failed.label() is None and failed.fetched_ok is False
    assert PageObservation(status=None).fetched_ok is False


# -- reviews JSON ----------------------------------------------------------------------------------

TEXT1 = "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!"
TEXT2 = "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare."


def reviews_json(pod: str, ratings: list[dict[str, Any]] | None, cluster: str = "null") -> dict[str, Any]:
    reviews: list[dict[str, Any]] = [
        {"reviewer": "Reviewer1", "text": TEXT1},
        {"reviewer": "Reviewer2", "text": TEXT2},
    ]
    if ratings is not None:
        for review, rating in zip(reviews, ratings, strict=True):
            review["rating"] = rating
    return {"id": "0", "podname": pod, "clustername": cluster, "reviews": reviews}


JSON_BASE: dict[str, Any] = {**BASE, "ui": "json", "title": None}
JSON_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("v1", reviews_json(POD1, None), V1),
    ("v2", reviews_json(POD2, [{"stars": 5, "color": "black"}, {"stars": 4, "color": "black"}]), V2),
    ("v3", reviews_json(POD3, [{"stars": 5, "color": "red"}, {"stars": 4, "color": "red"}]), V3),
    (
        "v3-ratings-error",
        reviews_json(POD3, [{"error": RATINGS_ERROR}, {"error": RATINGS_ERROR}]),
        {"version": "v3", "pod": POD3, "label": "v3", **RATINGS_DOWN},
    ),
    (
        "v2-zero-star-cluster",
        reviews_json(POD2, [{"stars": 1, "color": "black"}, {"stars": 0, "color": "black"}], cluster="east"),
        {**V2, "full_stars": 1, "empty_stars": 4, "cluster": "east"},
    ),
    ("error-body", {"error": REVIEWS_ERROR}, {**REVIEWS_DOWN}),
    (
        "pod-colour-disagree",
        reviews_json(POD3, [{"stars": 5, "color": "black"}, {"stars": 4, "color": "black"}]),
        {
            **V3,
            "stars": "black",
            "consistent": False,
            "findings": [f"pod {POD3} says v3 but stars are black"],
        },
    ),
]


@pytest.mark.parametrize(("case", "data", "expected"), JSON_CASES, ids=[c[0] for c in JSON_CASES])
def test_reviews_json(case: str, data: dict[str, Any], expected: dict[str, Any]) -> None:
    original = copy.deepcopy(data)
    obs = parse_reviews_json(data)
    want = {**JSON_BASE, **expected}
    label = want.pop("label", None)
    assert {key: getattr(obs, key) for key in want} == want
    assert obs.label() == label
    assert data == original  # the input is not modified


@pytest.mark.parametrize(
    ("data", "finding"),
    [
        ([1, 2], "reviews JSON is a list, not an object"),
        ({"podname": POD2, "reviews": "x"}, "'reviews' is a str, not a list"),
        ({"podname": POD2, "reviews": [{"rating": {"stars": "5", "color": "black"}}]}, "'stars' is '5'"),
        ({"podname": POD2, "reviews": [{"rating": 5}]}, "'rating' is not an object"),
    ],
)
def test_malformed_reviews_json_is_a_finding_not_an_exception(data: Any, finding: str) -> None:
    obs = parse_reviews_json(data)
    assert obs.consistent is False
    assert any(finding in f for f in obs.findings), obs.findings


def test_other_error_reply_is_kept_as_a_finding() -> None:
    obs = parse_reviews_json({"error": "upstream connect error"})
    assert (obs.reviews_error, obs.label()) == (True, "unavailable")
    assert obs.findings == ["error reply: upstream connect error"]


def test_details_error_string_is_the_contract_one() -> None:
    # Guard against a typo in the constants the parser matches on (docs/bookinfo-contract.md §6, exact strings).
    assert DETAILS_ERROR == "Sorry, product details are currently unavailable for this book."
    assert DETAILS_ERROR in page("classic-details-error") and DETAILS_ERROR in page("modern-details-error")


def test_parse_results_are_memoised_but_each_call_gets_its_own_copy() -> None:
    html = (PAGES / "modern-v2-anonymous.html").read_text()
    first = parse_page(html)
    first.note("changed by a caller", inconsistent=True)
    first.status = 503
    second = parse_page(html)
    assert second is not first
    assert "changed by a caller" not in second.findings and second.consistent and second.status is None
    assert second.version == first.version == "v2"
