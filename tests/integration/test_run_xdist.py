"""`meshrelease run -n 2` (pytest-xdist): each scenario's steps on one worker, each worker its own mesh, the
per-expectation lines on the terminal and one merged report set; kind refuses -n."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from meshrelease.data import data_file
from meshrelease.engine.results import load_results
from tests.cli_runs import meshrelease_run

pytest.importorskip("xdist", reason="pytest-xdist is the xdist extra: pip install 'meshrelease[xdist]'")

pytestmark = [pytest.mark.envoy, pytest.mark.slow]

VS = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
    - route:
        - destination: {{host: reviews, subset: {version}}}
"""


def scenario(root: Path, name: str, first: str, second: str) -> None:
    d = root / name
    d.mkdir(parents=True)
    (d / "dr.yaml").write_text(data_file("destination-rule-all.yaml").read_text())
    (d / "first.yaml").write_text(VS.format(version=first))
    (d / "second.yaml").write_text(VS.format(version=second))
    (d / "scenario.yaml").write_text(
        textwrap.dedent(
            f"""
            name: {name}
            steps:
              - name: to-{first}
                apply: [dr.yaml, first.yaml]
                expect:
                  - reviews: {first}
              - name: to-{second}
                apply: [second.yaml]
                expect:
                  - reviews: {second}
            """
        ).lstrip()
    )


run = meshrelease_run


def test_two_workers_run_each_scenario_in_order_and_merge_one_report(tmp_path: Path) -> None:
    root = tmp_path / "scenarios"
    scenario(root, "alpha", "v1", "v2")
    scenario(root, "beta", "v3", "v1")
    reports = tmp_path / "reports"
    # --dist load would hand the steps of one scenario to different workers; the plugin schedules by scenario.
    proc = run(tmp_path, str(root), "-n", "2", "--dist", "load", "--report-dir", str(reports))
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "4 passed" in out and "2 workers" in out
    for line in (
        "alpha::to-v1 anonymous: reviews v1 -> pass",
        "alpha::to-v2 anonymous: reviews v2 -> pass",
        "beta::to-v3 anonymous: reviews v3 -> pass",
        "beta::to-v1 anonymous: reviews v1 -> pass",
    ):
        assert line in out  # the workers' expectation lines reach the controller's terminal
    assert "replaying" not in out  # no step ran apart from the step before it

    text = (reports / "results.json").read_text()
    assert load_results(reports).to_json() == text
    results = json.loads(text)
    assert results["summary"] == {"steps": 4, "passed": 4, "failed": 0, "skipped": 0}
    assert results["backend"]["backend"] == "local" and "envoy 1." in results["backend"]["mesh"]
    steps = {s["nodeid"].split("::", 1)[1]: s for s in results["steps"]}
    assert set(steps) == {"alpha::to-v1", "alpha::to-v2", "beta::to-v3", "beta::to-v1"}
    for step in steps.values():
        assert step["outcome"] == "passed" and step["replayed"] == []
        [exp] = step["expectations"]
        assert exp["decision"] == "pass" and exp["requests"] == sum(exp["counts"].values()) > 0
    assert steps["beta::to-v3"]["expectations"][0]["counts"] == {
        "v3": steps["beta::to-v3"]["expectations"][0]["requests"]
    }
    assert (reports / "junit.xml").read_text().count("<testcase") == 4
    assert "beta::to-v3" in (reports / "report.html").read_text()


def test_kind_refuses_workers_with_the_reason(tmp_path: Path) -> None:
    root = tmp_path / "scenarios"
    scenario(root, "alpha", "v1", "v2")
    proc = run(tmp_path, str(root), "-n", "2", "--backend", "kind", "--report-dir", str(tmp_path / "r"))
    assert proc.returncode == 4, proc.stdout + proc.stderr
    err = proc.stdout + proc.stderr
    assert "the kind backend runs one cluster per session" in err and "run it without -n" in err
    assert "Traceback" not in err
    # The same refusal from the plugin, when pytest is run directly.
    direct = subprocess.run(
        [sys.executable, "-m", "pytest", str(root), "-n", "2", "--backend", "kind", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert direct.returncode == 4, direct.stdout + direct.stderr
    assert "the kind backend runs one cluster per session" in direct.stderr
