"""Traffic during a mesh upgrade: a scenario step's expectations sampled continuously, every failure kept.

An upgrade check may mark one scenario step ``upgrade_traffic: true``. Before the upgrade the mesh is brought
to that step's state; a :class:`DisruptionMonitor` then keeps requests flowing for each of the step's
expectations (one user each: anonymous, jason, …) and labels every page with the step runner's
:func:`~meshrelease.engine.runner.label_page`. A page whose label is not one the expectation allows is a *failed
request*. The monitor waits for a steady window before the upgrade (failures while settling are not
disruption), records every failure from then on with its time, the upgrade phase it fell in, user, label,
HTTP status, error and ``x-request-id``, and after the upgrade waits (bounded) until every expectation is
served steadily again. :meth:`DisruptionMonitor.stop` returns the :class:`DisruptionReport`.

Workers are plain threads with one :class:`~meshrelease.bookinfo.client.BookinfoClient` each (connect errors
not retried, so a refused connection is a failure, not a delay). :class:`~meshrelease.engine.sampler.PageSampler`
is not used: it drops the pages in flight when closed and adds workers when pages get slow — right for a
verdict, wrong for a report that must hold every failed request and must not pile load on a mesh that is
restarting.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from meshrelease.bookinfo.client import BookinfoClient
from meshrelease.engine.sampler import Sample
from meshrelease.errors import MeshReleaseError, UserInputError, WaitTimeout
from meshrelease.scenario.labels import expected_set, label_page
from meshrelease.scenario.loader import load_scenario
from meshrelease.scenario.model import Expectation, Scenario, Step

BEFORE_UPGRADE = "steady, before the upgrade"
MAX_PRINTED_FAILURES = 50

ClientFactory = Callable[[str | None], BookinfoClient]


@dataclass(frozen=True)
class DisruptionOptions:
    """How hard and how long the traffic runs (defaults suit a kind cluster on a CI runner)."""

    concurrency: int = 2  # requests in flight per expectation
    steady_window: int = 20  # consecutive good pages per expectation that count as "serving"
    settle_timeout: float = 120.0  # reaching the steady window before the upgrade
    recover_timeout: float = 300.0  # reaching it again after the upgrade
    fetch_timeout: float = 10.0  # read timeout of one page
    connect_timeout: float = 3.0

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise UserInputError(f"must be at least 1, not {self.concurrency}", field="traffic concurrency")
        if self.steady_window < 1:
            raise UserInputError(f"must be at least 1, not {self.steady_window}", field="steady window")
        for name in ("settle_timeout", "recover_timeout", "fetch_timeout", "connect_timeout"):
            if not getattr(self, name) > 0:
                raise UserInputError(f"must be a positive number of seconds, not {getattr(self, name)}", field=name)


@dataclass(frozen=True)
class FailedRequest:
    """One page that did not show what the expectation allows, while the upgrade was being measured."""

    time: str  # wall clock (UTC, ISO 8601) when the request was sent
    offset: float  # seconds after measuring began
    phase: str  # the upgrade phase running when the request was sent
    user: str  # "anonymous" or the signed-in user
    expectation: str
    label: str  # what the page showed instead (a version, "status 503", "fetch error: …")
    status: int | None
    error: str | None
    request_id: str | None

    def line(self) -> str:
        status = self.status if self.status is not None else "-"
        return (
            f"+{self.offset:8.3f}s  {self.time}  [{self.phase}]  {self.user}: {self.label!r}  status {status}  "
            f"x-request-id {self.request_id or '-'}" + (f"  error: {self.error}" if self.error else "")
        )


@dataclass
class DisruptionReport:
    """What the traffic saw during the upgrade (see the module docstring)."""

    scenario: str = ""
    step: str = ""
    started: str = ""  # wall clock when measuring began
    seconds: float = 0.0
    phases: list[dict[str, Any]] = field(default_factory=list)  # {"name", "offset"}
    expectations: list[dict[str, Any]] = field(default_factory=list)  # {"description", "user", "requests", "failed"}
    failures: list[FailedRequest] = field(default_factory=list)
    recovered: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def traffic(self) -> bool:
        return bool(self.step)

    @property
    def requests(self) -> int:
        return sum(int(e["requests"]) for e in self.expectations)

    @property
    def passed(self) -> bool:
        return not self.failures and self.recovered

    @classmethod
    def without_traffic(cls, note: str) -> DisruptionReport:
        return cls(notes=[note])

    def summary(self) -> str:
        if not self.traffic:
            return "no traffic during the upgrade: " + "; ".join(self.notes)
        verdict = "no failed request" if not self.failures else f"{len(self.failures)} failed request(s)"
        text = (
            f"traffic of {self.scenario}::{self.step} during the upgrade: {self.requests} requests in "
            f"{self.seconds:.1f} s, {verdict}"
        )
        if not self.recovered:
            text += "; the mesh did not serve steadily again in time"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "step": self.step,
            "started": self.started,
            "seconds": round(self.seconds, 3),
            "requests": self.requests,
            "failed": len(self.failures),
            "recovered": self.recovered,
            "passed": self.passed,
            "phases": self.phases,
            "expectations": self.expectations,
            "failures": [asdict(f) for f in self.failures],
            "notes": self.notes,
        }

    def render_text(self, limit: int = MAX_PRINTED_FAILURES) -> str:
        lines = [self.summary()]
        lines += [f"  note: {n}" for n in self.notes if self.traffic]
        for f in self.failures[:limit]:
            lines.append("  " + f.line())
        if len(self.failures) > limit:
            lines.append(f"  … {len(self.failures) - limit} more in disruption.md / disruption.json")
        return "\n".join(lines)

    def render_markdown(self) -> str:
        out = ["# meshrelease upgrade: traffic during the upgrade", "", self.summary(), ""]
        if not self.traffic:
            return "\n".join(out)
        out += [f"Measuring began {self.started}. Phases (seconds after that):", ""]
        out += [f"- +{p['offset']:.3f} s: {p['name']}" for p in self.phases]
        out += ["", "| user | expectation | requests | failed |", "|---|---|---|---|"]
        out += [f"| {e['user']} | {e['description']} | {e['requests']} | {e['failed']} |" for e in self.expectations]
        out += [""] + [f"Note: {n}" for n in self.notes]
        if self.failures:
            out += [
                "",
                "## Every failed request",
                "",
                "| + s | time | phase | user | showed | status | error | x-request-id |",
                "|---|---|---|---|---|---|---|---|",
            ]
            for f in self.failures:
                cells = [
                    f"{f.offset:.3f}",
                    f.time,
                    f.phase,
                    f.user,
                    f.label,
                    str(f.status if f.status is not None else "-"),
                    f.error or "",
                    f.request_id or "",
                ]
                out.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
        return "\n".join(out) + "\n"

    def write(self, out_dir: Path) -> list[Path]:
        """``disruption.json`` and ``disruption.md`` in ``out_dir``."""
        out_dir.mkdir(parents=True, exist_ok=True)
        data, md = out_dir / "disruption.json", out_dir / "disruption.md"
        data.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        md.write_text(self.render_markdown(), encoding="utf-8")
        return [data, md]


class _Stream:
    """The traffic of one expectation: its allowed labels and what its pages showed."""

    def __init__(self, exp: Expectation) -> None:
        self.exp = exp
        _, expected = expected_set(exp)
        self.allowed = {label for label, weight in expected.items() if weight > 0}
        self.keep_html = bool(exp.contains or exp.not_contains)
        self.requests = 0  # measured pages
        self.streak = 0  # consecutive good pages requested since the current steady wait began
        self.recent: Counter[str] = Counter()  # labels since the current steady wait began
        self.failures: list[FailedRequest] = []


def default_client_factory(base_url: str, options: DisruptionOptions) -> ClientFactory:
    """A productpage client per worker: lazy sign-in, connect errors not retried (they are disruption)."""

    def make(user: str | None) -> BookinfoClient:
        return BookinfoClient(
            base_url,
            user=user,
            timeout=options.fetch_timeout,
            connect_timeout=options.connect_timeout,
            connect_attempts=1,
        )

    return make


class DisruptionMonitor:
    """Continuous traffic for a step's expectations (see the module docstring). Use as a context manager, or
    call :meth:`start` and, always, :meth:`stop`."""

    def __init__(
        self,
        base_url: str,
        expectations: Sequence[Expectation],
        *,
        options: DisruptionOptions | None = None,
        scenario: str = "",
        step: str = "",
        client_factory: ClientFactory | None = None,
    ) -> None:
        if not expectations:
            raise UserInputError("an upgrade_traffic step needs at least one expectation", field="expect")
        self.options = options or DisruptionOptions()
        self.scenario = scenario
        self.step = step
        self._factory = client_factory or default_client_factory(base_url, self.options)
        self._streams = [_Stream(e) for e in expectations]
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._errors: list[str] = []
        self._steady_since = 0.0
        self._measure_from: float | None = None  # monotonic; None until the first steady window
        self._measure_wall = ""
        self._phases: list[tuple[str, float]] = []  # (name, monotonic start)
        self._notes: list[str] = []
        self._recovered = True
        self._report: DisruptionReport | None = None

    def __enter__(self) -> DisruptionMonitor:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- traffic --------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start ``concurrency`` workers per expectation."""
        with self._cond:
            self._steady_since = time.monotonic()
        for index, stream in enumerate(self._streams):
            for n in range(self.options.concurrency):
                thread = threading.Thread(
                    target=self._work, args=(stream,), name=f"meshrelease-upgrade-traffic-{index}-{n}", daemon=True
                )
                self._threads.append(thread)
                thread.start()

    def _work(self, stream: _Stream) -> None:
        try:
            client = self._factory(stream.exp.user)
        except Exception as exc:  # a client that cannot even be built: every wait must say why
            with self._cond:
                self._errors.append(f"{stream.exp.who}: {exc}")
                self._cond.notify_all()
            return
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                obs = client.fetch_page()
                html = obs.body if stream.keep_html else None
                obs.body = None
                sample = Sample(obs, started, html)
                self._record(stream, sample, label_page(stream.exp, sample))  # also the last one, after stop()
        except Exception as exc:  # a bug, not disruption: waits end with it instead of timing out
            with self._cond:
                self._errors.append(f"{stream.exp.who}: {type(exc).__name__}: {exc}")
                self._cond.notify_all()
        finally:
            client.close()

    def _record(self, stream: _Stream, sample: Sample, label: str) -> None:
        good = label in stream.allowed
        with self._cond:
            if sample.started >= self._steady_since:
                stream.streak = stream.streak + 1 if good else 0
                stream.recent[label] += 1
            if self._measure_from is not None:
                stream.requests += 1
                if not good:
                    stream.failures.append(self._failure(stream, sample, label))
            self._cond.notify_all()

    def _failure(self, stream: _Stream, sample: Sample, label: str) -> FailedRequest:
        obs = sample.observation
        assert self._measure_from is not None
        wall = time.time() - (time.monotonic() - sample.started)
        return FailedRequest(
            time=_iso(wall),
            offset=round(sample.started - self._measure_from, 3),
            phase=self._phase_at(sample.started),
            user=stream.exp.who,
            expectation=stream.exp.describe(),
            label=label,
            status=obs.status,
            error=obs.error,
            request_id=obs.request_id,
        )

    def _phase_at(self, t: float) -> str:
        name = BEFORE_UPGRADE
        for phase, since in self._phases:
            if since <= t:
                name = phase
        return name

    # -- control ---------------------------------------------------------------------------------------------

    def wait_steady(self, timeout: float, *, what: str) -> None:
        """Block until every expectation got ``steady_window`` good pages in a row, all requested after this
        call; raise WaitTimeout (with what each user saw) after ``timeout``. The first success starts the
        measurement: from then on every failed request is reported."""
        window = self.options.steady_window
        with self._cond:
            since = time.monotonic()
            self._steady_since = since
            for stream in self._streams:
                stream.streak = 0
                stream.recent.clear()
            deadline = since + timeout
            while not all(s.streak >= window for s in self._streams):
                if self._errors:
                    raise MeshReleaseError(f"the upgrade traffic could not run: {'; '.join(self._errors)}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WaitTimeout(what, timeout, self._recent_state())
                self._cond.wait(min(remaining, 1.0))
            if self._measure_from is None:
                self._measure_from = time.monotonic()
                self._measure_wall = _iso(time.time())

    def _recent_state(self) -> str:
        parts = []
        for s in self._streams:
            seen = ", ".join(f"{label} {n}" for label, n in s.recent.most_common()) or "no page yet"
            parts.append(f"{s.exp.describe()}: {seen} (allowed: {', '.join(sorted(s.allowed))})")
        return "; ".join(parts)

    def phase(self, name: str) -> None:
        """Mark the start of an upgrade phase; failures are attributed to the phase their request began in."""
        with self._cond:
            self._phases.append((name, time.monotonic()))

    def recover(self, timeout: float | None = None) -> bool:
        """After the upgrade: wait for a steady window again; False (and a note with the last state) when it
        did not come within ``timeout`` (default: the options' ``recover_timeout``)."""
        limit = self.options.recover_timeout if timeout is None else timeout
        try:
            self.wait_steady(limit, what="the mesh to serve the step steadily after the upgrade")
        except WaitTimeout as exc:
            with self._cond:
                self._recovered = False
                self._notes.append(str(exc))
            return False
        return True

    def wait_failures(self, count: int, timeout: float) -> bool:
        """Block until every expectation has at least ``count`` measured failures; False after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not all(len(s.failures) >= count for s in self._streams):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._errors:
                    return False
                self._cond.wait(min(remaining, 1.0))
            return True

    def note(self, text: str) -> None:
        with self._cond:
            self._notes.append(text)

    def stop(self) -> DisruptionReport:
        """Stop the workers (each finishes and records its request in flight) and build the report."""
        if self._report is not None:
            return self._report
        self._stop.set()
        deadline = time.monotonic() + self.options.fetch_timeout + self.options.connect_timeout + 5.0
        for thread in self._threads:
            thread.join(timeout=max(0.1, deadline - time.monotonic()))
        stuck = [t.name for t in self._threads if t.is_alive()]
        with self._cond:
            notes = list(self._notes)
            if stuck:
                notes.append(f"{len(stuck)} request(s) still in flight when the traffic stopped were not recorded")
            if self._measure_from is None:
                notes.append("the step never served steadily, so nothing was measured")
            start = self._measure_from
            failures = sorted((f for s in self._streams for f in s.failures), key=lambda f: f.offset)
            self._report = DisruptionReport(
                scenario=self.scenario,
                step=self.step,
                started=self._measure_wall,
                seconds=(time.monotonic() - start) if start is not None else 0.0,
                phases=[
                    {"name": name, "offset": round(since - start, 3)}
                    for name, since in self._phases
                    if start is not None
                ],
                expectations=[
                    {
                        "description": s.exp.describe(),
                        "user": s.exp.who,
                        "requests": s.requests,
                        "failed": len(s.failures),
                    }
                    for s in self._streams
                ],
                failures=failures,
                recovered=self._recovered and start is not None,
                notes=notes,
            )
        return self._report


def find_upgrade_traffic_step(paths: Iterable[Path]) -> tuple[Scenario, Step] | None:
    """The one step marked ``upgrade_traffic: true`` in the scenarios under ``paths`` (folders, scenario.yaml
    files or folders holding them); None when no step is marked. Two marked steps are an error: the mesh can
    be in one step's state only."""
    files: list[Path] = []
    for path in paths:
        p = Path(path)
        if p.is_file():
            files.append(p)
        elif p.is_dir():
            files += sorted(p.rglob("scenario.yaml"))
    marked: list[tuple[Scenario, Step]] = []
    for file in dict.fromkeys(f.resolve() for f in files):
        scenario = load_scenario(file)
        marked += [(scenario, step) for step in scenario.steps if step.upgrade_traffic]
    if len(marked) > 1:
        where = ", ".join(f"{s.path}:{st.line} ({s.name}::{st.name})" for s, st in marked)
        raise UserInputError(
            f"{len(marked)} steps are marked upgrade_traffic: true ({where}); the mesh can carry one step's "
            "traffic during the upgrade",
            field="upgrade_traffic",
            hint="keep the mark on one step, or pass the paths of fewer scenarios",
        )
    return marked[0] if marked else None


def _iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
