"""`meshrelease run` end to end on the local backend: exit codes, the step table, reports, node ids, replay and
continuation with -k, an interrupted run, and --browser."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from fixtures.processes import children_of, still_present
from meshrelease.data import data_file
from meshrelease.engine.results import load_results
from tests.cli_runs import meshrelease_run

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


def make(tmp_path: Path, split: dict[str, int], *, blue_green: bool = False) -> Path:
    d = tmp_path / "scenarios" / "mini"
    d.mkdir(parents=True)
    (d / "dr.yaml").write_text(DR)
    (d / "v1.yaml").write_text(vs({"v1": 100}))
    (d / "v2.yaml").write_text(vs({"v2": 100}))
    (d / "split.yaml").write_text(vs(split))
    middle = """
              - name: blue-green-v2
                apply: [v2.yaml]
                expect:
                  - reviews: v2
    """
    (d / "scenario.yaml").write_text(
        textwrap.dedent(
            """
            name: mini
            steps:
              - name: all-v1
                apply: [dr.yaml, v1.yaml]
                expect:
                  - reviews: v1
            """
            + (middle if blue_green else "")
            + """
              - name: canary
                apply: [split.yaml]
                expect:
                  - reviews: {v2: 50, v3: 50}
            """
        ).lstrip()
    )
    return d


run = meshrelease_run


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
    # The failure's access-log lines are a file next to the report, linked from report.html.
    assert "outbound|9080|v2|reviews" in (tmp_path / "r" / "access-logs" / "mini--canary--1.log").read_text()
    assert "href='access-logs/mini--canary--1.log'" in (tmp_path / "r" / "report.html").read_text()

    # The id on the FAILED line runs that step again, as it is printed (relative to the current folder).
    (nodeid,) = re.findall(r"^FAILED (\S+) - ", out, re.MULTILINE)
    assert nodeid == "scenarios/mini/scenario.yaml::mini::canary"
    again = run(tmp_path, nodeid, "--report-dir", str(tmp_path / "again"))
    assert again.returncode == 1, again.stdout + again.stderr
    steps = json.loads((tmp_path / "again" / "results.json").read_text())["steps"]
    assert [(s["nodeid"], s["outcome"], s["replayed"]) for s in steps] == [(nodeid, "failed", ["all-v1"])]


def test_steps_selected_with_k_continue_from_the_previous_one(tmp_path: Path) -> None:
    make(tmp_path, {"v2": 50, "v3": 50}, blue_green=True)
    proc = run(tmp_path, "scenarios", "-k", "all-v1 or canary", "--report-dir", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "mini::canary: continuing with step blue-green-v2" in proc.stdout
    assert "replaying" not in proc.stdout  # all-v1 is not applied again for the canary
    steps = json.loads((tmp_path / "r" / "results.json").read_text())["steps"]
    assert [(s["step"], s["replayed"]) for s in steps] == [("all-v1", []), ("canary", ["blue-green-v2"])]


@pytest.mark.parametrize(
    ("signum", "note"), [(signal.SIGINT, "KeyboardInterrupt"), (signal.SIGTERM, "SIGTERM")], ids=["SIGINT", "SIGTERM"]
)
def test_a_signal_mid_run_exits_2_with_a_report_of_what_ran_and_nothing_left(
    tmp_path: Path, signum: int, note: str
) -> None:
    make(tmp_path, {"v2": 50, "v3": 50}, blue_green=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESHRELEASE_")}
    temp = tmp_path / "tmp"  # where the run directory goes
    temp.mkdir()
    env.update(MESHRELEASE_HOME=str(tmp_path / "home"), PYTHONUNBUFFERED="1", TMPDIR=str(temp))
    argv = [sys.executable, "-m", "meshrelease.cli.main", "run", "scenarios", "--report-dir", "r"]
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    children = []
    try:
        seen = []
        for line in proc.stdout:  # the first step passed (its report is final): the mesh runs, the second is next
            seen.append(line)
            if "::mini::all-v1 PASSED" in line:
                children = list(children_of(proc.pid).values())
                run_dirs = [p for p in temp.iterdir() if (p / "owner.pid").is_file()]
                proc.send_signal(signum)
                break
        else:
            pytest.fail("the run ended before its first verdict:\n" + "".join(seen))
        rest = proc.stdout.read()
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 2, rest
    assert children and not still_present(children), children  # the mesh's processes were reaped
    results = load_results(tmp_path / "r")
    assert results.status is not None and results.status.outcome == "interrupted"
    assert (results.steps[0].step, results.steps[0].outcome) == ("all-v1", "passed")
    assert [s.outcome for s in results.steps[1:]] == ["skipped", "skipped"]
    assert any(n.startswith(f"interrupted ({note})") for n in results.status.notes), results.status.notes
    assert len(run_dirs) == 1 and not run_dirs[0].exists()  # the run directory was removed
    assert "interrupted" in (tmp_path / "r" / "report.html").read_text()


@pytest.mark.usefixtures("chromium")
def test_browser_mode_shows_what_each_user_saw_and_agrees_with_the_verdicts(tmp_path: Path) -> None:
    d = tmp_path / "scenarios" / "canary"
    d.mkdir(parents=True)
    (d / "dr.yaml").write_text(DR)
    (d / "v1.yaml").write_text(vs({"v1": 100}))
    (d / "jason-v3.yaml").write_text(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: reviews\nspec:\n"
        "  hosts: [reviews]\n  http:\n    - match: [{headers: {end-user: {exact: jason}}}]\n"
        "      route: [{destination: {host: reviews, subset: v3}}]\n"
        "    - route: [{destination: {host: reviews, subset: v2}}]\n"
    )
    (d / "scenario.yaml").write_text(
        textwrap.dedent(
            """
            name: canary
            steps:
              - name: all-v1
                apply: [dr.yaml, v1.yaml]
                expect:
                  - reviews: v1
              - name: header-canary
                description: jason sees red stars, everyone else black.
                apply: [jason-v3.yaml]
                expect:
                  - reviews: v2
                    stars: black
                  - user: jason
                    reviews: v3
                    stars: red
            """
        ).lstrip()
    )
    proc = run(tmp_path, "scenarios", "--browser", "--report-dir", "r")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "canary::header-canary browser as jason -> reviews v3" in proc.stdout
    results = load_results(tmp_path / "r")
    views = {(s.step, v.who): v for s in results.steps for v in s.views}
    assert set(views) == {("all-v1", "anonymous"), ("header-canary", "anonymous"), ("header-canary", "jason")}
    jason = views[("header-canary", "jason")]
    assert (jason.label, jason.stars, jason.signed_in_as, jason.agrees) == ("v3", "red", "jason", True)
    assert jason.star_colour is not None and jason.star_colour.startswith("rgb(")
    assert jason.actions[1:] == ['clicked "Sign in"', "typed 'jason' as the user name", "submitted the sign-in form"]
    anonymous = views[("header-canary", "anonymous")]
    assert (anonymous.label, anonymous.stars, anonymous.signed_in_as) == ("v2", "black", None)
    page = BeautifulSoup((tmp_path / "r" / "report.html").read_text(), "html.parser")
    images = page.select("section.card figure img")
    assert len(images) == 3
    for img in images:
        png = base64.b64decode(img["src"].removeprefix("data:image/png;base64,"))
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        assert (tmp_path / "r" / img.parent["href"]).read_bytes() == png
