"""The failure of a step as a person reads it: the expected-vs-observed table, the explanation of every
failed expectation with its line breaks, one mis-routed request's access-log lines, what a real browser saw
where it disagrees with a verdict (``--browser``), and diagnostics."""

from __future__ import annotations

from collections.abc import Sequence

from meshrelease.engine.results import StepResult
from meshrelease.report.text import expected_text, observed_text


class StepFailed(AssertionError):
    """A step's expectations did not hold (or its manifests could not be applied); str() is the report."""

    def __init__(self, result: StepResult) -> None:
        self.result = result
        super().__init__(failure_message(result))


def failure_message(result: StepResult) -> str:
    """The expected-vs-observed table of a failed step, with the access log of one mis-routed request."""
    lines = [f"step {result.id} failed"]
    if result.error:
        lines.append(result.error)
    if result.expectations:
        header = ("expectation", "expected", "observed", "requests", "decision")
        rows = []
        for e in result.expectations:
            rows.append(
                (e.description, expected_text(e.kind, e.expected), observed_text(e.counts), str(e.requests), e.decision)
            )
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]

        def fmt(cells: Sequence[str]) -> str:
            return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

        lines.append(fmt(header))
        lines.append(fmt(["-" * w for w in widths]))
        lines += [fmt(r) for r in rows]
        for e in result.expectations:
            if e.passed:
                continue
            lines.append("")
            lines.append(f"{e.description}: {e.explanation}")
            if e.example is not None:
                obs = e.example.observation
                lines.append(
                    f"  example page: label {e.example.label!r}, pod {obs.pod}, stars {obs.stars}, status "
                    f"{obs.status}, x-request-id {obs.request_id}"
                )
                if e.example.access_log:
                    lines.append("  its access-log lines:")
                    lines += [f"    {line}" for line in e.example.access_log]
                else:
                    lines.append("  (no access-log lines found for it)")
    for view in result.views:
        if view.agrees:
            continue
        lines.append("")
        lines.append(f"the browser, as {view.who}, disagrees with the verdict:")
        lines.append(f"  the browser saw: {view.describe()} ({view.url}; {'; '.join(view.actions)})")
        lines += [f"  {problem}" for problem in view.problems]
    if result.diagnostics:
        lines.append("")
        lines.append("diagnostics:")
        for key, value in result.diagnostics.items():
            lines.append(f"  {key}: {value.strip()}")
    return "\n".join(lines)
