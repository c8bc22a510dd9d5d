"""Words and names every report shares: expected and observed columns, step anchors, the files written next to a
report (access-log lines, screenshots)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from meshrelease.engine.results import ExpectationResult, StepRecord

MARKS = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP", "error": "ERROR"}
ACCESS_LOG_DIR = "access-logs"
_SLUG = re.compile(r"[^A-Za-z0-9_.-]+")


def shares(values: Mapping[str, float]) -> dict[str, float]:
    total = float(sum(values.values()))
    return {k: (v / total if total else 0.0) for k, v in values.items()}


def expected_text(kind: str, expected: Mapping[str, float]) -> str:
    """The expected column of reports and failure tables: shares of a split, the versions otherwise."""
    if kind == "split":
        return ", ".join(f"{k} {v:.0%}" for k, v in shares(expected).items())
    if kind == "spread":
        return "spread over " + ", ".join(expected)
    return ", ".join(expected) or "-"


def observed_text(counts: Mapping[str, int]) -> str:
    """The observed column: each label's share and count, the most frequent first."""
    if not counts:
        return "-"
    share = shares(counts)
    return ", ".join(f"{k} {share[k]:.1%} ({n})" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def slug(text: str) -> str:
    return _SLUG.sub("_", text).strip("_") or "_"


def step_anchor(index: int, step: StepRecord) -> str:
    """The HTML id of the ``index``-th step (1-based) of a report."""
    return f"step-{index}-{slug(step.scenario)}--{slug(step.step)}"


def access_log_file(step: StepRecord, position: int) -> str:
    """The file (relative to the report) holding the access-log lines of the mis-routed page of the step's
    ``position``-th expectation (1-based)."""
    return f"{ACCESS_LOG_DIR}/{slug(step.scenario)}--{slug(step.step)}--{position}.log"


def access_log_files(steps: list[StepRecord]) -> dict[str, tuple[StepRecord, ExpectationResult]]:
    """Every access-log file of a report: file -> (step, failed expectation with an example page)."""
    files: dict[str, tuple[StepRecord, ExpectationResult]] = {}
    for step in steps:
        for position, e in enumerate(step.expectations, start=1):
            if e.example is not None and e.example.access_log:
                files[access_log_file(step, position)] = (step, e)
    return files


def pytest_message(step: StepRecord) -> str | None:
    """pytest's failure text, shown when the runner did not record why the step failed."""
    if step.message and step.outcome != "passed" and not step.expectations and not step.error:
        return step.message
    return None
