"""The step runner on the local mesh: passing steps, replay, and wrong manifests caught with the table."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshrelease.backends.local.mesh import LocalMesh
from meshrelease.backends.local.options import LocalMeshOptions
from meshrelease.bookinfo.browser import BrowserPage
from meshrelease.bookinfo.page import PageObservation
from meshrelease.data import data_file
from meshrelease.engine.results import RunOptions, RunResults, StepRecord, load_results, now_iso
from meshrelease.engine.runner import RunnerOptions, StepRunner
from meshrelease.report.failure import StepFailed, failure_message
from meshrelease.scenario.loader import load_scenario
from meshrelease.scenario.model import Scenario

pytestmark = pytest.mark.envoy

DR_ALL = data_file("destination-rule-all.yaml")


def vs_reviews(body: str) -> str:
    return textwrap.dedent(
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: reviews
        spec:
          hosts: [reviews]
          http:
        """
    ) + textwrap.indent(textwrap.dedent(body), "    ")


ROUTE_V1 = vs_reviews(
    """
    - route:
        - destination: {host: reviews, subset: v1}
    """
)
SPLIT_60_40 = vs_reviews(
    """
    - route:
        - destination: {host: reviews, subset: v2}
          weight: 60
        - destination: {host: reviews, subset: v3}
          weight: 40
    """
)
CANARY_CATCHES_EVERYONE = vs_reviews(
    """
    - match:
        - headers:
            user-agent: {regex: ".*"}
      route:
        - destination: {host: reviews, subset: v3}
    - route:
        - destination: {host: reviews, subset: v2}
    """
)


def make_scenario(tmp_path: Path, name: str, manifests: dict[str, str], steps: str) -> Scenario:
    folder = tmp_path / name
    folder.mkdir()
    for file, text in manifests.items():
        (folder / file).write_text(text)
    (folder / "scenario.yaml").write_text(textwrap.dedent(steps).lstrip())
    return load_scenario(folder)


@pytest.fixture(scope="module")
def mesh() -> Iterator[LocalMesh]:
    with LocalMesh(LocalMeshOptions()) as m:
        yield m


@pytest.fixture
def runner(mesh: LocalMesh) -> StepRunner:
    lines: list[str] = []
    r = StepRunner(mesh, RunnerOptions(converge_timeout=20), progress=lines.append)
    r.progress_lines = lines  # type: ignore[attr-defined]
    return r


def test_steps_pass_in_order_and_a_step_alone_replays_its_predecessors(
    tmp_path: Path, mesh: LocalMesh, runner: StepRunner
) -> None:
    sc = make_scenario(
        tmp_path,
        "blue-green",
        {
            "dr.yaml": DR_ALL.read_text(),
            "v1.yaml": ROUTE_V1,
            "v2.yaml": ROUTE_V1.replace("subset: v1", "subset: v2"),
        },
        """
        steps:
          - name: subsets
            apply: [dr.yaml]
            expect:
              - reviews: [v1, v2, v3]
          - name: all-v1
            apply: [v1.yaml]
            expect:
              - reviews: v1
                stars: none
              - user: jason
                reviews: v1
          - name: all-v2
            apply: [v2.yaml]
            expect:
              - reviews: v2
                stars: black
        """,
    )
    results = [runner.run(sc, step) for step in sc.steps]
    assert [r.passed for r in results] == [True, True, True], [failure_message(r) for r in results]
    assert all(not r.replayed for r in results)  # in order: no replay
    first = results[1].expectations[0]
    assert first.counts == {"v1": first.requests} and first.requests >= 66
    assert first.settle_pages >= 10 and first.time_to_converge > 0
    assert results[1].applied == ["virtualservice.networking.istio.io/reviews created"]

    # What the report's timeline draws: when the step began, applied and synced; every page in a time bin.
    step = results[1]
    assert step.applied_at is not None and step.synced_at is not None
    assert step.started_at <= step.applied_at <= step.synced_at <= first.started_at
    assert sum(sum(b.counts.values()) for b in first.timeline) == first.settle_pages + first.requests
    assert set(first.latency) == {"min", "p50", "p90", "p99", "max", "mean"}
    assert first.latency["p50"] <= first.latency["p90"] <= first.latency["p99"] <= first.latency["max"]

    # A fresh runner (a step selected alone with -k) resets the mesh and replays the earlier steps first.
    alone = StepRunner(mesh, RunnerOptions(converge_timeout=20))
    result = alone.run(sc, sc.step("all-v2"))
    assert result.passed, failure_message(result)
    assert result.replayed == ["subsets", "all-v1"]

    # Two selected steps with one between them: the second continues from the first, applying only the one
    # between (all-v1: v1 routes) before its own (all-v2), and the mesh shows the second's routing.
    selected = StepRunner(mesh, RunnerOptions(converge_timeout=20))
    assert selected.run(sc, sc.step("subsets")).passed
    later = selected.run(sc, sc.step("all-v2"))
    assert later.passed, failure_message(later)
    assert later.replayed == ["all-v1"]


def test_a_60_40_manifest_under_a_50_50_expectation_fails_with_the_table_and_its_record_reads_back(
    tmp_path: Path, mesh: LocalMesh, runner: StepRunner
) -> None:
    sc = make_scenario(
        tmp_path,
        "wrong-split",
        {"dr.yaml": DR_ALL.read_text(), "split.yaml": SPLIT_60_40},
        """
        steps:
          - name: canary
            apply: [dr.yaml, split.yaml]
            expect:
              - reviews: {v2: 50, v3: 50}
        """,
    )
    result = runner.run(sc, sc.steps[0])
    assert not result.passed
    exp = result.expectations[0]
    assert exp.decision in ("fail", "undecided")
    assert set(exp.counts) == {"v2", "v3"} and exp.counts["v2"] > exp.counts["v3"]
    message = str(StepFailed(result))
    assert "step wrong-split::canary failed" in message
    assert "expectation" in message and "expected" in message and "observed" in message
    assert "v2 50%, v3 50%" in message  # the expected column
    assert f"v2 {exp.counts['v2'] / exp.requests:.1%}" in message  # the observed column
    # One over-represented (v2) request with its access-log lines (gateway and productpage sidecar).
    assert exp.example is not None and exp.example.label == "v2"
    assert exp.example.observation.pod is not None and exp.example.observation.pod.startswith("reviews-v2-")
    log = exp.example.access_log
    assert any("outbound|9080|v2|reviews.default.svc.cluster.local" in line for line in log), log
    # The step's record, as the plugin keeps it, reads back from results.json exactly as it was.
    record = StepRecord.of(result, "wrong-split/scenario.yaml::wrong-split::canary")
    record.outcome = "failed"
    run = RunResults.of(
        [record],
        backend=mesh.describe(),
        options=RunOptions(alpha=1e-6, beta=1e-3, delta=0.1, concurrency=8),
        started=now_iso(),
        finished=now_iso(),
        seconds=result.seconds,
    )
    assert load_results(run.write(tmp_path / "results.json")) == run


def test_a_header_canary_that_also_catches_anonymous_users_is_caught(tmp_path: Path, runner: StepRunner) -> None:
    sc = make_scenario(
        tmp_path,
        "leaky-canary",
        {"dr.yaml": DR_ALL.read_text(), "canary.yaml": CANARY_CATCHES_EVERYONE},
        """
        steps:
          - name: header-canary
            apply: [dr.yaml, canary.yaml]
            timeout: 5s
            expect:
              - user: jason
                reviews: v3
              - reviews: v2
        """,
    )
    result = runner.run(sc, sc.steps[0])
    assert not result.passed
    jason, anonymous = result.expectations
    assert jason.passed
    assert not anonymous.passed
    assert "v3" in anonymous.counts
    message = str(StepFailed(result))
    assert "anonymous: reviews v2" in message and "fail" in message
    assert "did not converge within 5 s" in anonymous.explanation
    assert "v3" in anonymous.explanation


def test_an_invalid_manifest_fails_the_step_and_changes_nothing(
    tmp_path: Path, mesh: LocalMesh, runner: StepRunner
) -> None:
    before = {o.key: o.resource_version for o in mesh.store.objects()}
    sc = make_scenario(
        tmp_path,
        "bad-manifest",
        {
            "bad.yaml": vs_reviews(
                """
                - route:
                    - destination: {host: reviews, subset: v1}
                      weight: -15
                    - destination: {host: reviews, subset: v2}
                      weight: 10
                """
            )
        },
        """
        steps:
          - name: bad
            apply: [bad.yaml]
            expect:
              - reviews: v1
        """,
    )
    result = runner.run(sc, sc.steps[0])
    assert not result.passed and result.error is not None
    assert "weight -15 < 0" in result.error and "bad.yaml" in result.error
    after = {o.key: o.resource_version for o in mesh.store.objects()}
    # The reset to the baseline may have happened; the bad object itself never landed.
    assert not any(k.kind == "VirtualService" and k.name == "reviews" for k in after), (before, after)


class WrongPageViewer:
    """A page viewer whose "browser" always shows reviews v1 to nobody signed in: it contradicts any other verdict."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    def view(self, base_url: str, user: str | None) -> BrowserPage:
        self.calls.append((base_url, user))
        obs = PageObservation(version="v1", pod="reviews-v1-aaaaaaaaaa-bbbbb", stars="none", status=200, ui="modern")
        return BrowserPage(user, f"{base_url}/productpage", obs, None, b"\x89PNG", 0.1, ["opened the page"])

    def close(self) -> None:
        pass


def test_a_browser_that_disagrees_with_the_verdict_fails_the_step_showing_both(tmp_path: Path, mesh: LocalMesh) -> None:
    sc = make_scenario(
        tmp_path,
        "browsed",
        {"dr.yaml": DR_ALL.read_text(), "v2.yaml": ROUTE_V1.replace("subset: v1", "subset: v2")},
        """
        steps:
          - name: all-v2
            apply: [dr.yaml, v2.yaml]
            expect:
              - reviews: v2
              - user: jason
                reviews: v2
        """,
    )
    viewer = WrongPageViewer()
    result = StepRunner(mesh, RunnerOptions(converge_timeout=20), viewer=viewer).run(sc, sc.steps[0])
    assert all(e.passed for e in result.expectations)  # the verdicts hold ...
    assert not result.passed  # ... but the browser saw something else
    assert viewer.calls == [(mesh.ingress_url, None), (mesh.ingress_url, "jason")]  # once per user of the step
    anonymous, jason = result.views
    assert not anonymous.agrees and anonymous.screenshot == "screenshots/browsed--all-v2--anonymous.png"
    assert jason.problems == [
        "the page shows nobody signed in, not jason",
        "the browser saw reviews v1 (pod reviews-v1-aaaaaaaaaa-bbbbb); the verdict passed 'jason: reviews v2' over "
        f"{result.expectations[1].requests} pages (v2)",
    ]
    message = failure_message(result)
    assert "the browser, as jason, disagrees with the verdict:" in message
    assert "  the browser saw: reviews v1 (pod reviews-v1-aaaaaaaaaa-bbbbb), stars none, signed in as nobody" in message
