"""`meshrelease compare` on crafted results: regressions are found, none are invented."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from meshrelease.backends.base import BackendInfo
from meshrelease.cli.main import main
from meshrelease.engine.results import ExpectationResult, Outcome, RunOptions, RunResults, StepRecord
from meshrelease.errors import UserInputError
from meshrelease.report.compare import compare, compare_files, two_proportion_p


def expectation(desc: str, counts: dict[str, int], *, p50: float | None = None) -> ExpectationResult:
    return ExpectationResult(
        description=desc,
        user=None,
        kind="split",
        expected={"v2": 50.0, "v3": 50.0},
        decision="pass",
        counts=counts,
        requests=sum(counts.values()),
        latency={} if p50 is None else {"min": p50, "p50": p50, "max": p50, "mean": p50},
    )


def results(*steps: StepRecord) -> RunResults:
    return RunResults.of(
        steps,
        backend=BackendInfo("local", mesh="envoy 1.40.0"),
        options=RunOptions(alpha=1e-6, beta=1e-3, delta=0.1, concurrency=8),
        started="2026-11-27T00:00:00+00:00",
        finished="2026-11-27T00:00:10+00:00",
        seconds=10.0,
    )


def step(name: str, outcome: Outcome, *exps: ExpectationResult, error: str | None = None) -> StepRecord:
    return StepRecord(
        nodeid=f"scenario.yaml::asm-release::{name}",
        scenario="asm-release",
        step=name,
        passed=outcome == "passed",
        outcome=outcome,
        error=error,
        expectations=list(exps),
    )


BASE = results(
    step("canary", "passed", expectation("anonymous: reviews v2:50/v3:50", {"v2": 201, "v3": 199})),
    step("baseline", "passed", expectation("anonymous: reviews v1", {"v1": 66})),
    step(
        "delay",
        "passed",
        expectation("jason: reviews unavailable, latency 5..9 s", {"unavailable": 66}, p50=6.02),
    ),
)


def test_identical_runs_have_no_findings() -> None:
    assert compare(BASE, copy.deepcopy(BASE)) == []


def test_outcome_regression_and_improvement() -> None:
    after = copy.deepcopy(BASE)
    after.steps[1].outcome = "failed"
    before = copy.deepcopy(BASE)
    before.steps[0].outcome = "failed"
    findings = compare(before, after)
    kinds = {(f.step, f.kind, f.regression) for f in findings}
    assert ("asm-release::baseline", "outcome", True) in kinds
    assert ("asm-release::canary", "outcome", False) in kinds


def test_a_step_that_can_no_longer_be_set_up_is_a_regression() -> None:
    after = copy.deepcopy(BASE)
    after.steps[1].outcome = "error"
    assert [(f.step, f.kind, f.regression, f.text) for f in compare(BASE, after)] == [
        ("asm-release::baseline", "outcome", True, "outcome passed -> error")
    ]
    assert [(f.kind, f.regression) for f in compare(after, BASE)] == [("outcome", False)]


def test_significant_share_move_is_a_regression() -> None:
    after = copy.deepcopy(BASE)
    after.steps[0].expectations[0].counts = {"v2": 260, "v3": 140}  # 50 % -> 65 %
    findings = [f for f in compare(BASE, after) if f.kind == "share"]
    assert findings and all(f.regression for f in findings)
    assert "v2 50.2% (201/400) -> 65.0% (260/400)" in findings[0].text


def test_noisy_share_move_on_a_small_sample_is_not_a_regression() -> None:
    before = results(step("spread", "passed", expectation("anonymous: reviews spread", {"v1": 22, "v2": 22, "v3": 22})))
    after = results(step("spread", "passed", expectation("anonymous: reviews spread", {"v1": 29, "v2": 19, "v3": 18})))
    findings = compare(before, after)
    assert findings, "a move > δ is still reported"
    assert not any(f.regression for f in findings)
    assert "not significant" in findings[0].text


def test_new_error_label_and_step_error() -> None:
    after = copy.deepcopy(BASE)
    after.steps[1].expectations[0].counts = {"v1": 60, "status 503": 6}
    after.steps[0].error = "error when applying manifests/x.yaml\nmore"
    findings = compare(BASE, after)
    texts = [f.text for f in findings if f.regression]
    assert any("new 'status 503' on 6/66 pages" in t for t in texts)
    assert any(t == "new step error: error when applying manifests/x.yaml" for t in texts)


def test_latency_change_of_a_fault_step() -> None:
    after = copy.deepcopy(BASE)
    after.steps[2].expectations[0].latency["p50"] = 9.1
    findings = [f for f in compare(BASE, after) if f.kind == "latency"]
    assert len(findings) == 1 and findings[0].regression
    assert "6.02 s -> 9.10 s" in findings[0].text
    small = copy.deepcopy(BASE)
    small.steps[2].expectations[0].latency["p50"] = 6.2  # within max(0.5 s, 25 %)
    assert not [f for f in compare(BASE, small) if f.kind == "latency"]


def test_missing_and_new_steps_are_reported_not_regressions() -> None:
    after = copy.deepcopy(BASE)
    after.steps = [*after.steps[:2], step("extra", "passed")]
    findings = compare(BASE, after)
    assert {(f.kind, f.regression) for f in findings} == {("new", False), ("missing", False)}


def test_two_proportion_p() -> None:
    assert two_proportion_p(50, 100, 50, 100) == pytest.approx(1.0)
    assert two_proportion_p(50, 100, 80, 100) < 1e-4
    assert two_proportion_p(0, 0, 1, 2) == 1.0


def test_cli_exit_codes_and_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    BASE.write(a)
    BASE.write(b)
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "out")]) == 0
    assert "no differences beyond noise" in capsys.readouterr().out
    worse = copy.deepcopy(BASE)
    worse.steps[0].outcome = "failed"
    worse.write(b)
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "out")]) == 1
    out = capsys.readouterr().out
    assert "[REGRESSION] asm-release::canary: passed before, fails now" in out
    md = (tmp_path / "out" / "compare.md").read_text()
    assert "| asm-release::canary | outcome | yes |" in md
    assert "<tr class='reg'>" in (tmp_path / "out" / "compare.html").read_text()


def test_bad_input_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "r.json"
    bad.write_text("{not json")
    with pytest.raises(UserInputError, match="not JSON"):
        compare_files(bad, bad)
    bad.write_text(json.dumps({"hello": 1}))
    assert main(["compare", str(bad), str(bad)]) == 1
    assert "not a meshrelease results.json" in capsys.readouterr().err
    good = tmp_path / "good.json"
    BASE.write(good)
    data = json.loads(good.read_text())
    data["steps"][2]["expectations"][0]["counts"]["unavailable"] = "66"
    bad.write_text(json.dumps(data))
    assert main(["compare", str(good), str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f'error: {bad}: steps[2].expectations[0].counts.unavailable: expected an integer, found "66"')
    assert "Traceback" not in err


def test_a_report_directory_stands_for_its_results_json(tmp_path: Path) -> None:
    (tmp_path / "before").mkdir()
    BASE.write(tmp_path / "before" / "results.json")
    BASE.write(tmp_path / "after.json")
    comparison = compare_files(tmp_path / "before", tmp_path / "after.json")
    assert comparison.steps_compared == 3 and comparison.findings == []
