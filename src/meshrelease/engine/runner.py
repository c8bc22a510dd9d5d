"""The step runner: brings a backend to a scenario step's state, then checks every expectation by traffic.

For step *k* of a scenario the mesh must run "steps 1..k-1 applied". The runner remembers which step it
applied last: when that is step *j* < *k* of the same scenario (the previous step, or an earlier one when
``-k`` or a node id skipped some), only the steps *j+1..k-1* are applied without their checks, then step *k*;
otherwise (the first step run, another scenario before it, a later step before it, a failed apply) the
backend is reset to its baseline and the steps before *k* are replayed without their checks.

Each expectation then goes through three phases (docs/verdicts.md): sync (``wait_synced``), settle (a
window of consecutive pages showing nothing outside the expected set, bounded by the convergence timeout,
which reports the last counts it saw), then a sample of pages requested after every settle page was, decided by
:mod:`meshrelease.verdict.checks`.
The runner records when each step began, applied and synced, and every expectation's pages against time (the
report's timeline). With a page viewer (``--browser``), a real browser then opens the page as each user of the
step and must agree with the verdicts (:mod:`meshrelease.engine.browser_check`).
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from meshrelease.backends.base import ApplyResult, Backend, ObjectDoc, deployed_versions
from meshrelease.bookinfo.client import BookinfoClient
from meshrelease.engine.browser_check import judge_view, screenshot_name
from meshrelease.engine.results import BrowserView, ExpectationResult, PageExample, StepResult, TimeBin
from meshrelease.engine.sampler import PageSampler, Sample
from meshrelease.errors import MeshReleaseError, ProcessDied, ValidationError
from meshrelease.k8s.kinds import kind_info
from meshrelease.k8s.manifest import load_manifests, with_default_namespace
from meshrelease.scenario.labels import OK_LABEL, expected_set, label_page
from meshrelease.scenario.model import Expectation, Scenario, Step
from meshrelease.verdict import VerdictOptions, check_split, check_spread, check_version

if TYPE_CHECKING:  # the browser module is imported only when --browser asks for it
    from meshrelease.bookinfo.browser import BrowserPage

ProgressFn = Callable[[str], None]
TIMELINE_BINS = 40  # at most this many time bins per expectation
MIN_BIN_SECONDS = 0.01


class PageViewer(Protocol):
    """Opens the productpage as a person would (``--browser``: :class:`meshrelease.bookinfo.browser.Chromium`)."""

    def view(self, base_url: str, user: str | None) -> BrowserPage: ...

    def close(self) -> None: ...


@dataclass
class RunnerOptions:
    verdict: VerdictOptions = field(default_factory=VerdictOptions)
    concurrency: int = 8
    converge_timeout: float = 60.0
    sync_timeout: float = 60.0
    settle_window: int = 10
    max_requests: int | None = None  # split checks: None follows the plan's cap (docs/verdicts.md)
    fetch_timeout: float = 15.0
    spread_max_requests: int = 2000


class StepRunner:
    """Runs scenario steps against one backend, keeping track of the state it left the mesh in."""

    def __init__(
        self,
        backend: Backend,
        options: RunnerOptions | None = None,
        *,
        progress: ProgressFn | None = None,
        viewer: PageViewer | None = None,
    ) -> None:
        self.backend = backend
        self.options = options or RunnerOptions()
        self.progress = progress
        self.viewer = viewer
        self._state: tuple[Path, int] | None = None  # (scenario file, index of the last step applied)
        self._signed_in: dict[str, BookinfoClient] = {}
        self._sign_in_lock = threading.Lock()
        self._base_url = ""  # where the current step's users come in (set once the step's config runs)

    # ------------------------------------------------------------ applying
    def _docs(self, scenario: Scenario, path: Path) -> list[ObjectDoc]:
        return [with_default_namespace(doc, scenario.namespace) for doc in load_manifests(path)]

    def _delete_docs(self, scenario: Scenario, step: Step) -> list[ObjectDoc]:
        docs: list[ObjectDoc] = []
        for ref in step.delete:
            if ref.path is not None:
                docs.extend(self._docs(scenario, ref.path))
            else:
                kind = ref.kind or ""
                api = ref.api_version or _default_api_version(kind)
                docs.append(
                    {
                        "apiVersion": api,
                        "kind": kind,
                        "metadata": {"name": ref.name, "namespace": ref.namespace or scenario.namespace},
                    }
                )
        return docs

    def _apply_step(self, scenario: Scenario, step: Step) -> ApplyResult:
        lines: list[str] = []
        warnings: list[str] = []
        for path in step.apply:
            res = self.backend.apply(self._docs(scenario, path), source=_rel(path, scenario))
            lines += res.lines
            warnings += res.warnings
        docs = self._delete_docs(scenario, step)
        if docs:
            res = self.backend.delete(docs, source=f"{scenario.name}::{step.name} delete")
            lines += res.lines
            warnings += res.warnings
        return ApplyResult(lines=lines, warnings=warnings)

    def missing_steps(self, scenario: Scenario, step: Step) -> tuple[bool, tuple[Step, ...]]:
        """(reset first?, the steps to apply without checks before ``step``): continue from the last step
        applied when it is an earlier step of the same scenario, else reset and replay from the first."""
        index = scenario.steps.index(step)
        if self._state is not None and self._state[0] == scenario.path and self._state[1] < index:
            return False, scenario.steps[self._state[1] + 1 : index]
        return True, scenario.steps[:index]

    def bring_to(self, scenario: Scenario, step: Step, result: StepResult) -> None:
        """Make the mesh run steps 1..k-1 (continuing or replaying, see :meth:`missing_steps`), then apply
        step k."""
        index = scenario.steps.index(step)
        reset, missing = self.missing_steps(scenario, step)
        self._state = None  # unknown until every apply below has succeeded
        if reset:
            self.backend.reset_routing()
        verb = "replaying" if reset else "continuing with"
        for earlier in missing:
            self._say(f"{scenario.name}::{step.name}: {verb} step {earlier.name}")
            self._apply_step(scenario, earlier)
            result.replayed.append(earlier.name)
        result.applied_at = time.time()
        applied = self._apply_step(scenario, step)
        result.applied = applied.lines
        result.warnings = applied.warnings
        self._state = (scenario.path, index)

    # ------------------------------------------------------------ checking
    def run(self, scenario: Scenario, step: Step) -> StepResult:
        """Run one step; returns the result (the caller decides what a failure means)."""
        start = time.monotonic()
        result = StepResult(
            scenario=scenario.name, step=step.name, passed=False, description=step.description, started_at=time.time()
        )
        try:
            self.bring_to(scenario, step, result)
            result.sync_seconds = self.backend.wait_synced(self.options.sync_timeout)
            result.synced_at = time.time()
            self._base_url = scenario_ingress_url(self.backend, scenario)
            for exp in step.expect:
                result.expectations.append(self.check(scenario, step, exp))
            if self.viewer is not None:
                result.views = self.browse(self.viewer, scenario, step, result)
        except ProcessDied as exc:
            # The backend starts a fresh mesh for the next step, which then replays its scenario from the start.
            self._state = None
            result.error = f"{exc}\nthe next step runs on a restarted mesh"
        except (ValidationError, MeshReleaseError) as exc:
            result.error = str(exc)
        result.seconds = time.monotonic() - start
        result.passed = (
            result.error is None and all(e.passed for e in result.expectations) and all(v.agrees for v in result.views)
        )
        if not result.passed:
            try:
                result.diagnostics = self.backend.diagnostics()
            except Exception as exc:  # diagnostics never hide the real failure
                result.diagnostics = {"diagnostics": f"unavailable: {exc}"}
        return result

    def browse(self, viewer: PageViewer, scenario: Scenario, step: Step, result: StepResult) -> list[BrowserView]:
        """A real browser opens the page as every user of the step's expectations (signing in as a person does);
        each view must agree with the verdicts on that user's expectations."""
        views: list[BrowserView] = []
        users = list(dict.fromkeys(exp.user for exp in step.expect))
        for user in users:
            who = user if user is not None else "anonymous"
            pairs = zip(step.expect, result.expectations, strict=False)
            checks = [(exp, res) for exp, res in pairs if exp.user == user]
            started = time.time()
            page = viewer.view(self._base_url or self.backend.ingress_url, user)
            view = judge_view(page, checks, screenshot=screenshot_name(scenario.name, step.name, user))
            view.started_at = started
            verdict = "agrees with the verdict" if view.agrees else "DISAGREES: " + "; ".join(view.problems)
            self._say(f"{scenario.name}::{step.name} browser as {who} -> {view.describe()}: {verdict}")
            views.append(view)
        return views

    def _client_factory(self, user: str | None) -> Callable[[], BookinfoClient]:
        """Clients for the sampler's workers: anonymous ones, or tabs of one signed-in client per user (signed
        in once per session, so a slow page under a fault does not delay every worker's sign-in)."""
        base = self._base_url or self.backend.ingress_url
        timeout = self.options.fetch_timeout

        def make() -> BookinfoClient:
            if user is None:
                return BookinfoClient(base, timeout=timeout)
            with self._sign_in_lock:
                signed = self._signed_in.get(user)
                if signed is None or signed.base_url != base.rstrip("/"):
                    signed = BookinfoClient(base, timeout=timeout)
                    signed.sign_in(user)
                    self._signed_in[user] = signed
            return signed.another_tab()

        return make

    def close(self) -> None:
        """Close the signed-in clients kept for the session."""
        for client in self._signed_in.values():
            client.close()
        self._signed_in.clear()

    def check(self, scenario: Scenario, step: Step, exp: Expectation) -> ExpectationResult:
        kind, expected = expected_set(exp)
        desc = exp.describe()
        step_id = f"{scenario.name}::{step.name}"
        res = ExpectationResult(description=desc, user=exp.user, kind=kind, expected=expected, decision="error")
        opts = self.options
        vo = opts.verdict
        timeout = step.timeout or opts.converge_timeout
        allowed = {k for k, w in expected.items() if w > 0}
        t0 = time.monotonic()
        res.started_at = time.time()
        undeployed = self._undeployed(exp)
        if undeployed:
            res.decision = "fail"
            res.explanation = undeployed
            res.seconds = time.monotonic() - t0
            self._say(f"{step_id} {desc} -> fail ({undeployed})")
            return res
        keep_html = bool(exp.contains or exp.not_contains)
        samples: list[tuple[str, Sample]] = []
        seen: list[tuple[float, str]] = []  # (request sent, seconds after t0; label) of every labelled page
        with PageSampler(self._client_factory(exp.user), concurrency=opts.concurrency, keep_html=keep_html) as sampler:
            # Settle: a window of consecutive pages with nothing outside the expected set.
            settle: Counter[str] = Counter()
            streak = 0
            streak_sent = t0  # when the latest-requested page of the current streak was requested
            deadline = t0 + timeout
            last_check = 0.0
            while streak < opts.settle_window:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    res.settle_counts = dict(settle)
                    res.settle_pages = sum(settle.values())
                    res.decision = "fail"
                    res.explanation = (
                        f"did not converge within {timeout:g} s: the last {res.settle_pages} pages showed "
                        f"{_fmt_counts(settle)}; expected only {', '.join(sorted(allowed))}"
                    )
                    res.counts = dict(settle)
                    res.seconds = time.monotonic() - t0
                    res.timeline = time_bins(seen, res.seconds)
                    return res
                s = sampler.next(timeout=max(remaining, 0.1) + opts.fetch_timeout)
                label = label_page(exp, s)
                seen.append((s.started - t0, label))
                settle[label] += 1
                if label in allowed:
                    streak += 1
                    streak_sent = max(streak_sent, s.started)
                else:
                    streak, streak_sent = 0, t0
                    last_check = self._check_alive(last_check)
            res.settle_counts = dict(settle)
            res.settle_pages = sum(settle.values())
            res.time_to_converge = time.monotonic() - t0
            # The decision counts only pages requested after every page of the settle window was requested, so
            # the window that decides still follows the settle window. Pages already in flight then count: with
            # slow pages (fault delays) the decision completes in the settle's wave instead of a second one.
            decision_start = streak_sent
            elapsed: list[float] = []

            def sample() -> str | None:
                while True:
                    s = sampler.next(timeout=opts.fetch_timeout + timeout)
                    if s.started > decision_start:  # only pages requested after the settle window's
                        label = label_page(exp, s)
                        samples.append((label, s))
                        seen.append((s.started - t0, label))
                        if s.observation.elapsed is not None:
                            elapsed.append(s.observation.elapsed)
                        return label

            def on_progress(counts: dict[str, int], n: int) -> None:
                self._say(f"{step_id} {desc} | observed {_fmt_counts(counts)} ({n} pages)")

            delta = vo.delta if exp.delta is None else exp.delta  # the scenario's `delta:` overrides --delta
            if kind == "version":
                verdict = check_version(
                    sample, next(iter(expected)), delta=delta, beta=vo.beta, on_progress=on_progress
                )
            elif kind == "split":
                verdict = check_split(
                    sample,
                    expected,
                    alpha=vo.alpha,
                    beta=vo.beta,
                    delta=delta,
                    max_requests=opts.max_requests,
                    on_progress=on_progress,
                )
            elif kind == "spread":
                verdict = check_spread(
                    sample,
                    tuple(expected),
                    delta=delta,
                    beta=vo.beta,
                    max_requests=opts.spread_max_requests,
                    on_progress=on_progress,
                )
            else:
                verdict = check_version(sample, OK_LABEL, delta=delta, beta=vo.beta, on_progress=on_progress)
        if verdict.decision != "pass":
            self._check_alive(0.0)  # a failure because a process of the mesh died says so
        res.decision = verdict.decision
        res.counts = dict(verdict.counts)
        res.requests = verdict.requests
        res.explanation = verdict.explain()
        res.seconds = time.monotonic() - t0
        res.timeline = time_bins(seen, res.seconds)
        if elapsed:
            res.latency = latency_figures(elapsed)
        if not res.passed:
            res.example = self._example(kind, expected, samples)
        self._say(f"{step_id} {desc} -> {res.decision} ({_fmt_counts(res.counts)}, {res.requests} pages)")
        return res

    def _check_alive(self, last: float, every: float = 0.5) -> float:
        """Ask the backend (when it can tell) whether every process of the mesh still runs, at most every
        ``every`` seconds; raises ProcessDied naming a dead one. Returns when it last asked."""
        now = time.monotonic()
        check = getattr(self.backend, "check_alive", None)
        if check is None or now - last < every:
            return last
        check()
        return now

    def _undeployed(self, exp: Expectation) -> str | None:
        """Why ``exp`` cannot pass whatever the routing (a reviews version no running pod serves), or None.
        Decided before any page is sampled; backends that do not know their pods' versions are not asked."""
        rev = exp.reviews
        if rev is None:
            return None
        wanted = {v for v, w in rev.weights.items() if w > 0} | set(rev.versions)
        if rev.kind == "version" and rev.version is not None and rev.version != "unavailable":
            wanted.add(rev.version)
        if not wanted:
            return None
        deployed = deployed_versions(self.backend, "reviews")
        if deployed is None:
            return None
        missing = sorted(v for v in wanted if v not in deployed)
        if not missing:
            return None
        return (
            f"no deployment provides reviews {', '.join(missing)}: the running reviews pods serve "
            f"{', '.join(deployed) if deployed else 'no version'}; apply a Deployment of that version or fix the "
            "expectation"
        )

    def _example(
        self, kind: str, expected: Mapping[str, float], samples: Sequence[tuple[str, Sample]]
    ) -> PageExample | None:
        """One mis-routed page: a foreign label, or for a split the most over-represented version."""
        if not samples:
            return None
        allowed = {k for k, w in expected.items() if w > 0}
        pick = next(((lbl, s) for lbl, s in samples if lbl not in allowed), None)
        if pick is None and kind == "split":
            counts = Counter(lbl for lbl, _ in samples)
            total_w = sum(expected.values())
            n = sum(counts.values())
            over = max(allowed, key=lambda k: counts.get(k, 0) / n - expected[k] / total_w)
            pick = next((p for p in samples if p[0] == over), None)
        if pick is None:
            return None
        label, s = pick
        obs = s.observation
        lines: list[str] = []
        if obs.request_id:
            try:
                lines = self.backend.access_log_lines(obs.request_id)
            except Exception as exc:  # a report detail must not mask the verdict
                lines = [f"(access log unavailable: {exc})"]
        return PageExample.of(label, obs, lines)

    def _say(self, text: str) -> None:
        if self.progress is not None:
            self.progress(text)


def scenario_ingress_url(backend: Backend, scenario: Scenario) -> str:
    """Where the scenario's users come in: its Gateway API Gateway (``ingress:``), else the ingress gateway."""
    ref = scenario.ingress
    if ref is None:
        return backend.ingress_url
    return backend.gateway_url(ref.namespace, ref.gateway, ref.port).rstrip("/")


def latency_figures(elapsed: Sequence[float]) -> dict[str, float]:
    """min, p50, p90, p99, max and mean of page latencies (seconds); percentiles by the nearest rank."""
    ordered = sorted(elapsed)

    def rank(q: float) -> float:
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    return {
        "min": round(ordered[0], 4),
        "p50": round(statistics.median(ordered), 4),
        "p90": round(rank(0.90), 4),
        "p99": round(rank(0.99), 4),
        "max": round(ordered[-1], 4),
        "mean": round(statistics.fmean(ordered), 4),
    }


def time_bins(seen: Sequence[tuple[float, str]], seconds: float) -> list[TimeBin]:
    """Labelled pages ((request sent, seconds after the expectation began), label) counted in at most
    TIMELINE_BINS equal bins spanning the expectation; empty bins are left out."""
    if not seen:
        return []
    span = max(seconds, max(t for t, _ in seen), MIN_BIN_SECONDS)
    width = max(span / TIMELINE_BINS, MIN_BIN_SECONDS)
    bins: dict[int, Counter[str]] = {}
    for t, label in seen:
        index = min(int(max(t, 0.0) / width), math.ceil(span / width) - 1)
        bins.setdefault(index, Counter())[label] += 1
    return [TimeBin(t=round(i * width, 4), dt=round(width, 4), counts=dict(c)) for i, c in sorted(bins.items())]


def _fmt_counts(counts: Mapping[str, int]) -> str:
    if not counts:
        return "nothing"
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


def _rel(path: Path, scenario: Scenario) -> str:
    try:
        return str(path.relative_to(scenario.base_dir))
    except ValueError:
        return str(path)


def _default_api_version(kind: str) -> str:
    """The preferred apiVersion of a kind the store knows (v1 for networking.istio.io), else ``v1``."""
    info = kind_info(kind)
    return info.api_versions[0] if info is not None else "v1"
