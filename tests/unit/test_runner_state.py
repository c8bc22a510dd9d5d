"""The step runner without a mesh: which steps it applies before a step (continuing or replaying), and the
figures it derives from the pages (latency percentiles, the timeline's bins)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from meshrelease.backends.base import ApplyResult, BackendInfo, ObjectDoc
from meshrelease.engine.results import StepResult
from meshrelease.engine.runner import TIMELINE_BINS, StepRunner, latency_figures, time_bins
from meshrelease.errors import ValidationError
from meshrelease.scenario.loader import load_scenario
from meshrelease.scenario.model import Scenario


class RecordingBackend:
    """Records resets and applies (by source file); applies nothing."""

    name = "recording"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def start(self) -> None:
        pass

    def apply(self, docs: Sequence[ObjectDoc], *, source: str | None = None) -> ApplyResult:
        self.calls.append(f"apply {source}")
        return ApplyResult(lines=[f"applied {source}"])

    def delete(self, docs: Sequence[ObjectDoc], *, source: str | None = None) -> ApplyResult:
        self.calls.append(f"delete {source}")
        return ApplyResult()

    def reset_routing(self) -> None:
        self.calls.append("reset")

    def wait_synced(self, timeout: float = 30.0) -> float:
        return 0.0

    @property
    def ingress_url(self) -> str:
        return "http://127.0.0.1:9"

    def describe(self) -> BackendInfo:
        return BackendInfo(backend="recording")

    def access_log_lines(self, request_id: str) -> list[str]:
        return []

    def diagnostics(self) -> dict[str, str]:
        return {}

    def close(self) -> None:
        pass


def scenario(tmp_path: Path, name: str, steps: int) -> Scenario:
    folder = tmp_path / name
    folder.mkdir()
    body = [f"name: {name}", "steps:"]
    for i in range(1, steps + 1):
        (folder / f"m{i}.yaml").write_text(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns{i}\n")
        body += [f"  - name: s{i}", f"    apply: [m{i}.yaml]", "    expect: [{reviews: v1}]"]
    (folder / "scenario.yaml").write_text("\n".join(body) + "\n")
    return load_scenario(folder)


def bring(runner: StepRunner, sc: Scenario, step: str) -> tuple[list[str], list[str]]:
    """(backend calls, replayed steps) of bringing the mesh to ``step``."""
    backend: Any = runner.backend
    backend.calls.clear()
    result = StepResult(scenario=sc.name, step=step, passed=False)
    runner.bring_to(sc, sc.step(step), result)
    return list(backend.calls), result.replayed


def test_selected_steps_of_one_scenario_continue_from_the_last_applied(tmp_path: Path) -> None:
    sc = scenario(tmp_path, "five", 5)
    runner = StepRunner(RecordingBackend())
    # the first selected step (s2): reset, then s1 without its checks, then s2
    assert bring(runner, sc, "s2") == (["reset", "apply m1.yaml", "apply m2.yaml"], ["s1"])
    # the next selected step (s4, as -k might select): only the missing s3 first, no reset, no s1/s2 again
    assert bring(runner, sc, "s4") == (["apply m3.yaml", "apply m4.yaml"], ["s3"])
    # the very next step: nothing before it
    assert bring(runner, sc, "s5") == (["apply m5.yaml"], [])


def test_an_earlier_step_or_another_scenario_resets_and_replays(tmp_path: Path) -> None:
    sc = scenario(tmp_path, "three", 3)
    other = scenario(tmp_path, "other", 2)
    runner = StepRunner(RecordingBackend())
    bring(runner, sc, "s3")
    assert bring(runner, sc, "s2") == (["reset", "apply m1.yaml", "apply m2.yaml"], ["s1"])  # backwards
    assert bring(runner, sc, "s2") == (["reset", "apply m1.yaml", "apply m2.yaml"], ["s1"])  # the same again
    assert bring(runner, other, "s2") == (["reset", "apply m1.yaml", "apply m2.yaml"], ["s1"])
    assert bring(runner, sc, "s1") == (["reset", "apply m1.yaml"], [])


def test_a_failed_apply_forgets_the_state_so_the_next_step_replays(tmp_path: Path) -> None:
    sc = scenario(tmp_path, "flaky", 3)
    backend = RecordingBackend()
    runner = StepRunner(backend)
    bring(runner, sc, "s1")

    def refuse(docs: Sequence[ObjectDoc], *, source: str | None = None) -> ApplyResult:
        raise ValidationError("the webhook refused it")

    original = backend.apply
    backend.apply = refuse  # type: ignore[method-assign]
    with pytest.raises(ValidationError):
        bring(runner, sc, "s2")
    backend.apply = original  # type: ignore[method-assign]
    assert bring(runner, sc, "s3") == (["reset", "apply m1.yaml", "apply m2.yaml", "apply m3.yaml"], ["s1", "s2"])


def test_latency_percentiles_by_nearest_rank() -> None:
    figures = latency_figures([i / 100 for i in range(100, 0, -1)])  # 0.01 .. 1.00, unordered
    assert figures == {"min": 0.01, "p50": 0.505, "p90": 0.9, "p99": 0.99, "max": 1.0, "mean": 0.505}
    assert latency_figures([0.2]) == {"min": 0.2, "p50": 0.2, "p90": 0.2, "p99": 0.2, "max": 0.2, "mean": 0.2}


def test_time_bins_count_every_page_in_at_most_the_bin_limit() -> None:
    seen = [(i * 0.01, "v2" if i % 3 else "v3") for i in range(500)]  # 5 s of pages
    bins = time_bins(seen, 5.0)
    assert 1 < len(bins) <= TIMELINE_BINS
    assert sum(sum(b.counts.values()) for b in bins) == 500
    assert sum(b.counts.get("v3", 0) for b in bins) == sum(1 for _, label in seen if label == "v3")
    assert all(b.dt == bins[0].dt for b in bins) and bins[0].t == 0.0
    assert [b.t for b in bins] == sorted(b.t for b in bins)
    late = time_bins([(0.0, "v1"), (2.0, "v1")], 1.0)  # a page sent after the recorded duration still counts
    assert sum(sum(b.counts.values()) for b in late) == 2
    assert time_bins([], 1.0) == []
