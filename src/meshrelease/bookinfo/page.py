"""Reading what Bookinfo's productpage shows: HTML of both UI generations, or the reviews JSON.

``parse_page`` turns one productpage HTML document into a :class:`PageObservation`: which reviews version
answered (the pod name is the primary signal, the star colour the cross-check), the star counts, which error
texts are shown, the signed-in user and the UI generation. ``parse_reviews_json`` does the same for the
JSON of ``/api/v1/products/<id>/reviews``. Neither raises on odd input: disagreements and surprises become
``consistent=False`` plus human-readable ``findings``.

The markup contract is docs/bookinfo-contract.md §5 and §6, and its traps are §9; each trap is handled where
the code reads that part of the page.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from bs4 import BeautifulSoup, Comment, Tag

DETAILS_ERROR = "Sorry, product details are currently unavailable for this book."
REVIEWS_ERROR = "Sorry, product reviews are currently unavailable for this book."
RATINGS_ERROR = "Ratings service is currently unavailable"
# Classic headings end in "!", modern ones do not; matching the common prefix covers both.
DETAILS_ERROR_HEADING = "Error fetching product details"
REVIEWS_ERROR_HEADING = "Error fetching product reviews"
SERVED_BY = "Reviews served by:"

STAR_COLOURS: dict[str, str] = {"v1": "none", "v2": "black", "v3": "red"}
VERSION_OF_COLOUR: dict[str, str] = {"black": "v2", "red": "v3"}

# docs/bookinfo-contract.md §9 item 6: `reviews-v(\d)-[a-z0-9]+-[a-z0-9]+`, widened to more digits and extra
# name segments so that an unusual pod name is reported whole instead of cut short.
POD_RE = re.compile(r"(?<![\w-])reviews-v(\d+)-[a-z0-9]+-[a-z0-9]+(?:-[a-z0-9]+)*")
_LOOSE_VERSION_RE = re.compile(r"^reviews-(v\d+)(?![\w])")
# "Reviews served by:", then the pod name (a DNS-1123 name, so review text or "on cluster" never passes for
# one), then optionally "on cluster <name>". Whitespace around them varies (the modern UI indents deeply).
_SERVED_BY_RE = re.compile(
    re.escape(SERVED_BY) + r"\s*(?:(?!on cluster\b)([a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)(?!\S))?\s*(?:on cluster\s+(\S+))?"
)
_WRAPPER_COLOUR_RE = re.compile(r"^text-([a-z]+)-500$")
_FULL_STAR_SVG_ID = "glyphicon glyphicon-star"


@dataclass
class PageObservation:
    """What one productpage (or reviews JSON) showed, plus how it was fetched.

    Parsed fields: ``version`` ("v1"/"v2"/"v3" or None), ``pod``, ``cluster``, ``stars`` ("none", "black",
    "red"; another colour is passed through as written; "mixed" when the page draws two colours; "unknown"
    when stars are drawn without a colour), ``full_stars``/``empty_stars`` (counted elements, never
    substrings), the three error flags, ``user`` (signed-in user read from the live navbar; None when
    anonymous), ``signed_in``, ``title``, ``ui`` ("classic"/"modern"/"json"/"unknown"), ``review_count``,
    ``consistent`` and ``findings``.

    Fetch fields (filled by :class:`meshrelease.bookinfo.client.BookinfoClient`): ``status``, ``elapsed``
    (seconds), ``error`` (why the page could not be fetched), ``request_id``, ``url``. ``body`` keeps the
    raw response text for ``contains``/``not_contains`` checks; :meth:`to_dict` leaves it out unless asked.
    """

    version: str | None = None
    pod: str | None = None
    cluster: str | None = None
    stars: str = "none"
    full_stars: int = 0
    empty_stars: int = 0
    ratings_error: bool = False
    reviews_error: bool = False
    details_error: bool = False
    user: str | None = None
    signed_in: bool = False
    title: str | None = None
    ui: str = "unknown"
    review_count: int = 0
    consistent: bool = True
    findings: list[str] = field(default_factory=list)
    status: int | None = None
    elapsed: float | None = None
    error: str | None = None
    request_id: str | None = None
    url: str | None = None
    body: str | None = field(default=None, repr=False)

    @property
    def fetched_ok(self) -> bool:
        """True when the response was HTTP 200 and nothing went wrong fetching it."""
        return self.status == 200 and self.error is None

    def label(self) -> str | None:
        """The reviews version shown, "unavailable" for the reviews error, None when nothing can be told."""
        if self.error is not None:
            return None
        if self.reviews_error:
            return "unavailable"
        return self.version

    def note(self, finding: str, *, inconsistent: bool = False) -> None:
        """Record a finding; ``inconsistent=True`` also marks the observation as self-contradictory."""
        self.findings.append(finding)
        if inconsistent:
            self.consistent = False

    def to_dict(self, *, include_body: bool = False) -> dict[str, Any]:
        """A JSON-serialisable dict of every field plus ``label`` and ``fetched_ok``."""
        data = asdict(self)
        if not include_body:
            del data["body"]
        data["label"] = self.label()
        data["fetched_ok"] = self.fetched_ok
        return data


def parse_page(html: str) -> PageObservation:
    """Read one productpage HTML document (classic glyphicon UI or modern Tailwind UI).

    Parsing is a pure function of the document and productpage renders byte-identical pages for the same
    pod, user and state, so results are memoised (a bounded LRU keyed by the text): sampling hundreds of
    pages then costs one parse per distinct page instead of one per request. Each call returns its own copy.
    """
    cached = _parse_page_cached(html)
    return replace(cached, findings=list(cached.findings))


@functools.lru_cache(maxsize=256)
def _parse_page_cached(html: str) -> PageObservation:
    soup = BeautifulSoup(html, "html.parser")
    tags = _TagIndex(soup)
    obs = PageObservation()
    obs.ui = _detect_ui(tags, obs)
    if tags("title"):
        obs.title = tags("title")[0].get_text(" ", strip=True) or None
    # get_text skips comments (the classic page's commented-out navbar), <script> and <style>.
    text = " ".join(soup.get_text(" ").split())
    obs.details_error = DETAILS_ERROR in text or DETAILS_ERROR_HEADING in text
    obs.reviews_error = REVIEWS_ERROR in text or REVIEWS_ERROR_HEADING in text
    obs.ratings_error = RATINGS_ERROR in text
    obs.review_count = len(tags("blockquote"))
    _read_user(tags, obs)
    _read_pod(text, obs)
    _read_stars(tags, obs)
    has_reviews = obs.review_count > 0 or SERVED_BY in text or "Book Reviews" in text
    if not has_reviews and not obs.reviews_error:
        obs.note("no reviews section on the page")
    _decide_version(obs, has_reviews=has_reviews)
    return obs


def parse_reviews_json(data: dict[str, Any]) -> PageObservation:
    """Read the JSON of ``/api/v1/products/<id>/reviews`` (or productpage's ``{"error": ...}`` reply)."""
    obs = PageObservation(ui="json")
    if not isinstance(data, dict):
        obs.note(f"reviews JSON is a {type(data).__name__}, not an object", inconsistent=True)
        return obs
    error = data.get("error")
    if error is not None:
        obs.reviews_error = True
        if error != REVIEWS_ERROR:
            obs.note(f"error reply: {str(error)[:200]}")
    podname = data.get("podname")
    if isinstance(podname, str) and podname:
        _set_pod(obs, [podname])
    cluster = data.get("clustername")
    if isinstance(cluster, str) and cluster and cluster != "null":
        obs.cluster = cluster
    reviews = data.get("reviews")
    if reviews is None:
        if error is None:
            obs.note("reviews JSON has neither 'reviews' nor 'error'")
        _decide_version(obs, has_reviews=False)
        return obs
    if not isinstance(reviews, list):
        obs.note(f"'reviews' is a {type(reviews).__name__}, not a list", inconsistent=True)
        _decide_version(obs, has_reviews=False)
        return obs
    obs.review_count = len(reviews)
    colours: list[str] = []
    for index, review in enumerate(reviews):
        rating = review.get("rating") if isinstance(review, dict) else None
        if rating is None:
            continue
        if not isinstance(rating, dict):
            obs.note(f"review {index}: 'rating' is not an object", inconsistent=True)
            continue
        if "error" in rating:
            obs.ratings_error = True
            if rating["error"] != RATINGS_ERROR:
                obs.note(f"review {index}: ratings error {str(rating['error'])[:100]!r}")
            continue
        stars = rating.get("stars")
        if isinstance(stars, bool) or not isinstance(stars, int):
            obs.note(f"review {index}: 'stars' is {stars!r}, not a number", inconsistent=True)
            continue
        colours.append(str(rating.get("color", "")).lower() or "unknown")
        # As on the page: N full stars, 5-N empty ones; 0 stars draws nothing at all.
        if stars > 0:
            obs.full_stars += stars
            obs.empty_stars += max(0, 5 - stars)
    obs.stars = _combine_colours(colours, obs)
    _decide_version(obs, has_reviews=True)
    return obs


class _TagIndex:
    """Every element by tag name, plus all ids and classes, from one walk over the tree.

    Each ``find_all`` walks the whole document again; reading from this index keeps a page to one walk
    (plus small walks inside star wrappers).
    """

    def __init__(self, soup: BeautifulSoup) -> None:
        self.by_name: defaultdict[str, list[Tag]] = defaultdict(list)
        self.ids: set[str] = set()
        self.classes: set[str] = set()
        for node in soup.descendants:
            if isinstance(node, Tag):
                self.by_name[node.name].append(node)
                if "id" in node.attrs:
                    self.ids.add(str(node.attrs["id"]))
                if "class" in node.attrs:
                    self.classes.update(_classes(node))

    def __call__(self, name: str) -> list[Tag]:
        return self.by_name.get(name, [])


def _detect_ui(tags: _TagIndex, obs: PageObservation) -> str:
    classic = sum(
        (
            "login-modal" in tags.ids,
            any(c.startswith("glyphicon") for c in tags.classes),
            any(font.has_attr("color") for font in tags("font")),
            "navbar" in tags.classes,
        )
    )
    modern = sum(
        (
            bool(tags("dialog")),
            "sign-in-button" in tags.ids,
            bool(tags("svg")),
            "font-mono" in tags.classes,
        )
    )
    if classic > modern:
        return "classic"
    if modern > classic:
        return "modern"
    if classic:
        obs.note(f"page mixes markers of both UIs ({classic} classic, {modern} modern)")
    else:
        obs.note("page has the markers of neither productpage UI")
    return "unknown"


def _is_logout_link(tag: Tag) -> bool:
    href = str(tag.get("href") or "").strip()
    if href in ("logout", "/logout", "./logout") or href.endswith("/logout"):
        return True
    return tag.get_text(" ", strip=True).lower() == "sign out"


def _classes(tag: Tag) -> list[str]:
    value = tag.get("class")
    if isinstance(value, str):
        return value.split()
    return list(value or [])


def _has_classes(tag: Tag, wanted: Iterable[str]) -> bool:
    classes = _classes(tag)
    return all(c in classes for c in wanted)


def _read_user(tags: _TagIndex, obs: PageObservation) -> None:
    # "Sign in" is always in the DOM (login modal / dialog); only a sign-out link or the user element counts.
    logout = [a for a in tags("a") if _is_logout_link(a)]
    user_elems = [p for p in tags("p") if _has_classes(p, ("text-base", "font-medium", "text-gray-50"))]
    user_icon = any(_has_classes(i, ("glyphicon-user",)) for i in tags("i"))
    obs.signed_in = bool(logout or user_elems or user_icon)
    if not obs.signed_in:
        return
    names: list[str] = []
    if user_elems:
        names = [p.get_text(" ", strip=True) for p in user_elems]
    elif logout:
        names = [_text_before(a) for a in logout]
    names = [n for n in names if n]
    if not names:
        obs.note("signed-in marker present but the user name could not be read")
        return
    obs.user = names[0]
    if len(set(names)) > 1:
        obs.note(f"navbar shows several user names: {sorted(set(names))}", inconsistent=True)
    if not logout:
        obs.note("user shown but no sign-out link")


def _text_before(link: Tag) -> str:
    """The classic ``jason ( <a href="logout">sign out</a> )``: the text before the link, minus " (".

    Also works for the modern layout, where the user element precedes the sign-out link.
    """
    parts: list[str] = []
    for sibling in link.previous_siblings:
        if isinstance(sibling, Tag):
            if sibling.name == "i" or sibling.find("i") is not None:
                break
            parts.append(sibling.get_text(" "))
        elif not isinstance(sibling, Comment):
            parts.append(str(sibling))
    text = " ".join("".join(reversed(parts)).split())
    if text.endswith("("):
        text = text[:-1].rstrip()
    return text


def _read_pod(text: str, obs: PageObservation) -> None:
    tokens: list[str] = []
    clusters: list[str] = []
    for match in _SERVED_BY_RE.finditer(text):
        token, cluster = match.group(1), match.group(2)
        if token:
            tokens.append(token)
        if cluster:
            clusters.append(cluster)
    if not tokens:
        # Markup that moved the label: any pod-looking name on the page still tells the version.
        tokens = [m.group(0) for m in POD_RE.finditer(text)]
        if tokens and SERVED_BY in text:
            obs.note("pod name not right after 'Reviews served by:'")
    if tokens:
        _set_pod(obs, tokens)
    named = sorted({c for c in clusters if c != "null"})
    if named:
        obs.cluster = named[0]
        if len(named) > 1:
            obs.note(f"page names several clusters: {named}", inconsistent=True)


def _set_pod(obs: PageObservation, names: list[str]) -> None:
    distinct = list(dict.fromkeys(names))
    obs.pod = distinct[0]
    if len(distinct) > 1:
        obs.note(f"page names several reviews pods: {distinct}", inconsistent=True)
    match = POD_RE.fullmatch(obs.pod)
    if match is not None:
        obs.version = f"v{match.group(1)}"
        return
    loose = _LOOSE_VERSION_RE.match(obs.pod)
    if loose is not None:
        obs.version = loose.group(1)
        obs.note(f"pod name {obs.pod!r} is not of the form reviews-vN-<replicaset>-<id>")
    else:
        obs.note(f"pod name {obs.pod!r} does not name a reviews version")


def _read_stars(tags: _TagIndex, obs: PageObservation) -> None:
    colours: list[str] = []
    counted_full = 0
    counted_empty = 0
    # Classic: <font color="black|red"> holding span.glyphicon-star (full) / span.glyphicon-star-empty.
    for font in tags("font"):
        if not font.has_attr("color"):
            continue
        full = len(font.find_all("span", class_="glyphicon-star"))
        empty = len(font.find_all("span", class_="glyphicon-star-empty"))
        if full or empty or not font.get_text(strip=True):
            colours.append(str(font["color"]).strip().lower())
            counted_full += full
            counted_empty += empty
    # Modern: only the star wrapper `flex gap-x-1 text-<c>-500` carries the colour (text-red-500 also marks
    # errors). Full stars are svg[id="glyphicon glyphicon-star"]; empty ones are the wrapper's other svgs.
    for div in tags("div"):
        classes = _classes(div)
        if "gap-x-1" not in classes or "flex" not in classes:
            continue
        colour = next((m.group(1) for c in classes if (m := _WRAPPER_COLOUR_RE.match(c))), None)
        if colour is None:
            continue
        colours.append(colour)
        for svg in div.find_all("svg"):
            if svg.get("id") == _FULL_STAR_SVG_ID:
                counted_full += 1
            else:
                counted_empty += 1
    spans = [_classes(span) for span in tags("span")]
    total_full = sum("glyphicon-star" in c for c in spans)
    total_full += sum(svg.get("id") == _FULL_STAR_SVG_ID for svg in tags("svg"))
    total_empty = sum("glyphicon-star-empty" in c for c in spans)
    stray_full = total_full - counted_full
    stray_empty = max(0, total_empty - counted_empty)
    if stray_full > 0 or stray_empty > 0:
        obs.note(f"{stray_full} full and {stray_empty} empty stars outside any coloured star wrapper")
        if not colours:
            colours.append("unknown")
    obs.full_stars = counted_full + max(0, stray_full)
    obs.empty_stars = counted_empty + stray_empty
    obs.stars = _combine_colours(colours, obs)


def _combine_colours(colours: list[str], obs: PageObservation) -> str:
    distinct = sorted(set(colours))
    if not distinct:
        return "none"
    if len(distinct) > 1:
        obs.note(f"stars in several colours: {distinct}", inconsistent=True)
        return "mixed"
    colour = distinct[0]
    if colour not in VERSION_OF_COLOUR and colour != "unknown":
        obs.note(f"unexpected star colour {colour!r}")
    return colour


def _decide_version(obs: PageObservation, *, has_reviews: bool) -> None:
    """Pod name first, star colour as the cross-check; every disagreement becomes a finding."""
    drawn = obs.full_stars + obs.empty_stars > 0 or obs.stars != "none"
    if obs.reviews_error:
        if obs.pod is not None:
            obs.note(f"reviews error shown but the page also names pod {obs.pod}", inconsistent=True)
        if drawn:
            obs.note("reviews error shown but stars are drawn", inconsistent=True)
    if obs.ratings_error and drawn:
        obs.note("ratings error shown but stars are drawn too", inconsistent=True)

    if obs.version is not None:
        expected = STAR_COLOURS.get(obs.version)
        if expected is None:
            obs.note(f"no known star colour for {obs.version} (pod {obs.pod})")
            return
        if obs.ratings_error:
            if obs.version == "v1":
                obs.note(
                    f"pod {obs.pod} says v1 but the ratings error is shown (v1 does not call ratings)",
                    inconsistent=True,
                )
            return
        if obs.reviews_error or obs.stars == expected:
            return
        if obs.stars == "none":
            obs.note(
                f"pod {obs.pod} says {obs.version} but no stars are drawn (expected {expected}; "
                "a 0-star rating draws nothing)",
                inconsistent=True,
            )
        else:
            obs.note(f"pod {obs.pod} says {obs.version} but stars are {obs.stars}", inconsistent=True)
        return

    if obs.reviews_error or not has_reviews:
        return
    if obs.stars in VERSION_OF_COLOUR:
        obs.version = VERSION_OF_COLOUR[obs.stars]
        obs.note(f"no pod name; version {obs.version} taken from the {obs.stars} stars")
    elif obs.ratings_error:
        obs.note("no pod name and the ratings error hides the star colour: v2 or v3 cannot be told")
    elif obs.stars == "none":
        obs.version = "v1"
        obs.note("no pod name and no stars; taken as v1 (a v2/v3 whose ratings are all 0 looks the same)")
