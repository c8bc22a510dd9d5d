"""meshrelease as a user gets it: the wheel, installed into a fresh virtual environment in a temporary folder
(no checkout on sys.path), running a scenario the user wrote there — with `meshrelease run` and with plain
`python -m pytest` — and a wrong expectation failing with the usual table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.paths import REPO_ROOT

pytestmark = [pytest.mark.envoy, pytest.mark.slow]

SCENARIO = """\
name: two-steps
steps:
  - name: all-v1
    apply: ["meshrelease:destination-rule-all.yaml", reviews.yaml]
    expect:
      - reviews: v1
  - name: jason-v3
    apply: [reviews-jason.yaml]
    expect:
      - reviews: v1
      - user: jason
        reviews: JASON_VERSION
"""
REVIEWS = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
"""
REVIEWS_JASON = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match:
    - headers: {end-user: {exact: jason}}
    route:
    - destination: {host: reviews, subset: v3}
  - route:
    - destination: {host: reviews, subset: v1}
"""


def sh(argv: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MESHRELEASE_", "PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{argv[0].rsplit('/', 1)[0]}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel built from this checkout installed (dependencies from the package index)."""
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    built = sh([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(REPO_ROOT)], root)
    assert built.returncode == 0, built.stdout + built.stderr
    wheels = list(dist.glob("meshrelease-*.whl"))
    assert len(wheels) == 1, wheels
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    pip = sh([str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", str(wheels[0])], root, timeout=900)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    return env_dir


@pytest.fixture
def user_folder(tmp_path: Path) -> Path:
    scenario = tmp_path / "my-scenarios" / "two-steps"
    scenario.mkdir(parents=True)
    (scenario / "scenario.yaml").write_text(SCENARIO.replace("JASON_VERSION", "v3"), encoding="utf-8")
    (scenario / "reviews.yaml").write_text(REVIEWS, encoding="utf-8")
    (scenario / "reviews-jason.yaml").write_text(REVIEWS_JASON, encoding="utf-8")
    return tmp_path


def test_the_installed_package_is_the_wheel_not_the_checkout(installed: Path, user_folder: Path) -> None:
    code = "import meshrelease, sys; print(meshrelease.__file__); print(any('src' in p for p in sys.path))"
    out = sh([str(installed / "bin" / "python"), "-c", code], user_folder)
    location, checkout_on_path = out.stdout.split()
    assert location.startswith(str(installed)), location
    assert checkout_on_path == "False"


def test_meshrelease_run_and_plain_pytest_pass_in_a_users_folder(installed: Path, user_folder: Path) -> None:
    run = sh([str(installed / "bin" / "meshrelease"), "run", "my-scenarios"], user_folder)
    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads((user_folder / "reports" / "latest" / "results.json").read_text(encoding="utf-8"))
    assert results["summary"]["passed"] == 2
    assert (user_folder / "reports" / "latest" / "junit.xml").is_file()

    plain = sh(
        [str(installed / "bin" / "python"), "-m", "pytest", "my-scenarios", "--report-dir", "plain"], user_folder
    )
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "2 passed" in plain.stdout
    assert json.loads((user_folder / "plain" / "results.json").read_text(encoding="utf-8"))["summary"]["passed"] == 2


def test_a_wrong_expectation_fails_with_the_table(installed: Path, user_folder: Path) -> None:
    scenario = user_folder / "my-scenarios" / "two-steps" / "scenario.yaml"
    scenario.write_text(SCENARIO.replace("JASON_VERSION", "v2"), encoding="utf-8")
    for argv in (
        [str(installed / "bin" / "meshrelease"), "run", "my-scenarios", "--converge-timeout", "5"],
        [str(installed / "bin" / "python"), "-m", "pytest", "my-scenarios", "--converge-timeout", "5"],
    ):
        proc = sh(argv, user_folder)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "step two-steps::jason-v3 failed" in proc.stdout
        assert "expectation" in proc.stdout and "jason: reviews v2" in proc.stdout
        assert "did not converge within 5 s" in proc.stdout
