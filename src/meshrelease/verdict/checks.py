"""Verdicts: does the sampled traffic match the expected routing? (``docs/verdicts.md``)

Three checks, all driven by a ``sample()`` callable that fetches one fresh page and returns what it showed
(a label such as ``"v2"``, ``"unavailable"``, ``"yes"``, or ``None`` for a page without one):

- :func:`check_version` -- every page must show one label. The first other label fails at once; the
  check passes after :func:`required_samples_single` agreeing pages (66 at the defaults), enough that a
  leak of ``delta`` or more would have shown with probability ``>= 1 - beta``.
- :func:`check_split` -- pages must follow relative weights. A label without a positive weight fails at
  once; otherwise one-sided sequential probability ratio tests (SPRTs) on the label shares stop as soon
  as the data decide: a correct mesh fails with probability ``<= alpha``, a share ``p0_i`` off by its
  tolerance ``delta_i = min(delta, p0_i / 2, (1 - p0_i) / 2)`` or more passes with probability
  ``<= beta``, and a version with a positive weight that never answers fails. The derivation is in
  :mod:`meshrelease.verdict.sprt`.
- :func:`check_spread` -- every listed version answers and nothing else does.

Sampling never runs past ``max_requests`` (for a split: by default a cap computed from its plan, which a
correct mesh reaches with probability ``<= alpha``); reaching it ends in ``"undecided"`` (``passed`` is
False), never a silent pass. All return a :class:`VerdictResult` whose :meth:`~VerdictResult.explain` says
what was expected, what was seen and what the numbers mean.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Real
from typing import Any, Literal

from meshrelease.errors import UserInputError
from meshrelease.verdict.options import DEFAULT_ALPHA, DEFAULT_BETA, DEFAULT_DELTA
from meshrelease.verdict.sprt import ShareSprt, Side, SplitPlan, plan_split, required_samples_single

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_BETA",
    "DEFAULT_BETA_FRACTION",
    "DEFAULT_DELTA",
    "DEFAULT_MAX_REQUESTS",
    "NONE_KEY",
    "Decision",
    "ShareTestOutcome",
    "VerdictResult",
    "check_split",
    "check_spread",
    "check_version",
    "normalise_weights",
    "required_samples_single",
]

Decision = Literal["pass", "fail", "undecided"]
ProgressCallback = Callable[[dict[str, int], int], None]

NONE_KEY = "(none)"
"""Key under which pages that showed no label are counted (not "none": that is a real stars label)."""

DEFAULT_MAX_REQUESTS = 5000
DEFAULT_PROGRESS_EVERY = 50
DEFAULT_BETA_FRACTION = 0.7


@dataclass(frozen=True)
class ShareTestOutcome:
    """Where one one-sided SPRT of a split ended: ``expected`` share vs the ``alternative`` it guards."""

    label: str
    side: Side
    expected: float
    alternative: float
    state: Literal["accepted", "rejected", "open"]
    decided_at: int | None  # version-showing pages seen when it decided
    log_likelihood_ratio: float

    def to_dict(self) -> dict[str, Any]:
        """Plain data for reports."""
        return {
            "label": self.label,
            "side": self.side,
            "expected": self.expected,
            "alternative": self.alternative,
            "state": self.state,
            "decided_at": self.decided_at,
            "log_likelihood_ratio": self.log_likelihood_ratio,
        }


@dataclass(frozen=True)
class VerdictResult:
    """The outcome of one check, with everything a report needs to show why.

    ``counts`` holds every label seen (expected labels first, zero counts included; pages without a
    label under :data:`NONE_KEY`), ``requests`` every page sampled, ``expected`` the normalised shares,
    ``tolerances`` (splits only) how far each positive share may be off before it must be caught.
    """

    kind: Literal["version", "split", "spread"]
    decision: Decision
    counts: dict[str, int]
    requests: int
    expected: dict[str, float]
    reason: str
    alpha: float
    beta: float
    delta: float
    max_requests: int
    tests: tuple[ShareTestOutcome, ...] = ()
    tolerances: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True only for decision "pass"."""
        return self.decision == "pass"

    @property
    def observations(self) -> int:
        """Pages that showed a label (the denominator of the observed shares)."""
        return sum(n for label, n in self.counts.items() if label != NONE_KEY)

    def observed_shares(self) -> dict[str, float]:
        """Share of each label among the pages that showed one."""
        total = self.observations
        return {label: (n / total if total else 0.0) for label, n in self.counts.items() if label != NONE_KEY}

    def explain(self) -> str:
        """A few lines: the reason, expected vs observed shares with counts, and what the check guarantees."""
        total = self.observations
        parts = []
        for label, n in self.counts.items():
            if label == NONE_KEY:
                continue
            want = self.expected.get(label)
            want_text = _share(want) if want is not None else "not expected"
            parts.append(f"{label} {want_text} vs {_share(n / total if total else 0.0)} ({n}/{total})")
        lines = [
            f"{self.decision.upper()}: {self.reason}",
            f"expected vs observed after {self.requests} requests: " + "; ".join(parts),
        ]
        if self.counts.get(NONE_KEY):
            lines[-1] += f"; {self.counts[NONE_KEY]} pages showed no label"
        if self.kind == "spread":
            needed = required_samples_single(self.delta, self.beta)
            lines.append(
                f"meaning: every listed version answered within >= {needed} pages and nothing else did; a leak "
                f"of >= {_percent(self.delta)} elsewhere would have shown with probability >= {1 - self.beta:g}"
            )
        elif self.kind == "version" or not self.tolerances:  # a split with one positive weight is one version
            needed = required_samples_single(self.delta, self.beta)
            lines.append(
                f"meaning: a leak of >= {_percent(self.delta)} to any other label shows within {needed} "
                f"pages with probability >= {1 - self.beta:g}; a correct mesh never fails this check"
            )
        else:
            within = ", ".join(
                f"{label} {_share(self.expected[label])} ± {_share(tol)}" for label, tol in self.tolerances.items()
            )
            lines.append(
                f"meaning: a correct mesh fails with probability <= {self.alpha:g}; a share off by its "
                f"tolerance or more ({within}) passes with probability <= {self.beta:g}; a version that never "
                "answers fails"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for results.json."""
        return {
            "kind": self.kind,
            "decision": self.decision,
            "passed": self.passed,
            "reason": self.reason,
            "requests": self.requests,
            "counts": dict(self.counts),
            "expected": dict(self.expected),
            "observed": self.observed_shares(),
            "alpha": self.alpha,
            "beta": self.beta,
            "delta": self.delta,
            "max_requests": self.max_requests,
            "tolerances": dict(self.tolerances),
            "tests": [t.to_dict() for t in self.tests],
            "explanation": self.explain(),
        }


def normalise_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """Relative weights -> shares summing to 1 (zero weights kept as 0.0). Raises :class:`UserInputError`."""
    if not isinstance(weights, Mapping):
        raise UserInputError(
            f"expected a mapping of label to weight such as {{v2: 50, v3: 50}}, got {type(weights).__name__}",
            field="weights",
        )
    if not weights:
        raise UserInputError(
            "no labels given: name at least one label with a positive weight, e.g. {v2: 50, v3: 50}",
            field="weights",
        )
    values: dict[str, float] = {}
    for label, weight in weights.items():
        if not isinstance(label, str) or not label:
            raise UserInputError(
                f"labels must be non-empty strings, got {label!r} ({type(label).__name__})", field="weights"
            )
        if label == NONE_KEY:
            raise UserInputError(f"the label {NONE_KEY!r} is reserved for pages without a label", field="weights")
        if isinstance(weight, bool) or not isinstance(weight, Real):
            raise UserInputError(
                f"the weight of {label!r} must be a number, got {weight!r} ({type(weight).__name__})",
                field="weights",
            )
        value = float(weight)
        if not math.isfinite(value):
            raise UserInputError(f"the weight of {label!r} must be a finite number, got {weight!r}", field="weights")
        if value < 0:
            raise UserInputError(
                f"the weight of {label!r} is negative ({weight!r}); weights must be >= 0", field="weights"
            )
        values[label] = value
    total = math.fsum(values.values())
    if total <= 0:
        listed = ", ".join(f"{label}: {weights[label]!r}" for label in values)
        raise UserInputError(
            f"all weights are 0 ({listed}): at least one label needs a positive weight", field="weights"
        )
    return {label: value / total for label, value in values.items()}


def check_version(
    sample: Callable[[], str | None],
    version: str,
    *,
    alpha: float = DEFAULT_ALPHA,
    beta: float = DEFAULT_BETA,
    delta: float = DEFAULT_DELTA,
    max_requests: int = DEFAULT_MAX_REQUESTS,
    on_progress: ProgressCallback | None = None,
    progress_every: int = DEFAULT_PROGRESS_EVERY,
    allow_none: bool = False,
) -> VerdictResult:
    """Check that every page shows ``version``.

    Fails at the first page showing anything else (or no label, unless ``allow_none``; such pages are
    then counted but prove nothing). Passes after ``required_samples_single(delta, beta)`` agreeing
    pages. ``alpha`` is accepted for symmetry and recorded, but does not enter: a correct mesh never
    shows another label, so this check never fails one. ``on_progress(counts, requests)`` is called
    every ``progress_every`` pages and once at the end.
    """
    if not isinstance(version, str) or not version or version == NONE_KEY:
        raise UserInputError(f"the expected version must be a non-empty label, got {version!r}", field="version")
    _check_options(alpha, beta, delta, max_requests, progress_every)
    return _run_single(
        sample,
        version,
        {version: 1.0},
        "version",
        alpha=alpha,
        beta=beta,
        delta=delta,
        max_requests=max_requests,
        on_progress=on_progress,
        progress_every=progress_every,
        allow_none=allow_none,
    )


def check_split(
    sample: Callable[[], str | None],
    weights: Mapping[str, float],
    *,
    alpha: float = DEFAULT_ALPHA,
    beta: float = DEFAULT_BETA,
    delta: float = DEFAULT_DELTA,
    max_requests: int | None = None,
    on_progress: ProgressCallback | None = None,
    progress_every: int = DEFAULT_PROGRESS_EVERY,
    allow_none: bool = False,
    beta_fraction: float = DEFAULT_BETA_FRACTION,
) -> VerdictResult:
    """Check that pages follow the relative ``weights`` (label -> weight, normalised here).

    Fails at once on a label without a positive weight (or a page without a label, unless
    ``allow_none``: such pages are then counted but left out of the shares). Otherwise runs the
    one-sided SPRTs of :func:`meshrelease.verdict.sprt.plan_split` until all accept (pass) or one rejects
    (fail). Guarantees: a correct mesh fails with probability ``<= alpha``; a share ``p0_i`` off by
    ``delta_i = min(delta, p0_i / 2, (1 - p0_i) / 2)`` or more passes with probability
    ``<= beta_fraction * beta``; a version with a positive weight that never answers fails (after
    ``plan.starved[label]`` pages at most). ``max_requests`` defaults to the plan's cap, which a correct
    mesh reaches with probability ``<= alpha``; a smaller one may end a correct check "undecided". With
    blank pages allowed they count against the cap. With a single positive weight this is
    :func:`check_version`. ``on_progress(counts, requests)`` is called every ``progress_every`` pages
    and once at the end.
    """
    expected = normalise_weights(weights)
    _check_options(alpha, beta, delta, 1 if max_requests is None else max_requests, progress_every)
    if not 0.0 < beta_fraction <= 1.0:
        raise UserInputError(f"must be in (0, 1], got {beta_fraction!r}", field="beta_fraction")
    positive = [label for label, share in expected.items() if share > 0.0]
    options: dict[str, Any] = {
        "alpha": alpha,
        "beta": beta,
        "delta": delta,
        "on_progress": on_progress,
        "progress_every": progress_every,
        "allow_none": allow_none,
    }
    if len(positive) == 1:
        cap = DEFAULT_MAX_REQUESTS if max_requests is None else max_requests
        return _run_single(sample, positive[0], expected, "split", max_requests=cap, **options)
    try:
        plan = plan_split(expected, alpha=alpha, beta=beta, delta=delta, beta_fraction=beta_fraction)
    except ValueError as err:
        raise UserInputError(str(err), field="delta") from err
    cap = plan.max_pages if max_requests is None else max_requests
    return _SplitRun(sample, plan, positive, max_requests=cap, **options).run()


# --- internals ----------------------------------------------------------------------------------------


def _check_options(alpha: float, beta: float, delta: float, max_requests: int, progress_every: int) -> None:
    for name, value in (("alpha", alpha), ("beta", beta), ("delta", delta)):
        if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 < float(value) < 1.0:
            raise UserInputError(f"must be a number in (0, 1), got {value!r}", field=name)
    for name, count in (("max_requests", max_requests), ("progress_every", progress_every)):
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise UserInputError(f"must be a whole number >= 1, got {count!r}", field=name)


def _share(value: float) -> str:
    """0.5 -> "0.50", 1/3 -> "0.333": two decimals unless that would hide the value."""
    two = f"{value:.2f}"
    return two if abs(float(two) - value) < 1e-9 else f"{value:.3f}"


def _percent(value: float) -> str:
    text = f"{value * 100:.2f}".rstrip("0").rstrip(".")
    return f"{text} %"


def _ordered_counts(expected: Mapping[str, float], seen: Mapping[str, int]) -> dict[str, int]:
    counts = {label: seen.get(label, 0) for label in expected}
    for label, n in seen.items():
        if label not in counts and label != NONE_KEY:
            counts[label] = n
    if seen.get(NONE_KEY):
        counts[NONE_KEY] = seen[NONE_KEY]
    return counts


def _unexpected_reason(observed: str | None, request: int, expected: Mapping[str, float]) -> str:
    wanted = ", ".join(f"{label} {_share(share)}" for label, share in expected.items() if share > 0)
    if observed is None:
        return (
            f"request {request} showed no label (expected {wanted}); "
            "pass allow_none=True if pages without one are acceptable"
        )
    if observed in expected:
        return f"request {request} showed {observed!r}, whose expected weight is 0 (expected {wanted})"
    return f"request {request} showed {observed!r}, which is not expected (expected {wanted})"


class _Progress:
    """Calls the callback every ``every`` requests and once at the end (unless that was just done)."""

    def __init__(self, callback: ProgressCallback | None, every: int) -> None:
        self.callback = callback
        self.every = every
        self.last = -1

    def emit(self, requests: int, counts: dict[str, int]) -> None:
        if self.callback is not None:
            self.last = requests
            self.callback(counts, requests)

    def tick(self, requests: int, counts: Callable[[], dict[str, int]]) -> None:
        if self.callback is not None and requests % self.every == 0:
            self.emit(requests, counts())

    def finish(self, requests: int, counts: dict[str, int]) -> None:
        if self.last != requests:
            self.emit(requests, dict(counts))


def _run_single(
    sample: Callable[[], str | None],
    version: str,
    expected: dict[str, float],
    kind: Literal["version", "split"],
    *,
    alpha: float,
    beta: float,
    delta: float,
    max_requests: int,
    on_progress: ProgressCallback | None,
    progress_every: int,
    allow_none: bool,
) -> VerdictResult:
    needed = required_samples_single(delta, beta)
    seen: dict[str, int] = {version: 0}
    progress = _Progress(on_progress, progress_every)
    requests = 0
    decision: Decision
    while True:
        if seen[version] >= needed:
            decision = "pass"
            reason = (
                f"{needed} pages showed {version} and none another label: a leak of >= {_percent(delta)} "
                f"to any other label would have shown with probability >= {1 - beta:g} "
                f"({1 - delta:g}^{needed} = {(1 - delta) ** needed:.1e})"
            )
            break
        if requests >= max_requests:
            decision = "undecided"
            blank = seen.get(NONE_KEY, 0)
            reason = (
                f"max_requests={max_requests} reached after {seen[version]} of the {needed} agreeing pages "
                "needed" + (f" ({blank} pages showed no label)" if blank else "") + "; raise max_requests"
            )
            break
        observed = sample()
        requests += 1
        if observed == version:
            seen[version] += 1
        elif observed is None and allow_none:
            seen[NONE_KEY] = seen.get(NONE_KEY, 0) + 1
        else:
            key = NONE_KEY if observed is None else observed
            seen[key] = seen.get(key, 0) + 1
            decision = "fail"
            reason = _unexpected_reason(observed, requests, expected)
            break
        progress.tick(requests, lambda: _ordered_counts(expected, seen))
    counts = _ordered_counts(expected, seen)
    progress.finish(requests, counts)
    return VerdictResult(kind, decision, counts, requests, dict(expected), reason, alpha, beta, delta, max_requests)


class _LiveTest:
    """Mutable run state of one :class:`ShareSprt` (flat attributes: this is the hot loop).

    ``due`` is the page count before which pages of *other* labels alone cannot make the test decide;
    a page of its own label recomputes it, so the loop need not look at the test on every page.
    """

    __slots__ = (
        "bound",
        "decided_at",
        "due",
        "hi",
        "hit",
        "index",
        "inv_miss",
        "llr",
        "lo",
        "miss",
        "state",
        "test",
    )

    def __init__(self, test: ShareSprt, index: int) -> None:
        self.test = test
        self.index = index
        self.hit = test.hit
        self.miss = test.miss
        self.lo = test.log_accept
        self.hi = test.log_reject
        self.state: Literal["accepted", "rejected", "open"] = "open"
        self.decided_at: int | None = None
        self.llr = 0.0
        self.due = max(1, test.misses_until_due(0))
        # The bound misses drive the ratio towards, and 1/miss.
        self.bound = test.log_accept if test.miss < 0 else test.log_reject
        self.inv_miss = 1.0 / test.miss

    def outcome(self, hits: int, n: int) -> ShareTestOutcome:
        llr = self.llr if self.state != "open" else self.test.llr(hits, n - hits)
        t = self.test
        return ShareTestOutcome(t.label, t.side, t.p0, t.p1, self.state, self.decided_at, llr)


class _SplitRun:
    """One run of :func:`check_split` once the plan is made."""

    def __init__(
        self,
        sample: Callable[[], str | None],
        plan: SplitPlan,
        labels: list[str],
        *,
        alpha: float,
        beta: float,
        delta: float,
        max_requests: int,
        on_progress: ProgressCallback | None,
        progress_every: int,
        allow_none: bool,
    ) -> None:
        self.sample = sample
        self.plan = plan
        self.labels = labels
        self.alpha = alpha
        self.beta = beta
        self.delta = delta
        self.max_requests = max_requests
        self.progress = _Progress(on_progress, progress_every)
        self.allow_none = allow_none
        self.index: dict[str | None, int] = {label: i for i, label in enumerate(labels)}
        self.hits = [0] * len(labels)
        self.others: dict[str, int] = {}  # unexpected labels and NONE_KEY
        self.all_tests = [_LiveTest(t, labels.index(t.label)) for t in plan.tests]
        self.live = list(self.all_tests)
        self.by_label: list[list[_LiveTest]] = [[] for _ in labels]
        for t in self.live:
            self.by_label[t.index].append(t)

    def counts(self) -> dict[str, int]:
        seen = dict(zip(self.labels, self.hits, strict=True))
        seen.update(self.others)
        return _ordered_counts(self.plan.expected, seen)

    def run(self) -> VerdictResult:
        # The hot loop: locals only, and a test is looked at on a miss only when its deadline comes
        # (misses move its ratio one way, so it cannot decide earlier; see _LiveTest.due).
        sample = self.sample
        index = self.index
        hits = self.hits
        by_label = self.by_label
        ceil = math.ceil
        max_requests = self.max_requests
        every = self.progress.every
        next_tick = every if self.progress.callback is not None else -1
        n = 0  # pages that showed an expected label
        requests = 0
        next_due = min(t.due for t in self.live)
        rejected: _LiveTest | None = None
        while requests < max_requests:
            observed = sample()
            requests += 1
            i = index.get(observed)
            if i is None:
                key = NONE_KEY if observed is None else observed
                self.others[key] = self.others.get(key, 0) + 1
                if observed is not None or not self.allow_none:
                    return self._finish("fail", requests, n, unexpected=(observed, requests))
            else:
                n += 1
                h = hits[i] + 1
                hits[i] = h
                misses = n - h
                decided = False
                for t in by_label[i]:
                    llr = h * t.hit
                    if misses:
                        llr += misses * t.miss
                    if llr >= t.hi or llr <= t.lo:
                        decided = True
                    else:
                        due = h + ceil((t.bound - h * t.hit) * t.inv_miss) - 1
                        t.due = due if due > n else n + 1
                if decided:
                    rejected = self._check(tuple(by_label[i]), n)
                if n >= next_due:
                    rejected = self._check(tuple(t for t in self.live if t.due <= n), n) or rejected
                    next_due = min((t.due for t in self.live), default=n + 1)
                if rejected is not None:
                    return self._finish("fail", requests, n, rejected=rejected)
                if not self.live:
                    return self._finish("pass", requests, n)
            if requests == next_tick:
                next_tick += every
                self.progress.emit(requests, self.counts())
        return self._finish("undecided", requests, n)

    def _decide(self, t: _LiveTest, state: Literal["accepted", "rejected"], llr: float, n: int) -> _LiveTest:
        t.state = state
        t.llr = llr
        t.decided_at = n
        self.live.remove(t)
        self.by_label[t.index].remove(t)
        return t

    def _check(self, tests: tuple[_LiveTest, ...], n: int) -> _LiveTest | None:
        """Decide ``tests`` at ``n`` pages, renewing the deadline of those that go on; return a rejecter."""
        rejected = None
        for t in tests:
            h = self.hits[t.index]
            llr = t.test.llr(h, n - h)
            if llr >= t.hi:
                rejected = rejected or self._decide(t, "rejected", llr, n)
            elif llr <= t.lo:
                self._decide(t, "accepted", llr, n)
            else:
                t.due = max(n + 1, h + t.test.misses_until_due(h))
        return rejected

    def _finish(
        self,
        decision: Decision,
        requests: int,
        n: int,
        *,
        rejected: _LiveTest | None = None,
        unexpected: tuple[str | None, int] | None = None,
    ) -> VerdictResult:
        counts = self.counts()
        self.progress.finish(requests, counts)
        outcomes = tuple(t.outcome(self.hits[t.index], n) for t in self.all_tests)
        expected = self.plan.expected
        if unexpected is not None:
            reason = _unexpected_reason(unexpected[0], unexpected[1], expected)
        elif rejected is not None:
            t = rejected.test
            h = self.hits[rejected.index]
            complement = ""
            if len(self.labels) == 2:  # only the first label is tested; name the other side too
                other = self.labels[1]
                opposite = "below" if t.side == "above" else "above"
                complement = f", so {other} {_share(1 - h / n)} ({n - h}/{n}) is {opposite} {_share(1 - t.p0)}"
            reason = (
                f"{t.label} share {_share(h / n)} ({h}/{n}) is {t.side} {_share(t.p0)}{complement}: "
                f"an SPRT rejected {_share(t.p0)} in favour of {_share(t.p1)} (α={self.alpha:g})"
            )
            silent = [label for i, label in enumerate(self.labels) if self.hits[i] == 0]
            if silent:
                reason += f"; {', '.join(silent)} never answered in {n} pages despite a positive weight"
        elif decision == "pass":
            observed = ", ".join(f"{label} {_share(self.hits[i] / n)}" for i, label in enumerate(self.labels))
            wanted = "/".join(_share(expected[label]) for label in self.labels)
            reason = (
                f"{observed} match {wanted} after {n} pages: every one-sided SPRT accepted its expected "
                f"share against its tolerance (each at β'={self.plan.beta_accept:.1g} <= β={self.beta:g})"
            )
        else:
            still = "; ".join(
                f"{o.label} {_share(o.expected)} vs {_share(o.alternative)}" for o in outcomes if o.state == "open"
            )
            reason = (
                f"max_requests={self.max_requests} reached with no decision ({n} pages showed an expected "
                f"label); still open: {still}. A share between its expected value and its tolerance can take "
                f"long to decide (a correct mesh reaches the plan's cap of {self.plan.max_pages} with probability "
                f"<= {self.alpha:g}): check the weights, or raise max_requests"
            )
        return VerdictResult(
            "split",
            decision,
            counts,
            requests,
            dict(expected),
            reason,
            self.alpha,
            self.beta,
            self.delta,
            self.max_requests,
            outcomes,
            dict(self.plan.tolerances),
        )


def check_spread(
    sample: Callable[[], str | None],
    versions: Sequence[str],
    *,
    alpha: float = DEFAULT_ALPHA,
    beta: float = DEFAULT_BETA,
    delta: float = DEFAULT_DELTA,
    max_requests: int = 2000,
    on_progress: ProgressCallback | None = None,
    progress_every: int = DEFAULT_PROGRESS_EVERY,
) -> VerdictResult:
    """Check that every one of ``versions`` answers and nothing else does (Istio's default route over all
    endpoints, where the shares depend on the load balancer and are not asserted).

    Fails at the first page showing another label (or none). Passes once at least
    ``required_samples_single(delta, beta)`` pages were seen — so a leak of >= δ elsewhere would have shown
    with probability >= 1 - β — *and* every version appeared. A version still unseen after
    ``max_requests`` pages fails: with k versions sharing the traffic evenly, a correct mesh leaves one
    unseen with probability <= k·(1 - 1/k)^max_requests (about 1e-352 for three versions and 2000 pages),
    and even a version held to a 1 % share shows within 2000 pages with probability 1 - 2e-9.
    """
    wanted = list(dict.fromkeys(versions))
    if len(wanted) < 2 or any(not isinstance(v, str) or not v or v == NONE_KEY for v in wanted):
        raise UserInputError(f"a spread needs at least two distinct version labels, got {list(versions)!r}")
    _check_options(alpha, beta, delta, max_requests, progress_every)
    needed = required_samples_single(delta, beta)
    expected = {v: 1.0 / len(wanted) for v in wanted}
    seen: dict[str, int] = dict.fromkeys(wanted, 0)
    progress = _Progress(on_progress, progress_every)
    requests = 0
    decision: Decision
    while True:
        if requests >= needed and all(seen[v] > 0 for v in wanted):
            decision = "pass"
            reason = f"all of {', '.join(wanted)} answered in {requests} pages and no other label did"
            break
        if requests >= max_requests:
            decision = "fail"
            missing = [v for v in wanted if seen[v] == 0]
            reason = f"{', '.join(missing)} never answered in {requests} pages"
            break
        observed = sample()
        requests += 1
        key = NONE_KEY if observed is None else observed
        seen[key] = seen.get(key, 0) + 1
        if key not in expected:
            decision = "fail"
            reason = _unexpected_reason(observed, requests, expected)
            break
        progress.tick(requests, lambda: dict(seen))
    progress.finish(requests, dict(seen))
    return VerdictResult("spread", decision, dict(seen), requests, expected, reason, alpha, beta, delta, max_requests)
