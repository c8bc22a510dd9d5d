"""What changed between two runs (two ``results.json``), e.g. before and after a mesh upgrade.

Findings, per step (matched by scenario and step name) and expectation (matched by description):

- **outcome**: a step that passed before and fails now is a regression; the reverse an improvement.
- **share moves**: an observed share that moved by more than δ *and* significantly (two-proportion z-test,
  p < 0.001) — with the few dozen pages of a single-version check, noise alone moves a share by 0.1 now and
  then, and that must not be reported as a regression.
- **new errors**: error labels (fetch errors, HTTP statuses, "unavailable", violations) or a step error that the
  earlier run did not have.
- **latency**: the median page latency of an expectation moved by more than max(0.5 s, 25 %) — the fault
  injection steps, where the injected delay and productpage's retries shape the latency.

Regressions make ``meshrelease compare`` exit 1. Both runs are read with
:func:`meshrelease.engine.results.load_results`: a file that is not results v1 is an error naming the file and
the field.
"""

from __future__ import annotations

import html
import json
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from meshrelease.engine.results import FAILING, ExpectationResult, RunResults, load_results

VERSION_LABELS = ("v1", "v2", "v3", "ok")
SIGNIFICANCE = 1e-3


@dataclass(frozen=True)
class Finding:
    step: str  # scenario::step
    kind: str  # outcome | share | error | latency | missing | new
    regression: bool
    text: str


@dataclass
class Comparison:
    before: str
    after: str
    findings: list[Finding] = field(default_factory=list)
    steps_compared: int = 0
    delta: float = 0.1

    @property
    def regressions(self) -> list[Finding]:
        return [f for f in self.findings if f.regression]

    def render_text(self) -> str:
        lines = [
            f"compare {self.before} -> {self.after}: {self.steps_compared} steps compared, "
            f"{len(self.regressions)} regression(s), {len(self.findings) - len(self.regressions)} other change(s)"
        ]
        for f in self.findings:
            mark = "REGRESSION" if f.regression else "change"
            lines.append(f"  [{mark}] {f.step}: {f.text}")
        if not self.findings:
            lines.append("  no differences beyond noise")
        return "\n".join(lines)

    def render_markdown(self) -> str:
        out = [
            "# meshrelease comparison",
            "",
            f"`{self.before}` → `{self.after}` · {self.steps_compared} steps · δ={self.delta} · "
            f"**{len(self.regressions)} regression(s)**",
            "",
        ]
        if self.findings:
            out += ["| step | kind | regression | finding |", "|---|---|---|---|"]
            out += [
                f"| {f.step} | {f.kind} | {'yes' if f.regression else 'no'} | {f.text.replace('|', '/')} |"
                for f in self.findings
            ]
        else:
            out.append("No differences beyond noise.")
        return "\n".join(out) + "\n"

    def render_html(self) -> str:
        esc = html.escape
        rows = "".join(
            f"<tr class='{'reg' if f.regression else ''}'><td>{esc(f.step)}</td><td>{esc(f.kind)}</td>"
            f"<td>{'yes' if f.regression else 'no'}</td><td>{esc(f.text)}</td></tr>"
            for f in self.findings
        )
        body = (
            f"<table><tr><th>step</th><th>kind</th><th>regression</th><th>finding</th></tr>{rows}</table>"
            if self.findings
            else "<p>No differences beyond noise.</p>"
        )
        return (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>meshrelease comparison</title>"
            "<style>body{font-family:system-ui,sans-serif;margin:2rem}td,th{border:1px solid #ddd;padding:.3rem .5rem}"
            "table{border-collapse:collapse}tr.reg td{background:#fde8e6}</style></head><body>"
            f"<h1>meshrelease comparison</h1><p>{esc(self.before)} → {esc(self.after)} · {self.steps_compared} "
            f"steps · δ={self.delta} · <b>{len(self.regressions)} regression(s)</b></p>{body}</body></html>\n"
        )

    def write(self, out_dir: Path) -> list[Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        md, page, data = out_dir / "compare.md", out_dir / "compare.html", out_dir / "compare.json"
        md.write_text(self.render_markdown(), encoding="utf-8")
        page.write_text(self.render_html(), encoding="utf-8")
        data.write_text(
            json.dumps(
                {
                    "before": self.before,
                    "after": self.after,
                    "steps_compared": self.steps_compared,
                    "regressions": len(self.regressions),
                    "findings": [asdict(f) for f in self.findings],
                },
                indent=2,
            ),
            encoding="utf-8",
        )
        return [md, page, data]


def _is_error_label(label: str) -> bool:
    return label not in VERSION_LABELS


def two_proportion_p(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided p-value of a two-proportion z-test (pooled); 1.0 when undefined."""
    if n1 == 0 or n2 == 0:
        return 1.0
    pooled = (k1 + k2) / (n1 + n2)
    var = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if var <= 0:
        return 0.0 if k1 / n1 != k2 / n2 else 1.0
    z = abs(k1 / n1 - k2 / n2) / math.sqrt(var)
    return math.erfc(z / math.sqrt(2))


def _compare_expectation(step_id: str, a: ExpectationResult, b: ExpectationResult, delta: float) -> list[Finding]:
    out: list[Finding] = []
    desc = b.description
    ca, cb = Counter(a.counts), Counter(b.counts)
    na, nb = ca.total(), cb.total()
    for label in sorted(ca.keys() | cb.keys()):
        ka, kb = ca[label], cb[label]
        if _is_error_label(label) and kb and not ka:
            out.append(Finding(step_id, "error", True, f"{desc}: new {label!r} on {kb}/{nb} pages"))
            continue
        if na and nb:
            pa, pb = ka / na, kb / nb
            if abs(pb - pa) > delta:
                p = two_proportion_p(ka, na, kb, nb)
                significant = p < SIGNIFICANCE
                out.append(
                    Finding(
                        step_id,
                        "share",
                        significant,
                        f"{desc}: share of {label} {pa:.1%} ({ka}/{na}) -> {pb:.1%} ({kb}/{nb})"
                        + ("" if significant else f" (not significant, p={p:.2g})"),
                    )
                )
    if "p50" in a.latency and "p50" in b.latency:
        before, after = a.latency["p50"], b.latency["p50"]
        if abs(after - before) > max(0.5, 0.25 * before):
            out.append(
                Finding(step_id, "latency", True, f"{desc}: median page latency {before:.2f} s -> {after:.2f} s")
            )
    return out


def compare(before: RunResults, after: RunResults, *, delta: float | None = None) -> list[Finding]:
    d = delta if delta is not None else after.options.delta
    steps_a = {(s.scenario, s.step): s for s in before.steps}
    findings: list[Finding] = []
    for sb in after.steps:
        key = (sb.scenario, sb.step)
        if key not in steps_a:
            findings.append(Finding(sb.id, "new", False, "step not in the earlier run"))
            continue
        sa = steps_a[key]
        oa, ob = sa.outcome, sb.outcome
        if oa == "passed" and ob == "failed":
            findings.append(Finding(sb.id, "outcome", True, "passed before, fails now"))
        elif oa == "failed" and ob == "passed":
            findings.append(Finding(sb.id, "outcome", False, "failed before, passes now"))
        elif oa != ob:
            findings.append(Finding(sb.id, "outcome", ob in FAILING, f"outcome {oa} -> {ob}"))
        if sb.error and not sa.error:
            findings.append(Finding(sb.id, "error", True, f"new step error: {sb.error.splitlines()[0]}"))
        exps_a = {e.description: e for e in sa.expectations}
        for eb in sb.expectations:
            if eb.description in exps_a:
                findings += _compare_expectation(sb.id, exps_a[eb.description], eb, d)
    keys_b = {(s.scenario, s.step) for s in after.steps}
    findings += [
        Finding(sa.id, "missing", False, "step not in the later run")
        for key, sa in steps_a.items()
        if key not in keys_b
    ]
    return findings


def compare_runs(
    before: RunResults, after: RunResults, *, before_name: str, after_name: str, delta: float | None = None
) -> Comparison:
    """The comparison of two runs' results, named (e.g. by their files) in the reports."""
    d = delta if delta is not None else after.options.delta
    keys_a = {(s.scenario, s.step) for s in before.steps}
    common = sum(1 for s in after.steps if (s.scenario, s.step) in keys_a)
    return Comparison(
        before=before_name, after=after_name, findings=compare(before, after, delta=d), steps_compared=common, delta=d
    )


def compare_files(before: Path, after: Path, *, delta: float | None = None) -> Comparison:
    """The comparison of two results.json files (or report directories holding one)."""
    return compare_runs(
        load_results(before), load_results(after), before_name=str(before), after_name=str(after), delta=delta
    )
