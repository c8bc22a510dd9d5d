"""The results of a run as typed records, and ``results.json`` (schema ``meshrelease/results/v1``).

The runner returns a :class:`StepResult` per step (an :class:`ExpectationResult` per expectation); the pytest
plugin keeps each as a :class:`StepRecord` (the result plus its node id and pytest outcome) and writes one
:class:`RunResults` at the end of the session. The reports, ``meshrelease compare`` and the upgrade check read
the file back with :func:`load_results`; ``RunResults.from_dict(r.to_dict()) == r`` for every record.

The file is one JSON object; every key below is always written::

    schema              "meshrelease/results/v1"
    meshrelease         the version that wrote the file
    started, finished   ISO 8601, UTC;   seconds: wall time of the session
    backend             {backend, mesh, kubernetes, bookinfo, extra}, or null when no step started a mesh
    options             {alpha, beta, delta, concurrency}
    summary             {steps, passed, failed, skipped}; "failed" counts the outcomes failed and error
    run                 how the session ended: {exit_status, outcome, collection_errors[{nodeid, message}],
                        notes, junit}; outcome is passed | failed | interrupted | internal error |
                        usage error | nothing collected | collection errors (see :func:`outcome_of`);
                        junit is where the JUnit XML went (null: none written)
    steps[]             {scenario, step, description, passed, applied, warnings, replayed, started_at,
                         applied_at, synced_at, sync_seconds, seconds, error, expectations, views,
                         diagnostics, nodeid, outcome, message}
      outcome           passed | failed | skipped | error (the step could not be set up)
      started_at ...    Unix times (seconds): the step began (replays included), its own apply began, the
                        data plane ran it (null until then)
      expectations[]    {description, user, kind, expected, decision, counts, requests, explanation,
                         settle: {pages, counts}, started_at, time_to_converge, seconds, latency, timeline,
                         example}
        latency         seconds per page of the decision sample: min, p50, p90, p99, max, mean
        timeline        [{t, dt, counts}]: the pages of the expectation (settle and decision) by the time their
                        request was sent, t and dt in seconds from its started_at
        example         null, or one mis-routed page: {label, observation, access_log}; the observation holds
                        the fields of :class:`~meshrelease.bookinfo.page.PageObservation` but its body
      views[]           ``--browser``: what a real browser showed each user of the step: {user, url, label, pod,
                        stars, star_colour, signed_in_as, ui, agrees, problems, actions, screenshot, seconds,
                        started_at};
                        screenshot is a PNG file in the report directory

Files written before these records existed leave out ``run``, ``message``, the times, ``description``,
``timeline`` and ``views``, and for a step that never ran everything from ``passed`` to ``diagnostics``; those
fields read as their defaults. Anything else missing, of the wrong type, another schema or no JSON at all is a
:class:`~meshrelease.errors.UserInputError` naming the file and the field (e.g.
``steps[2].expectations[0].counts``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast, get_args, get_type_hints

from meshrelease._version import __version__
from meshrelease.backends.base import BackendInfo
from meshrelease.bookinfo.page import PageObservation
from meshrelease.engine.typed_json import JsonObject, shown
from meshrelease.errors import UserInputError

SCHEMA = "meshrelease/results/v1"
RESULTS_FILE = "results.json"
_FIELD_HINT = f"pass a results.json written by `meshrelease run` ({SCHEMA}), unedited"

Outcome = Literal["passed", "failed", "skipped", "error"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)
FAILING: tuple[Outcome, ...] = ("failed", "error")
EXPECTATION_KINDS = ("version", "split", "spread", "page")


def _round_opt(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def now_iso() -> str:
    """The current time as results.json records it."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class PageExample:
    """One mis-routed page of a failed expectation: its label, what it showed and its proxies' access-log lines."""

    label: str
    observation: PageObservation
    access_log: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, label: str, observation: PageObservation, access_log: Sequence[str]) -> PageExample:
        return cls(label, replace(observation, body=None), list(access_log))  # the page's HTML is not recorded

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "observation": self.observation.to_dict(), "access_log": list(self.access_log)}


@dataclass
class TimeBin:
    """The pages of one expectation whose requests were sent in ``[t, t + dt)`` seconds after its start."""

    t: float
    dt: float
    counts: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"t": self.t, "dt": self.dt, "counts": dict(self.counts)}


@dataclass
class BrowserView:
    """What a real browser showed one user at a step (``--browser``), and whether it agrees with the verdict.

    ``png`` holds the screenshot until the report is written; results.json names its file (``screenshot``)."""

    user: str | None
    url: str
    label: str | None  # the reviews version the page showed, "unavailable", or None
    pod: str | None = None
    stars: str = "none"
    star_colour: str | None = None  # the colour the browser drew the first full star in, e.g. "rgb(255, 0, 0)"
    signed_in_as: str | None = None
    ui: str = "unknown"
    agrees: bool = True
    problems: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)  # what the browser did, as a person would
    screenshot: str = ""
    seconds: float = 0.0
    started_at: float = 0.0  # Unix time the browser began opening the page
    png: bytes | None = field(default=None, compare=False, repr=False)

    @property
    def who(self) -> str:
        return self.user if self.user is not None else "anonymous"

    def describe(self) -> str:
        """One line: what the page showed."""
        shown = f"reviews {self.label or '?'}" + (f" (pod {self.pod})" if self.pod else "")
        colour = f", star colour {self.star_colour}" if self.star_colour else ""
        return f"{shown}, stars {self.stars}{colour}, signed in as {self.signed_in_as or 'nobody'}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "url": self.url,
            "label": self.label,
            "pod": self.pod,
            "stars": self.stars,
            "star_colour": self.star_colour,
            "signed_in_as": self.signed_in_as,
            "ui": self.ui,
            "agrees": self.agrees,
            "problems": list(self.problems),
            "actions": list(self.actions),
            "screenshot": self.screenshot,
            "seconds": self.seconds,
            "started_at": self.started_at,
        }


@dataclass
class ExpectationResult:
    description: str
    user: str | None
    kind: str  # version | split | spread | page
    expected: dict[str, float]
    decision: str  # pass | fail | undecided | error
    counts: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    explanation: str = ""
    settle_pages: int = 0
    settle_counts: dict[str, int] = field(default_factory=dict)
    time_to_converge: float = 0.0
    seconds: float = 0.0
    latency: dict[str, float] = field(default_factory=dict)
    example: PageExample | None = None
    started_at: float = 0.0  # Unix time the expectation's first page was requested
    timeline: list[TimeBin] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.decision == "pass"

    def to_dict(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "user": self.user,
            "kind": self.kind,
            "expected": dict(self.expected),
            "decision": self.decision,
            "counts": dict(self.counts),
            "requests": self.requests,
            "explanation": self.explanation,
            "settle": {"pages": self.settle_pages, "counts": dict(self.settle_counts)},
            "started_at": self.started_at,
            "time_to_converge": self.time_to_converge,
            "seconds": self.seconds,
            "latency": dict(self.latency),
            "timeline": [b.to_dict() for b in self.timeline],
            "example": self.example.to_dict() if self.example is not None else None,
        }


@dataclass
class StepResult:
    """What the runner found for one step."""

    scenario: str
    step: str
    passed: bool
    applied: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    replayed: list[str] = field(default_factory=list)
    sync_seconds: float = 0.0
    seconds: float = 0.0
    expectations: list[ExpectationResult] = field(default_factory=list)
    error: str | None = None
    diagnostics: dict[str, str] = field(default_factory=dict)
    description: str = ""
    started_at: float = 0.0  # Unix times: the step began (replays included) ...
    applied_at: float | None = None  # ... its own apply began ...
    synced_at: float | None = None  # ... and the data plane ran it
    views: list[BrowserView] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.scenario}::{self.step}"


@dataclass(kw_only=True)
class StepRecord(StepResult):
    """A step as results.json records it: the runner's result (defaults when the step never ran), the pytest
    node id and outcome, and pytest's failure text when the step failed before the runner could say why."""

    nodeid: str
    outcome: Outcome = "skipped"
    message: str | None = None

    @classmethod
    def of(cls, result: StepResult, nodeid: str) -> StepRecord:
        """The record of a step the runner ran; times rounded to 0.1 ms, as written."""
        return cls(
            scenario=result.scenario,
            step=result.step,
            passed=result.passed,
            applied=list(result.applied),
            warnings=list(result.warnings),
            replayed=list(result.replayed),
            sync_seconds=round(result.sync_seconds, 4),
            seconds=round(result.seconds, 4),
            expectations=[
                replace(e, time_to_converge=round(e.time_to_converge, 4), seconds=round(e.seconds, 4))
                for e in result.expectations
            ],
            error=result.error,
            diagnostics=dict(result.diagnostics),
            description=result.description,
            started_at=round(result.started_at, 4),
            applied_at=_round_opt(result.applied_at),
            synced_at=_round_opt(result.synced_at),
            views=[replace(v, seconds=round(v.seconds, 4), started_at=round(v.started_at, 4)) for v in result.views],
            nodeid=nodeid,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "step": self.step,
            "description": self.description,
            "passed": self.passed,
            "applied": list(self.applied),
            "warnings": list(self.warnings),
            "replayed": list(self.replayed),
            "started_at": self.started_at,
            "applied_at": self.applied_at,
            "synced_at": self.synced_at,
            "sync_seconds": self.sync_seconds,
            "seconds": self.seconds,
            "error": self.error,
            "expectations": [e.to_dict() for e in self.expectations],
            "views": [v.to_dict() for v in self.views],
            "diagnostics": dict(self.diagnostics),
            "nodeid": self.nodeid,
            "outcome": self.outcome,
            "message": self.message,
        }


@dataclass(frozen=True)
class RunOptions:
    """The verdict options and concurrency a run used."""

    alpha: float
    beta: float
    delta: float
    concurrency: int


@dataclass(frozen=True)
class Summary:
    steps: int
    passed: int
    failed: int  # outcome failed or error
    skipped: int

    @classmethod
    def of(cls, steps: Sequence[StepRecord]) -> Summary:
        outcomes = Counter(s.outcome for s in steps)
        return cls(len(steps), outcomes["passed"], sum(outcomes[o] for o in FAILING), outcomes["skipped"])


RUN_OUTCOMES = {
    0: "passed",
    1: "failed",
    2: "interrupted",
    3: "internal error",
    4: "usage error",
    5: "nothing collected",
}


def outcome_of(exit_status: int, collection_errors: Sequence[CollectionError] = ()) -> str:
    """How a session ended, in words, from pytest's exit status (0 passed, 1 a step failed, 2 interrupted, 3
    internal error, 4 usage error, 5 nothing collected); pytest also stops with 2 on collection errors."""
    if exit_status == 2 and collection_errors:
        return "collection errors"
    return RUN_OUTCOMES.get(exit_status, f"exit status {exit_status}")


@dataclass(frozen=True)
class CollectionError:
    """A file or node pytest could not collect (e.g. an invalid scenario.yaml), with pytest's text."""

    nodeid: str
    message: str


@dataclass
class RunStatus:
    """How the session ended: pytest's exit status and its meaning, what could not be collected, notes (e.g. the
    step an interruption stopped), and where the JUnit XML went."""

    exit_status: int
    outcome: str = ""
    collection_errors: list[CollectionError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    junit: str | None = None

    def __post_init__(self) -> None:
        if not self.outcome:
            self.outcome = outcome_of(self.exit_status, self.collection_errors)

    def to_dict(self) -> dict[str, Any]:
        return {
            "exit_status": self.exit_status,
            "outcome": self.outcome,
            "collection_errors": [asdict(c) for c in self.collection_errors],
            "notes": list(self.notes),
            "junit": self.junit,
        }


@dataclass
class RunResults:
    """Everything a run wrote to results.json."""

    meshrelease: str
    started: str
    finished: str
    seconds: float
    backend: BackendInfo | None
    options: RunOptions
    summary: Summary
    steps: list[StepRecord]
    status: RunStatus | None = None  # None only in files written before it was recorded

    @classmethod
    def of(
        cls,
        steps: Sequence[StepRecord],
        *,
        backend: BackendInfo | None,
        options: RunOptions,
        started: str,
        finished: str,
        seconds: float,
        status: RunStatus | None = None,
    ) -> RunResults:
        """The results of a session that ran ``steps``; the summary is counted from them."""
        return cls(
            meshrelease=__version__,
            started=started,
            finished=finished,
            seconds=round(seconds, 3),
            backend=backend,
            options=options,
            summary=Summary.of(steps),
            steps=list(steps),
            status=status,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "meshrelease": self.meshrelease,
            "started": self.started,
            "finished": self.finished,
            "seconds": self.seconds,
            "backend": asdict(self.backend) if self.backend is not None else None,
            "options": asdict(self.options),
            "summary": asdict(self.summary),
            "run": self.status.to_dict() if self.status is not None else None,
            "steps": [s.to_dict() for s in self.steps],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def write(self, path: Path) -> Path:
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def from_dict(cls, data: object, *, source: str = RESULTS_FILE) -> RunResults:
        """Read results parsed from JSON; ``source`` names the file in errors."""
        top = JsonObject(data, source, hint=_FIELD_HINT)
        schema = top.raw("schema", None)
        if schema != SCHEMA:
            found = "no schema field" if schema is None else f"schema {shown(schema)}"
            raise UserInputError(
                f"not a meshrelease results.json ({found}; expected {SCHEMA})",
                path=source,
                field="schema",
                hint="pass the results.json that `meshrelease run` wrote (or its report directory)",
            )
        backend = top.opt_obj("backend")
        status = top.opt_obj("run") if "run" in top.data else None
        return cls(
            meshrelease=top.text("meshrelease"),
            started=top.text("started"),
            finished=top.text("finished"),
            seconds=top.number("seconds"),
            backend=_read_backend(backend) if backend is not None else None,
            options=_read_options(top.obj("options")),
            summary=_read_summary(top.obj("summary")),
            steps=[_read_step(s) for s in top.objs("steps")],
            status=_read_status(status) if status is not None else None,
        )

    @classmethod
    def from_json(cls, text: str, *, source: str = RESULTS_FILE) -> RunResults:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserInputError(
                f"not JSON: {exc.msg} (column {exc.colno})",
                path=source,
                line=exc.lineno,
                hint="pass the results.json that `meshrelease run` wrote",
            ) from None
        return cls.from_dict(data, source=source)


def load_results(path: Path) -> RunResults:
    """The results in ``path``: a results.json, or a report directory holding one."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserInputError(f"cannot read results: {exc.strerror}", path=str(path)) from None
    except UnicodeDecodeError as exc:
        raise UserInputError(f"not JSON: not UTF-8 text ({exc.reason})", path=str(path)) from None
    return RunResults.from_json(text, source=str(path))


# ------------------------------------------------------------------------------------------------ reading
def step_from_dict(data: object, *, source: str) -> StepRecord:
    """One step record as :meth:`StepRecord.to_dict` wrote it (e.g. sent by a pytest-xdist worker)."""
    return _read_step(JsonObject(data, source, hint=_FIELD_HINT))


def backend_info_from_dict(data: object, *, source: str) -> BackendInfo:
    """A :class:`BackendInfo` as results.json writes it."""
    return _read_backend(JsonObject(data, source, hint=_FIELD_HINT))


def _read_expectation(o: JsonObject) -> ExpectationResult:
    settle = o.obj("settle")
    example = o.opt_obj("example")
    return ExpectationResult(
        description=o.text("description"),
        user=o.opt_text("user"),
        kind=o.choice("kind", EXPECTATION_KINDS),
        expected=o.weights("expected"),
        decision=o.text("decision"),
        counts=o.counts("counts"),
        requests=o.integer("requests"),
        explanation=o.text("explanation"),
        settle_pages=settle.integer("pages"),
        settle_counts=settle.counts("counts"),
        time_to_converge=o.number("time_to_converge"),
        seconds=o.number("seconds"),
        latency=o.weights("latency"),
        example=_read_example(example) if example is not None else None,
        started_at=o.number("started_at", default=0.0),
        timeline=[_read_bin(b) for b in o.objs("timeline")] if "timeline" in o.data else [],
    )


def _read_bin(o: JsonObject) -> TimeBin:
    return TimeBin(t=o.number("t"), dt=o.number("dt"), counts=o.counts("counts"))


def _read_view(o: JsonObject) -> BrowserView:
    return BrowserView(
        user=o.opt_text("user"),
        url=o.text("url"),
        label=o.opt_text("label"),
        pod=o.opt_text("pod"),
        stars=o.text("stars"),
        star_colour=o.opt_text("star_colour"),
        signed_in_as=o.opt_text("signed_in_as"),
        ui=o.text("ui"),
        agrees=o.flag("agrees"),
        problems=o.texts("problems"),
        actions=o.texts("actions"),
        screenshot=o.text("screenshot"),
        seconds=o.number("seconds"),
        started_at=o.number("started_at"),
    )


def _read_status(o: JsonObject) -> RunStatus:
    return RunStatus(
        exit_status=o.integer("exit_status"),
        outcome=o.text("outcome"),
        collection_errors=[
            CollectionError(nodeid=c.text("nodeid"), message=c.text("message")) for c in o.objs("collection_errors")
        ],
        notes=o.texts("notes"),
        junit=o.opt_text("junit"),
    )


def _read_example(o: JsonObject) -> PageExample:
    return PageExample(
        label=o.text("label"), observation=_read_observation(o.obj("observation")), access_log=o.texts("access_log")
    )


def _read_observation(o: JsonObject) -> PageObservation:
    """Every recorded field of the page (``label`` and ``fetched_ok`` are derived from them, the body is not
    recorded), typed as :class:`PageObservation` declares it."""
    hints = get_type_hints(PageObservation)
    values = {f.name: o.value(f.name, hints[f.name]) for f in fields(PageObservation) if f.name != "body"}
    return PageObservation(**values)


def _read_step(o: JsonObject) -> StepRecord:
    # The fields from "passed" to "diagnostics" are absent for a step that never ran in files written before
    # StepRecord existed, and "message" unless pytest's text was recorded: they default.
    return StepRecord(
        nodeid=o.text("nodeid"),
        scenario=o.text("scenario"),
        step=o.text("step"),
        description=o.text("description") if "description" in o.data else "",
        started_at=o.number("started_at", default=0.0),
        applied_at=o.value("applied_at", float | None, None),
        synced_at=o.value("synced_at", float | None, None),
        views=[_read_view(v) for v in o.objs("views")] if "views" in o.data else [],
        outcome=cast(Outcome, o.choice("outcome", OUTCOMES)),
        passed=o.flag("passed", default=False),
        applied=o.texts("applied", default=[]),
        warnings=o.texts("warnings", default=[]),
        replayed=o.texts("replayed", default=[]),
        sync_seconds=o.number("sync_seconds", default=0.0),
        seconds=o.number("seconds", default=0.0),
        error=o.opt_text("error", default=None),
        message=o.opt_text("message", default=None),
        expectations=[_read_expectation(e) for e in o.objs("expectations")],
        diagnostics=o.strings("diagnostics", default={}),
    )


def _read_backend(o: JsonObject) -> BackendInfo:
    return BackendInfo(
        backend=o.text("backend"),
        mesh=o.text("mesh"),
        kubernetes=o.text("kubernetes"),
        bookinfo=o.text("bookinfo"),
        extra=o.strings("extra"),
    )


def _read_options(o: JsonObject) -> RunOptions:
    return RunOptions(
        alpha=o.number("alpha"), beta=o.number("beta"), delta=o.number("delta"), concurrency=o.integer("concurrency")
    )


def _read_summary(o: JsonObject) -> Summary:
    return Summary(
        steps=o.integer("steps"), passed=o.integer("passed"), failed=o.integer("failed"), skipped=o.integer("skipped")
    )
