"""results.json, report.md and report.html from step results, and the files written next to them."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from bs4 import BeautifulSoup, Tag

from meshrelease.backends.base import BackendInfo
from meshrelease.bookinfo.page import PageObservation
from meshrelease.engine.results import (
    BrowserView,
    CollectionError,
    ExpectationResult,
    PageExample,
    RunOptions,
    RunResults,
    RunStatus,
    StepRecord,
    StepResult,
    TimeBin,
    load_results,
)
from meshrelease.report.failure import failure_message
from meshrelease.report.html import render_html
from meshrelease.report.markdown import render_markdown
from meshrelease.report.publish import publish_reports
from meshrelease.report.render import split_chart, write_reports

T0 = 1_796_288_000.0  # a Unix time
PNG = b"\x89PNG\r\n\x1a\n a screenshot"


def step_result(passed: bool, name: str = "canary", start: float = T0) -> StepResult:
    exp = ExpectationResult(
        description="anonymous: reviews v2:50/v3:50",
        user=None,
        kind="split",
        expected={"v2": 50.0, "v3": 50.0},
        decision="pass" if passed else "fail",
        counts={"v2": 410, "v3": 269} if not passed else {"v2": 201, "v3": 199},
        requests=679 if not passed else 400,
        explanation="FAIL: v2 share 0.604 (410/679) is above 0.50\nmeaning: a correct mesh fails with p <= 1e-06",
        settle_pages=10,
        time_to_converge=0.12,
        latency={"min": 0.008, "p50": 0.012, "p90": 0.019, "p99": 0.031, "max": 0.052, "mean": 0.013},
        started_at=start + 0.3,
        timeline=[TimeBin(0.0, 0.5, {"v2": 5, "v3": 5}), TimeBin(0.5, 0.5, {"v2": 3, "v3": 1})],
        example=None
        if passed
        else PageExample(
            label="v2",
            observation=PageObservation(version="v2", pod="reviews-v2-x", stars="black", status=200),
            access_log=['{"upstream_cluster": "outbound|9080|v2|r"}', '{"proxy": "reviews-v2-x"}'],
        ),
    )
    view = BrowserView(
        user="jason",
        url="http://127.0.0.1:1/productpage",
        label="v3" if passed else "v1",
        pod="reviews-v3-a-b",
        stars="red",
        star_colour="rgb(239, 68, 68)",
        signed_in_as="jason",
        ui="modern",
        agrees=passed,
        problems=[] if passed else ["the browser saw reviews v1 (pod reviews-v1-a-b); the verdict passed ..."],
        actions=["opened http://127.0.0.1:1/productpage", 'clicked "Sign in"'],
        screenshot=f"screenshots/asm-release--{name}--jason.png",
        seconds=0.8,
        started_at=start + 1.2,
        png=PNG,
    )
    return StepResult(
        scenario="asm-release",
        step=name,
        passed=passed,
        expectations=[exp],
        sync_seconds=0.04,
        seconds=2.0,
        description=f"The {name} step: black and red stars.",
        applied=["virtualservice.networking.istio.io/reviews configured"],
        warnings=["Warning [IST0101] (VirtualService default/reviews) Referenced host+subset not found"],
        started_at=start,
        applied_at=start + 0.1,
        synced_at=start + 0.15,
        views=[view],
    )


def record(result: StepResult) -> StepRecord:
    step = StepRecord.of(result, f"scenario.yaml::{result.scenario}::{result.step}")
    step.outcome = "passed" if result.passed else "failed"
    return step


def results(*steps: StepRecord, status: RunStatus | None = None) -> RunResults:
    return RunResults.of(
        steps,
        backend=BackendInfo(backend="local", mesh="envoy 1.40.0", bookinfo="1.20.3"),
        options=RunOptions(alpha=1e-6, beta=1e-3, delta=0.1, concurrency=8),
        started="2026-11-27T00:00:00+00:00",
        finished="2026-11-27T00:00:10+00:00",
        seconds=10.0,
        status=status or RunStatus(exit_status=1),
    )


def two_steps() -> RunResults:
    return results(record(step_result(True, "baseline")), record(step_result(False, "canary", T0 + 3)))


def test_the_report_set_holds_the_records_the_access_logs_and_the_screenshots(tmp_path: Path) -> None:
    written = two_steps()
    paths = write_reports(written, tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        "results.json",
        "report.md",
        "report.html",
        "access-logs/asm-release--canary--1.log",
        "screenshots/asm-release--baseline--jason.png",
        "screenshots/asm-release--canary--jason.png",
    ]
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["schema"] == "meshrelease/results/v1"
    assert data["summary"] == {"steps": 2, "passed": 1, "failed": 1, "skipped": 0}
    exp = data["steps"][1]["expectations"][0]
    assert exp["counts"] == {"v2": 410, "v3": 269} and exp["requests"] == 679 and exp["decision"] == "fail"
    assert exp["example"]["observation"]["pod"] == "reviews-v2-x" and "body" not in exp["example"]["observation"]
    assert data["steps"][1]["views"][0]["screenshot"] == "screenshots/asm-release--canary--jason.png"
    assert load_results(tmp_path) == written
    log = (tmp_path / "access-logs" / "asm-release--canary--1.log").read_text()
    assert log == '{"upstream_cluster": "outbound|9080|v2|r"}\n{"proxy": "reviews-v2-x"}\n'
    assert (tmp_path / "screenshots" / "asm-release--canary--jason.png").read_bytes() == PNG


def page_of(run: RunResults) -> BeautifulSoup:
    images = {v.screenshot: v.png for s in run.steps for v in s.views if v.png is not None}
    return BeautifulSoup(render_html(run, images), "html.parser")


def test_html_summary_has_a_line_per_scenario_and_step_linking_to_the_step() -> None:
    page = page_of(two_steps())
    rows = page.select("h2 + .card table tr")
    scenario_rows = [r for r in rows if "scenario" in (r.get("class") or [])]
    assert len(scenario_rows) == 1 and "asm-release" in scenario_rows[0].get_text()
    assert "2 steps · 1 passed · 1 failed" in scenario_rows[0].get_text()
    steps = [r for r in rows if r.find("a")]
    assert [r.find("a").get_text() for r in steps] == ["baseline", "canary"]
    for row in steps:
        target = row.find("a")["href"].lstrip("#")
        section = page.find(id=target)
        assert isinstance(section, Tag) and section.name == "section"
    assert [r.select_one(".badge").get_text() for r in steps] == ["PASSED", "FAILED"]
    assert "The canary step: black and red stars." in steps[1].get_text() and "2.00 s" in steps[1].get_text()


def test_html_step_cards_show_description_objects_warnings_latency_and_the_explanation_as_written() -> None:
    page = page_of(two_steps())
    canary = page.select("section.card")[1]
    assert canary.select_one(".desc").get_text() == "The canary step: black and red stars."
    assert [li.get_text() for li in canary.select("ul.objects li")] == [
        "virtualservice.networking.istio.io/reviews configured"
    ]
    assert "IST0101" in canary.select_one(".warn").get_text()
    row = canary.select("table tr")[1]
    assert "12 / 19 / 31 / 52 ms" in row.get_text()  # latency p50 / p90 / p99 / max
    assert "v2 60.4% (410)" in row.get_text() and row.select_one("td.dec-fail").get_text() == "fail"
    explanation = canary.select_one("pre.explain").get_text()
    assert explanation == "FAIL: v2 share 0.604 (410/679) is above 0.50\nmeaning: a correct mesh fails with p <= 1e-06"
    link = canary.find("a", href="access-logs/asm-release--canary--1.log")
    assert isinstance(link, Tag)


def test_html_timeline_draws_every_page_bin_and_each_sync() -> None:
    run = two_steps()
    page = page_of(run)
    timeline = page.select_one("svg.timeline")
    assert isinstance(timeline, Tag)
    # one group per time bin, titled with what its pages showed
    bins = [g for g in timeline.find_all("g") if "+" in g.title.get_text() and "v2" in g.title.get_text()]
    assert len(bins) == 4
    assert "asm-release::canary · anonymous: reviews v2:50/v3:50 · +3.30 s: v2 5, v3 5" in [
        g.title.get_text() for g in bins
    ]
    syncs = [g for g in timeline.find_all("g") if "synced at" in g.title.get_text()]
    assert [g.title.get_text() for g in syncs] == [
        "asm-release::baseline: synced at +0.15 s, applied at +0.10 s (sync 0.04 s)",
        "asm-release::canary: synced at +3.15 s, applied at +3.10 s (sync 0.04 s)",
    ]
    assert [a["href"] for a in timeline.find_all("a")] == [f"#{s['id']}" for s in page.select("section.card")]
    browsers = [
        r.title.get_text() for r in timeline.find_all("rect") if r.title and "the browser" in r.title.get_text()
    ]
    assert browsers == [
        "asm-release::baseline: the browser as jason, 0.80 s: reviews v3 (pod reviews-v3-a-b), stars red, star colour "
        "rgb(239, 68, 68), signed in as jason",
        "asm-release::canary: the browser as jason, 0.80 s: reviews v1 (pod reviews-v3-a-b), stars red, star colour "
        "rgb(239, 68, 68), signed in as jason",
    ]
    lanes = [t.get_text() for t in timeline.find_all("text", class_="lbl")]
    assert lanes == ["anonymous", "jason"]  # the browser's user has a lane of its own


def test_html_embeds_each_screenshot_inline_and_links_its_file() -> None:
    page = page_of(two_steps())
    figures = page.select("section.card figure")
    assert len(figures) == 2
    img = figures[1].find("img")
    assert img["src"].startswith("data:image/png;base64,")
    assert base64.b64decode(img["src"].split(",", 1)[1]) == PNG
    assert img.parent["href"] == "screenshots/asm-release--canary--jason.png"
    assert "disagrees" in figures[1]["class"] and "the browser saw reviews v1" in figures[1].get_text()
    assert "agrees with the verdict" in figures[0].get_text()


def test_html_is_one_self_contained_file() -> None:
    text = render_html(two_steps(), {})
    page = BeautifulSoup(text, "html.parser")
    assert text.startswith("<!doctype html>") and not page.find("script") and not page.find("link")
    sources = [t.get("src") for t in page.find_all(src=True)] + [t.get("href") for t in page.find_all(href=True)]
    assert not [s for s in sources if "://" in s]  # nothing fetched: anchors, data URIs and files next to it


def test_html_and_markdown_say_how_the_run_ended() -> None:
    status = RunStatus(
        exit_status=2,
        collection_errors=[CollectionError("scenarios/bad/scenario.yaml", "invalid scenario: bad.yaml:3: oops")],
        notes=["pytest stopped the run: 1 error during collection"],
    )
    run = results(status=status)
    page = page_of(run)
    assert page.select_one("header .badge").get_text() == "COLLECTION ERRORS"
    notice = page.select_one(".notice").get_text()
    assert "The run collection errors (exit status 2)" in notice and "bad.yaml:3: oops" in notice
    assert "1 error during collection" in notice
    md = render_markdown(run)
    assert "**run collection errors** (exit status 2)" in md and "invalid scenario: bad.yaml:3: oops" in md


def test_markdown_lists_every_step_with_its_table() -> None:
    md = render_markdown(two_steps())
    assert "**1 passed, 1 failed, 0 skipped** of 2 steps" in md
    assert "| 2 | `asm-release::canary` | FAIL | 2.0 | The canary step: black and red stars. |" in md
    assert "## PASS `asm-release::baseline`" in md and "## FAIL `asm-release::canary`" in md
    assert (
        "| anonymous: reviews v2:50/v3:50 | v2 50%, v3 50% | v2 60.4% (410), v3 39.6% (269) | 679 | 0.12 s | "
        "0.012 / 0.019 / 0.031 / 0.052 | fail |"
    ) in md
    assert "[access-logs/asm-release--canary--1.log](access-logs/asm-release--canary--1.log)" in md
    assert "- browser as jason:" in md and "(screenshots/asm-release--canary--jason.png)" in md


def test_split_chart_draws_expected_and_observed_bars() -> None:
    chart = split_chart(step_result(False).expectations[0])
    assert chart.count("<rect") == 4  # two expected segments, two observed
    assert "v2: 60.4%" in chart and "v3: 50.0%" in chart


def test_failure_message_table_and_a_disagreeing_browser() -> None:
    text = failure_message(step_result(False))
    lines = text.splitlines()
    assert lines[0] == "step asm-release::canary failed"
    assert lines[1].split() == ["expectation", "expected", "observed", "requests", "decision"]
    assert "v2 60.4% (410), v3 39.6% (269)" in lines[3] and lines[3].rstrip().endswith("fail")
    assert "its access-log lines:" in text
    assert "  example page: label 'v2', pod reviews-v2-x, stars black, status 200, x-request-id None" in lines
    assert "the browser, as jason, disagrees with the verdict:" in lines
    assert any(line.startswith("  the browser saw: reviews v1 (pod reviews-v3-a-b)") for line in lines)
    assert "  the browser saw reviews v1 (pod reviews-v1-a-b); the verdict passed ..." in lines


def test_steps_that_never_ran_show_their_outcome_and_pytest_text() -> None:
    error = StepRecord(nodeid="s.yaml::s::broken", scenario="s", step="broken", passed=False, outcome="error")
    error.message = "RuntimeError: fixture broke"
    skipped = StepRecord(nodeid="s.yaml::s::later", scenario="s", step="later", passed=False)
    skipped.message = "not run: the session ended before it"
    run = results(record(step_result(True)), error, skipped)
    assert run.summary.steps == 3 and (run.summary.passed, run.summary.failed, run.summary.skipped) == (1, 1, 1)
    md = render_markdown(run)
    assert "## ERROR `s::broken`" in md and "## SKIP `s::later`" in md
    assert "```\nRuntimeError: fixture broke\n```" in md and "not run: the session ended before it" in md
    cards = {c.select_one("h3").get_text(" ", strip=True): c for c in page_of(run).select("section.card")}
    assert "RuntimeError: fixture broke" in cards["ERROR #2 s :: broken"].get_text()
    assert "not run: the session ended before it" in cards["SKIPPED #3 s :: later"].get_text()


def test_publishing_replaces_every_entry_of_the_previous_set_and_nothing_else(tmp_path: Path) -> None:
    report = tmp_path / "latest"
    publish_reports(two_steps(), report)
    assert (report / "access-logs").is_dir() and (report / "screenshots").is_dir()
    (report / "junit.xml").write_text("<testsuites/>")  # an earlier run's
    (report / "runs").mkdir()  # an earlier run's kept run directories
    (report / "kind-logs").mkdir()  # not a report entry: --collect-logs put it there
    only = results(record(step_result(True, "baseline")))
    only.steps[0].views = []
    paths = publish_reports(only, report)
    assert sorted(p.name for p in report.iterdir()) == ["kind-logs", "report.html", "report.md", "results.json"]
    assert paths == [report / "results.json", report / "report.md", report / "report.html"]
    assert oct(report.stat().st_mode & 0o777) == "0o755"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind
    junit = tmp_path / "junit-from-pytest.xml"
    junit.write_text("<testsuites/>")
    publish_reports(only, report, junit=junit)
    assert (report / "junit.xml").read_text() == "<testsuites/>" and not junit.exists()
