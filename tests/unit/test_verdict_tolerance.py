"""The tolerance that scales with the weight, starved canaries, and the request cap that follows the plan."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable

import pytest

from meshrelease.errors import UserInputError
from meshrelease.verdict.checks import check_split, normalise_weights
from meshrelease.verdict.sprt import SplitPlan, plan_cap, plan_split, share_tolerance

ALPHA, BETA, BETA_FRACTION = 1e-6, 1e-3, 0.7


def plan(weights: dict[str, float], delta: float = 0.1) -> SplitPlan:
    return plan_split(normalise_weights(weights), alpha=ALPHA, beta=BETA, delta=delta, beta_fraction=BETA_FRACTION)


def cycle(pattern: list[str]) -> Callable[[], str]:
    return itertools.cycle(pattern).__next__


# --- the rule ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("share", "delta", "tolerance"),
    [
        (0.5, 0.1, 0.1),
        (0.2, 0.1, 0.1),
        (0.8, 0.1, 0.1),
        (0.1, 0.1, 0.05),
        (0.08, 0.1, 0.04),
        (0.05, 0.1, 0.025),
        (0.01, 0.1, 0.005),
        (0.95, 0.1, 0.025),  # the rest is 5 %: 95 % is caught at 97.5 %, the canary at 2.5 %
        (0.99, 0.1, 0.005),
        (0.05, 0.01, 0.01),  # a smaller delta wins
        (0.5, 0.3, 0.25),
    ],
)
def test_share_tolerance_is_delta_capped_at_half_the_share_and_half_the_rest(
    share: float, delta: float, tolerance: float
) -> None:
    assert math.isclose(share_tolerance(share, delta), tolerance, rel_tol=1e-12)


@pytest.mark.parametrize(("share", "delta"), [(0.0, 0.1), (1.0, 0.1), (0.5, 0.0), (0.5, 1.0)])
def test_share_tolerance_rejects_out_of_range(share: float, delta: float) -> None:
    with pytest.raises(ValueError, match="must be in"):
        share_tolerance(share, delta)


@pytest.mark.parametrize(
    "weights",
    [{"v1": 95, "v3": 5}, {"v1": 99, "v3": 1}, {"v1": 90, "v2": 10}, {"v1": 90, "v2": 5, "v3": 5}, {"a": 1, "b": 1}],
)
def test_every_tested_share_has_both_sides_strictly_inside_0_1(weights: dict[str, float]) -> None:
    p = plan(weights)
    tested = {t.label for t in p.tests}
    assert len(p.tests) == 2 * len(tested)
    for t in p.tests:
        assert 0.0 < t.p1 < 1.0
        assert math.isclose(abs(t.p1 - t.p0), p.tolerances[t.label], rel_tol=1e-12)
        assert math.isclose(t.log_reject, math.log(len(p.tests) / ALPHA))


def test_a_two_label_plan_is_the_same_whichever_label_comes_first() -> None:
    a, b = plan({"v1": 95, "v3": 5}), plan({"v3": 5, "v1": 95})
    assert math.isclose(a.tolerances["v1"], a.tolerances["v3"], rel_tol=1e-12)
    assert {t.side: round(1 - t.p1, 12) for t in a.tests} == {
        ("below" if t.side == "above" else "above"): round(t.p1, 12) for t in b.tests
    }
    assert a.starved == b.starved
    assert a.max_pages == b.max_pages


# --- starved canaries: a version with weight > 0 that never answers fails -------------------------------------


@pytest.mark.parametrize(
    ("weights", "pages"),
    [
        ({"v1": 95, "v3": 5}, 559),
        ({"v1": 99, "v3": 1}, 2880),
        ({"v1": 92, "v3": 8}, 341),
        ({"v3": 5, "v1": 95}, 559),  # the starved label tested itself ("below" test) gives the same count
        ({"v1": 90, "v2": 10}, 269),
        ({"v1": 50, "v3": 50}, 80),
    ],
)
def test_all_traffic_on_v1_fails_a_split_that_gives_another_version_weight(
    weights: dict[str, float], pages: int
) -> None:
    # Every page is v1, so the ratio of the test guarding the starved share grows by the same step each page:
    # ln((1 - p0 + d) / (1 - p0)) with p0 the starved share and d its tolerance, up to ln(2 / alpha).
    starved = next(label for label in weights if label != "v1")
    p0 = normalise_weights(weights)[starved]
    d = share_tolerance(p0, 0.1)
    assert pages == math.ceil(math.log(2 / ALPHA) / math.log((1 - p0 + d) / (1 - p0)))
    assert plan(weights).starved[starved] == pages
    result = check_split(cycle(["v1"]), weights)
    assert result.decision == "fail"
    assert result.requests == pages
    assert result.counts == {**dict.fromkeys(weights, 0), "v1": pages}
    assert f"{starved} never answered in {pages} pages despite a positive weight" in result.reason


def test_a_starved_version_among_three_fails_within_its_bound_however_the_rest_falls() -> None:
    weights = {"v1": 90, "v2": 5, "v3": 5}
    bound = plan(weights).starved["v3"]
    rng = random.Random(8)
    for truth in ({"v1": 0.9 / 0.95, "v2": 0.05 / 0.95}, {"v1": 0.5, "v2": 0.5}, {"v1": 1.0}):
        for _ in range(50):
            stream = iter(rng.choices(list(truth), weights=list(truth.values()), k=bound))
            result = check_split(stream.__next__, weights)
            assert result.decision == "fail"
            assert result.requests <= bound


def test_the_starved_canary_bound_is_below_the_cap_so_it_never_ends_undecided() -> None:
    for weights in ({"v1": 99, "v3": 1}, {"v1": 999, "v3": 1}, {"v1": 98, "v2": 1, "v3": 1}):
        p = plan(weights)
        assert max(p.starved.values()) <= p.max_pages


# --- shares at and off their tolerance, deterministic streams --------------------------------------------------


@pytest.mark.parametrize(
    ("weights", "pattern"),
    [
        ({"v1": 95, "v3": 5}, ["v1"] * 19 + ["v3"]),
        ({"v1": 99, "v3": 1}, ["v1"] * 99 + ["v3"]),
        ({"v1": 92, "v3": 8}, ["v1"] * 23 + ["v3"] * 2),
        ({"v1": 90, "v2": 5, "v3": 5}, ["v1"] * 18 + ["v2", "v3"]),
    ],
)
def test_a_correct_small_canary_reaches_a_pass_within_the_cap(weights: dict[str, float], pattern: list[str]) -> None:
    result = check_split(cycle(pattern), weights)
    assert result.decision == "pass", result.reason
    assert result.requests < result.max_requests == plan(weights).max_pages
    assert {t.state for t in result.tests} == {"accepted"}


@pytest.mark.parametrize(
    ("weights", "pattern", "side"),
    [
        ({"v1": 95, "v3": 5}, ["v1"] * 39 + ["v3"], "above"),  # 97.5 / 2.5
        ({"v1": 95, "v3": 5}, ["v1"] * 37 + ["v3"] * 3, "below"),  # 92.5 / 7.5
        ({"v1": 99, "v3": 1}, ["v1"] * 199 + ["v3"], "above"),  # 99.5 / 0.5
        ({"v1": 99, "v3": 1}, ["v1"] * 197 + ["v3"] * 3, "below"),  # 98.5 / 1.5
    ],
)
def test_a_canary_off_by_its_tolerance_fails(weights: dict[str, float], pattern: list[str], side: str) -> None:
    result = check_split(cycle(pattern), weights)
    assert result.decision == "fail", result.reason
    rejected = [t for t in result.tests if t.state == "rejected"]
    assert [(t.label, t.side) for t in rejected] == [("v1", side)]


def test_the_old_absolute_tolerance_would_have_passed_a_starved_95_5() -> None:
    # The regression this rule fixes: with an absolute 0.10 the check passed all-v1 after 66 pages. Any
    # delta still gives a starved canary a tolerance of at most half its share.
    for delta in (0.1, 0.5, 0.9):
        result = check_split(cycle(["v1"]), {"v1": 95, "v3": 5}, delta=delta)
        assert result.decision == "fail"
        assert result.requests == 559


# --- the cap follows the plan --------------------------------------------------------------------------------


def test_the_cap_is_where_a_correct_mesh_still_has_an_open_test_with_probability_at_most_alpha() -> None:
    caps = {}
    for name, weights in {"50/50": {"a": 1, "b": 1}, "95/5": {"a": 95, "b": 5}, "99/1": {"a": 99, "b": 1}}.items():
        p = plan(weights)
        assert sum(t.open_probability(p.max_pages, t.p0) for t in p.tests) <= ALPHA
        assert sum(t.open_probability(p.max_pages // 2, t.p0) for t in p.tests) > ALPHA
        caps[name] = p.max_pages
    assert caps["50/50"] < caps["95/5"] < caps["99/1"]
    assert caps["50/50"] > 2000 and caps["99/1"] > 5000  # the old fixed cap would cut a 1 % canary short


def test_open_probability_bounds_the_binomial_mass_of_the_undecided_band() -> None:
    # Brute force for a few small n: sum the pmf over every h whose ratio is strictly between the bounds.
    p = plan({"a": 95, "b": 5})
    for t in p.tests:
        for n in (50, 400, 1500):
            band = sum(
                math.comb(n, h) * t.p0**h * (1 - t.p0) ** (n - h) for h in range(n + 1) if t.decide(h, n - h) is None
            )
            bound = t.open_probability(n, t.p0)
            assert band <= bound * (1 + 1e-9)
            # One h either side of the band is added on purpose; the bound is no more than that.
            wider = sum(
                math.comb(n, h) * t.p0**h * (1 - t.p0) ** (n - h)
                for h in range(n + 1)
                if t.log_accept - abs(t.hit - t.miss) <= t.llr(h, n - h) <= t.log_reject + abs(t.hit - t.miss)
            )
            assert bound <= wider * (1 + 1e-9) + 1e-300


def test_plan_cap_grows_with_a_smaller_budget() -> None:
    tests = plan({"a": 95, "b": 5}).tests
    assert plan_cap(tests, budget=1e-3) < plan_cap(tests, budget=1e-6) < plan_cap(tests, budget=1e-9)


def test_check_split_uses_the_plan_cap_unless_given_one() -> None:
    indifferent = ["v1"] * 79 + ["v3"]  # 98.75 / 1.25: between 1 % and its tolerance, never decides quickly
    result = check_split(cycle(indifferent), {"v1": 99, "v3": 1}, max_requests=3000)
    assert result.decision == "undecided"
    assert result.requests == result.max_requests == 3000
    assert "a correct mesh reaches the plan's cap of 58353 with probability <= 1e-06" in result.reason
    assert check_split(cycle(["v1"]), {"v1": 99, "v3": 1}).max_requests == plan({"v1": 99, "v3": 1}).max_pages


def test_a_tolerance_needing_more_than_the_largest_cap_is_a_user_error() -> None:
    with pytest.raises(UserInputError) as info:
        check_split(cycle(["v1", "v3"]), {"v1": 1, "v3": 1}, delta=1e-5)
    assert info.value.field == "delta"
    assert "use a larger delta" in str(info.value)


# --- what the result says ------------------------------------------------------------------------------------


def test_explain_names_each_tolerance() -> None:
    result = check_split(cycle(["v1"] * 19 + ["v3"]), {"v1": 95, "v3": 5})
    text = result.explain()
    assert "v1 0.95 ± 0.025, v3 0.05 ± 0.025" in text
    assert "a correct mesh fails with probability <= 1e-06" in text
    assert "a version that never answers fails" in text
    assert {k: round(v, 12) for k, v in result.to_dict()["tolerances"].items()} == {"v1": 0.025, "v3": 0.025}
