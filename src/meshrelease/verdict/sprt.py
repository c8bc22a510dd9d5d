"""The statistics behind :mod:`meshrelease.verdict.checks`: sample sizes and one-sided SPRTs on label shares.

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

A split (``plan_split``)
------------------------
For a tested label ``i`` let ``h`` be how many of the first ``n`` (version-showing) pages showed it.
For a side ``s`` (above: ``p1 = p0_i + delta``; below: ``p1 = p0_i - delta``) the one-sided SPRT of
``H0: p_i = p0_i`` against ``H1: p_i = p1`` tracks the log likelihood ratio::

    llr(n) = h * ln(p1 / p0_i) + (n - h) * ln((1 - p1) / (1 - p0_i))

and *rejects* ``H0`` (the split fails) when ``llr >= ln(K / alpha)``, *accepts* ``H0`` when
``llr <= ln(beta_accept)``, where ``K`` is the number of one-sided tests run and
``beta_accept = beta_fraction * beta``. A test that has decided is frozen; the split passes when every
test has accepted and fails as soon as any rejects.

False failure <= alpha. Under ``p = p0`` each ``exp(llr(n))`` is a non-negative martingale with mean 1, so
by Ville's inequality ``P(exists n: llr(n) >= ln(K / alpha)) <= alpha / K``, whatever the stopping rule
(freezing, other tests, the request cap). A union bound over the ``K`` tests gives ``<= alpha``.

Miss <= beta_accept <= beta. Say label ``i``'s true share is ``p >= p0_i + delta`` (below is symmetric).
Passing needs the "above" test of ``i`` to accept. At ``p = p1`` the process ``exp(-llr(n))`` is a
non-negative mean-1 martingale, so ``P(exists n: llr(n) <= ln(beta_accept)) <= beta_accept`` (Ville
again). For ``p > p1``, draw both streams from the same uniforms: every page that shows ``i`` under ``p1``
shows it under ``p``, and llr increases with ``h``, so the ``p`` path lies above the ``p1`` path at every
``n``; if the ``p`` path reaches the accept bound before the reject bound, the ``p1`` path reached it no
later and never touched the reject bound first. Hence the miss probability is at most
``beta_accept`` for every share off by ``delta`` or more, in either direction. The request cap ends
in "undecided", never "pass", so it only lowers the miss rate.

Which tests run. With two labels the shares are complementary (``h_b = n - h_a``): the "above" test of
one label *is* the "below" test of the other, so only the first label is tested and ``K <= 2`` (no
double-counted alpha). With three or more labels every label is tested on both sides (a label could be
off by ``delta`` while all others are within it), ``K <= 2k``. A side is skipped only when ``p1`` falls
outside ``[0, 1]``, i.e. when a deviation of ``delta`` in that direction is impossible; ``p1`` exactly 0
or 1 is kept (one observation of the other kind then accepts that side at once).

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
waits for its slowest side, which adds about 40 % for 50/50 (356 -> 497).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Side = Literal["above", "below"]

# Shares are normalised floats: an alternative within this distance of 0 or 1 *is* 0 or 1
# (0.9 + 0.1 must not be skipped as "above 1").
_EDGE_TOLERANCE = 1e-9


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
    not show ``label`` (``-inf`` when ``p1`` is 0 or 1 and such an observation rules ``H1`` out).
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
        if self.miss == -math.inf:
            return 1  # p1 == 1: the first miss accepts
        bound = self.log_accept if self.miss < 0 else self.log_reject
        base = hits * self.hit if hits else 0.0
        if math.isinf(base):
            return 0  # p1 == 0 and the label was seen: already decided
        return max(0, math.ceil((bound - base) / self.miss) - 1)


@dataclass(frozen=True)
class SplitPlan:
    """The one-sided tests a split check runs (see the module docstring for why these)."""

    expected: dict[str, float]
    tests: tuple[ShareSprt, ...]
    alpha: float
    beta: float
    beta_accept: float
    delta: float


_SIDES: tuple[Side, Side] = ("above", "below")


def _alternative(p0: float, side: Side, delta: float) -> float | None:
    """``p0 +/- delta``, snapped to 0 or 1 at the edge; None when that deviation is impossible."""
    p1 = p0 + delta if side == "above" else p0 - delta
    if p1 > 1.0 + _EDGE_TOLERANCE or p1 < -_EDGE_TOLERANCE:
        return None
    if p1 >= 1.0 - _EDGE_TOLERANCE:
        return 1.0
    if p1 <= _EDGE_TOLERANCE:
        return 0.0
    return p1


def plan_split(
    expected: dict[str, float], *, alpha: float, beta: float, delta: float, beta_fraction: float
) -> SplitPlan:
    """The tests for a split with normalised shares ``expected`` (at least two positive shares).

    Labels with share 0 are not tested: observing one fails the check outright. Raises ``ValueError``
    when ``delta`` is so large that no share could move by it.
    """
    positive = [(label, p) for label, p in expected.items() if p > 0.0]
    if len(positive) < 2:
        raise ValueError("a split needs at least two labels with a positive share")
    tested = positive[:1] if len(positive) == 2 else positive
    sides = [
        (label, p0, side, p1)
        for label, p0 in tested
        for side in _SIDES
        if (p1 := _alternative(p0, side, delta)) is not None
    ]
    if not sides:
        raise ValueError(f"delta={delta:g} is larger than any share could move; use a smaller delta")
    log_reject = math.log(len(sides) / alpha)
    beta_accept = beta_fraction * beta
    log_accept = math.log(beta_accept)
    tests = tuple(
        ShareSprt(
            label=label,
            side=side,
            p0=p0,
            p1=p1,
            hit=math.log(p1 / p0) if p1 > 0.0 else -math.inf,
            miss=math.log((1.0 - p1) / (1.0 - p0)) if p1 < 1.0 else -math.inf,
            log_reject=log_reject,
            log_accept=log_accept,
        )
        for label, p0, side, p1 in sides
    )
    return SplitPlan(dict(expected), tests, alpha, beta, beta_accept, delta)
