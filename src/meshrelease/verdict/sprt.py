"""The statistics behind :mod:`meshrelease.verdict.checks`: tolerances, sample sizes, one-sided SPRTs on label
shares, and the request cap. ``docs/verdicts.md`` explains the same in prose.

Model
-----
Each sampled page is one independent draw from the routing: it shows label ``i`` with probability
``p_i`` (Envoy picks a weighted cluster afresh for every request). A correct mesh has ``p = p0``, the
normalised expected weights. Pages without a label, when allowed, are left out, so ``p`` is the share
among labelled pages. Everything below is exact for that model; nothing relies on Wald's
approximations.

One version (``required_samples_single``)
-----------------------------------------
A correct mesh never shows another label, so the first foreign observation fails the check and a
correct mesh is never failed: the false-failure rate is 0 whatever ``alpha`` is, which is why ``alpha``
does not enter. If some other label leaks with total probability ``eps >= delta``, ``n`` agreeing pages
in a row happen with probability ``(1 - eps)**n <= (1 - delta)**n``. The smallest ``n`` with
``(1 - delta)**n <= beta`` therefore catches every leak of at least ``delta`` with probability
``>= 1 - beta``: ``n = 66`` for ``delta = 0.10, beta = 1e-3`` (0.9**66 = 9.5e-4).

The tolerance of a share (``share_tolerance``)
----------------------------------------------
A split checks every expected share ``p0_i`` against ``p0_i - delta_i`` and ``p0_i + delta_i`` with::

    delta_i = min(delta, p0_i / 2, (1 - p0_i) / 2)

- ``delta`` alone (absolute) says nothing about small shares: at ``delta = 0.10`` a 5 % canary "within
  10 points" may get no traffic at all, and the check of 95/5 passed a mesh sending everything to the
  95 % version. Real progressive delivery steps 1 %, 5 %, 10 %, 20 %; those steps must be judged.
- ``p0_i / 2``: a share is caught when it is off by half of itself (a 5 % canary at 2.5 % or 7.5 %, a
  1 % canary at 0.5 % or 1.5 %). A share of 0 is then off by twice the tolerance, so a starved version
  fails (below). Why not tighter: for a small share the variance of one page is about ``p0_i``, so the
  pages needed grow like ``p0_i / delta_i**2``, i.e. like ``1 / (r**2 p0_i)`` for a relative tolerance
  ``r``: a 1 % canary already needs 8 300 pages on average at ``r = 1/2``, and three to four times that
  at ``r = 1/4``. Why not looser: at ``r = 1`` the lower alternative is 0, which one page of the canary
  rules out, so a canary getting a tenth of its weight would pass. Half tells "gets its traffic" from
  "gets a fraction of it" at every step a rollout takes, at a cost that stays proportional to
  ``1 / p0_i`` -- the order of pages needed to see the canary at all.
- ``(1 - p0_i) / 2``: each one-sided test looks at one Bernoulli, "the page shows ``i``" against "it shows
  something else", and "something else" is a share too. The rule must not depend on which outcome is
  called the label: with two labels the test of v1 at 95 % *is* the test of v3 at 5 %, so both are
  checked at +/-2.5 points whichever is tested, and a 95 % share is caught at 97.5 % -- the canary at
  2.5 %. For three or more labels this bound rarely binds (a large share's tolerance then follows the
  rest of the traffic as a whole).

Both sides are always tested: with ``delta_i <= p0_i / 2`` and ``delta_i <= (1 - p0_i) / 2`` the
alternatives lie in ``[p0_i / 2, (1 + p0_i) / 2]``, strictly inside (0, 1), so neither deviation is ever
impossible. The upper side of a small share is tested at the same tolerance as the lower: a canary given
1.5 times its weight exposes half as many users again as the step allows. It is the costlier side (for
5 % the Kullback-Leibler divergence to 7.5 % is half that to 2.5 %, so it needs about twice the pages)
and it sets the length of the check; see the expected lengths below. With the default ``delta = 0.10``
shares from 20 % to 80 % keep the absolute +/-10 points.

A split (``plan_split``)
------------------------
For a tested label ``i`` let ``h`` be how many of the first ``n`` (version-showing) pages showed it.
For a side ``s`` (above: ``p1 = p0_i + delta_i``; below: ``p1 = p0_i - delta_i``) the one-sided SPRT of
``H0: p_i = p0_i`` against ``H1: p_i = p1`` tracks the log likelihood ratio::

    llr(n) = h * ln(p1 / p0_i) + (n - h) * ln((1 - p1) / (1 - p0_i))

and *rejects* ``H0`` (the split fails) when ``llr >= ln(K / alpha)``, *accepts* ``H0`` when
``llr <= ln(beta_accept)``, where ``K`` is the number of one-sided tests run and
``beta_accept = beta_fraction * beta``. A test that has decided is frozen; the split passes when every
test has accepted and fails as soon as any rejects.

False failure <= alpha. Under ``p = p0`` each ``exp(llr(n))`` is a non-negative martingale with mean 1, so
by Ville's inequality ``P(exists n: llr(n) >= ln(K / alpha)) <= alpha / K``, whatever the stopping rule
(freezing, other tests, the request cap). A union bound over the ``K`` tests gives ``<= alpha``.

Miss <= beta_accept <= beta. Say label ``i``'s true share is ``p >= p0_i + delta_i`` (below is symmetric).
Passing needs the "above" test of ``i`` to accept. At ``p = p1`` the process ``exp(-llr(n))`` is a
non-negative mean-1 martingale, so ``P(exists n: llr(n) <= ln(beta_accept)) <= beta_accept`` (Ville
again). For ``p > p1``, draw both streams from the same uniforms: every page that shows ``i`` under ``p1``
shows it under ``p``, and llr increases with ``h``, so the ``p`` path lies above the ``p1`` path at every
``n``; if the ``p`` path reaches the accept bound before the reject bound, the ``p1`` path reached it no
later and never touched the reject bound first. Hence the miss probability is at most
``beta_accept`` for every share off by ``delta_i`` or more, in either direction. The request cap ends
in "undecided", never "pass", so it only lowers the miss rate.

Which tests run. With two labels the shares are complementary (``h_b = n - h_a``) and so are their
tolerances (``delta_a = delta_b``): the "above" test of one label *is* the "below" test of the other, so
only the first label is tested and ``K = 2`` (no double-counted alpha). With three or more labels every
label is tested on both sides (a label could be off by ``delta_i`` while all others are within theirs),
``K = 2k``.

A starved version fails (``starved_pages``). If label ``i`` never shows, every labelled page is a miss
for it, and its "below" test (for two labels: the other label's "above" test) gains
``ln((1 - p0_i + delta_i) / (1 - p0_i)) > 0`` per page, deterministically, until it rejects. So a version
with a positive weight that gets no traffic fails -- never passes, never runs into the cap -- after
exactly ``ceil(ln(K / alpha) / ln((1 - p0_i + delta_i) / (1 - p0_i)))`` labelled pages at most (another
test may reject earlier): 559 for 95/5, 2 881 for 99/1, 341 for 92/8 at the defaults.

The request cap (``plan_cap``)
------------------------------
A share between ``p0_i`` and ``p0_i +/- delta_i`` can keep a test open for long, so the check has a cap
at which it ends "undecided" (never "pass"). The cap follows the plan: a test still open after ``N``
pages has ``ln(beta_accept) < llr(N) < ln(K / alpha)``, a band of ``h`` values whose probability under
``p0`` is an exact binomial sum. The cap is the smallest ``N`` (found by bisection) at which the sum of
those probabilities over the tests is at most ``alpha`` -- so a correct mesh runs into the cap with
probability ``<= alpha``, on top of failing with probability ``<= alpha`` -- and at least the starvation
length above. At the defaults it is 3 058 pages for 50/50 (mean length 497), 11 113 for 95/5 (mean
1 586) and 58 353 for 99/1 (mean 8 318). A correct or clearly wrong mesh stops long before it; only a share
inside the indifference zone (off by less than its tolerance) can take that long.

Why ``beta_fraction`` (default 0.7). Wald's bound is nearly tight for these small-step walks: with
``beta_accept = beta`` the real miss rate at exactly ``delta`` off is about ``0.91 beta`` (exact
computation, 60/40 against 50/50: 9.1e-4), so any simulation checking "caught in >= 99.9 %" would sit
on the edge. Accepting at ``0.7 beta`` puts the real rate at about ``0.64 beta`` (6.4e-4) for 4 % more
requests (mean 497 instead of 476 for 50/50 at the defaults). A larger margin costs more, and not
because of this design: Bayes-optimal stopping rules for 50/50 (backward induction over ``(n, h)``,
false failure <= 1e-6) need a mean of 485 requests for a miss rate of 6.1e-4 and 526 for 3.1e-4, so no
procedure reaches a mean of 500 below about 4.8e-4; the SPRT pair is within 3 % of that frontier.
``bench/verdict_efficiency.py`` prints the figures.

Expected length. Under ``p0`` a side accepts after about ``ln(1 / beta_accept) / KL(p0 || p1)``
observations (``KL`` the Bernoulli Kullback-Leibler divergence; 0.0204 for 0.5 vs 0.6) and the split
waits for its slowest side, which adds about 40 % for 50/50 (356 -> 497). For a small share the upper
side is the slow one: 1 435 pages for 5 % against 7.5 %, 7 583 for 1 % against 1.5 %.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Side = Literal["above", "below"]

# The cap search gives up beyond this many pages: a tolerance that needs more is not a usable check.
MAX_CAP = 100_000_000


def share_tolerance(share: float, delta: float) -> float:
    """``min(delta, share / 2, (1 - share) / 2)``: how far the normalised ``share`` may be off before a split
    check must catch it (see the module docstring for why). ``share_tolerance(0.05, 0.10) == 0.025``."""
    if not 0.0 < share < 1.0:
        raise ValueError(f"a tested share must be in (0, 1), got {share!r}")
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must be in (0, 1), got {delta!r}")
    return min(delta, share / 2.0, (1.0 - share) / 2.0)


def required_samples_single(delta: float, beta: float) -> int:
    """Smallest ``n`` with ``(1 - delta) ** n <= beta``: agreeing pages needed to pass a one-version check.

    A leak of at least ``delta`` to any other label then shows within ``n`` pages with probability
    ``>= 1 - beta``. ``required_samples_single(0.10, 1e-3) == 66``.
    """
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must be in (0, 1), got {delta!r}")
    if not 0.0 < beta < 1.0:
        raise ValueError(f"beta must be in (0, 1), got {beta!r}")
    n = max(1, math.ceil(math.log(beta) / math.log1p(-delta)))
    # The logarithms can round either way at an exact power; settle on the direct comparison.
    while n > 1 and (1.0 - delta) ** (n - 1) <= beta:
        n -= 1
    while (1.0 - delta) ** n > beta:
        n += 1
    return n


@dataclass(frozen=True)
class ShareSprt:
    """One one-sided Wald SPRT on the share of ``label``: ``H0: p = p0`` against ``H1: p = p1``.

    ``hit`` and ``miss`` are the log-likelihood-ratio increments for an observation that shows / does
    not show ``label`` (``p1`` is strictly inside (0, 1), so both are finite and of opposite signs).
    The test rejects ``H0`` when the log ratio reaches ``log_reject`` and accepts it when the ratio
    falls to ``log_accept``.
    """

    label: str
    side: Side
    p0: float
    p1: float
    hit: float
    miss: float
    log_reject: float
    log_accept: float

    def llr(self, hits: int, misses: int) -> float:
        """Log likelihood ratio after ``hits`` observations of the label and ``misses`` of others."""
        total = 0.0
        if hits:
            total += hits * self.hit
        if misses:
            total += misses * self.miss
        return total

    def decide(self, hits: int, misses: int) -> Literal["accept", "reject"] | None:
        """The test's decision at these counts, or None while it must go on."""
        value = self.llr(hits, misses)
        if value >= self.log_reject:
            return "reject"
        if value <= self.log_accept:
            return "accept"
        return None

    def misses_until_due(self, hits: int) -> int:
        """A lower bound on the number of misses (with ``hits`` fixed) at which the test can decide.

        Misses move the ratio one way only (down for "above", up for "below"), so with no further hit
        the test cannot decide before this many misses in total. Returned one early on purpose: float
        rounding must never make the caller look too late; it re-checks with :meth:`decide`.
        """
        bound = self.log_accept if self.miss < 0 else self.log_reject
        base = hits * self.hit if hits else 0.0
        return max(0, math.ceil((bound - base) / self.miss) - 1)

    def open_probability(self, n: int, share: float) -> float:
        """An upper bound on the chance that this test is still open after ``n`` pages when the label's true
        share is ``share``: the exact binomial mass of the ``h`` with ``log_accept < llr < log_reject``."""
        slope = self.hit - self.miss  # llr(n, h) = n * miss + h * slope
        ends = sorted(((self.log_accept - n * self.miss) / slope, (self.log_reject - n * self.miss) / slope))
        # One h either side of the open band on purpose: a rounding of llr must not shrink the band.
        return _binomial_mass(n, share, max(0, math.floor(ends[0])), min(n, math.ceil(ends[1])))


@dataclass(frozen=True)
class SplitPlan:
    """The one-sided tests a split check runs (see the module docstring for why these).

    ``tolerances`` holds ``delta_i`` for every label with a positive share (tested or not), ``starved`` the
    pages after which the check has failed if that label never shows (:func:`starved_pages`), and
    ``max_pages`` the cap: :func:`plan_cap`, and never below a ``starved`` figure.
    """

    expected: dict[str, float]
    tests: tuple[ShareSprt, ...]
    alpha: float
    beta: float
    beta_accept: float
    delta: float
    tolerances: dict[str, float]
    starved: dict[str, int]
    max_pages: int


_SIDES: tuple[Side, Side] = ("above", "below")


def plan_split(
    expected: dict[str, float], *, alpha: float, beta: float, delta: float, beta_fraction: float
) -> SplitPlan:
    """The tests for a split with normalised shares ``expected`` (at least two positive shares).

    Labels with share 0 are not tested: observing one fails the check outright. Raises ``ValueError`` when
    the tolerance is so small that the check would need more than :data:`MAX_CAP` pages.
    """
    positive = [(label, p) for label, p in expected.items() if p > 0.0]
    if len(positive) < 2:
        raise ValueError("a split needs at least two labels with a positive share")
    tolerances = {label: share_tolerance(p, delta) for label, p in positive}
    tested = positive[:1] if len(positive) == 2 else positive
    sides = [(label, p0, side) for label, p0 in tested for side in _SIDES]
    log_reject = math.log(len(sides) / alpha)
    beta_accept = beta_fraction * beta
    log_accept = math.log(beta_accept)
    tests = []
    for label, p0, side in sides:
        p1 = p0 + tolerances[label] if side == "above" else p0 - tolerances[label]
        tests.append(
            ShareSprt(
                label=label,
                side=side,
                p0=p0,
                p1=p1,
                hit=math.log(p1 / p0),
                miss=math.log((1.0 - p1) / (1.0 - p0)),
                log_reject=log_reject,
                log_accept=log_accept,
            )
        )
    starved = starved_pages(tests, [label for label, _ in positive])
    cap = max(plan_cap(tests, budget=alpha), *starved.values())
    return SplitPlan(dict(expected), tuple(tests), alpha, beta, beta_accept, delta, tolerances, starved, cap)


def starved_pages(tests: Sequence[ShareSprt], labels: Sequence[str]) -> dict[str, int]:
    """For each of ``labels`` (the positive ones of a plan): the labelled pages after which the split has
    failed if that label never shows, however the other pages fall (see the module docstring).

    A label's "below" test then sees only misses, which raise its ratio by ``miss > 0`` a page. With two
    labels only the first is tested; the second never showing means every page is a hit for the first
    label's "above" test (``hit > 0``).
    """
    out: dict[str, int] = {}
    for label in labels:
        below = next((t for t in tests if t.label == label and t.side == "below"), None)
        if below is not None:
            out[label] = _run_to_reject(below, hits=False)
        else:
            out[label] = _run_to_reject(next(t for t in tests if t.side == "above"), hits=True)
    return out


def _run_to_reject(test: ShareSprt, *, hits: bool) -> int:
    """Pages in a row, all hits or all misses, after which ``test`` rejects (that step must be > 0)."""
    step = test.hit if hits else test.miss

    def llr(n: int) -> float:
        return test.llr(n, 0) if hits else test.llr(0, n)

    n = max(1, math.ceil(test.log_reject / step))
    while n > 1 and llr(n - 1) >= test.log_reject:  # float rounding either way
        n -= 1
    while llr(n) < test.log_reject:
        n += 1
    return n


def plan_cap(tests: Sequence[ShareSprt], *, budget: float) -> int:
    """A page count ``N`` at which a correct mesh (every share at its ``p0``) still has an open test with
    probability ``<= budget`` (the sum of :meth:`ShareSprt.open_probability` over ``tests``). The
    smallest such ``N`` up to the bisection's granularity of one page; ``ValueError`` above :data:`MAX_CAP`.
    """

    def open_mass(n: int) -> float:
        return math.fsum(t.open_probability(n, t.p0) for t in tests)

    high = 64
    while open_mass(high) > budget:
        high *= 2
        if high > MAX_CAP:
            raise ValueError(
                f"the tolerance is so small that a check would need more than {MAX_CAP} pages; use a larger delta"
            )
    low = high // 2  # open_mass(low) > budget, or low is below any sensible cap
    while high - low > 1:
        middle = (low + high) // 2
        if open_mass(middle) <= budget:
            high = middle
        else:
            low = middle
    return high


def _binomial_mass(n: int, p: float, first: int, last: int) -> float:
    """An upper bound on ``P(first <= Binomial(n, p) <= last)``, tight to about 1e-15 relative.

    Summed exactly term by term outward from the band's largest term; the terms fall monotonically away
    from it (the binomial is unimodal), so once one is below 1e-18 of the largest, the rest of that side is
    bounded by their count times that term and added as such.
    """
    if first > last:
        return 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    log_n = math.lgamma(n + 1)

    def log_pmf(k: int) -> float:
        return log_n - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * log_p + (n - k) * log_q

    mode = min(max(math.floor((n + 1) * p), first), last)  # the band's largest term
    peak = log_pmf(mode)
    terms = [1.0]
    for step in (-1, 1):
        k = mode + step
        while first <= k <= last:
            ratio = math.exp(log_pmf(k) - peak)
            if ratio < 1e-18:
                remaining = (k - first + 1) if step < 0 else (last - k + 1)
                terms.append(remaining * ratio)
                break
            terms.append(ratio)
            k += step
    return math.exp(peak) * math.fsum(terms)
