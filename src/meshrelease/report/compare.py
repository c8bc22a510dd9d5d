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

Regressions make ``meshrelease compare`` exit 1.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meshrelease.errors import UserInputError

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
                    "findings": [f.__dict__ for f in self.findings],
                },
                indent=2,
            ),
            encoding="utf-8",
        )
        return [md, page, data]


def load_results(path: Path) -> dict[str, Any]:
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserInputError(f"cannot read results: {exc.strerror}", path=str(path)) from exc
    except json.JSONDecodeError as exc:
        raise UserInputError(f"not JSON: {exc.msg}", path=str(path), line=exc.lineno) from exc
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        raise UserInputError(
            "not a meshrelease results.json (no steps list)",
            path=str(path),
            hint="pass the results.json of a run",
        )
    return data


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


def _compare_expectation(step_id: str, a: Mapping[str, Any], b: Mapping[str, Any], delta: float) -> list[Finding]:
    out: list[Finding] = []
    desc = str(b.get("description"))
    ca: Mapping[str, int] = a.get("counts") or {}
    cb: Mapping[str, int] = b.get("counts") or {}
    na, nb = sum(ca.values()), sum(cb.values())
    for label in sorted(set(ca) | set(cb)):
        ka, kb = ca.get(label, 0), cb.get(label, 0)
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
    la, lb = a.get("latency") or {}, b.get("latency") or {}
    if "p50" in la and "p50" in lb:
        before, after = float(la["p50"]), float(lb["p50"])
        if abs(after - before) > max(0.5, 0.25 * before):
            out.append(
                Finding(step_id, "latency", True, f"{desc}: median page latency {before:.2f} s -> {after:.2f} s")
            )
    return out


def compare(before: Mapping[str, Any], after: Mapping[str, Any], *, delta: float | None = None) -> list[Finding]:
    d = delta if delta is not None else float((after.get("options") or {}).get("delta") or 0.1)
    steps_a = {(s.get("scenario"), s.get("step")): s for s in before.get("steps", [])}
    findings: list[Finding] = []
    for sb in after.get("steps", []):
        key = (sb.get("scenario"), sb.get("step"))
        step_id = f"{key[0]}::{key[1]}"
        sa = steps_a.get(key)
        if sa is None:
            findings.append(Finding(step_id, "new", False, "step not in the earlier run"))
            continue
        oa, ob = sa.get("outcome"), sb.get("outcome")
        if oa == "passed" and ob == "failed":
            findings.append(Finding(step_id, "outcome", True, "passed before, fails now"))
        elif oa == "failed" and ob == "passed":
            findings.append(Finding(step_id, "outcome", False, "failed before, passes now"))
        elif oa != ob:
            findings.append(Finding(step_id, "outcome", ob == "failed", f"outcome {oa} -> {ob}"))
        if sb.get("error") and not sa.get("error"):
            findings.append(Finding(step_id, "error", True, f"new step error: {str(sb['error']).splitlines()[0]}"))
        exps_a = {e.get("description"): e for e in sa.get("expectations") or []}
        for eb in sb.get("expectations") or []:
            ea = exps_a.get(eb.get("description"))
            if ea is not None:
                findings += _compare_expectation(step_id, ea, eb, d)
    keys_b = {(s.get("scenario"), s.get("step")) for s in after.get("steps", [])}
    for key in steps_a:
        if key not in keys_b:
            findings.append(Finding(f"{key[0]}::{key[1]}", "missing", False, "step not in the later run"))
    return findings


def compare_files(before: Path, after: Path, *, delta: float | None = None) -> Comparison:
    a, b = load_results(before), load_results(after)
    d = delta if delta is not None else float((b.get("options") or {}).get("delta") or 0.1)
    keys_a = {(s.get("scenario"), s.get("step")) for s in a.get("steps", [])}
    common = sum(1 for s in b.get("steps", []) if (s.get("scenario"), s.get("step")) in keys_a)
    return Comparison(
        before=str(before), after=str(after), findings=compare(a, b, delta=d), steps_compared=common, delta=d
    )
