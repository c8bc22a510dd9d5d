"""Run reports: ``results.json`` (the machine-readable record), ``report.md`` and ``report.html``.

All three are written from one :class:`~meshrelease.engine.results.RunResults` (the layout of results.json is
described there; :mod:`meshrelease.report.compare` reads it back). The HTML report draws the observed split of
every expectation next to the expected one as SVG bars.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path

from meshrelease.engine.results import RESULTS_FILE, ExpectationResult, RunResults, StepRecord

PALETTE = {
    "v1": "#7a8a99",
    "v2": "#222222",
    "v3": "#d62728",
    "ok": "#2a9d55",
    "unavailable": "#e9a23b",
}
FALLBACK_COLOURS = ["#1f77b4", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
MARKS = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP", "error": "ERROR"}
CSS_CLASSES = {"passed": "pass", "failed": "fail", "skipped": "skip", "error": "fail"}


def write_reports(results: RunResults, report_dir: Path) -> list[Path]:
    report_dir.mkdir(parents=True, exist_ok=True)
    out = [report_dir / RESULTS_FILE, report_dir / "report.md", report_dir / "report.html"]
    results.write(out[0])
    out[1].write_text(render_markdown(results), encoding="utf-8")
    out[2].write_text(render_html(results), encoding="utf-8")
    return out


def _shares(values: Mapping[str, float]) -> dict[str, float]:
    total = float(sum(values.values()))
    return {k: (v / total if total else 0.0) for k, v in values.items()}


def expected_text(kind: str, expected: Mapping[str, float]) -> str:
    """The expected column of reports and failure tables: shares of a split, the versions otherwise."""
    if kind == "split":
        return ", ".join(f"{k} {v:.0%}" for k, v in _shares(expected).items())
    if kind == "spread":
        return "spread over " + ", ".join(expected)
    return ", ".join(expected) or "-"


def observed_text(counts: Mapping[str, int]) -> str:
    """The observed column: each label's share and count, the most frequent first."""
    if not counts:
        return "-"
    shares = _shares(counts)
    return ", ".join(f"{k} {shares[k]:.1%} ({n})" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def _backend_line(results: RunResults) -> str:
    b = results.backend
    if b is None:
        return "backend **?**"
    parts = [f"backend **{b.backend}**"]
    parts += [
        f"{key}: {value}"
        for key, value in (("mesh", b.mesh), ("kubernetes", b.kubernetes), ("bookinfo", b.bookinfo))
        if value
    ]
    return "; ".join(parts)


def _pytest_message(step: StepRecord) -> str | None:
    """pytest's failure text, shown when the runner did not record why the step failed."""
    if step.message and step.outcome in ("failed", "error") and not step.expectations and not step.error:
        return step.message
    return None


def render_markdown(results: RunResults) -> str:
    s = results.summary
    o = results.options
    lines = [
        "# meshrelease report",
        "",
        f"{_backend_line(results)}  ",
        f"started {results.started}, {results.seconds} s; α={o.alpha}, β={o.beta}, δ={o.delta}",
        "",
        f"**{s.passed} passed, {s.failed} failed, {s.skipped} skipped** of {s.steps} steps",
        "",
    ]
    for step in results.steps:
        lines.append(f"## {MARKS[step.outcome]} `{step.id}`")
        lines.append("")
        if step.replayed:
            lines.append(f"replayed first: {', '.join(step.replayed)}  ")
        lines.append(f"synced in {step.sync_seconds} s, step took {step.seconds} s")
        if step.error:
            lines += ["", "```", step.error, "```"]
        if step.expectations:
            lines += [
                "",
                "| expectation | expected | observed | requests | converged after | decision |",
                "|---|---|---|---|---|---|",
            ]
            for e in step.expectations:
                lines.append(
                    f"| {e.description} | {expected_text(e.kind, e.expected)} | {observed_text(e.counts)} | "
                    f"{e.requests} | {e.time_to_converge} s | {e.decision} |"
                )
            for e in step.expectations:
                if not e.passed:
                    lines += ["", f"- {e.description}: {e.explanation}"]
                    if e.example is not None:
                        lines += [f"  - `{log}`" for log in e.example.access_log]
        message = _pytest_message(step)
        if message is not None:
            lines += ["", "```", message, "```"]
        lines.append("")
    return "\n".join(lines) + "\n"


def _colour(label: str, others: dict[str, str]) -> str:
    if label in PALETTE:
        return PALETTE[label]
    if label not in others:
        others[label] = FALLBACK_COLOURS[len(others) % len(FALLBACK_COLOURS)]
    return others[label]


def _bar(y: int, label: str, shares: Mapping[str, float], width: int, others: dict[str, str]) -> str:
    parts = [f'<text x="0" y="{y + 13}" class="lbl">{html.escape(label)}</text>']
    x = 90.0
    for key, share in shares.items():
        w = share * width
        if w <= 0:
            continue
        colour = _colour(key, others)
        title = html.escape(f"{key}: {share:.1%}")
        parts.append(
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="18" fill="{colour}"><title>{title}</title></rect>'
        )
        if w > 46:
            parts.append(f'<text x="{x + 4:.1f}" y="{y + 13}" class="in">{html.escape(key)[:10]} {share:.0%}</text>')
        x += w
    return "".join(parts)


def split_chart(exp: ExpectationResult) -> str:
    """SVG: expected vs observed shares of one expectation."""
    width = 420
    others: dict[str, str] = {}
    expected = {k: 1.0 for k in exp.expected} if exp.kind == "spread" else exp.expected
    body = _bar(4, "expected", _shares(expected), width, others) + _bar(
        28, f"observed ({exp.requests})", _shares(exp.counts), width, others
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + 100}" height="52" role="img" '
        f'aria-label="expected vs observed split">{body}</svg>'
    )


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1b1b1b;max-width:1100px}
h1{font-size:1.6rem}h2{font-size:1.1rem;margin-top:2rem}
.pass{color:#1e7b3a}.fail{color:#b3261e}.skip{color:#777}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.3rem .5rem;vertical-align:middle;
font-size:.9rem}th{background:#f4f4f4;text-align:left}
svg .lbl{font-size:11px;fill:#444}svg .in{font-size:10px;fill:#fff}
pre{background:#f7f7f7;padding:.6rem;overflow-x:auto;font-size:.8rem}
.meta{color:#555}
"""


def render_html(results: RunResults) -> str:
    s = results.summary
    o = results.options
    b = results.backend
    esc = html.escape
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>meshrelease report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>meshrelease report</h1>",
        f"<p class='meta'>backend <b>{esc(b.backend if b else '?')}</b> · {esc(b.mesh if b else '')} · "
        f"bookinfo {esc(b.bookinfo if b else '')} · started {esc(results.started)} · "
        f"{results.seconds} s · α={o.alpha} β={o.beta} δ={o.delta}</p>",
        f"<p><b class='pass'>{s.passed} passed</b>, <b class='fail'>{s.failed} failed</b>, "
        f"{s.skipped} skipped of {s.steps} steps</p>",
    ]
    for step in results.steps:
        out.append(f"<h2 class='{CSS_CLASSES[step.outcome]}'>{esc(step.outcome.upper())} {esc(step.id)}</h2>")
        out.append(
            f"<p class='meta'>synced in {step.sync_seconds} s · {step.seconds} s"
            + (f" · replayed {esc(', '.join(step.replayed))}" if step.replayed else "")
            + "</p>"
        )
        if step.error:
            out.append(f"<pre>{esc(step.error)}</pre>")
        if step.expectations:
            out.append(
                "<table><tr><th>expectation</th><th>split</th><th>observed</th><th>requests</th>"
                "<th>converged</th><th>decision</th></tr>"
            )
            for e in step.expectations:
                out.append(
                    f"<tr><td>{esc(e.description)}</td><td>{split_chart(e)}</td>"
                    f"<td>{esc(observed_text(e.counts))}</td><td>{e.requests}</td>"
                    f"<td>{e.time_to_converge} s</td>"
                    f"<td class='{'pass' if e.passed else 'fail'}'>{esc(e.decision)}</td></tr>"
                )
            out.append("</table>")
            for e in step.expectations:
                if not e.passed:
                    out.append(f"<p>{esc(e.description)}: {esc(e.explanation)}</p>")
                    if e.example is not None and e.example.access_log:
                        out.append("<pre>" + esc("\n".join(e.example.access_log)) + "</pre>")
        message = _pytest_message(step)
        if message is not None:
            out.append(f"<pre>{esc(message)}</pre>")
    out.append("</body></html>\n")
    return "".join(out)
