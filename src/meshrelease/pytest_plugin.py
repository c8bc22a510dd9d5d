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
  and pytest's outcome: passed, failed, skipped, or error when its setup failed — e.g. a mesh that cannot
  start, which the step's setup starts). Every session that met a scenario file (or was given
  ``--report-dir``) replaces the report set in the report directory with its own, also when collection failed
  or the run was interrupted (:mod:`meshrelease.report.publish`): results.json, report.md, report.html, the
  access-log files and screenshots, and junit.xml, which the plugin writes itself unless ``--junitxml`` sends
  pytest's elsewhere (the report then says where).
- pytest's exit codes are the run's: 0 all passed, 1 a step failed (or errored), 2 interrupted or collection
  errors, 3 internal error, 4 usage error, 5 nothing collected.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from _pytest.junitxml import LogXML, xml_key  # pytest's own JUnit writer, pointed at the report directory

from meshrelease.backends.base import Backend, BackendInfo, LazyBackend
from meshrelease.backends.settings import GROUP_TITLES, Settings, add_options, build_settings, options_in
from meshrelease.engine.results import (
    CollectionError,
    RunOptions,
    RunResults,
    RunStatus,
    StepRecord,
    StepResult,
    now_iso,
)
from meshrelease.errors import MeshReleaseError, Terminated
from meshrelease.report.publish import JUNIT_FILE, KEPT_RUNS_DIR, publish_reports, remove_entry
from meshrelease.scenario.loader import load_scenario
from meshrelease.scenario.model import Scenario, Step
from meshrelease.worker_reports import (
    SPLITTING_DIST,
    WorkerPayload,
    record_of_nodeid,
    worker_share,
    workers_refusal,
)

if TYPE_CHECKING:
    from meshrelease.bookinfo.client import BookinfoClient
    from meshrelease.engine.runner import PageViewer, StepRunner

SCENARIO_MARKER = "scenario: a release-scenario step collected from a scenario.yaml"


@dataclass
class SessionState:
    """What the session's report needs besides the steps: when it started, the backend it ran on, what could
    not be collected, what happened (an interruption, an internal error), where the JUnit XML goes."""

    started: str = field(default_factory=now_iso)
    t0: float = field(default_factory=time.monotonic)
    backend_info: BackendInfo | None = None
    report_paths: list[Path] = field(default_factory=list)
    scenario_files: int = 0
    collection_errors: list[CollectionError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reported: set[str] = field(default_factory=set)  # steps pytest reported on
    current: str | None = None  # the step running now
    junit_dir: Path | None = None  # our own JUnit writer's temporary folder (None: --junitxml was given)
    junit_writer: LogXML | None = None
    user_junit: Path | None = None  # --junitxml
    pending_lines: list[str] = field(default_factory=list)  # an xdist worker's expectation lines, not yet sent


class _SessionHooks:
    """The hooks that tell what happened to a session, registered per session (pytester runs sessions inside
    sessions): collection errors, the step running now, an interruption, an internal error."""

    def __init__(self, state: SessionState, config: pytest.Config) -> None:
        self.state = state
        self.config = config

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            error = CollectionError(nodeid=report.nodeid or ".", message=str(report.longrepr))
            self.state.collection_errors.append(error)

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.state.current = nodeid

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        self.state.current = None

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        if isinstance(excinfo.value, pytest.Session.Interrupted):  # pytest's own stop, e.g. collection errors
            self.state.notes.append(f"pytest stopped the run: {excinfo.value}")
            return
        where = f"while {self.state.current} ran" if self.state.current else "between steps or during collection"
        what = "SIGTERM" if isinstance(excinfo.value, Terminated) else excinfo.typename
        self.state.notes.append(f"interrupted ({what}) {where}; the steps after it did not run")

    def pytest_internalerror(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        self.state.notes.append(f"internal error: {excinfo.typename}: {excinfo.value}")

    # -- on the pytest-xdist controller (see meshrelease.worker_reports)
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Print a worker's expectation lines (before pytest's PASSED/FAILED) and keep its step records."""
        lines = getattr(report, "meshrelease_lines", None)
        reporter = self.config.pluginmanager.getplugin("terminalreporter")
        if lines and reporter is not None:
            reporter.ensure_newline()
            for line in lines:
                reporter.write_line("    " + str(line))
        payload = WorkerPayload.of_report(report)
        if payload is None:
            return
        self.config.stash[RESULTS_KEY][report.nodeid] = payload.record
        self.state.reported.add(report.nodeid)
        if self.state.backend_info is None and payload.backend is not None:
            self.state.backend_info = payload.backend

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """Every step a worker collected is in the report from the start (as not run until it reports)."""
        records = self.config.stash[RESULTS_KEY]
        for nodeid in ids:
            if ".yaml::" in nodeid and nodeid.count("::") >= 2 and nodeid not in records:
                records[nodeid] = record_of_nodeid(nodeid)


class _ReportJUnit(LogXML):
    """pytest's JUnit writer for the report directory: it writes into a temporary folder (the report set is
    swapped in at the end) and leaves naming the file to the plugin's own summary."""

    def pytest_terminal_summary(self, terminalreporter: Any, config: pytest.Config) -> None:
        return None


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
    state = config.stash[STATE_KEY] = SessionState()
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:  # a pytest-xdist worker: its mesh takes ports from its own share of the range
        settings = config.stash[SETTINGS_KEY]
        local = replace(settings.local, port_slice=worker_share(workerinput))
        config.stash[SETTINGS_KEY] = replace(settings, local=local)
        return
    _configure_xdist(config, config.stash[SETTINGS_KEY])
    config.pluginmanager.register(_SessionHooks(state, config), f"meshrelease-session-{id(state)}")
    settings = config.stash[SETTINGS_KEY]
    if config.option.xmlpath:
        state.user_junit = Path(config.option.xmlpath).expanduser()
    else:
        state.junit_dir = Path(tempfile.mkdtemp(prefix="meshrelease-junit-"))
        state.junit_writer = _ReportJUnit(
            str(state.junit_dir / JUNIT_FILE),
            config.option.junitprefix,
            config.getini("junit_suite_name"),
            config.getini("junit_logging"),
            config.getini("junit_duration_report"),
            config.getini("junit_family"),
            config.getini("junit_log_passing_tests"),
        )
        config.pluginmanager.register(state.junit_writer, "meshrelease-junit")
        config.stash[xml_key] = state.junit_writer  # record_property & co. write into it, as with --junitxml
    if settings.local.keep_run_dir:  # this run keeps its run directories there: none of an earlier run's stays
        remove_entry(settings.report_dir / KEPT_RUNS_DIR)


def _xdist_workers(config: pytest.Config) -> int:
    """How many pytest-xdist workers this session starts (0: none)."""
    if not config.pluginmanager.hasplugin("xdist"):
        return 0
    n = getattr(config.option, "numprocesses", None)
    return n if isinstance(n, int) else 0


def _configure_xdist(config: pytest.Config, settings: Settings) -> None:
    """With ``-n N``: each scenario on one worker (xdist's default ``load`` would split its steps), kind and
    cluster refused (one cluster per session), and no fixed gateway port (every worker runs a mesh)."""
    if not _xdist_workers(config):
        return
    refusal = workers_refusal(settings.backend, config.option.numprocesses)
    if refusal:
        raise pytest.UsageError(refusal)
    if settings.local.port:
        raise pytest.UsageError(
            f"--port {settings.local.port} with -n {config.option.numprocesses}: every worker runs its own mesh, and "
            "they cannot share one gateway port; leave --port out"
        )
    if getattr(config.option, "dist", "no") in SPLITTING_DIST:
        config.option.dist = "loadscope"


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE_KEY, None)
    if state is None:
        return
    hooks = config.pluginmanager.get_plugin(f"meshrelease-session-{id(state)}")
    if hooks is not None:
        config.pluginmanager.unregister(hooks)
    if state.junit_writer is not None:
        if config.pluginmanager.is_registered(state.junit_writer):  # pytest's junitxml may have done it
            config.pluginmanager.unregister(state.junit_writer)
        if config.stash.get(xml_key, None) is state.junit_writer:
            del config.stash[xml_key]
        state.junit_writer = None
    if state.junit_dir is not None:
        shutil.rmtree(state.junit_dir, ignore_errors=True)


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
    viewer: PageViewer | None = None
    if meshrelease_settings.browser is not None:
        from meshrelease.bookinfo.browser import Chromium  # only for --browser

        viewer = Chromium(meshrelease_settings.browser)
    runner = StepRunner(meshrelease_backend, options, progress=progress_writer(pytestconfig), viewer=viewer)
    try:
        yield runner
    finally:
        runner.close()
        if viewer is not None:
            viewer.close()


@pytest.fixture
def _meshrelease_mesh_started(meshrelease_step_runner: Any) -> None:
    """Starts the runner's mesh in the step's setup, so a mesh that cannot start (no Envoy, a tool missing) is
    an ERROR of the step with the reason, not a failed verdict. A runner of the user's own without a
    ``backend`` starts nothing here."""
    backend = getattr(meshrelease_step_runner, "backend", None)
    if backend is not None:
        backend.start()


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
        parent.config.stash[STATE_KEY].scenario_files += 1
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


def pytest_collection_finish(session: pytest.Session) -> None:
    """Every selected step is in the report from the start: a step the run never reached (interrupted,
    stopped by -x) is listed as not run."""
    records = session.config.stash[RESULTS_KEY]
    for item in session.items:
        if isinstance(item, ScenarioStepItem) and item.nodeid not in records:
            records[item.nodeid] = StepRecord(
                nodeid=item.nodeid,
                scenario=item.scenario.name,
                step=item.step.name,
                description=item.step.description,
                passed=False,
            )


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


def _run_scenario_step(
    meshrelease_step_runner: Any, _meshrelease_mesh_started: None, request: pytest.FixtureRequest
) -> None:
    """The body of every step item."""
    item = request.node
    assert isinstance(item, ScenarioStepItem)
    from meshrelease.report.failure import StepFailed

    result: StepResult = meshrelease_step_runner.run(item.scenario, item.step)
    result.description = result.description or item.step.description  # a runner of the user's own may leave it out
    record_step(item.config, item.nodeid, result)
    if not result.passed:
        raise StepFailed(result)


def record_step(config: pytest.Config, nodeid: str, result: StepResult) -> None:
    config.stash[RESULTS_KEY][nodeid] = StepRecord.of(result, nodeid)  # views keep their screenshots' bytes


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
            nodeid=item.nodeid,
            scenario=item.scenario.name,
            step=item.step.name,
            description=item.step.description,
            passed=False,
        )
    item.config.stash[STATE_KEY].reported.add(item.nodeid)
    record = records[item.nodeid]
    if report.passed and report.when == "call":
        record.outcome = "passed"
    elif report.skipped and report.when in ("setup", "call"):
        record.outcome = "skipped"
    elif report.failed and report.when in ("setup", "call"):
        record.outcome = "error" if report.when == "setup" else "failed"  # pytest's words: setup failures are errors
        if not record.error and not record.expectations:
            record.message = str(report.longrepr)
    if hasattr(item.config, "workerinput"):
        state = item.config.stash[STATE_KEY]
        if report.when == "call":
            report.meshrelease_lines = state.pending_lines  # type: ignore[attr-defined]
            state.pending_lines = []
        elif report.when == "teardown":
            WorkerPayload(record=record, backend=state.backend_info).attach(report)
    return report


def _owns_report(config: pytest.Config, state: SessionState) -> bool:
    """A session writes a report when it met a scenario file or ran a step, or was given --report-dir; so
    running a repository's other tests with the plugin installed leaves no report behind."""
    return bool(state.scenario_files or config.stash[RESULTS_KEY] or config.getoption("report_dir"))


@pytest.hookimpl(trylast=True)  # after pytest's JUnit writers wrote their files
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    state = config.stash.get(STATE_KEY, None)
    if state is None or hasattr(config, "workerinput") or not _owns_report(config, state):
        return
    settings = settings_of(config)
    records = config.stash[RESULTS_KEY]
    not_run = 0
    for nodeid, record in records.items():
        if nodeid == state.current:
            record.message = "interrupted while it ran"
        elif nodeid not in state.reported:
            record.message = "not run: the session ended before it"
            not_run += 1
    if not_run and not state.notes:
        state.notes.append(f"{not_run} selected step(s) did not run: the session stopped early (e.g. -x)")
    report_dir = settings.report_dir
    keep = [KEPT_RUNS_DIR] if settings.local.keep_run_dir else []
    junit: str | None = None
    if state.user_junit is not None:
        junit = str(state.user_junit)
        if state.user_junit.resolve() == (report_dir / JUNIT_FILE).resolve():
            keep.append(JUNIT_FILE)
    elif state.junit_dir is not None and (state.junit_dir / JUNIT_FILE).is_file():
        junit = str(report_dir / JUNIT_FILE)
    status = RunStatus(exit_status=int(exitstatus), collection_errors=list(state.collection_errors), notes=state.notes)
    status.junit = junit
    results = RunResults.of(
        list(records.values()),
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
        status=status,
    )
    state.report_paths = publish_reports(
        results,
        report_dir,
        junit=state.junit_dir / JUNIT_FILE if state.junit_dir is not None else None,
        keep=keep,
    )


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash.get(STATE_KEY, None)
    paths = state.report_paths if state is not None else []
    if state is None or not paths:
        return
    terminalreporter.write_sep("-", "meshrelease report")
    top = [p for p in paths if p.parent == paths[0].parent]
    for p in top:
        terminalreporter.write_line(f"  {p}")
    for folder in sorted({p.parent for p in paths} - {paths[0].parent}):
        count = sum(p.parent == folder for p in paths)
        terminalreporter.write_line(f"  {folder}/ ({count} files)")
    if state.user_junit is not None:
        terminalreporter.write_line(f"  JUnit XML: {state.user_junit} (--junitxml)")


def _final_line(text: str) -> bool:
    """Whether a runner progress line is an expectation's (or a replay's) final line, kept in the output."""
    return " -> " in text or "replaying" in text or "continuing with" in text


def progress_writer(config: pytest.Config) -> Any:
    """A callable printing runner progress: a live, rewritten line on a terminal; the final line of every
    expectation (and replays) always."""
    if hasattr(config, "workerinput"):  # a pytest-xdist worker: the controller prints the final lines
        state = config.stash[STATE_KEY]

        def keep(text: str) -> None:
            if _final_line(text):
                state.pending_lines.append(text)

        return keep
    capman = config.pluginmanager.getplugin("capturemanager")
    reporter = config.pluginmanager.getplugin("terminalreporter")
    tw = config.get_terminal_writer()
    live = sys.stderr.isatty() and tw.hasmarkup

    def write(text: str) -> None:
        final = _final_line(text)
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
