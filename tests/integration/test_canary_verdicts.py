"""Small canaries on the real local mesh: a starved canary fails, a correct 95/5 passes (docs/verdicts.md).

A mesh that routes every request to v1 must fail ``{v1: 95, v3: 5}`` and ``{v1: 99, v3: 1}``: the tolerance
of a 5 % (1 %) share is 2.5 (0.5) points, and with no v3 at all the test guarding it rejects after a fixed
number of pages (559 and 2 880 at the defaults; 697 with ``delta: 0.02``). A VirtualService with weights
95/5 must pass the same expectation. About 6 000 pages in all.
"""

from __future__ import annotations

import math
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshrelease.backends.local.mesh import LocalMesh
from meshrelease.backends.local.options import LocalMeshOptions
from meshrelease.data import data_file
from meshrelease.engine.runner import RunnerOptions, StepRunner
from meshrelease.report.failure import failure_message
from meshrelease.scenario.loader import load_scenario
from meshrelease.scenario.model import Scenario

pytestmark = [pytest.mark.envoy, pytest.mark.slow]

DATA = Path(__file__).resolve().parent.parent / "data" / "mesh"
ALPHA = 1e-6


def scenario(tmp_path: Path) -> Scenario:
    folder = tmp_path / "small-canaries"
    folder.mkdir()
    shutil.copy(data_file("destination-rule-all.yaml"), folder / "dr.yaml")
    shutil.copy(DATA / "reviews-v1.yaml", folder / "all-v1.yaml")
    shutil.copy(DATA / "reviews-v1-v3-95-5.yaml", folder / "canary-5.yaml")
    (folder / "scenario.yaml").write_text(
        textwrap.dedent(
            """
            steps:
              - name: all-v1
                apply: [dr.yaml, all-v1.yaml]
                expect:
                  - reviews: {v1: 95, v3: 5}
                  - reviews: {v1: 99, v3: 1}
                  - reviews: {v1: 95, v3: 5}
                    delta: 0.02
              - name: canary-5
                apply: [canary-5.yaml]
                expect:
                  - reviews: {v1: 95, v3: 5}
            """
        ).lstrip()
    )
    return load_scenario(folder)


def starved_pages(share: float, tolerance: float) -> int:
    """Pages without the canary after which the test guarding it rejects: the smallest n with
    n * ln((1 - p + d) / (1 - p)) >= ln(2 / alpha)."""
    return math.ceil(math.log(2 / ALPHA) / math.log((1 - share + tolerance) / (1 - share)))


@pytest.fixture(scope="module")
def mesh() -> Iterator[LocalMesh]:
    with LocalMesh(LocalMeshOptions()) as m:
        yield m


def test_starved_canaries_fail_and_a_correct_95_5_passes(tmp_path: Path, mesh: LocalMesh) -> None:
    sc = scenario(tmp_path)
    runner = StepRunner(mesh, RunnerOptions(converge_timeout=20))
    try:
        starved = runner.run(sc, sc.step("all-v1"))
        canary = runner.run(sc, sc.step("canary-5"))
    finally:
        runner.close()

    assert starved.error is None, starved.error
    assert not starved.passed
    five, one, five_tight = starved.expectations
    for exp, share, tolerance in ((five, 0.05, 0.025), (one, 0.01, 0.005), (five_tight, 0.05, 0.02)):
        assert exp.decision == "fail", exp.explanation
        assert exp.counts == {"v1": exp.requests, "v3": 0}, exp.counts
        assert exp.requests == starved_pages(share, tolerance)
        assert "v3 never answered" in exp.explanation
    assert (five.requests, one.requests, five_tight.requests) == (559, 2880, 697)
    assert "v3 0.05 ± 0.025" in five.explanation
    assert "v3 0.05 ± 0.02)" in five_tight.explanation  # the scenario's delta reached the check
    assert "± 0.025" not in five_tight.explanation

    assert canary.passed, failure_message(canary)
    (correct,) = canary.expectations
    assert correct.counts["v3"] > 0 and correct.counts["v1"] > correct.counts["v3"]
    assert correct.requests == correct.counts["v1"] + correct.counts["v3"]
    assert "v3 0.05 ± 0.025" in correct.explanation
