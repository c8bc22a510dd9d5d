"""pytest plugin of meshrelease (auto-loaded through the ``pytest11`` entry point of the installed package).

- Options: the table of :mod:`meshrelease.backends.settings` (groups "meshrelease …"); each falls back to its
  ``MESHRELEASE_*`` environment variable. They become :class:`~meshrelease.backends.settings.Settings` at
  configure time; a bad value is a usage error naming the flag.
- Collection: every ``scenario.yaml`` under a path named on the command line becomes one item per step,
  ``<file>::<scenario>::<step>``. A scenario file with an error is a collection error naming file and line.
- Fixtures, each overridable from a user's ``conftest.py`` (same name):

  ``meshrelease_settings`` (session)          the typed settings of this run;
  ``meshrelease_backend_factory`` (session)   ``settings -> Backend`` (not started); replace it to run on
                                              a backend of your own;
  ``meshrelease_backend`` (session)           the mesh under test, started on first use, closed at the end;
  ``meshrelease_step_runner`` (session)       runs scenario steps (replaying earlier steps when needed);
  ``bookinfo_client`` (function)              ``bookinfo_client(user=None)``: a productpage client.

- Timeouts: on ``kind`` and ``cluster``, pytest-timeout (when loaded) is lifted from every test that uses
  ``meshrelease_backend`` and has no ``timeout`` marker of its own: the first of them starts the cluster
  (minutes on a cold runner), and each phase of that start and every wait of a step has its own budget
  (docs/real-clusters.md, "Time budgets"). A start that fails or is interrupted is recorded once by
  :class:`~meshrelease.backends.base.LazyBackend`; later tests fail at once with its reason.
- Each step is recorded as a :class:`~meshrelease.engine.results.StepRecord` (the runner's result, the node id
  and pytest's outcome: passed, failed, skipped, or error when its setup failed); at the end of the session
  they go to ``--report-dir`` (results.json, report.md, report.html).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from meshrelease.backends.base import Backend, BackendInfo, LazyBackend
from meshrelease.backends.settings import GROUP_TITLES, Settings, add_options, build_settings, options_in
from meshrelease.engine.results import RunOptions, RunResults, StepRecord, StepResult, now_iso
from meshrelease.errors import MeshReleaseError
from meshrelease.report.render import write_reports
from meshrelease.scenario.loader import load_scenario
from meshrelease.scenario.model import Scenario, Step

if TYPE_CHECKING:
    from meshrelease.bookinfo.client import BookinfoClient
    from meshrelease.engine.runner import StepRunner

SCENARIO_MARKER = "scenario: a release-scenario step collected from a scenario.yaml"


@dataclass
class SessionState:
    """What the session's results.json needs besides the steps: when it started, the backend it ran on."""

    started: str = field(default_factory=now_iso)
    t0: float = field(default_factory=time.monotonic)
    backend_info: BackendInfo | None = None
    report_paths: list[Path] = field(default_factory=list)


RESULTS_KEY = pytest.StashKey[dict[str, StepRecord]]()  # by node id
STATE_KEY = pytest.StashKey[SessionState]()
SETTINGS_KEY = pytest.StashKey[Settings]()


def pytest_addoption(parser: pytest.Parser) -> None:
    for group, title in GROUP_TITLES.items():
        add_options(parser.getgroup(f"meshrelease-{group}", title), options_in(group))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", SCENARIO_MARKER)
    values = {name: config.getoption(name) for name in (o.dest for o in options_in(*GROUP_TITLES))}
    try:
        config.stash[SETTINGS_KEY] = build_settings(values)
    except MeshReleaseError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[RESULTS_KEY] = {}
    config.stash[STATE_KEY] = SessionState()


def settings_of(config: pytest.Config) -> Settings:
    """The settings this session was configured with."""
    return config.stash[SETTINGS_KEY]


# ---------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def meshrelease_settings(pytestconfig: pytest.Config) -> Settings:
    """The run's settings (backend, verdict options, report directory, per-backend options). Override it in
    your conftest.py to fix settings in code, e.g. ``dataclasses.replace(settings, backend="cluster")``."""
    return settings_of(pytestconfig)


@pytest.fixture(scope="session")
def meshrelease_backend_factory() -> Callable[[Settings], Backend]:
    """``settings -> Backend`` (not started). Override it to run the scenarios on a backend of your own."""
    from meshrelease.backends.factory import make_backend

    return make_backend


@pytest.fixture(scope="session")
def meshrelease_backend(
    pytestconfig: pytest.Config,
    request: pytest.FixtureRequest,
    meshrelease_settings: Settings,
    meshrelease_backend_factory: Callable[[Settings], Backend],
) -> Iterator[Backend]:
    """The mesh under test. It starts on first use (so a failure to start is reported by the step that needed
    it, with the reason) and is torn down at the end of the session."""

    def started(info: BackendInfo) -> None:
        pytestconfig.stash[STATE_KEY].backend_info = info

    backend = LazyBackend(lambda: meshrelease_backend_factory(meshrelease_settings), on_started=started)
    try:
        yield backend
    finally:
        backend.close(failed=request.session.testsfailed > 0)


@pytest.fixture(scope="session")
def meshrelease_step_runner(
    pytestconfig: pytest.Config, meshrelease_settings: Settings, meshrelease_backend: Backend
) -> Iterator[StepRunner]:
    """Runs scenario steps on the session's backend with the run's verdict options."""
    from meshrelease.engine.runner import RunnerOptions, StepRunner  # the engine loads only when steps run

    options = RunnerOptions(
        verdict=meshrelease_settings.verdict,
        concurrency=meshrelease_settings.concurrency,
        converge_timeout=meshrelease_settings.converge_timeout,
    )
    runner = StepRunner(meshrelease_backend, options, progress=progress_writer(pytestconfig))
    yield runner
    runner.close()


@pytest.fixture
def bookinfo_client(meshrelease_backend: Backend) -> Iterator[Callable[..., BookinfoClient]]:
    """``bookinfo_client(user=None)``: a client of the mesh's productpage (through the ingress gateway),
    signed in as ``user`` when given. Every call gives a new client (its own cookie jar); all are closed after
    the test."""
    from meshrelease.bookinfo.client import BookinfoClient

    made: list[BookinfoClient] = []

    def make(user: str | None = None) -> BookinfoClient:
        client = BookinfoClient(meshrelease_backend.ingress_url)
        made.append(client)
        if user is not None:
            client.sign_in(user)
        return client

    yield make
    for client in made:
        client.close()


# ---------------------------------------------------------------------------------------------- collection
REAL_CLUSTER_BACKENDS = ("kind", "cluster")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On kind/cluster, no pytest-timeout around the tests that use the backend (see the module docstring)."""
    if settings_of(config).backend not in REAL_CLUSTER_BACKENDS or not config.pluginmanager.hasplugin("timeout"):
        return
    for item in items:
        if "meshrelease_backend" in getattr(item, "fixturenames", ()) and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(0))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name == "scenario.yaml":
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    """A scenario.yaml; its single child is the scenario, named by the scenario's name."""

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        scenario = load_scenario(self.path)
        yield ScenarioCollector.from_parent(self, name=scenario.name, scenario=scenario)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, MeshReleaseError):
            return f"invalid scenario: {excinfo.value}"
        return super().repr_failure(excinfo)


class ScenarioCollector(pytest.Collector):
    def __init__(self, *, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario

    def collect(self) -> Iterator[pytest.Item]:
        for step in self.scenario.steps:
            item = ScenarioStepItem.from_parent(self, name=step.name, callobj=_run_scenario_step)
            item.scenario = self.scenario
            item.step = step
            item.add_marker(pytest.mark.scenario)
            yield item


class ScenarioStepItem(pytest.Function):
    """One step of a scenario. Its failure report is the expected-vs-observed table, not a traceback."""

    scenario: Scenario
    step: Step

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.scenario.path, self.step.line - 1, f"{self.scenario.name}::{self.step.name}"

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        from meshrelease.report.failure import StepFailed

        if isinstance(excinfo.value, StepFailed | MeshReleaseError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def _repr_failure_py(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, MeshReleaseError):
            return str(excinfo.value)
        return super()._repr_failure_py(excinfo, style=style)


def _run_scenario_step(meshrelease_step_runner: Any, request: pytest.FixtureRequest) -> None:
    """The body of every step item."""
    item = request.node
    assert isinstance(item, ScenarioStepItem)
    from meshrelease.report.failure import StepFailed

    result: StepResult = meshrelease_step_runner.run(item.scenario, item.step)
    record_step(item.config, item.nodeid, result)
    if not result.passed:
        raise StepFailed(result)


def record_step(config: pytest.Config, nodeid: str, result: StepResult) -> None:
    config.stash[RESULTS_KEY][nodeid] = StepRecord.of(result, nodeid)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    if not isinstance(item, ScenarioStepItem):
        return report
    records = item.config.stash[RESULTS_KEY]
    if item.nodeid not in records:  # the runner has not recorded the step (yet, or ever)
        records[item.nodeid] = StepRecord(
            nodeid=item.nodeid, scenario=item.scenario.name, step=item.step.name, passed=False
        )
    record = records[item.nodeid]
    if report.passed and report.when == "call":
        record.outcome = "passed"
    elif report.skipped and report.when in ("setup", "call"):
        record.outcome = "skipped"
    elif report.failed and report.when in ("setup", "call"):
        record.outcome = "error" if report.when == "setup" else "failed"  # pytest's words: setup failures are errors
        if not record.error and not record.expectations:
            record.message = str(report.longrepr)
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    records = config.stash.get(RESULTS_KEY, {})
    if not records or hasattr(config, "workerinput"):
        return
    state = config.stash[STATE_KEY]
    settings = settings_of(config)
    results = RunResults.of(
        list(records.values()),  # a step without a call or setup-failure report keeps the outcome "skipped"
        backend=state.backend_info,
        options=RunOptions(
            alpha=settings.verdict.alpha,
            beta=settings.verdict.beta,
            delta=settings.verdict.delta,
            concurrency=settings.concurrency,
        ),
        started=state.started,
        finished=now_iso(),
        seconds=time.monotonic() - state.t0,
    )
    state.report_paths = write_reports(results, settings.report_dir)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash.get(STATE_KEY, None)
    paths = state.report_paths if state is not None else []
    if paths:
        terminalreporter.write_sep("-", "meshrelease report")
        for p in paths:
            terminalreporter.write_line(f"  {p}")


def progress_writer(config: pytest.Config) -> Any:
    """A callable printing runner progress: a live, rewritten line on a terminal; the final line of every
    expectation (and replays) always."""
    capman = config.pluginmanager.getplugin("capturemanager")
    reporter = config.pluginmanager.getplugin("terminalreporter")
    tw = config.get_terminal_writer()
    live = sys.stderr.isatty() and tw.hasmarkup

    def write(text: str) -> None:
        final = " -> " in text or "replaying" in text
        if (not live and not final) or reporter is None:
            return
        ctx = capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext()
        with ctx:
            if live:
                width = tw.fullwidth - 1
                tw.write("\r" + ("    " + text)[:width].ljust(width))
                if final:
                    tw.write("\n")
            else:
                reporter.ensure_newline()
                reporter.write_line("    " + text)

    return write
