"""results.json as typed records: exact round trips, the layout of the file, files written before the records,
and bad files refused with the file and the field named."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from meshrelease.backends.base import BackendInfo
from meshrelease.bookinfo.page import PageObservation
from meshrelease.engine.results import (
    SCHEMA,
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
    outcome_of,
)
from meshrelease.errors import UserInputError
from tests.paths import REPO_ROOT

OLD_FILES = REPO_ROOT / "tests" / "data" / "results"


def observation() -> PageObservation:
    return PageObservation(
        version="v2",
        pod="reviews-v2-kx6tgbmm4c-hw68f",
        cluster="east",
        stars="black",
        full_stars=9,
        empty_stars=1,
        ratings_error=True,
        reviews_error=False,
        details_error=True,
        user="jason",
        signed_in=True,
        title="Simple Bookstore App",
        ui="modern",
        review_count=2,
        consistent=False,
        findings=["pod says v2, stars say v3"],
        status=200,
        elapsed=0.0386149809996823,
        error=None,
        request_id="84e0c105-0851-4b9b-8a44-809d78ada3ca",
        url="http://127.0.0.1:13856/productpage",
        body="<html>not recorded</html>",
    )


def full_run() -> RunResults:
    """A run in which every field holds something other than its default."""
    failed = ExpectationResult(
        description="jason: reviews v2:50/v3:50",
        user="jason",
        kind="split",
        expected={"v2": 50.0, "v3": 50.0},
        decision="fail",
        counts={"v2": 410, "v3": 269},
        requests=679,
        explanation="FAIL: v2 share 0.604 (410/679) is above 0.50\nmeaning: ...",
        settle_pages=12,
        settle_counts={"v2": 7, "v3": 5},
        time_to_converge=0.1234,
        seconds=4.5678,
        latency={"min": 0.01, "p50": 0.02, "p90": 0.1, "p99": 0.4, "max": 0.5, "mean": 0.03},
        example=PageExample.of("v2", observation(), ['{"upstream_cluster": "outbound|9080|v2|reviews"}']),
        started_at=1796288292.5,
        timeline=[TimeBin(t=0.0, dt=0.1, counts={"v2": 7, "v3": 5}), TimeBin(t=0.2, dt=0.1, counts={"v2": 3})],
    )
    passed = ExpectationResult(
        description="anonymous: reviews v1", user=None, kind="version", expected={"v1": 1.0}, decision="pass"
    )
    ran = StepRecord(
        nodeid="scenarios/asm-release/scenario.yaml::asm-release::canary",
        scenario="asm-release",
        step="canary",
        passed=False,
        applied=["virtualservice.networking.istio.io/reviews configured"],
        warnings=["Warning [IST0101] (VirtualService default/reviews) subset not found"],
        replayed=["destination-rules", "all-v1"],
        sync_seconds=0.0359,
        seconds=3.2419,
        expectations=[failed, passed],
        error="error when applying manifests/x.yaml",
        diagnostics={"routes": "reviews -> v2 70, v3 30"},
        outcome="failed",
        message="step asm-release::canary failed",
        description="Black and red stars at equal frequency.",
        started_at=1796288291.25,
        applied_at=1796288292.0,
        synced_at=1796288292.04,
        views=[
            BrowserView(
                user="jason",
                url="http://127.0.0.1:13856/productpage",
                label="v3",
                pod="reviews-v3-abc-def",
                stars="red",
                star_colour="rgb(239, 68, 68)",
                signed_in_as="jason",
                ui="modern",
                agrees=False,
                problems=["the browser saw reviews v3; the verdict passed ..."],
                actions=["opened /productpage", 'clicked "Sign in"'],
                screenshot="screenshots/asm-release--canary--jason.png",
                seconds=1.5,
                started_at=1796288294.5,
                png=b"\x89PNG not written to results.json",
            )
        ],
    )
    broken = StepRecord(nodeid="s.yaml::s::broken", scenario="s", step="broken", passed=False, outcome="error")
    return RunResults.of(
        [ran, broken],
        backend=BackendInfo("kind", "istio 1.30.4", "v1.33.1", "1.20.3", {"cluster": "meshrelease"}),
        options=RunOptions(alpha=1e-6, beta=1e-3, delta=0.1, concurrency=8),
        started="2026-12-03T08:58:11+00:00",
        finished="2026-12-03T08:58:25+00:00",
        seconds=13.6543,
        status=RunStatus(
            exit_status=2,
            collection_errors=[CollectionError("scenarios/bad/scenario.yaml", "invalid scenario: ...:5: ...")],
            notes=["interrupted (KeyboardInterrupt) while s.yaml::s::broken ran"],
            junit="reports/latest/junit.xml",
        ),
    )


def test_every_field_survives_a_round_trip(tmp_path: Path) -> None:
    run = full_run()
    text = run.to_json()
    assert RunResults.from_json(text) == run
    assert RunResults.from_json(text).to_json() == text
    assert load_results(run.write(tmp_path / "results.json")) == run
    assert run.seconds == 13.654 and run.meshrelease and (run.summary.failed, run.summary.passed) == (2, 0)
    assert "PNG not written" not in text and RunResults.from_json(text).steps[0].views[0].png is None  # a file
    status = RunResults.from_json(text).status
    assert status is not None and status.outcome == "collection errors" and status.junit == "reports/latest/junit.xml"


def test_the_layout_is_the_one_results_json_always_had() -> None:
    data = json.loads(full_run().to_json())
    assert list(data) == [
        "schema",
        "meshrelease",
        "started",
        "finished",
        "seconds",
        "backend",
        "options",
        "summary",
        "run",
        "steps",
    ]
    assert data["schema"] == SCHEMA == "meshrelease/results/v1"
    assert data["backend"] == {
        "backend": "kind",
        "mesh": "istio 1.30.4",
        "kubernetes": "v1.33.1",
        "bookinfo": "1.20.3",
        "extra": {"cluster": "meshrelease"},
    }
    assert data["options"] == {"alpha": 1e-6, "beta": 1e-3, "delta": 0.1, "concurrency": 8}
    assert data["summary"] == {"steps": 2, "passed": 0, "failed": 2, "skipped": 0}
    step = data["steps"][0]
    assert list(step) == [
        "scenario",
        "step",
        "description",
        "passed",
        "applied",
        "warnings",
        "replayed",
        "started_at",
        "applied_at",
        "synced_at",
        "sync_seconds",
        "seconds",
        "error",
        "expectations",
        "views",
        "diagnostics",
        "nodeid",
        "outcome",
        "message",
    ]
    exp = step["expectations"][0]
    assert list(exp) == [
        "description",
        "user",
        "kind",
        "expected",
        "decision",
        "counts",
        "requests",
        "explanation",
        "settle",
        "started_at",
        "time_to_converge",
        "seconds",
        "latency",
        "timeline",
        "example",
    ]
    assert exp["settle"] == {"pages": 12, "counts": {"v2": 7, "v3": 5}}
    assert list(exp["example"]) == ["label", "observation", "access_log"]
    obs = exp["example"]["observation"]
    assert obs["pod"] == "reviews-v2-kx6tgbmm4c-hw68f" and obs["label"] == "v2" and obs["fetched_ok"] is True
    assert "body" not in obs  # the page's HTML is not recorded
    assert step["expectations"][1]["example"] is None


def test_the_record_of_a_runner_result_holds_what_is_written() -> None:
    exp = ExpectationResult(
        description="anonymous: reviews v1",
        user=None,
        kind="version",
        expected={"v1": 1.0},
        decision="pass",
        time_to_converge=0.123456789,
        seconds=1.987654321,
    )
    result = StepResult(
        scenario="s", step="a", passed=True, sync_seconds=0.0412345, seconds=3.14159265, expectations=[exp]
    )
    record = StepRecord.of(result, "s.yaml::s::a")
    assert (record.nodeid, record.id, record.outcome, record.message) == ("s.yaml::s::a", "s::a", "skipped", None)
    assert (record.sync_seconds, record.seconds) == (0.0412, 3.1416)
    assert (record.expectations[0].time_to_converge, record.expectations[0].seconds) == (0.1235, 1.9877)
    assert exp.seconds == 1.987654321  # the runner's result is left as it was
    record.outcome = "passed"
    run = RunResults.of(
        [record],
        backend=None,
        options=RunOptions(alpha=1e-6, beta=1e-3, delta=0.1, concurrency=8),
        started="s",
        finished="f",
        seconds=1.0,
    )
    assert RunResults.from_json(run.to_json()) == run


@pytest.mark.parametrize("name", ["mini-0.1.0.json", "partial-0.1.0.json"])
def test_files_written_before_the_records_still_read_and_keep_their_values(name: str) -> None:
    original = json.loads((OLD_FILES / name).read_text())
    run = load_results(OLD_FILES / name)
    rewritten = json.loads(run.to_json())
    assert RunResults.from_dict(rewritten) == run
    for key in original:
        if key != "steps":
            assert rewritten[key] == original[key], key
    assert len(rewritten["steps"]) == len(original["steps"])
    for old, new in zip(original["steps"], rewritten["steps"], strict=True):
        # every recorded value unchanged; only absent fields are added (also to the expectations)
        assert {k: new[k] for k in old if k != "expectations"} == {k: v for k, v in old.items() if k != "expectations"}
        for old_exp, new_exp in zip(old.get("expectations", []), new.get("expectations", []), strict=True):
            assert {k: new_exp[k] for k in old_exp} == old_exp
    assert rewritten["run"] is None  # how the session ended was not recorded then


def test_a_failed_step_of_an_earlier_file_reads_as_typed_records() -> None:
    run = load_results(OLD_FILES / "mini-0.1.0.json")
    assert [(s.step, s.outcome) for s in run.steps] == [
        ("all-v1", "passed"),
        ("canary", "failed"),
        ("bad-apply", "failed"),
    ]
    assert run.backend is not None and run.backend.mesh.startswith("envoy 1.40.0")
    canary = run.steps[1].expectations[0]
    assert canary.kind == "split" and canary.decision == "fail" and canary.counts["v2"] > canary.counts["v3"]
    assert canary.example is not None and canary.example.label == "v2"
    assert canary.example.observation.pod == "reviews-v2-kx6tgbmm4c-hw68f" and canary.example.observation.status == 200
    assert any("outbound|9080|v2|reviews" in line for line in canary.example.access_log)
    assert run.steps[2].error is not None and "weight -1 < 0" in run.steps[2].error
    partial = load_results(OLD_FILES / "partial-0.1.0.json")
    skipped, broken = partial.steps
    assert (skipped.outcome, skipped.passed, skipped.applied, skipped.message) == ("skipped", False, [], None)
    assert broken.outcome == "failed" and broken.message is not None and "fixture broke on purpose" in broken.message
    assert partial.backend is None


Mutation = Callable[[dict[str, Any]], None]


def _at(data: dict[str, Any], path: str) -> tuple[Any, Any]:
    """The container holding ``path`` ("steps/0/outcome") and the key of it there."""
    node: Any = data
    keys: list[Any] = path.split("/")
    for part in keys[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last = keys[-1]
    return node, int(last) if isinstance(node, list) else last


def _set(path: str, value: object) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        node, key = _at(data, path)
        node[key] = value

    return mutate


def _drop(path: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        node, key = _at(data, path)
        del node[key]

    return mutate


BAD = [
    (_drop("schema"), "schema", "not a meshrelease results.json (no schema field"),
    (_set("schema", "meshrelease/results/v2"), "schema", 'schema "meshrelease/results/v2"; expected'),
    (_drop("steps"), "steps", "steps: missing"),
    (_set("steps", {}), "steps", "steps: expected a list, found an object"),
    (_drop("options/delta"), "options.delta", "options.delta: missing"),
    (_set("seconds", "13"), "seconds", 'seconds: expected a number, found "13"'),
    (
        _set("backend/extra", {"cluster": 3}),
        "backend.extra.cluster",
        "backend.extra.cluster: expected a string, found 3",
    ),
    (_set("steps/1", []), "steps[1]", "steps[1]: expected an object, found a list"),
    (_drop("steps/0/outcome"), "steps[0].outcome", "steps[0].outcome: missing"),
    (
        _set("steps/0/outcome", "maybe"),
        "steps[0].outcome",
        "steps[0].outcome: 'maybe' is not one of passed, failed, skipped, error",
    ),
    (_set("steps/0/applied", ["ok", 7]), "steps[0].applied[1]", "steps[0].applied[1]: expected a string, found 7"),
    (_drop("steps/0/expectations/0/decision"), "steps[0].expectations[0].decision", "missing"),
    (_set("steps/0/expectations/0/kind", "ratio"), "steps[0].expectations[0].kind", "'ratio' is not one of version"),
    (
        _set("steps/0/expectations/0/requests", True),
        "steps[0].expectations[0].requests",
        "expected an integer, found true",
    ),
    (_set("steps/0/expectations/0/settle/pages", "12"), "steps[0].expectations[0].settle.pages", 'found "12"'),
    (
        _set("steps/0/expectations/0/example/observation/status", "200"),
        "steps[0].expectations[0].example.observation.status",
        'expected an integer or null, found "200"',
    ),
    (_set("steps/0/expectations/1/user", 1), "steps[0].expectations[1].user", "expected a string or null, found 1"),
]


@pytest.mark.parametrize(("mutate", "field", "text"), BAD, ids=[b[1] + ":" + b[2][:20] for b in BAD])
def test_a_file_that_is_not_results_v1_names_the_file_and_the_field(
    tmp_path: Path, mutate: Mutation, field: str, text: str
) -> None:
    data = json.loads(full_run().to_json())
    mutate(data)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data))
    with pytest.raises(UserInputError) as err:
        load_results(path)
    assert err.value.path == str(path) and err.value.field == field
    assert str(err.value).startswith(f"{path}: ") and text in str(err.value)


def test_what_is_not_json_at_all_is_named_by_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text('{\n  "schema": "meshrelease/results/v1",\n  "steps": [,]\n}\n')
    with pytest.raises(UserInputError, match=rf"^{path}:3: not JSON: Expecting value \(column 13\)"):
        load_results(path)
    path.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(UserInputError, match=rf"^{path}: not JSON: not UTF-8 text"):
        load_results(path)
    path.write_text("[1, 2]")
    with pytest.raises(UserInputError, match=rf"^{path}: expected an object, found a list"):
        load_results(path)
    with pytest.raises(UserInputError, match=r"cannot read results: No such file or directory"):
        load_results(tmp_path / "missing.json")
    with pytest.raises(UserInputError, match=rf"^{tmp_path / 'results.json'}: "):
        load_results(tmp_path)  # a report directory stands for its results.json


@pytest.mark.parametrize(
    ("exit_status", "errors", "outcome"),
    [
        (0, [], "passed"),
        (1, [], "failed"),
        (2, [], "interrupted"),
        (2, [CollectionError("a/scenario.yaml", "invalid scenario")], "collection errors"),
        (3, [], "internal error"),
        (4, [], "usage error"),
        (5, [], "nothing collected"),
        (7, [], "exit status 7"),
    ],
)
def test_how_a_run_ended_in_words(exit_status: int, errors: list[CollectionError], outcome: str) -> None:
    assert outcome_of(exit_status, errors) == outcome
    assert RunStatus(exit_status, collection_errors=errors).outcome == outcome
