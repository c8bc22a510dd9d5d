"""An expectation of a reviews version no running pod serves fails at once, before any page is sampled,
naming the versions that are deployed; backends that cannot tell are not asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshrelease.backends.base import LazyBackend, deployed_versions
from meshrelease.engine.runner import RunnerOptions, StepRunner
from meshrelease.scenario.loader import load_scenario
from meshrelease.scenario.model import Scenario
from tests.unit.test_runner_state import RecordingBackend


class VersionedBackend(RecordingBackend):
    """Serves reviews v1, v2 and v3 (nothing listens on its ingress: sampling would only time out)."""

    def deployed_versions(self, app: str) -> list[str] | None:
        return ["v1", "v2", "v3"] if app == "reviews" else []


def one_step(tmp_path: Path, expect: str) -> Scenario:
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "m.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n")
    (folder / "scenario.yaml").write_text(f"steps:\n  - name: one\n    apply: [m.yaml]\n    expect: [{expect}]\n")
    return load_scenario(folder)


@pytest.mark.parametrize(
    ("expect", "missing"),
    [
        ("{reviews: v9}", "v9"),
        ("{reviews: {v2: 50, v9: 50}}", "v9"),
        ("{reviews: [v1, v8, v9]}", "v8, v9"),
        ("{user: jason, reviews: v4}", "v4"),
    ],
)
def test_an_undeployed_version_fails_before_sampling_naming_the_deployed_ones(
    tmp_path: Path, expect: str, missing: str
) -> None:
    sc = one_step(tmp_path, expect)
    runner = StepRunner(VersionedBackend(), RunnerOptions(converge_timeout=30))
    result = runner.run(sc, sc.steps[0])
    assert not result.passed and result.error is None
    [exp] = result.expectations
    assert exp.decision == "fail"
    assert exp.requests == 0 and exp.settle_pages == 0  # no page was sampled
    assert exp.explanation.startswith(f"no deployment provides reviews {missing}:")
    assert "the running reviews pods serve v1, v2, v3" in exp.explanation


@pytest.mark.parametrize("expect", ["{reviews: v2}", "{reviews: unavailable}", "{reviews: {v1: 100, v9: 0}}"])
def test_deployed_versions_and_non_version_expectations_are_not_refused(tmp_path: Path, expect: str) -> None:
    sc = one_step(tmp_path, expect)
    runner = StepRunner(VersionedBackend())
    assert runner._undeployed(sc.steps[0].expect[0]) is None


def test_a_backend_that_does_not_know_its_versions_is_not_asked(tmp_path: Path) -> None:
    sc = one_step(tmp_path, "{reviews: v9}")
    assert deployed_versions(RecordingBackend(), "reviews") is None
    assert StepRunner(RecordingBackend())._undeployed(sc.steps[0].expect[0]) is None


def test_the_lazy_backend_passes_the_question_on() -> None:
    assert LazyBackend(VersionedBackend).deployed_versions("reviews") == ["v1", "v2", "v3"]
    assert LazyBackend(RecordingBackend).deployed_versions("reviews") is None
