"""What the pytest plugin records in results.json for each step outcome, with a stand-in step runner (no mesh)."""

from __future__ import annotations

import textwrap

import pytest

from meshrelease.engine.results import load_results

pytest_plugins = ["pytester"]

SCENARIO = """
name: demo
steps:
  - name: passes
    expect: [{reviews: v1}]
  - name: fails
    expect: [{reviews: v1}]
  - name: broken
    expect: [{reviews: v1}]
  - name: skipped
    expect: [{reviews: v1}]
"""

CONFTEST = '''
import pytest

from meshrelease.engine.results import ExpectationResult, StepResult


class StandInRunner:
    """Passes every step but "fails", which sees v2 on 6 of 66 pages."""

    def run(self, scenario, step):
        passed = step.name != "fails"
        exp = ExpectationResult(
            description="anonymous: reviews v1",
            user=None,
            kind="version",
            expected={"v1": 1.0},
            decision="pass" if passed else "fail",
            counts={"v1": 66} if passed else {"v1": 60, "v2": 6},
            requests=66,
            seconds=0.123456,
        )
        return StepResult(scenario.name, step.name, passed, expectations=[exp], seconds=1.23456789)


@pytest.fixture
def meshrelease_step_runner(request):
    if request.node.name == "skipped":
        pytest.skip("not today")
    if request.node.name == "broken":
        raise RuntimeError("fixture broke on purpose")
    return StandInRunner()
'''


def test_every_outcome_is_recorded_as_a_typed_step(pytester: pytest.Pytester) -> None:
    folder = pytester.path / "scenarios" / "demo"
    folder.mkdir(parents=True)
    (folder / "scenario.yaml").write_text(textwrap.dedent(SCENARIO).lstrip())
    pytester.makeconftest(CONFTEST)
    result = pytester.runpytest_inprocess("scenarios", "--report-dir", "out", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1, errors=1, skipped=1)
    run = load_results(pytester.path / "out")
    steps = {s.step: s for s in run.steps}
    assert [(s.step, s.outcome) for s in run.steps] == [
        ("passes", "passed"),
        ("fails", "failed"),
        ("broken", "error"),
        ("skipped", "skipped"),
    ]
    assert (run.summary.steps, run.summary.passed, run.summary.failed, run.summary.skipped) == (4, 1, 2, 1)
    assert steps["passes"].nodeid == "scenarios/demo/scenario.yaml::demo::passes"
    assert steps["passes"].passed and steps["passes"].seconds == 1.2346
    assert steps["passes"].expectations[0].seconds == 0.1235
    # the runner said why "fails" failed; only for "broken" is pytest's text the record
    assert steps["fails"].message is None and steps["fails"].expectations[0].counts == {"v1": 60, "v2": 6}
    assert steps["broken"].message is not None and "fixture broke on purpose" in steps["broken"].message
    assert not steps["broken"].passed and steps["broken"].expectations == []
    assert steps["skipped"].message is None
    assert run.backend is None  # no step started a mesh
    md = (pytester.path / "out" / "report.md").read_text()
    assert "## ERROR `demo::broken`" in md and "## FAIL `demo::fails`" in md and "## SKIP `demo::skipped`" in md
