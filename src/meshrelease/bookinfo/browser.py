"""A real headless Chromium looking at productpage as a person does (``--browser``).

:class:`Chromium` drives the system's Chromium through Playwright for Python (``pip install
'meshrelease[browser]'``; Playwright's own browser download is not used): it opens ``/productpage``, and for a
user clicks "Sign in", types the name into the sign-in form (the modern UI's ``<dialog>`` or the classic UI's
modal), submits it, and waits for the page it is sent back to. What the page then shows is read by the same
parser as every sampled page, the colour the browser drew the first full star in is read from the rendered
page, and a full-page screenshot (PNG) is taken.

This module is imported only when ``--browser`` is given; Playwright itself only when a browser is launched.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

from meshrelease.bookinfo.page import PageObservation, parse_page
from meshrelease.errors import MeshReleaseError, UserInputError

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright, Response, ViewportSize

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Flags that keep a headless Chromium quiet and self-contained (no GPU, no QUIC, no background traffic);
# Playwright adds --headless and a fresh --user-data-dir of its own.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
INSTALL_HINT = (
    "install Playwright for Python with `pip install 'meshrelease[browser]'` (it drives the system's Chromium; "
    "no `playwright install` needed) and Chromium with `apt-get install chromium` (Debian/Ubuntu), or name a "
    "Chromium binary with --browser-bin"
)
# The first full star of either UI: the modern UI's filled svg, the classic UI's glyph.
_FIRST_STAR_COLOUR = """() => {
  const star = document.querySelector('svg[id="glyphicon glyphicon-star"], span.glyphicon-star');
  return star ? getComputedStyle(star).color : null;
}"""


@dataclass
class BrowserPage:
    """What the browser showed: the parsed page, the colour of the first full star as drawn (CSS ``rgb(...)``,
    None without stars), the screenshot, and what it did to get there."""

    user: str | None
    url: str
    observation: PageObservation
    star_colour: str | None
    png: bytes
    seconds: float
    actions: list[str] = field(default_factory=list)


def find_chromium(explicit: str | None = None) -> str:
    """The Chromium binary: ``explicit`` (--browser-bin) or the first of CHROMIUM_NAMES on PATH; also checks that
    Playwright for Python is installed. Raises UserInputError naming what to install."""
    missing: list[str] = []
    if importlib.util.find_spec("playwright") is None:
        missing.append("Playwright for Python (the `playwright` package) is not installed")
    path: str | None = None
    if explicit:
        if os.path.isfile(explicit) and os.access(explicit, os.X_OK):
            path = explicit
        else:
            missing.append(f"--browser-bin {explicit} is not an executable file")
    else:
        path = next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)
        if path is None:
            missing.append(f"no Chromium on PATH (looked for {', '.join(CHROMIUM_NAMES)})")
    if missing or path is None:
        raise UserInputError("--browser needs a Chromium and Playwright: " + "; ".join(missing), hint=INSTALL_HINT)
    return path


class Chromium:
    """One headless Chromium for a session; every :meth:`view` gets a fresh browser context (no cookies)."""

    def __init__(self, executable: str, *, timeout: float = 60.0, width: int = 1280, height: int = 900) -> None:
        self.executable = executable
        self.timeout = timeout
        self.width, self.height = width, height
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    def __enter__(self) -> Chromium:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _launched(self) -> Browser:
        if self._browser is not None:
            return self._browser
        from playwright.sync_api import Error, sync_playwright

        try:
            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(
                executable_path=self.executable, headless=True, args=list(CHROMIUM_ARGS), timeout=self.timeout * 1000
            )
        except Error as exc:
            self.close()
            raise MeshReleaseError(
                f"could not start Chromium ({self.executable}): {_first_line(exc)}", hint=INSTALL_HINT
            ) from None
        return self._browser

    def view(self, base_url: str, user: str | None) -> BrowserPage:
        """Open ``/productpage`` through ``base_url`` as ``user`` (signing in as a person does) or anonymously.

        Raises MeshReleaseError saying which action failed and why."""
        from playwright.sync_api import Error

        browser = self._launched()
        start = time.monotonic()
        url = base_url.rstrip("/") + "/productpage"
        actions: list[str] = []
        viewport: ViewportSize = {"width": self.width, "height": self.height}
        context = browser.new_context(viewport=viewport)
        try:
            context.set_default_timeout(self.timeout * 1000)
            page = context.new_page()
            try:
                actions.append(f"opened {url}")
                response = page.goto(url, wait_until="load")
                if user is not None:
                    response = self._sign_in(page, user, actions)
                status = response.status if response is not None else None
                html = page.content()
                colour: Any = page.evaluate(_FIRST_STAR_COLOUR)
                png = page.screenshot(full_page=True, type="png")
            except Error as exc:
                done = "; ".join(actions)
                raise MeshReleaseError(
                    f"the browser failed {'as ' + user if user else 'anonymously'} after: {done}: {_first_line(exc)}"
                ) from None
            observation = parse_page(html)
            observation.url = page.url
            observation.status = status
            if status != 200:
                observation.error = f"HTTP {status}"
        finally:
            context.close()
        return BrowserPage(
            user=user,
            url=url,
            observation=observation,
            star_colour=colour if isinstance(colour, str) else None,
            png=png,
            seconds=time.monotonic() - start,
            actions=actions,
        )

    def _sign_in(self, page: Page, user: str, actions: list[str]) -> Response | None:
        # Only the navigation bar's button is visible before the form opens, so this is the one a person sees.
        page.get_by_role("button", name="Sign in", exact=True).click()
        actions.append('clicked "Sign in"')
        name = page.get_by_label("User Name")
        name.click()
        name.press_sequentially(user)
        actions.append(f"typed {user!r} as the user name")
        password = page.get_by_label("Password")
        password.click()
        password.press_sequentially("password")
        form = page.locator("form[name=login_form]")
        with page.expect_navigation(wait_until="load") as navigation:
            form.get_by_role("button", name="Sign in", exact=True).click()
        actions.append("submitted the sign-in form")
        return navigation.value

    def close(self) -> None:
        """Close the browser and stop Playwright; safe to call twice."""
        if self._browser is not None:
            try:
                self._browser.close()
            finally:
                self._browser = None
        if self._playwright is not None:
            try:
                self._playwright.stop()
            finally:
                self._playwright = None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
