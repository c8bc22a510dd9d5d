"""`meshrelease run` end to end on the local backend: exit codes, the step table, reports, replay with -k."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from meshrelease.data import data_file
from meshrelease.engine.results import load_results

pytestmark = [pytest.mark.envoy, pytest.mark.slow]

DR = (data_file("destination-rule-all.yaml")).read_text()


def vs(weights: dict[str, int]) -> str:
    dests = "".join(
        f"        - destination: {{host: reviews, subset: {v}}}\n          weight: {w}\n" for v, w in weights.items()
    )
    return (
        "apiVersion: networking.istio.io/v1alpha3\nkind: VirtualService\nmetadata:\n  name: reviews\n"
        "spec:\n  hosts: [reviews]\n  http:\n    - route:\n" + dests
    )


def make(tmp_path: Path, split: dict[str, int]) -> Path:
    d = tmp_path / "scenarios" / "mini"
    d.mkdir(parents=True)
    (d / "dr.yaml").write_text(DR)
    (d / "v1.yaml").write_text(vs({"v1": 100}))
    (d / "split.yaml").write_text(vs(split))
    (d / "scenario.yaml").write_text(
        textwrap.dedent(
            """
            name: mini
            steps:
              - name: all-v1
                apply: [dr.yaml, v1.yaml]
                expect:
                  - reviews: v1
              - name: canary
                apply: [split.yaml]
                expect:
                  - reviews: {v2: 50, v3: 50}
            """
        ).lstrip()
    )
    return d


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MESHRELEASE_HOME=str(tmp_path / "home"))
    return subprocess.run(
        [sys.executable, "-m", "meshrelease.cli.main", "run", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env=env,
        check=False,
    )


def test_passing_run_writes_reports_and_exits_0(tmp_path: Path) -> None:
    scenario = make(tmp_path, {"v2": 50, "v3": 50})
    reports = tmp_path / "reports"
    proc = run(tmp_path, str(scenario), "--report-dir", str(reports))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "mini::all-v1 anonymous: reviews v1 -> pass" in proc.stdout
    assert "2 passed" in proc.stdout
    text = (reports / "results.json").read_text()
    assert load_results(reports).to_json() == text  # the typed records hold everything the file says
    results = json.loads(text)
    assert results["summary"] == {"steps": 2, "passed": 2, "failed": 0, "skipped": 0}
    assert results["backend"]["backend"] == "local" and "envoy 1." in results["backend"]["mesh"]
    canary = results["steps"][1]
    assert canary["step"] == "canary" and canary["outcome"] == "passed"
    exp = canary["expectations"][0]
    assert exp["decision"] == "pass" and set(exp["counts"]) == {"v2", "v3"}
    assert exp["requests"] == sum(exp["counts"].values()) and exp["time_to_converge"] > 0
    assert "| anonymous: reviews v2:50/v3:50 |" in (reports / "report.md").read_text()
    html = (reports / "report.html").read_text()
    assert "<svg" in html and "observed (" in html
    assert "<testcase" in (reports / "junit.xml").read_text()


def test_wrong_split_fails_with_the_table_and_exits_1(tmp_path: Path) -> None:
    scenario = make(tmp_path, {"v2": 60, "v3": 40})
    proc = run(tmp_path, str(scenario), "--report-dir", str(tmp_path / "r"), "-k", "canary")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    assert "mini::canary: replaying step all-v1" in out  # selected alone: earlier steps replayed first
    assert "step mini::canary failed" in out
    assert "expectation" in out and "observed" in out and "decision" in out
    assert "its access-log lines:" in out and "outbound|9080|v2|reviews.default.svc.cluster.local" in out
    assert "Traceback" not in out
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    assert results["summary"]["failed"] == 1


def test_invalid_scenario_exits_1_naming_file_and_line(tmp_path: Path) -> None:
    scenario = make(tmp_path, {"v2": 50, "v3": 50})
    path = scenario / "scenario.yaml"
    path.write_text(path.read_text().replace("reviews: v1", "reviews: {v1: -1}"))
    proc = run(tmp_path, str(scenario), "--report-dir", str(tmp_path / "r"))
    assert proc.returncode == 1
    assert f"invalid scenario: {path}:6: step 'all-v1' expect[0].reviews.v1 weight -1 is negative" in proc.stdout
    missing = run(tmp_path, str(tmp_path / "nope"))
    assert missing.returncode == 1 and "no such scenario path" in missing.stderr
