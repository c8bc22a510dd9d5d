"""report.html: one self-contained page (inline CSS and SVG, screenshots as data URIs; no script, nothing fetched).

From the top: how the run ended (and why, for collection errors and interruptions); a summary with one line per
scenario and per step (outcome, duration, link); the run's timeline (every page against time, one lane per user,
the moment each apply was synced); then a card per step: its description, the objects it applied or deleted
and their warnings, its expectations (expected and observed split, pages, convergence, latency percentiles,
decision), the failure explanations as written (line breaks kept) with the access-log file of one mis-routed
request, what a real browser showed each user (``--browser``), and the step's own timeline.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from itertools import groupby

from meshrelease.engine.results import BrowserView, ExpectationResult, RunResults, StepRecord
from meshrelease.report.markdown import backend_line
from meshrelease.report.svg import Colours, legend, run_span, split_chart, timeline_chart
from meshrelease.report.text import access_log_file, pytest_message, shares, step_anchor

_esc = html.escape
_TICK = "<span class='ok' title='the browser agrees with the verdict'>✓</span>"
_CROSS = "<span class='bad' title='the browser disagrees with the verdict'>✗</span>"
_DECIDED = {"fail": "failed", "undecided": "stayed undecided", "error": "could not be decided"}
OUTCOME_WORDS = {"passed": "PASSED", "failed": "FAILED", "skipped": "SKIPPED", "error": "ERROR"}

CSS = """
:root{--pass:#15803d;--fail:#b91c1c;--error:#c2410c;--skip:#64748b;--ink:#0f172a;--muted:#64748b;
--line:#e2e8f0;--bg:#f8fafc;--sync:#2563eb}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:var(--ink);background:var(--bg)}
header.top{background:#0f172a;color:#e2e8f0;padding:22px 0 18px}
header.top .wrap,main{max-width:1140px;margin:0 auto;padding:0 28px}
header.top h1{margin:0 0 6px;font-size:22px;font-weight:650;color:#fff;display:flex;gap:12px;align-items:center}
header.top .meta{color:#94a3b8;font-size:13px}
header.top .meta b{color:#e2e8f0;font-weight:600}
.counts{margin-top:10px;font-size:15px;color:#e2e8f0}
.counts b.pass{color:#4ade80}.counts b.fail{color:#f87171}
main{padding-top:8px;padding-bottom:48px}
h2{font-size:17px;margin:28px 0 10px}
h3{font-size:15px;margin:0;display:flex;gap:10px;align-items:center;flex-wrap:wrap}
h4{font-size:13px;margin:14px 0 6px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
h5{font-size:13.5px;margin:14px 0 4px}
a{color:#1d4ed8;text-decoration:none}a:hover{text-decoration:underline}
.badge{display:inline-block;min-width:64px;text-align:center;padding:1px 9px;border-radius:999px;font-size:11.5px;
font-weight:700;letter-spacing:.04em;color:#fff;background:var(--skip)}
.badge.passed{background:var(--pass)}.badge.failed{background:var(--fail)}.badge.error{background:var(--error)}
.badge.big{font-size:13px;padding:3px 12px}
.badge.interrupted,.badge.collection-errors,.badge.internal-error,.badge.usage-error{background:var(--error)}
.badge.nothing-collected{background:var(--skip)}
.card{background:#fff;border:1px solid var(--line);border-radius:10px;padding:16px 20px;margin:14px 0;
box-shadow:0 1px 2px rgba(15,23,42,.05)}
.card.failed,.card.error{border-left:4px solid var(--fail)}.card.passed{border-left:4px solid var(--pass)}
.card.skipped{border-left:4px solid var(--skip)}
.notice{background:#fff7ed;border:1px solid #fed7aa;border-left:4px solid var(--error);border-radius:10px;
padding:12px 16px;margin:16px 0}
.notice p{margin:4px 0}
.desc{color:#334155;margin:6px 0 2px;font-style:italic}
.meta{color:var(--muted);font-size:12.5px}
table{border-collapse:collapse;width:100%}
th,td{padding:6px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:middle;font-size:13px}
th{color:var(--muted);font-weight:600;font-size:12px;background:#f8fafc}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.scenario td{background:#f1f5f9;font-weight:650;border-top:2px solid var(--line)}
tr.scenario td .meta{font-weight:400;margin-left:8px}
td.dec-pass{color:var(--pass);font-weight:650}td.dec-fail,td.dec-undecided,td.dec-error{color:var(--fail);
font-weight:650}
ul.objects{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:6px}
ul.objects li{background:#f1f5f9;border-radius:6px;padding:2px 8px;font:12px ui-monospace,SFMono-Regular,Menlo,
Consolas,monospace}
.warn{background:#fffbeb;border:1px solid #fde68a;color:#92400e;border-radius:6px;padding:6px 10px;margin:8px 0;
font-size:12.5px}.warn ul{margin:4px 0 0;padding-left:18px}
.scroll{overflow-x:auto}td.name{white-space:nowrap}
td.exp{min-width:170px;max-width:260px}td.obs{white-space:nowrap;font-variant-numeric:tabular-nums;font-size:12.5px}
pre{white-space:pre-wrap;word-break:break-word;background:#f1f5f9;border-radius:6px;padding:10px 12px;
font:12px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;margin:6px 0}
pre.explain{background:#fef2f2;border:1px solid #fecaca;color:#450a0a}
details summary{cursor:pointer;color:var(--muted);font-size:12.5px}
svg.split .lbl,svg.timeline .lbl{font-size:11px;fill:#475569}
svg.split .in{font-size:10px;fill:#fff;font-weight:600}
svg.timeline{display:block;margin:4px 0}
svg.timeline .num{font-size:11px;fill:#334155;text-anchor:middle;font-weight:600}
svg.timeline .tick{font-size:10px;fill:#64748b;text-anchor:middle}
.legend{display:flex;flex-wrap:wrap;gap:14px;font-size:12px;color:#475569;margin:2px 0 6px}
.legend .key{display:inline-flex;align-items:center;gap:5px}
.legend i{display:inline-block;width:12px;height:12px;border-radius:3px}
.legend i.sync{width:0;height:12px;border-left:2px dashed;border-radius:0}
.shots{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:14px}
figure{margin:0;border:1px solid var(--line);border-radius:8px;overflow:hidden;background:#fff}
figure.disagrees{border:2px solid var(--fail)}
figure img{display:block;width:100%;border-bottom:1px solid var(--line)}
figcaption{padding:8px 10px;font-size:12.5px}
figcaption .who{font-weight:650}
.ok{color:var(--pass);font-weight:650}.bad{color:var(--fail);font-weight:650}
.problems{color:var(--fail);margin:4px 0 0;padding-left:18px}
"""


def _seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _latency(e: ExpectationResult) -> str:
    lat = e.latency
    if not lat:
        return "-"
    values = [lat.get(k) for k in ("p50", "p90", "p99", "max")]
    if max(v for v in values if v is not None) < 1:
        return " / ".join("-" if v is None else f"{v * 1000:.0f}" for v in values) + " ms"
    return " / ".join("-" if v is None else f"{v:.2f}" for v in values) + " s"


def _observed(e: ExpectationResult) -> str:
    """The observed shares, one label a line."""
    if not e.counts:
        return "-"
    share = shares(e.counts)
    ordered = sorted(e.counts.items(), key=lambda kv: -kv[1])
    return "<br>".join(_esc(f"{label} {share[label]:.1%} ({n})") for label, n in ordered)


def _badge(outcome: str, big: bool = False) -> str:
    word = OUTCOME_WORDS.get(outcome, outcome.upper())
    css = outcome.replace(" ", "-")
    return f"<span class='badge {css}{' big' if big else ''}'>{_esc(word)}</span>"


def render_html(results: RunResults, images: Mapping[str, bytes] | None = None) -> str:
    """The page; ``images`` holds the screenshots' PNG bytes by their file name (as views record it)."""
    colours = Colours()
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>meshrelease report: {_esc(_outcome(results))}</title><style>{CSS}</style></head><body>",
        _header(results),
        "<main>",
        _notices(results),
        _summary(results),
        _timeline(results, colours),
    ]
    for n, step in enumerate(results.steps, start=1):
        out.append(_step(n, step, results, colours, images or {}))
    out.append("</main></body></html>\n")
    return "".join(out)


def _outcome(results: RunResults) -> str:
    if results.status is not None:
        return results.status.outcome
    return "passed" if results.summary.failed == 0 else "failed"


def _header(results: RunResults) -> str:
    s, o = results.summary, results.options
    backend = backend_line(results).replace("**", "")
    status = results.status
    exit_text = f" · exit status {status.exit_status}" if status is not None else ""
    return (
        "<header class='top'><div class='wrap'>"
        f"<h1>meshrelease report {_badge(_outcome(results), big=True)}</h1>"
        f"<div class='meta'>{_esc(backend)} · started <b>{_esc(results.started)}</b> · {results.seconds} s · "
        f"α={o.alpha} β={o.beta} δ={o.delta} · concurrency {o.concurrency}{exit_text} · meshrelease "
        f"{_esc(results.meshrelease)}</div>"
        f"<div class='counts'><b class='pass'>{s.passed} passed</b> · <b class='fail'>{s.failed} failed</b> · "
        f"{s.skipped} skipped · {s.steps} steps</div>"
        "</div></header>"
    )


def _notices(results: RunResults) -> str:
    status = results.status
    if status is None:
        return ""
    parts: list[str] = []
    if status.outcome not in ("passed", "failed") or status.notes or status.collection_errors:
        parts.append(f"<p><b>The run {_esc(status.outcome)}</b> (exit status {status.exit_status}).</p>")
    parts += [f"<p>{_esc(note)}</p>" for note in status.notes]
    for error in status.collection_errors:
        parts.append(f"<p>could not collect <code>{_esc(error.nodeid)}</code>:</p><pre>{_esc(error.message)}</pre>")
    junit = f"<p class='meta'>JUnit XML: <code>{_esc(status.junit)}</code></p>" if status.junit else ""
    if not parts:
        return junit
    return "<div class='notice'>" + "".join(parts) + "</div>" + junit


def _summary(results: RunResults) -> str:
    if not results.steps:
        return "<h2>Summary</h2><p class='meta'>No step ran.</p>"
    browser = any(s.views for s in results.steps)
    rows = [
        "<h2>Summary</h2><div class='card'><table><tr><th class='num'>#</th><th>outcome</th><th>step</th>"
        "<th>description</th><th class='num'>pages</th><th class='num'>duration</th>"
        + ("<th>browser</th>" if browser else "")
        + "</tr>"
    ]
    numbered = list(enumerate(results.steps, start=1))
    for scenario, group in groupby(numbered, key=lambda item: item[1].scenario):
        members = list(group)
        steps = [s for _, s in members]
        passed = sum(s.outcome == "passed" for s in steps)
        failing = sum(s.outcome in ("failed", "error") for s in steps)
        seconds = sum(s.seconds for s in steps)
        outcome = "failed" if failing else ("passed" if passed == len(steps) else "skipped")
        rows.append(
            f"<tr class='scenario'><td></td><td>{_badge(outcome)}</td><td colspan='{5 if browser else 4}'>"
            f"{_esc(scenario)}"
            f"<span class='meta'>{len(steps)} steps · {passed} passed · {failing} failed · {seconds:.1f} s"
            "</span></td></tr>"
        )
        for n, step in members:
            pages = sum(e.requests for e in step.expectations)
            views = "".join(_TICK if v.agrees else _CROSS for v in step.views)
            rows.append(
                f"<tr><td class='num'>{n}</td><td>{_badge(step.outcome)}</td>"
                f"<td class='name'><a href='#{step_anchor(n, step)}'>{_esc(step.step)}</a></td>"
                f"<td>{_esc(step.description)}</td><td class='num'>{pages}</td>"
                f"<td class='num'>{step.seconds:.2f} s</td>" + (f"<td>{views}</td>" if browser else "") + "</tr>"
            )
    rows.append("</table></div>")
    return "".join(rows)


def _timeline(results: RunResults, colours: Colours) -> str:
    steps = results.steps
    span = run_span(steps)
    if span is None:
        return ""
    numbers = {i: i + 1 for i in range(len(steps))}
    anchors = {i: step_anchor(i + 1, s) for i, s in enumerate(steps)}
    chart = timeline_chart(steps, numbers=numbers, anchors=anchors, colours=colours)
    labels = {label for s in steps for e in s.expectations for b in e.timeline for label in b.counts}
    return (
        "<h2>Timeline</h2><div class='card'>"
        "<p class='meta'>What every page showed, by the time it was requested (stacked shares per time bin), one "
        "lane per user; the numbered bands are the steps (replays and sync included), the dashed blue line the "
        "moment the step's apply ran on every proxy.</p>"
        f"{legend(labels, colours, browser=any(s.views for s in steps))}{chart}</div>"
    )


def _step(n: int, step: StepRecord, results: RunResults, colours: Colours, images: Mapping[str, bytes]) -> str:
    out = [
        f"<section class='card {step.outcome}' id='{step_anchor(n, step)}'>",
        f"<h3>{_badge(step.outcome)} <span>#{n} {_esc(step.scenario)} :: {_esc(step.step)}</span></h3>",
    ]
    if step.description:
        out.append(f"<p class='desc'>{_esc(step.description)}</p>")
    meta = [f"{step.seconds:.2f} s", f"synced in {_seconds(step.sync_seconds)}"]
    if step.replayed:
        meta.append("applied first without their checks: " + ", ".join(step.replayed))
    out.append(f"<p class='meta'>{_esc(' · '.join(meta))} · <code>{_esc(step.nodeid)}</code></p>")
    if step.applied or step.warnings:
        out.append("<h4>Applied and deleted</h4><ul class='objects'>")
        out += [f"<li>{_esc(line)}</li>" for line in step.applied]
        out.append("</ul>")
        if step.warnings:
            out.append("<div class='warn'><b>⚠ warnings</b><ul>")
            out += [f"<li>{_esc(w)}</li>" for w in step.warnings]
            out.append("</ul></div>")
    if step.error:
        out.append(f"<h4>Error</h4><pre class='explain'>{_esc(step.error)}</pre>")
    if step.expectations:
        out.append(
            "<h4>Expectations</h4><div class='scroll'><table><tr><th>expectation</th><th>expected vs observed</th>"
            "<th>observed</th><th class='num'>pages</th><th class='num'>converged</th><th class='num'>latency<br>"
            "p50 / p90 / p99 / max</th><th>decision</th></tr>"
        )
        for e in step.expectations:
            out.append(
                f"<tr><td class='exp'>{_esc(e.description)}</td><td>{split_chart(e, colours)}</td>"
                f"<td class='obs'>{_observed(e)}</td><td class='num'>{e.requests}</td>"
                f"<td class='num'>{_seconds(e.time_to_converge)}</td><td class='num'>{_esc(_latency(e))}</td>"
                f"<td class='dec-{_esc(e.decision)}'>{_esc(e.decision)}</td></tr>"
            )
        out.append("</table></div>")
        for position, e in enumerate(step.expectations, start=1):
            if e.passed:
                continue
            decided = _DECIDED.get(e.decision, e.decision)
            out.append(f"<h5>Why “{_esc(e.description)}” {_esc(decided)}</h5>")
            out.append(f"<pre class='explain'>{_esc(e.explanation)}</pre>")
            if e.example is not None:
                obs = e.example.observation
                out.append(
                    f"<p class='meta'>example page: label {_esc(e.example.label)}, pod {_esc(str(obs.pod))}, stars "
                    f"{_esc(obs.stars)}, status {obs.status}, x-request-id {_esc(str(obs.request_id))}</p>"
                )
                if e.example.access_log:
                    name = access_log_file(step, position)
                    out.append(
                        f"<p>its access-log lines: <a href='{_esc(name)}'>{_esc(name)}</a></p>"
                        f"<details><summary>show them</summary><pre>{_esc(chr(10).join(e.example.access_log))}"
                        "</pre></details>"
                    )
    if step.views:
        out.append("<h4>What a browser showed</h4><div class='shots'>")
        out += [_view(v, images) for v in step.views]
        out.append("</div>")
    if any(e.timeline for e in step.expectations) and step.started_at > 0:
        origin = run_span(results.steps)
        chart = timeline_chart(
            [step],
            numbers={0: n},
            window=(step.started_at, step.started_at + step.seconds),
            origin=origin[0] if origin else None,
            colours=colours,
            width=1040,
        )
        opened = " open" if step.outcome in ("failed", "error") else ""
        out.append(f"<details{opened}><summary>timeline of this step</summary>{chart}</details>")
    message = pytest_message(step)
    if message is not None:
        out.append(f"<h4>pytest</h4><pre class='explain'>{_esc(message)}</pre>")
    if step.diagnostics:
        text = "\n\n".join(f"{k}:\n{v.strip()}" for k, v in step.diagnostics.items())
        out.append(f"<details><summary>diagnostics</summary><pre>{_esc(text)}</pre></details>")
    out.append("</section>")
    return "".join(out)


def _view(v: BrowserView, images: Mapping[str, bytes]) -> str:
    png = images.get(v.screenshot) if v.screenshot else None
    img = ""
    if png:
        data = base64.b64encode(png).decode("ascii")
        img = (
            f"<a href='{_esc(v.screenshot)}'><img alt='productpage as {_esc(v.who)}' "
            f"src='data:image/png;base64,{data}'></a>"
        )
    verdict = (
        "<span class='ok'>✓ agrees with the verdict</span>" if v.agrees else "<span class='bad'>✗ disagrees</span>"
    )
    problems = "".join(f"<li>{_esc(p)}</li>" for p in v.problems)
    return (
        f"<figure class='{'agrees' if v.agrees else 'disagrees'}'>{img}<figcaption>"
        f"<div><span class='who'>{_esc(v.who)}</span> · {verdict}</div>"
        f"<div>{_esc(v.describe())}</div>"
        f"<div class='meta'>{_esc('; '.join(v.actions))} · {_seconds(v.seconds)}</div>"
        + (f"<ul class='problems'>{problems}</ul>" if problems else "")
        + "</figcaption></figure>"
    )
