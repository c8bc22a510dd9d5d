"""The upgrade check's logic without a cluster: versions and modes, the orchestration around a fake driver and a
fake suite runner (reports, verdict, clean-up), the traffic during the upgrade against a local HTTP server, the
kind options it reads and the ``upgrade-check`` command line."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from meshrelease.backends.base import ApplyResult, BackendInfo, ObjectDoc
from meshrelease.cli.main import main
from meshrelease.engine.results import CollectionError, Outcome, RunOptions, RunResults, RunStatus, StepRecord
from meshrelease.errors import MeshReleaseError, UserInputError
from meshrelease.upgrade.check import SuiteRun, UpgradePlan, check_pytest_args, run_upgrade_check
from meshrelease.upgrade.disruption import DisruptionOptions, DisruptionReport, FailedRequest, find_upgrade_traffic_step
from meshrelease.upgrade.istio import check_upgrade_path, revision_name
from meshrelease.upgrade.kind import kind_settings_from_pytest_args
from meshrelease.upgrade.local import LocalVersionsDriver

PLAN = UpgradePlan("1.29.6", "1.30.4", "revision")


# -- versions and modes ------------------------------------------------------------------------------------------


def test_revision_names_are_the_version_with_dashes() -> None:
    assert revision_name("1.30.4") == "1-30-4"
    assert revision_name("1.31.0-rc.0") == "1-31-0-rc-0"


@pytest.mark.parametrize(
    ("old", "new", "mode"),
    [
        ("1.29.6", "1.30.4", "inplace"),
        ("1.30.3", "1.30.4", "inplace"),
        ("1.28.10", "1.30.4", "revision"),
        ("1.31.0-rc.0", "1.31.0", "inplace"),
        ("1.29", "1.30", "revision"),
    ],
)
def test_supported_upgrade_paths(old: str, new: str, mode: str) -> None:
    check_upgrade_path(old, new, mode)


@pytest.mark.parametrize(
    ("old", "new", "mode", "message"),
    [
        ("1.28.10", "1.30.4", "inplace", "skips 1 minor release(s); an in-place upgrade supports one minor at a time"),
        ("1.27.0", "1.30.4", "revision", "skips 2 minor release(s); a revision upgrade can jump two minors at most"),
        ("1.30.4", "1.30.4", "revision", "--to 1.30.4 is not newer than --from 1.30.4"),
        ("1.30.4", "1.29.6", "inplace", "is not newer"),
        ("1.31.0", "1.31.0-rc.0", "inplace", "is not newer"),
        ("latest", "1.30.4", "inplace", "'latest' is not an Istio version"),
        ("1.29.6", "1.30.4", "canary", "unknown upgrade mode 'canary'"),
    ],
)
def test_unsupported_upgrade_paths_say_why(old: str, new: str, mode: str, message: str) -> None:
    with pytest.raises(UserInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_upgrade_path(old, new, mode)


def test_options_the_check_sets_itself_are_refused() -> None:
    check_pytest_args(["-x", "--kind-cluster-name", "ci", "--keep-cluster"])
    for given in (["--istioctl", "x"], ["--istio-version=1.30.4"], ["--envoy-version", "1.40.0"], ["--istio-revision"]):
        with pytest.raises(UserInputError, match=f"{given[0].split('=')[0]} cannot be passed to upgrade-check"):
            check_pytest_args(given)


# -- the step whose traffic runs during the upgrade --------------------------------------------------------------

VS = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: reviews}}
spec:
  hosts: [reviews]
  http:
    - route:
        - destination: {{host: reviews, subset: {subset}}}
"""


def scenario(root: Path, name: str, *, marked: tuple[str, ...] = ("canary",)) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "v1.yaml").write_text(VS.format(subset="v1"))
    (folder / "v2.yaml").write_text(VS.format(subset="v2"))
    steps = []
    for step, manifest, version in (("baseline", "v1.yaml", "v1"), ("canary", "v2.yaml", "v2")):
        mark = "    upgrade_traffic: true\n" if step in marked else ""
        steps.append(f"  - name: {step}\n    apply: [{manifest}]\n{mark}    expect:\n      - reviews: {version}\n")
    (folder / "scenario.yaml").write_text(f"name: {name}\nsteps:\n" + "".join(steps))
    return folder


def test_finding_the_marked_step(tmp_path: Path) -> None:
    scenario(tmp_path, "one", marked=())
    assert find_upgrade_traffic_step([tmp_path]) is None
    scenario(tmp_path, "two")
    found = find_upgrade_traffic_step([tmp_path])
    assert found is not None and (found[0].name, found[1].name) == ("two", "canary")
    assert find_upgrade_traffic_step([tmp_path / "two" / "scenario.yaml", tmp_path / "two"]) == found
    scenario(tmp_path, "three", marked=("baseline",))
    with pytest.raises(UserInputError) as err:
        find_upgrade_traffic_step([tmp_path])
    message = str(err.value)
    assert "2 steps are marked upgrade_traffic: true" in message
    assert "scenario.yaml:3 (three::baseline)" in message and "(two::canary)" in message


# -- the orchestration -------------------------------------------------------------------------------------------


def results(outcomes: dict[str, Outcome]) -> RunResults:
    steps = [
        StepRecord(nodeid=f"s::{step}", scenario="s", step=step, passed=outcome == "passed", outcome=outcome)
        for step, outcome in outcomes.items()
    ]
    return RunResults.of(
        steps,
        backend=BackendInfo("fake"),
        options=RunOptions(alpha=1e-6, beta=1e-3, delta=0.1, concurrency=8),
        started="2026-11-27T00:00:00+00:00",
        finished="2026-11-27T00:00:10+00:00",
        seconds=10.0,
    )


class FakeSuites:
    """Stands in for the pytest runs: writes the results each version is given (None: writes nothing)."""

    def __init__(self, by_version: dict[str, dict[str, Outcome] | None]) -> None:
        self.by_version = by_version
        self.runs: list[SuiteRun] = []

    def __call__(self, run: SuiteRun) -> int:
        self.runs.append(run)
        outcomes = self.by_version[run.version]
        if outcomes is None:
            return 1
        run.report_dir.mkdir(parents=True, exist_ok=True)
        results(outcomes).write(run.report_dir / "results.json")
        return 0 if all(o == "passed" for o in outcomes.values()) else 1


class FakeDriver:
    backend = "fake"

    def __init__(self, plan: UpgradePlan, mesh: Any = None, during: Callable[[], None] | None = None) -> None:
        self.plan = plan
        self.mesh = mesh
        self.during = during
        self.phases: list[str] = []
        self.closed: list[bool] = []

    def prepare(self) -> UpgradePlan:
        return self.plan

    def start(self) -> Any:
        return self.mesh

    def suite_args(self, *, upgraded: bool) -> list[str]:
        return ["--mesh-version", self.plan.to_version if upgraded else self.plan.from_version]

    def upgrade(self, on_phase: Callable[[str], None]) -> None:
        on_phase("control plane")
        self.phases.append("control plane")
        if self.during is not None:
            self.during()
        on_phase("data plane")
        self.phases.append("data plane")

    def close(self, *, failed: bool) -> str:
        self.closed.append(failed)
        return "cluster deleted"


def check(driver: FakeDriver, suites: FakeSuites, paths: Sequence[Path], reports: Path, **kw: Any) -> Any:
    return run_upgrade_check(
        driver,
        paths=[str(p) for p in paths],
        report_dir=reports,
        pytest_args=["-x"],
        run_suite=suites,
        out=lambda text: None,
        **kw,
    )


def test_two_runs_in_their_own_folders_and_a_clean_comparison_pass(tmp_path: Path) -> None:
    scenario(tmp_path, "s", marked=())
    suites = FakeSuites({"1.29.6": {"a": "passed"}, "1.30.4": {"a": "passed"}})
    driver = FakeDriver(PLAN)
    result = check(driver, suites, [tmp_path], tmp_path / "reports", keyword="canary")
    assert result.exit_code == 0, result.render_text()
    assert [(r.version, r.report_dir, r.pytest_args, r.keyword) for r in suites.runs] == [
        ("1.29.6", tmp_path / "reports" / "1.29.6", ["-x", "--mesh-version", "1.29.6"], "canary"),
        ("1.30.4", tmp_path / "reports" / "1.30.4", ["-x", "--mesh-version", "1.30.4"], "canary"),
    ]
    assert driver.phases == [] and driver.closed == [False]  # no started mesh: nothing to upgrade mid-run
    written = {p.name for p in (tmp_path / "reports").iterdir()}
    assert {"compare.md", "compare.json", "disruption.json", "disruption.md", "upgrade.json"} <= written
    summary = json.loads((tmp_path / "reports" / "upgrade.json").read_text())
    assert summary["passed"] and summary["regressions"] == 0 and summary["cleanup"] == "cluster deleted"
    assert summary["runs"]["from"] == {
        "version": "1.29.6",
        "report_dir": str(tmp_path / "reports" / "1.29.6"),
        "summary": {"steps": 1, "passed": 1, "failed": 0, "skipped": 0},
    }
    assert "PASSED" in result.render_text()
    assert f"run on 1.30.4: 1 passed, 0 failed, 0 skipped ({tmp_path / 'reports' / '1.30.4'})" in result.render_text()


def test_a_regression_fails_the_check(tmp_path: Path) -> None:
    scenario(tmp_path, "s", marked=())
    suites = FakeSuites({"1.29.6": {"a": "passed", "b": "failed"}, "1.30.4": {"a": "failed", "b": "failed"}})
    driver = FakeDriver(PLAN)
    result = check(driver, suites, [tmp_path], tmp_path / "reports")
    assert result.exit_code == 1
    assert result.comparison is not None
    assert [(f.step, f.kind) for f in result.comparison.regressions] == [("s::a", "outcome")]
    assert driver.closed == [True]


def test_a_run_without_results_is_an_error_and_stale_results_are_never_compared(tmp_path: Path) -> None:
    scenario(tmp_path, "s", marked=())
    reports = tmp_path / "reports"
    stale = reports / "1.30.4" / "results.json"
    stale.parent.mkdir(parents=True)
    results({"a": "passed"}).write(stale)
    (reports / "compare.md").write_text("stale")
    suites = FakeSuites({"1.29.6": {"a": "passed"}, "1.30.4": None})
    driver = FakeDriver(PLAN)
    result = check(driver, suites, [tmp_path], reports)
    assert result.exit_code == 1
    assert result.error is not None and f"the run wrote no {stale}" in result.error
    assert not stale.exists() and not (reports / "compare.md").exists()
    assert driver.closed == [True]
    assert json.loads((reports / "upgrade.json").read_text())["error"] == result.error


def test_a_run_that_did_not_run_its_steps_is_an_error_not_an_empty_comparison(tmp_path: Path) -> None:
    scenario(tmp_path, "s", marked=())

    class CollectionErrors(FakeSuites):
        """The second run wrote a report of a session stopped by collection errors (no steps)."""

        def __call__(self, run: SuiteRun) -> int:
            if run.version == "1.29.6":
                return super().__call__(run)
            run.report_dir.mkdir(parents=True, exist_ok=True)
            stopped = results({})
            stopped.status = RunStatus(exit_status=2, collection_errors=[CollectionError("s/scenario.yaml", "bad")])
            stopped.write(run.report_dir / "results.json")
            return 2

    driver = FakeDriver(PLAN)
    result = check(driver, CollectionErrors({"1.29.6": {"a": "passed"}}), [tmp_path], tmp_path / "r")
    assert result.exit_code == 1 and result.comparison is None
    path = tmp_path / "r" / "1.30.4" / "results.json"
    assert result.error.startswith(f"the run that wrote {path} ended with collection errors (exit status 2)")
    assert driver.closed == [True]


def test_results_that_are_not_results_v1_are_an_error_naming_the_file_and_the_field(tmp_path: Path) -> None:
    scenario(tmp_path, "s", marked=())

    class Damaged(FakeSuites):
        def __call__(self, run: SuiteRun) -> int:
            code = super().__call__(run)
            path = run.report_dir / "results.json"
            data = json.loads(path.read_text())
            del data["steps"][0]["outcome"]
            path.write_text(json.dumps(data))
            return code

    driver = FakeDriver(PLAN)
    result = check(driver, Damaged({"1.29.6": {"a": "passed"}, "1.30.4": {"a": "passed"}}), [tmp_path], tmp_path / "r")
    assert result.exit_code == 1 and result.comparison is None
    assert result.error is not None
    assert result.error.startswith(f"{tmp_path / 'r' / '1.29.6' / 'results.json'}: steps[0].outcome: missing")
    assert driver.closed == [True]


def test_a_failing_clean_up_fails_the_check_and_the_reports_are_still_written(tmp_path: Path) -> None:
    scenario(tmp_path, "s", marked=())

    class Undeletable(FakeDriver):
        def close(self, *, failed: bool) -> str:
            raise MeshReleaseError("command failed (exit 1): kind delete cluster --name meshrelease")

    suites = FakeSuites({"1.29.6": {"a": "passed"}, "1.30.4": {"a": "passed"}})
    result = check(Undeletable(PLAN), suites, [tmp_path], tmp_path / "reports")
    assert result.exit_code == 1
    assert result.error == "clean-up failed: command failed (exit 1): kind delete cluster --name meshrelease"
    assert json.loads((tmp_path / "reports" / "upgrade.json").read_text())["error"] == result.error


def test_the_local_driver_runs_each_envoy_version_and_checks_them_first() -> None:
    fetched: list[str] = []
    driver = LocalVersionsDriver(UpgradePlan("1.36.3", "1.40.0"), fetch=lambda v: fetched.append(v) or "envoy")
    assert driver.prepare() == UpgradePlan("1.36.3", "1.40.0")
    assert fetched == ["1.36.3", "1.40.0"]
    assert driver.start() is None
    assert driver.suite_args(upgraded=False) == ["--envoy-version", "1.36.3"]
    assert driver.suite_args(upgraded=True) == ["--envoy-version", "1.40.0"]
    with pytest.raises(UserInputError, match="--mode is for the kind backend"):
        LocalVersionsDriver(UpgradePlan("1.36.3", "1.40.0", "inplace"), fetch=str).prepare()
    with pytest.raises(UserInputError, match=r"--from and --to are both 1\.40\.0"):
        LocalVersionsDriver(UpgradePlan("1.40.0", "1.40.0"), fetch=str).prepare()


# -- traffic during the upgrade ----------------------------------------------------------------------------------


def page(version: str) -> str:
    from meshrelease.bookinfo.workloads import catalog
    from meshrelease.bookinfo.workloads.render import render_product_page

    review: dict[str, Any] = {"reviewer": "Reviewer1", "text": "An extremely entertaining play by Shakespeare."}
    if version in ("v2", "v3"):
        review["rating"] = {"stars": 5, "color": "black" if version == "v2" else "red"}
    reviews = {"id": "0", "podname": f"reviews-{version}-5b9c7d4f8-x2k4q", "clustername": "null", "reviews": [review]}
    return render_product_page("modern", user=None, details=catalog.book_details(0), reviews=reviews)


class Gateway:
    """productpage showing ``version``; :meth:`fail_next` makes the next requests answer 503 (ids recorded)."""

    def __init__(self, httpserver: Any, version: str) -> None:
        from werkzeug import Request, Response

        self.version = version
        self.to_fail = 0
        self.failed: list[str] = []
        self.done = threading.Event()
        lock = threading.Lock()

        def handler(request: Request) -> Response:
            with lock:
                if self.to_fail:
                    self.to_fail -= 1
                    self.failed.append(request.headers.get("x-request-id", ""))
                    if not self.to_fail:
                        self.done.set()
                    return Response("no healthy upstream", status=503)
            return Response(page(self.version), content_type="text/html; charset=utf-8")

        httpserver.expect_request("/productpage").respond_with_handler(handler)
        self.url = f"http://127.0.0.1:{httpserver.port}"

    def fail_next(self, n: int) -> None:
        self.done.clear()
        self.to_fail = n
        assert self.done.wait(20), "the gateway did not get the requests to fail"


class Mesh:
    """A backend whose traffic goes to a test HTTP server; records what the runner asks of it."""

    name = "fake"

    def __init__(self, url: str) -> None:
        self.url = url
        self.calls: list[str] = []

    def start(self) -> None:
        self.calls.append("start")

    def apply(self, docs: Sequence[ObjectDoc], *, source: str | None = None) -> ApplyResult:
        self.calls.append(f"apply {source}")
        return ApplyResult()

    def delete(self, docs: Sequence[ObjectDoc], *, source: str | None = None) -> ApplyResult:
        self.calls.append(f"delete {source}")
        return ApplyResult()

    def reset_routing(self) -> None:
        self.calls.append("reset")

    def wait_synced(self, timeout: float = 30.0) -> float:
        self.calls.append("synced")
        return 0.0

    @property
    def ingress_url(self) -> str:
        return self.url

    def describe(self) -> BackendInfo:
        return BackendInfo(backend="fake")

    def access_log_lines(self, request_id: str) -> list[str]:
        return []

    def diagnostics(self) -> dict[str, str]:
        return {}

    def close(self) -> None:
        self.calls.append("close")


TRAFFIC = DisruptionOptions(concurrency=2, steady_window=5, settle_timeout=20, recover_timeout=20, fetch_timeout=5)


def test_requests_failed_during_the_upgrade_fail_the_check_and_are_all_reported(
    tmp_path: Path, httpserver: Any
) -> None:
    scenario(tmp_path, "s")
    gateway = Gateway(httpserver, "v2")
    mesh = Mesh(gateway.url)
    driver = FakeDriver(PLAN, mesh, during=lambda: gateway.fail_next(4))
    suites = FakeSuites({"1.29.6": {"a": "passed"}, "1.30.4": {"a": "passed"}})
    result = check(driver, suites, [tmp_path], tmp_path / "reports", traffic=TRAFFIC)
    assert result.comparison is not None and not result.comparison.regressions
    assert result.exit_code == 1
    assert sorted(f.request_id or "" for f in result.disruption.failures) == sorted(gateway.failed)
    assert {f.phase for f in result.disruption.failures} <= {"steady, before the upgrade", "control plane"}
    # the step's state (baseline replayed, then canary) before the traffic; the routing reset before the TO run
    assert mesh.calls == ["reset", "apply v1.yaml", "apply v2.yaml", "synced", "reset"]
    assert driver.phases == ["control plane", "data plane"]
    saved = json.loads((tmp_path / "reports" / "disruption.json").read_text())
    assert saved["failed"] == 4 and saved["step"] == "canary"
    assert {f["request_id"] for f in saved["failures"]} == set(gateway.failed)
    assert "4 failed request(s)" in result.render_text()


def test_an_upgrade_that_fails_stops_the_check_with_the_traffic_report_written(tmp_path: Path, httpserver: Any) -> None:
    scenario(tmp_path, "s")
    gateway = Gateway(httpserver, "v2")

    def broken() -> None:
        raise MeshReleaseError("the upgrade failed at step 2/4 (wait for the control plane)")

    driver = FakeDriver(PLAN, Mesh(gateway.url), during=broken)
    suites = FakeSuites({"1.29.6": {"a": "passed"}, "1.30.4": {"a": "passed"}})
    result = check(driver, suites, [tmp_path], tmp_path / "reports", traffic=TRAFFIC)
    assert result.exit_code == 1
    assert result.error == "the upgrade failed at step 2/4 (wait for the control plane)"
    assert [r.version for r in suites.runs] == ["1.29.6"]  # no run on a half-upgraded mesh
    assert driver.closed == [True]
    saved = json.loads((tmp_path / "reports" / "disruption.json").read_text())
    assert saved["requests"] > 0 and saved["phases"][0]["name"] == "control plane"


def test_a_step_that_does_not_hold_before_the_upgrade_stops_the_check_before_upgrading(
    tmp_path: Path, httpserver: Any
) -> None:
    scenario(tmp_path, "s")
    gateway = Gateway(httpserver, "v1")  # the marked step expects v2
    driver = FakeDriver(PLAN, Mesh(gateway.url))
    suites = FakeSuites({"1.29.6": {"a": "passed"}, "1.30.4": {"a": "passed"}})
    traffic = DisruptionOptions(concurrency=1, steady_window=3, settle_timeout=1, fetch_timeout=5)
    result = check(driver, suites, [tmp_path], tmp_path / "reports", traffic=traffic)
    assert result.exit_code == 1 and result.error is not None
    assert "before the upgrade: timed out after 1 s waiting for s::canary to be served steadily" in result.error
    assert "v1" in result.error and "allowed: v2" in result.error
    assert "meshrelease run <scenario> -k canary" in result.error
    assert driver.phases == []


def test_disruption_report_files_list_every_failure() -> None:
    failures = [
        FailedRequest(
            "2026-08-27T10:00:00.000Z",
            i * 0.5,
            "restart",
            "jason",
            "jason: reviews v3",
            "status 503",
            503,
            "HTTP 503",
            f"id-{i}",
        )
        for i in range(60)
    ]
    report = DisruptionReport(
        scenario="s",
        step="c",
        expectations=[{"description": "d", "user": "jason", "requests": 100, "failed": 60}],
        failures=failures,
    )
    text = report.render_text()
    assert "100 requests" in text and "60 failed request(s)" in text
    assert "id-49" in text and "id-50" not in text and "10 more in disruption.md" in text
    markdown = report.render_markdown()
    assert all(f"| id-{i} |" in markdown for i in range(60))
    assert not report.passed and DisruptionReport.without_traffic("none marked").passed


# -- kind options and the command line -------------------------------------------------------------------------


def test_the_kind_options_are_read_like_the_pytest_session_reads_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESHRELEASE_BOOKINFO_TAG", "1.20.2")
    for name in ("MESHRELEASE_KIND_CLUSTER_NAME", "MESHRELEASE_KEEP_CLUSTER", "MESHRELEASE_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)
    settings = kind_settings_from_pytest_args(
        ["-x", "--kind-cluster-name", "up", "--keep-cluster", "--namespace=bookinfo", "--alpha", "1e-3"]
    )
    assert (settings.cluster_name, settings.keep_cluster, settings.namespace, settings.bookinfo_tag) == (
        "up",
        True,
        "bookinfo",
        "1.20.2",
    )
    with pytest.raises(UserInputError, match="is not a valid kind cluster name"):
        kind_settings_from_pytest_args(["--kind-cluster-name", "Bad_Name"])


def test_the_command_line_refuses_mistakes_with_one_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MESHRELEASE_CACHE", str(tmp_path / "cache"))  # nothing cached: fetching would be wrong
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    scenario(tmp_path, "s", marked=())
    base = ["upgrade-check", str(tmp_path / "s"), "--from", "1.29.6", "--to", "1.30.4"]
    assert main([*base, "--backend", "kind"]) == 1
    assert "the kind upgrade check needs --mode inplace or --mode revision" in capsys.readouterr().err
    assert main([*base, "--backend", "local", "--mode", "inplace"]) == 1
    assert "--mode is for the kind backend" in capsys.readouterr().err
    assert main([*base, "--backend", "kind", "--mode", "revision", "--istioctl", "/x"]) == 1
    assert "--istioctl cannot be passed to upgrade-check: use --istioctl-from and --istioctl-to" in (
        capsys.readouterr().err
    )
    assert main(["upgrade-check", str(tmp_path / "missing"), *base[2:], "--backend", "local"]) == 1
    assert "no such scenario path" in capsys.readouterr().err
    (tmp_path / "s" / "scenario.yaml").write_text("name: s\nsteps: []\n")
    assert main([*base, "--backend", "local"]) == 1  # the scenarios are checked before any Envoy is fetched
    err = capsys.readouterr().err
    assert "the scenario has no steps" in err and "fetching" not in err
    with pytest.raises(SystemExit):
        main(["upgrade-check", "--from", "1.29.6", "--to", "1.30.4"])  # --backend is required
    assert not (tmp_path / "reports").exists()  # nothing ran
