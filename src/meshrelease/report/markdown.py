"""report.md: the run as Markdown — how it ended, a summary table, then every step with what it applied, its
expectations (with latency percentiles), failure explanations and links to the files next to the report."""

from __future__ import annotations

from meshrelease.engine.results import RunResults, StepRecord
from meshrelease.report.text import (
    MARKS,
    access_log_file,
    expected_text,
    observed_text,
    pytest_message,
)


def backend_line(results: RunResults) -> str:
    b = results.backend
    if b is None:
        return "backend **?** (no step started a mesh)"
    parts = [f"backend **{b.backend}**"]
    parts += [
        f"{key}: {value}"
        for key, value in (("mesh", b.mesh), ("kubernetes", b.kubernetes), ("bookinfo", b.bookinfo))
        if value
    ]
    return "; ".join(parts)


def _latency(lat: dict[str, float]) -> str:
    if not lat:
        return "-"
    return " / ".join(f"{lat[k]:.3f}" if k in lat else "-" for k in ("p50", "p90", "p99", "max"))


def _code(text: str) -> list[str]:
    return ["", "```", text.rstrip("\n"), "```"]


def render_markdown(results: RunResults) -> str:
    s = results.summary
    o = results.options
    status = results.status
    lines = [
        "# meshrelease report",
        "",
        f"{backend_line(results)}  ",
        f"started {results.started}, {results.seconds} s; α={o.alpha}, β={o.beta}, δ={o.delta}",
        "",
    ]
    if status is not None:
        lines.append(f"**run {status.outcome}** (exit status {status.exit_status}): ")
    lines += [f"**{s.passed} passed, {s.failed} failed, {s.skipped} skipped** of {s.steps} steps", ""]
    if status is not None:
        lines += [f"- {note}" for note in status.notes]
        if status.junit:
            lines.append(f"- JUnit XML: `{status.junit}`")
        for error in status.collection_errors:
            lines += [f"- could not collect `{error.nodeid}`:", *(f"  {line}" for line in _code(error.message))]
        lines.append("")
    if results.steps:
        lines += ["| # | step | outcome | seconds | description |", "|---|---|---|---|---|"]
        for n, step in enumerate(results.steps, start=1):
            lines.append(f"| {n} | `{step.id}` | {MARKS[step.outcome]} | {step.seconds:.1f} | {step.description} |")
        lines.append("")
    for n, step in enumerate(results.steps, start=1):
        lines += _step(n, step)
    return "\n".join(lines) + "\n"


def _step(n: int, step: StepRecord) -> list[str]:
    lines = [f"## {MARKS[step.outcome]} `{step.id}`", ""]
    if step.description:
        lines.append(f"*{step.description}*  ")
    if step.replayed:
        lines.append(f"applied first without their checks: {', '.join(step.replayed)}  ")
    lines.append(f"step {n}: synced in {step.sync_seconds} s, step took {step.seconds} s")
    if step.applied or step.warnings:
        lines += ["", *(f"- `{line}`" for line in step.applied), *(f"- ⚠ {w}" for w in step.warnings)]
    if step.error:
        lines += _code(step.error)
    if step.expectations:
        lines += [
            "",
            "| expectation | expected | observed | requests | converged after | latency p50 / p90 / p99 / max (s) "
            "| decision |",
            "|---|---|---|---|---|---|---|",
        ]
        for e in step.expectations:
            lines.append(
                f"| {e.description} | {expected_text(e.kind, e.expected)} | {observed_text(e.counts)} | "
                f"{e.requests} | {e.time_to_converge} s | {_latency(e.latency)} | {e.decision} |"
            )
        for position, e in enumerate(step.expectations, start=1):
            if e.passed:
                continue
            lines += ["", f"- {e.description}:", *(f"  {line}" for line in _code(e.explanation))]
            if e.example is not None and e.example.access_log:
                lines.append(
                    f"  - access-log lines of one mis-routed request: [{access_log_file(step, position)}]"
                    f"({access_log_file(step, position)})"
                )
    for v in step.views:
        mark = "agrees" if v.agrees else "DISAGREES: " + "; ".join(v.problems)
        link = f" — [{v.screenshot}]({v.screenshot})" if v.screenshot else ""
        lines.append(f"- browser as {v.who}: {v.describe()}: {mark}{link}")
    message = pytest_message(step)
    if message is not None:
        lines += _code(message)
    lines.append("")
    return lines
