"""Run reports: ``results.json`` (the machine-readable record), ``report.md`` and ``report.html``.

``results.json`` holds, per step and expectation, the expected and observed counts, the requests used,
the decision, the time to converge, plus the backend and its versions; :mod:`meshrelease.report.compare` reads it.
The HTML report draws the observed split of every expectation next to the expected one as SVG bars.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from meshrelease._version import __version__
from meshrelease.backends.base import BackendInfo

SCHEMA = "meshrelease/results/v1"
PALETTE = {
    "v1": "#7a8a99",
    "v2": "#222222",
    "v3": "#d62728",
    "ok": "#2a9d55",
    "unavailable": "#e9a23b",
}
FALLBACK_COLOURS = ["#1f77b4", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def build_results(
    steps: Sequence[Mapping[str, Any]],
    *,
    backend: BackendInfo | None,
    options: Mapping[str, Any],
    started: str,
    finished: str,
    seconds: float,
) -> dict[str, Any]:
    passed = sum(1 for s in steps if s.get("outcome") == "passed")
    failed = sum(1 for s in steps if s.get("outcome") == "failed")
    skipped = sum(1 for s in steps if s.get("outcome") == "skipped")
    return {
        "schema": SCHEMA,
        "meshrelease": __version__,
        "started": started,
        "finished": finished,
        "seconds": round(seconds, 3),
        "backend": asdict(backend) if backend is not None else None,
        "options": dict(options),
        "summary": {"steps": len(steps), "passed": passed, "failed": failed, "skipped": skipped},
        "steps": list(steps),
    }


def write_reports(results: Mapping[str, Any], report_dir: Path) -> list[Path]:
    report_dir.mkdir(parents=True, exist_ok=True)
    out = [report_dir / "results.json", report_dir / "report.md", report_dir / "report.html"]
    out[0].write_text(json.dumps(results, indent=2, sort_keys=False) + "\n", encoding="utf-8")
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


def _backend_line(results: Mapping[str, Any]) -> str:
    b = results.get("backend") or {}
    parts = [f"backend **{b.get('backend', '?')}**"]
    for key in ("mesh", "kubernetes", "bookinfo"):
        if b.get(key):
            parts.append(f"{key}: {b[key]}")
    return "; ".join(parts)


def render_markdown(results: Mapping[str, Any]) -> str:
    s = results.get("summary", {})
    o = results.get("options", {})
    lines = [
        "# meshrelease report",
        "",
        f"{_backend_line(results)}  ",
        f"started {results.get('started')}, {results.get('seconds')} s; "
        f"α={o.get('alpha')}, β={o.get('beta')}, δ={o.get('delta')}",
        "",
        f"**{s.get('passed', 0)} passed, {s.get('failed', 0)} failed, {s.get('skipped', 0)} skipped** "
        f"of {s.get('steps', 0)} steps",
        "",
    ]
    for step in results.get("steps", []):
        mark = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}.get(step.get("outcome", ""), "?")
        lines.append(f"## {mark} `{step.get('scenario')}::{step.get('step')}`")
        lines.append("")
        if step.get("replayed"):
            lines.append(f"replayed first: {', '.join(step['replayed'])}  ")
        lines.append(f"synced in {step.get('sync_seconds', 0)} s, step took {step.get('seconds', 0)} s")
        if step.get("error"):
            lines += ["", "```", str(step["error"]), "```"]
        exps = step.get("expectations") or []
        if exps:
            lines += [
                "",
                "| expectation | expected | observed | requests | converged after | decision |",
                "|---|---|---|---|---|---|",
            ]
            for e in exps:
                expected = expected_text(str(e.get("kind")), e.get("expected") or {})
                observed = observed_text(e.get("counts") or {})
                lines.append(
                    f"| {e.get('description')} | {expected} | {observed} | {e.get('requests')} | "
                    f"{e.get('time_to_converge')} s | {e.get('decision')} |"
                )
            for e in exps:
                if e.get("decision") != "pass":
                    lines += ["", f"- {e.get('description')}: {e.get('explanation')}"]
                    example = e.get("example") or {}
                    for log in example.get("access_log") or []:
                        lines.append(f"  - `{log}`")
        if step.get("message") and step.get("outcome") == "failed" and not exps and not step.get("error"):
            lines += ["", "```", str(step["message"]), "```"]
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


def split_chart(exp: Mapping[str, Any]) -> str:
    """SVG: expected vs observed shares of one expectation."""
    width = 420
    others: dict[str, str] = {}
    expected = exp.get("expected") or {}
    if exp.get("kind") == "spread":
        expected = {k: 1.0 for k in expected}
    counts = exp.get("counts") or {}
    body = _bar(4, "expected", _shares(expected), width, others) + _bar(
        28, f"observed ({exp.get('requests', 0)})", _shares(counts), width, others
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


def render_html(results: Mapping[str, Any]) -> str:
    s = results.get("summary", {})
    o = results.get("options", {})
    b = results.get("backend") or {}
    esc = html.escape
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>meshrelease report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>meshrelease report</h1>",
        f"<p class='meta'>backend <b>{esc(str(b.get('backend', '?')))}</b> · {esc(str(b.get('mesh', '')))} · "
        f"bookinfo {esc(str(b.get('bookinfo', '')))} · started {esc(str(results.get('started')))} · "
        f"{results.get('seconds')} s · α={o.get('alpha')} β={o.get('beta')} δ={o.get('delta')}</p>",
        f"<p><b class='pass'>{s.get('passed', 0)} passed</b>, <b class='fail'>{s.get('failed', 0)} failed</b>, "
        f"{s.get('skipped', 0)} skipped of {s.get('steps', 0)} steps</p>",
    ]
    for step in results.get("steps", []):
        outcome = step.get("outcome", "")
        cls = {"passed": "pass", "failed": "fail"}.get(outcome, "skip")
        out.append(
            f"<h2 class='{cls}'>{esc(outcome.upper())} {esc(str(step.get('scenario')))}::"
            f"{esc(str(step.get('step')))}</h2>"
        )
        out.append(
            f"<p class='meta'>synced in {step.get('sync_seconds', 0)} s · {step.get('seconds', 0)} s"
            + (f" · replayed {esc(', '.join(step['replayed']))}" if step.get("replayed") else "")
            + "</p>"
        )
        if step.get("error"):
            out.append(f"<pre>{esc(str(step['error']))}</pre>")
        exps = step.get("expectations") or []
        if exps:
            out.append(
                "<table><tr><th>expectation</th><th>split</th><th>observed</th><th>requests</th>"
                "<th>converged</th><th>decision</th></tr>"
            )
            for e in exps:
                dec = str(e.get("decision"))
                out.append(
                    f"<tr><td>{esc(str(e.get('description')))}</td><td>{split_chart(e)}</td>"
                    f"<td>{esc(observed_text(e.get('counts') or {}))}</td><td>{e.get('requests')}</td>"
                    f"<td>{e.get('time_to_converge')} s</td>"
                    f"<td class='{'pass' if dec == 'pass' else 'fail'}'>{esc(dec)}</td></tr>"
                )
            out.append("</table>")
            for e in exps:
                if e.get("decision") != "pass":
                    out.append(f"<p>{esc(str(e.get('description')))}: {esc(str(e.get('explanation')))}</p>")
                    logs = (e.get("example") or {}).get("access_log") or []
                    if logs:
                        out.append("<pre>" + esc("\n".join(logs)) + "</pre>")
        elif step.get("message") and outcome == "failed":
            out.append(f"<pre>{esc(str(step['message']))}</pre>")
    out.append("</body></html>\n")
    return "".join(out)
