"""Inline SVG for report.html: the expected and observed split of an expectation as bars, and the timeline of a
run (or of one step): what every page showed against time, one lane per user, with the moment each step's
apply was synced. Colours follow the stars: v1 grey (no stars), v2 black, v3 red."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from meshrelease.engine.results import ExpectationResult, StepRecord
from meshrelease.report.text import shares

PALETTE = {
    "v1": "#94a3b8",
    "v2": "#1f2937",
    "v3": "#dc2626",
    "ok": "#16a34a",
    "unavailable": "#f59e0b",
}
FALLBACK_COLOURS = ["#7c3aed", "#0891b2", "#db2777", "#65a30d", "#ea580c", "#4f46e5"]
SYNC_COLOUR = "#2563eb"
BROWSER_COLOUR = "#bfdbfe"
_esc = html.escape


class Colours:
    """A colour per label: the palette's, else the next fallback colour (stable within one report)."""

    def __init__(self) -> None:
        self._others: dict[str, str] = {}

    def __call__(self, label: str) -> str:
        if label in PALETTE:
            return PALETTE[label]
        if label not in self._others:
            self._others[label] = FALLBACK_COLOURS[len(self._others) % len(FALLBACK_COLOURS)]
        return self._others[label]

    def ordered(self, labels: Iterable[str]) -> list[str]:
        """Labels in drawing order: the palette's first (v1, v2, v3, ok, unavailable), then the others by name."""
        known = [k for k in PALETTE if k in set(labels)]
        return known + sorted(set(labels) - set(PALETTE))


def _bar(y: int, label: str, share: Mapping[str, float], width: int, colours: Colours) -> str:
    parts = [f'<text x="0" y="{y + 13}" class="lbl">{_esc(label)}</text>']
    x = 92.0
    for key, value in share.items():
        w = value * width
        if w <= 0:
            continue
        title = _esc(f"{key}: {value:.1%}")
        parts.append(
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="18" fill="{colours(key)}"><title>{title}</title></rect>'
        )
        if w > 46:
            parts.append(f'<text x="{x + 4:.1f}" y="{y + 13}" class="in">{_esc(key)[:12]} {value:.0%}</text>')
        x += w
    return "".join(parts)


def split_chart(exp: ExpectationResult, colours: Colours | None = None) -> str:
    """SVG: expected vs observed shares of one expectation."""
    width = 240
    colours = colours or Colours()
    expected = {k: 1.0 for k in exp.expected} if exp.kind == "spread" else exp.expected
    observed = dict(sorted(exp.counts.items(), key=lambda kv: colours.ordered(exp.counts).index(kv[0])))
    body = _bar(4, "expected", shares(expected), width, colours) + _bar(
        28, f"observed ({exp.requests})", shares(observed), width, colours
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="split" width="{width + 96}" height="50" role="img" '
        f'aria-label="expected vs observed split">{body}</svg>'
    )


# ------------------------------------------------------------------------------------------------ timeline
@dataclass(frozen=True)
class _Frame:
    """Maps Unix times to x: ``origin`` is x = left; ``scale`` pixels per second."""

    origin: float
    scale: float
    left: float

    def x(self, t: float) -> float:
        return self.left + (t - self.origin) * self.scale


def _nice_step(span: float, ticks: int = 8) -> float:
    raw = span / ticks
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for m in (1, 2, 5, 10):
        if raw <= m * magnitude:
            return m * magnitude
    return 10 * magnitude


def _fmt_seconds(value: float) -> str:
    return f"{value:g} s" if value < 120 else f"{value / 60:g} min"


def run_span(steps: Sequence[StepRecord]) -> tuple[float, float] | None:
    """(first start, last end) in Unix time of the steps that ran, None when none has times."""
    timed = [s for s in steps if s.started_at > 0]
    if not timed:
        return None
    return min(s.started_at for s in timed), max(s.started_at + s.seconds for s in timed)


def timeline_chart(
    steps: Sequence[StepRecord],
    *,
    numbers: Mapping[int, int] | None = None,
    anchors: Mapping[int, str] | None = None,
    window: tuple[float, float] | None = None,
    origin: float | None = None,
    width: int = 1040,
    colours: Colours | None = None,
) -> str:
    """SVG: every page of every expectation against time (stacked shares per time bin), one lane per user; a band
    per step (numbered as ``numbers`` says, linked to ``anchors``) and a blue line where its apply was synced.
    ``window`` (Unix times) limits the chart to part of the run; times are labelled from ``origin``."""
    span = window or run_span(steps)
    if span is None:
        return ""
    start, end = span
    origin = start if origin is None else origin
    colours = colours or Colours()
    left, right = 92.0, 12.0
    duration = max(end - start, 0.001)
    frame = _Frame(origin=start, scale=(width - left - right) / duration, left=left)
    shown = [(i, s) for i, s in enumerate(steps) if 0 < s.started_at < end and s.started_at + s.seconds > start]
    users: list[str] = []
    for _, s in shown:
        for who in [e.user for e in s.expectations] + [v.user for v in s.views]:
            who = who if who is not None else "anonymous"
            if who not in users:
                users.append(who)
    users = users or ["anonymous"]
    band_top, band_h, lane_h, gap = 4.0, 20.0, 34.0, 6.0
    lanes_top = band_top + band_h + 6
    axis_y = lanes_top + len(users) * (lane_h + gap)
    height = axis_y + 22
    out: list[str] = []

    def clip(t: float) -> float:
        return min(max(frame.x(t), left), width - right)

    # step bands, numbered and linked
    for i, s in shown:
        x0, x1 = clip(s.started_at), clip(s.started_at + s.seconds)
        fill = "#fee2e2" if s.outcome in ("failed", "error") else ("#f1f5f9" if i % 2 == 0 else "#e2e8f0")
        number = (numbers or {}).get(i, i + 1)
        title = _esc(f"#{number} {s.scenario}::{s.step} ({s.outcome}, {s.seconds:.1f} s)")
        band = (
            f'<rect x="{x0:.1f}" y="{band_top}" width="{max(x1 - x0, 1):.1f}" height="{axis_y - band_top:.1f}" '
            f'fill="{fill}" opacity="0.55"><title>{title}</title></rect>'
        )
        if x1 - x0 >= 16:
            band += f'<text x="{(x0 + x1) / 2:.1f}" y="{band_top + 14}" class="num">{number}</text>'
        href = (anchors or {}).get(i)
        out.append(f'<a href="#{_esc(href)}">{band}</a>' if href else band)
    # lanes
    for k, who in enumerate(users):
        y = lanes_top + k * (lane_h + gap)
        out.append(f'<text x="0" y="{y + lane_h / 2 + 4:.1f}" class="lbl">{_esc(who)}</text>')
        out.append(
            f'<rect x="{left}" y="{y}" width="{width - left - right}" height="{lane_h}" fill="none" '
            'stroke="#cbd5e1" stroke-width="0.5"/>'
        )
    # pages: stacked shares per time bin
    for _, s in shown:
        for e in s.expectations:
            who = e.user if e.user is not None else "anonymous"
            y_lane = lanes_top + users.index(who) * (lane_h + gap)
            for b in e.timeline:
                t0 = e.started_at + b.t
                if t0 + b.dt < start or t0 > end:
                    continue
                x0, x1 = clip(t0), clip(t0 + b.dt)
                w = max(x1 - x0, 0.8)
                total = sum(b.counts.values())
                y = y_lane + lane_h
                tip = ", ".join(f"{k} {b.counts[k]}" for k in colours.ordered(b.counts))
                title = _esc(f"{s.scenario}::{s.step} · {e.description} · +{t0 - origin:.2f} s: {tip}")
                rects = []
                for label in colours.ordered(b.counts):
                    h = lane_h * b.counts[label] / total
                    y -= h
                    rects.append(
                        f'<rect x="{x0:.2f}" y="{y:.2f}" width="{w:.2f}" height="{h:.2f}" fill="{colours(label)}"/>'
                    )
                out.append(f"<g><title>{title}</title>{''.join(rects)}</g>")
    # a real browser opening the page (--browser)
    for _, s in shown:
        for v in s.views:
            if v.started_at <= 0 or v.started_at > end or v.started_at + v.seconds < start:
                continue
            y = lanes_top + users.index(v.who) * (lane_h + gap)
            x0, x1 = clip(v.started_at), clip(v.started_at + v.seconds)
            title = _esc(f"{s.scenario}::{s.step}: the browser as {v.who}, {v.seconds:.2f} s: {v.describe()}")
            fill = BROWSER_COLOUR if v.agrees else "#fca5a5"
            out.append(
                f'<rect x="{x0:.2f}" y="{y + lane_h * 0.3:.2f}" width="{max(x1 - x0, 1):.2f}" '
                f'height="{lane_h * 0.4:.2f}" rx="3" fill="{fill}" opacity="0.8"><title>{title}</title></rect>'
            )
    # the moment each apply was synced
    for _, s in shown:
        if s.synced_at is None or not start <= s.synced_at <= end:
            continue
        x = frame.x(s.synced_at)
        applied = f", applied at +{s.applied_at - origin:.2f} s" if s.applied_at is not None else ""
        synced = f"synced at +{s.synced_at - origin:.2f} s{applied} (sync {s.sync_seconds:g} s)"
        title = _esc(f"{s.scenario}::{s.step}: {synced}")
        out.append(
            f'<g><title>{title}</title><line x1="{x:.2f}" y1="{band_top + band_h}" x2="{x:.2f}" y2="{axis_y}" '
            f'stroke="{SYNC_COLOUR}" stroke-width="1.2" stroke-dasharray="3 2"/>'
            f'<path d="M{x - 4:.2f},{band_top + band_h} L{x + 4:.2f},{band_top + band_h} L{x:.2f},'
            f'{band_top + band_h + 6}Z" fill="{SYNC_COLOUR}"/></g>'
        )
    # time axis
    tick = _nice_step(duration)
    first = math.ceil((start - origin) / tick) * tick
    t = first
    out.append(f'<line x1="{left}" y1="{axis_y}" x2="{width - right}" y2="{axis_y}" stroke="#94a3b8"/>')
    while origin + t <= end + 1e-9:
        x = frame.x(origin + t)
        out.append(
            f'<line x1="{x:.1f}" y1="{axis_y}" x2="{x:.1f}" y2="{axis_y + 4}" stroke="#94a3b8"/>'
            f'<text x="{x:.1f}" y="{axis_y + 16}" class="tick">{_esc(_fmt_seconds(round(t, 6)))}</text>'
        )
        t += tick
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 {width} {height:.0f}" '
        f'width="100%" role="img" aria-label="timeline: observed split against time">{"".join(out)}</svg>'
    )


def legend(labels: Iterable[str], colours: Colours, *, browser: bool = False) -> str:
    """HTML: a swatch per label, the browser's bar (when there is one), and the sync marker."""
    items = [
        f'<span class="key"><i style="background:{colours(label)}"></i>{_esc(label)}</span>'
        for label in colours.ordered(labels)
    ]
    if browser:
        items.append(f'<span class="key"><i style="background:{BROWSER_COLOUR}"></i>browser (--browser)</span>')
    items.append(f'<span class="key"><i class="sync" style="border-color:{SYNC_COLOUR}"></i>apply synced</span>')
    return '<div class="legend">' + "".join(items) + "</div>"
