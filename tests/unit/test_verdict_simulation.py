"""Seeded simulations of the verdicts' error rates, plus exact checks of the two-label bounds.

Every stream comes from ``random.Random(seed)``, so each run of this file sees the same pages. The
designs keep the real error rates well inside the thresholds asserted here (the margins are worked out
in each test), so a change of seed or of the stream layout would not flip an assertion either.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Mapping
from itertools import accumulate

import pytest

from meshrelease.verdict.checks import (
    DEFAULT_ALPHA,
    DEFAULT_BETA,
    DEFAULT_BETA_FRACTION,
    DEFAULT_DELTA,
    check_split,
    check_version,
    normalise_weights,
    required_samples_single,
)
from meshrelease.verdict.exact import split_characteristics
from meshrelease.verdict.sprt import SplitPlan, plan_split

THIRD = 1 / 3
TRUE_SPLITS = {
    "50/50": {"v2": 50, "v3": 50},
    "80/20": {"v1": 80, "v2": 20},
    "90/10": {"v1": 90, "v2": 10},
    "thirds": {"v1": 1, "v2": 1, "v3": 1},
}
# (expected weights, true shares) with one share off by exactly its tolerance min(0.10, p/2, (1 - p)/2).
OFF_BY_DELTA = {
    "60/40 for 50/50": ({"v2": 50, "v3": 50}, {"v2": 0.6, "v3": 0.4}),
    "70/30 for 80/20": ({"v1": 80, "v2": 20}, {"v1": 0.7, "v2": 0.3}),
    "90/10 for 80/20": ({"v1": 80, "v2": 20}, {"v1": 0.9, "v2": 0.1}),
    "85/15 for 90/10": ({"v1": 90, "v2": 10}, {"v1": 0.85, "v2": 0.15}),
    "95/5 for 90/10": ({"v1": 90, "v2": 10}, {"v1": 0.95, "v2": 0.05}),
    "thirds +/-0.1": ({"v1": 1, "v2": 1, "v3": 1}, {"v1": THIRD + 0.1, "v2": THIRD, "v3": THIRD - 0.1}),
}


def sampler(rng: random.Random, shares: Mapping[str | None, float]) -> Callable[[], str | None]:
    """Independent pages with the given shares, drawn in blocks (the check asks one page at a time)."""
    labels = list(shares)
    cumulative = list(accumulate(shares.values()))

    def pages() -> Iterator[str | None]:
        while True:
            yield from rng.choices(labels, cum_weights=cumulative, k=256)

    return pages().__next__


def binomial_upper_quantile(n: int, p: float, tail: float) -> int:
    """Smallest q with P(Binomial(n, p) > q) <= tail."""

    def log_pmf(k: int) -> float:
        return (
            math.lgamma(n + 1)
            - math.lgamma(k + 1)
            - math.lgamma(n - k + 1)
            + k * math.log(p)
            + (n - k) * math.log1p(-p)
        )

    above = 0.0
    for q in range(n, -1, -1):
        if above + math.exp(log_pmf(q)) > tail:
            return q
        above += math.exp(log_pmf(q))
    return 0


# --- splits ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_no_false_failure_in_20000_checks_at_the_true_weights() -> None:
    # Each check fails a correct mesh with probability <= 1e-6 (about 9e-7 exactly for two labels), so
    # any failure here in 20 000 checks (chance ~2 %) would point at a bug, not at bad luck.
    rng = random.Random(20_000)
    outcomes: dict[str, dict[str, int]] = {}
    for name, weights in TRUE_SPLITS.items():
        shares = normalise_weights(weights)
        tally = {"pass": 0, "fail": 0, "undecided": 0}
        for _ in range(5000):
            tally[check_split(sampler(rng, shares), weights).decision] += 1
        outcomes[name] = tally
    assert all(t == {"pass": 5000, "fail": 0, "undecided": 0} for t in outcomes.values()), outcomes


@pytest.mark.slow
def test_a_share_off_by_delta_is_caught_in_at_least_99_9_percent_of_20000_checks() -> None:
    # Real miss rates at exactly the tolerance (exact computation for the two-label cases): 6.4e-4,
    # 6.6e-4, 5.5e-4, 6.8e-4, 5.5e-4, and far less for thirds (two shares must slip at once). Expected
    # misses here: ~10 of 20 000; the 99.9 % bound allows 20 (P(>20) ~ 0.2 %). Per case the 99.8 % bound
    # allows 6 of 3400 where ~2.2 are expected (P(>6) ~ 0.8 %).
    rng = random.Random(5_000)
    runs = 3400
    missed: dict[str, int] = {}
    for name, (weights, truth) in OFF_BY_DELTA.items():
        missed[name] = sum(check_split(sampler(rng, truth), weights).passed for _ in range(runs))
    total_runs = runs * len(OFF_BY_DELTA)
    assert sum(missed.values()) <= total_runs * (1 - 0.999), missed
    assert all(m <= runs * (1 - 0.998) for m in missed.values()), missed


@pytest.mark.slow
def test_a_larger_deviation_is_caught_every_time() -> None:
    rng = random.Random(77)
    results = [check_split(sampler(rng, {"v2": 0.65, "v3": 0.35}), {"v2": 50, "v3": 50}) for _ in range(2000)]
    assert not any(r.passed for r in results)
    assert all(r.decision == "fail" for r in results)


def test_blank_pages_allowed_do_not_bias_the_split() -> None:
    rng = random.Random(3)
    shares = {"v2": 0.3, "v3": 0.3, None: 0.4}
    results = [check_split(sampler(rng, shares), {"v2": 1, "v3": 1}, allow_none=True) for _ in range(300)]
    assert all(r.passed for r in results)
    assert all(r.requests > r.observations for r in results)


# --- exact bounds for two labels --------------------------------------------------------------------------


def default_plan(weights: dict[str, float]) -> SplitPlan:
    return plan_split(
        normalise_weights(weights),
        alpha=DEFAULT_ALPHA,
        beta=DEFAULT_BETA,
        delta=DEFAULT_DELTA,
        beta_fraction=DEFAULT_BETA_FRACTION,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("weights", "share", "mean_pages"),
    [
        ({"v2": 50, "v3": 50}, 0.5, 500),  # the target: under 500 requests for 50/50 at the defaults
        ({"v1": 80, "v2": 20}, 0.8, 330),
        ({"v1": 90, "v2": 10}, 0.9, 750),  # at +/-5 points (half of the 10 % share)
        ({"v1": 95, "v3": 5}, 0.95, 1600),  # at +/-2.5 points
        ({"v1": 99, "v3": 1}, 0.99, 8400),  # at +/-0.5 points
    ],
)
def test_exact_false_failure_and_cap_are_below_alpha_with_the_expected_length(
    weights: dict[str, float], share: float, mean_pages: float
) -> None:
    # The cap is where a correct mesh still has an open test with probability <= alpha: the exact walk
    # must reach it no more often, and fail no more often than alpha either.
    exact = split_characteristics(default_plan(weights), share)
    assert exact.p_fail + exact.p_dropped <= DEFAULT_ALPHA
    assert exact.p_undecided + exact.p_dropped <= DEFAULT_ALPHA
    assert exact.mean_pages <= mean_pages


@pytest.mark.slow
@pytest.mark.parametrize(
    ("weights", "share"),
    [
        ({"v2": 50, "v3": 50}, 0.6),
        ({"v2": 50, "v3": 50}, 0.4),
        ({"v1": 80, "v2": 20}, 0.7),
        ({"v1": 80, "v2": 20}, 0.9),
        ({"v1": 90, "v2": 10}, 0.85),
        ({"v1": 90, "v2": 10}, 0.95),
        ({"v1": 90, "v2": 10}, 0.8),
        ({"v1": 95, "v3": 5}, 0.925),
        ({"v1": 95, "v3": 5}, 0.975),
        ({"v1": 95, "v3": 5}, 0.85),
        ({"v1": 99, "v3": 1}, 0.985),
        ({"v1": 99, "v3": 1}, 0.995),
    ],
)
def test_exact_miss_at_delta_is_below_the_accept_level(weights: dict[str, float], share: float) -> None:
    exact = split_characteristics(default_plan(weights), share)
    assert exact.p_pass + exact.p_dropped <= DEFAULT_BETA_FRACTION * DEFAULT_BETA


@pytest.mark.slow
def test_exact_and_simulated_rates_agree_for_a_wide_alternative() -> None:
    # With beta_fraction = 1 and a share 0.05 off (inside the indifference zone) the pass rate is
    # large enough to compare: simulation and the exact walk must agree within 4.5 standard errors.
    weights = {"v2": 50, "v3": 50}
    plan = plan_split(normalise_weights(weights), alpha=1e-3, beta=0.2, delta=0.1, beta_fraction=1.0)
    exact = split_characteristics(plan, 0.55)
    rng = random.Random(55)
    runs = 3000
    passed = sum(
        check_split(sampler(rng, {"v2": 0.55, "v3": 0.45}), weights, alpha=1e-3, beta=0.2, beta_fraction=1.0).passed
        for _ in range(runs)
    )
    error = math.sqrt(exact.p_pass * (1 - exact.p_pass) / runs)
    assert 0.05 < exact.p_pass < 0.95
    assert abs(passed / runs - exact.p_pass) <= 4.5 * error


# --- small canaries: 95/5 and 99/1 at +/-2.5 and +/-0.5 points -------------------------------------------------

CANARIES = {
    "95/5": ({"v1": 95, "v3": 5}, 1200),
    "99/1": ({"v1": 99, "v3": 1}, 300),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", CANARIES)
def test_a_correct_small_canary_passes_every_seeded_run(name: str) -> None:
    # False failure <= 1e-6 and the cap reached with probability <= 1e-6 (exactly 9.3e-7 and 1.7e-7):
    # a single failure or undecided run here would point at a bug.
    weights, runs = CANARIES[name]
    rng = random.Random(f"{name} truth")
    shares = normalise_weights(weights)
    decisions = [check_split(sampler(rng, shares), weights).decision for _ in range(runs)]
    assert decisions == ["pass"] * runs


@pytest.mark.slow
@pytest.mark.parametrize("name", CANARIES)
@pytest.mark.parametrize("direction", [-1, 1])
def test_a_small_canary_off_by_its_tolerance_is_caught(name: str, direction: int) -> None:
    # Exact miss rates: 6.9e-4 / 5.5e-4 (95/5 at 7.5 % / 2.5 %), 7.0e-4 / 5.6e-4 (99/1 at 1.5 % / 0.5 %).
    # The bound is the 1e-6 upper quantile of Binomial(runs, beta): a miss rate far above beta fails it.
    weights, runs = CANARIES[name]
    canary = weights["v3"] / 100
    off = canary + direction * canary / 2
    rng = random.Random(f"{name} {direction}")
    results = [check_split(sampler(rng, {"v1": 1 - off, "v3": off}), weights) for _ in range(runs)]
    missed = sum(r.passed for r in results)
    assert missed <= binomial_upper_quantile(runs, DEFAULT_BETA, 1e-6)
    assert sum(r.decision == "fail" for r in results) >= runs - missed - 1


# --- one version --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_single_version_catches_a_10_percent_leak_at_the_guaranteed_rate() -> None:
    # n = 66 gives a miss probability of exactly 0.9**66 = 9.55e-4 <= beta at a leak of exactly delta,
    # so an observed rate from any finite simulation straddles 99.9 %. What a simulation can show is
    # that the data agree with a catch probability >= 1 - beta: the miss count stays below the
    # 1e-6 upper quantile of Binomial(runs, beta) (an 0.5 % miss rate would give ~100 and fail this).
    runs = 20_000
    rng = random.Random(66)
    leaky = {"v2": 0.9, "v1": 0.05, "v3": 0.05}
    results = [check_version(sampler(rng, leaky), "v2") for _ in range(runs)]
    missed = sum(r.passed for r in results)
    assert all(r.requests == 66 for r in results if r.passed)
    assert (1 - DEFAULT_DELTA) ** required_samples_single(DEFAULT_DELTA, DEFAULT_BETA) <= DEFAULT_BETA
    assert missed <= binomial_upper_quantile(runs, DEFAULT_BETA, 1e-6)
    assert all(r.decision == "fail" for r in results if not r.passed)


@pytest.mark.slow
def test_single_version_catches_a_15_percent_leak_in_at_least_99_9_percent_of_runs() -> None:
    # Miss probability 0.85**66 = 2.2e-5: ~0.4 expected misses in 20 000 runs, 20 allowed.
    rng = random.Random(15)
    runs = 20_000
    missed = sum(check_version(sampler(rng, {"v2": 0.85, "v1": 0.15}), "v2").passed for _ in range(runs))
    assert missed <= runs * (1 - 0.999)
