"""results.json, report.md and report.html from step results."""

from __future__ import annotations

import json
from pathlib import Path

from meshrelease.backends.base import BackendInfo
from meshrelease.bookinfo.page import PageObservation
from meshrelease.engine.results import (
    ExpectationResult,
    PageExample,
    RunOptions,
    RunResults,
    StepRecord,
    StepResult,
    load_results,
)
from meshrelease.report.failure import failure_message
from meshrelease.report.render import render_html, render_markdown, split_chart, write_reports


def step_result(passed: bool) -> StepResult:
    exp = ExpectationResult(
        description="anonymous: reviews v2:50/v3:50",
        user=None,
        kind="split",
        expected={"v2": 50.0, "v3": 50.0},
        decision="pass" if passed else "fail",
        counts={"v2": 410, "v3": 269} if not passed else {"v2": 201, "v3": 199},
        requests=679 if not passed else 400,
        explanation="FAIL: v2 share 0.604 (410/679) is above 0.50",
        settle_pages=10,
        time_to_converge=0.12,
        example=None
        if passed
        else PageExample(
            label="v2",
            observation=PageObservation(version="v2", pod="reviews-v2-x", stars="black", status=200),
            access_log=['{"upstream_cluster": "outbound|9080|v2|r"}'],
        ),
    )
    return StepResult(scenario="asm-release", step="canary", passed=passed, expectations=[exp], sync_seconds=0.04)


def record(result: StepResult) -> StepRecord:
    step = StepRecord.of(result, f"scenario.yaml::{result.scenario}::{result.step}")
    step.outcome = "passed" if result.passed else "failed"
    return step


def results(*steps: StepRecord) -> RunResults:
    return RunResults.of(
        steps,
        backend=BackendInfo(backend="local", mesh="envoy 1.40.0", bookinfo="1.20.3"),
        options=RunOptions(alpha=1e-6, beta=1e-3, delta=0.1, concurrency=8),
        started="2026-11-27T00:00:00+00:00",
        finished="2026-11-27T00:00:10+00:00",
        seconds=10.0,
    )


def test_results_json_records_expected_observed_decision_and_backend(tmp_path: Path) -> None:
    written = results(record(step_result(True)), record(step_result(False)))
    paths = write_reports(written, tmp_path)
    assert [p.name for p in paths] == ["results.json", "report.md", "report.html"]
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["schema"] == "meshrelease/results/v1"
    assert data["summary"] == {"steps": 2, "passed": 1, "failed": 1, "skipped": 0}
    assert data["backend"]["mesh"] == "envoy 1.40.0"
    exp = data["steps"][1]["expectations"][0]
    assert exp["expected"] == {"v2": 50.0, "v3": 50.0}
    assert exp["counts"] == {"v2": 410, "v3": 269} and exp["requests"] == 679 and exp["decision"] == "fail"
    assert exp["time_to_converge"] == 0.12 and exp["settle"]["pages"] == 10
    assert exp["example"]["observation"]["pod"] == "reviews-v2-x" and exp["example"]["observation"]["label"] == "v2"
    assert "body" not in exp["example"]["observation"]
    assert load_results(tmp_path) == written


def test_markdown_lists_every_step_with_its_table() -> None:
    md = render_markdown(results(record(step_result(True)), record(step_result(False))))
    assert "**1 passed, 1 failed, 0 skipped** of 2 steps" in md
    assert "## PASS `asm-release::canary`" in md and "## FAIL `asm-release::canary`" in md
    assert "| anonymous: reviews v2:50/v3:50 | v2 50%, v3 50% | v2 60.4% (410), v3 39.6% (269) | 679 |" in md
    assert '`{"upstream_cluster": "outbound|9080|v2|r"}`' in md


def test_html_draws_expected_and_observed_bars() -> None:
    page = render_html(results(record(step_result(False))))
    assert page.startswith("<!doctype html>") and "FAILED asm-release::canary" in page
    chart = split_chart(step_result(False).expectations[0])
    assert chart.count("<rect") == 4  # two expected segments, two observed
    assert "v2: 60.4%" in chart and "v3: 50.0%" in chart
    assert "<script" not in page  # self-contained, no external resources


def test_failure_message_table() -> None:
    text = failure_message(step_result(False))
    lines = text.splitlines()
    assert lines[0] == "step asm-release::canary failed"
    assert lines[1].split() == ["expectation", "expected", "observed", "requests", "decision"]
    assert "v2 60.4% (410), v3 39.6% (269)" in lines[3] and lines[3].rstrip().endswith("fail")
    assert "its access-log lines:" in text
    assert "  example page: label 'v2', pod reviews-v2-x, stars black, status 200, x-request-id None" in lines


def test_steps_that_never_ran_show_their_outcome_and_pytest_text() -> None:
    error = StepRecord(nodeid="s.yaml::s::broken", scenario="s", step="broken", passed=False, outcome="error")
    error.message = "RuntimeError: fixture broke"
    skipped = StepRecord(nodeid="s.yaml::s::later", scenario="s", step="later", passed=False)
    run = results(record(step_result(True)), error, skipped)
    assert run.summary.steps == 3 and (run.summary.passed, run.summary.failed, run.summary.skipped) == (1, 1, 1)
    md = render_markdown(run)
    assert "## ERROR `s::broken`" in md and "## SKIP `s::later`" in md
    assert "```\nRuntimeError: fixture broke\n```" in md
    page = render_html(run)
    assert "<h2 class='fail'>ERROR s::broken</h2>" in page and "<h2 class='skip'>SKIPPED s::later</h2>" in page
    assert "<pre>RuntimeError: fixture broke</pre>" in page
