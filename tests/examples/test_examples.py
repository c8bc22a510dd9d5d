"""The examples a user copies (examples/) run as they would in the user's own repository: copied to a folder
outside this checkout (so this repository's conftest.py plays no part), with plain `pytest` and with
`meshrelease run`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import REPO_ROOT

pytestmark = [pytest.mark.envoy]

MESHRELEASE = [sys.executable, "-m", "meshrelease"]


@pytest.fixture
def user_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "user-repo"
    shutil.copytree(REPO_ROOT / "examples", repo / "examples")
    return repo


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESHRELEASE_")}
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_plain_pytest_runs_the_scenario_and_the_hand_written_tests(user_repo: Path) -> None:
    proc = run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "examples"], user_repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout
    results = json.loads((user_repo / "reports" / "latest" / "results.json").read_text(encoding="utf-8"))
    assert [(s["step"], s["outcome"]) for s in results["steps"]] == [
        ("baseline-v1", "passed"),
        ("jason-on-v2", "passed"),
    ]


def test_meshrelease_run_from_the_users_folder_and_a_wrong_expectation_fails(user_repo: Path) -> None:
    proc = run([*MESHRELEASE, "run", "examples/my-release", "--report-dir", "out"], user_repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (user_repo / "out" / "junit.xml").is_file() and (user_repo / "out" / "report.html").is_file()
    scenario = user_repo / "examples" / "my-release" / "scenario.yaml"
    scenario.write_text(scenario.read_text(encoding="utf-8").replace("reviews: v2", "reviews: v3"), encoding="utf-8")
    proc = run(
        [*MESHRELEASE, "run", "examples/my-release", "--report-dir", "out", "--converge-timeout", "5"], user_repo
    )
    assert proc.returncode == 1
    assert "step my-release::jason-on-v2 failed" in proc.stdout
    assert "expectation" in proc.stdout and "jason: reviews v3, stars black" in proc.stdout
