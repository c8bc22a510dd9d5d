"""Unit tests of meshrelease.verdict.checks: decisions on scripted page sequences, texts, options, input errors."""

from __future__ import annotations

import itertools
import json
import math
import random
from collections.abc import Iterable

import pytest

from meshrelease.errors import UserInputError
from meshrelease.verdict.checks import (
    NONE_KEY,
    VerdictResult,
    check_split,
    check_version,
    normalise_weights,
    required_samples_single,
)
from meshrelease.verdict.sprt import plan_split


class Script:
    """A sampler that replays labels (cycling when ``cycle``) and counts how often it was called."""

    def __init__(self, labels: Iterable[str | None], *, cycle: bool = False) -> None:
        items = list(labels)
        self._it = itertools.cycle(items) if cycle else iter(items)
        self.calls = 0

    def __call__(self) -> str | None:
        self.calls += 1
        return next(self._it)


def repeat(label: str | None, times: int) -> list[str | None]:
    return [label] * times


# --- required_samples_single ---------------------------------------------------------------------------


def test_required_samples_single_is_66_at_the_defaults() -> None:
    assert required_samples_single(0.10, 1e-3) == 66


@pytest.mark.parametrize(("delta", "beta"), [(0.1, 1e-3), (0.05, 1e-3), (0.2, 1e-6), (0.5, 0.25), (0.01, 0.01)])
def test_required_samples_single_is_the_smallest_n(delta: float, beta: float) -> None:
    n = required_samples_single(delta, beta)
    assert (1 - delta) ** n <= beta
    assert n == 1 or (1 - delta) ** (n - 1) > beta


@pytest.mark.parametrize(("delta", "beta"), [(0.0, 1e-3), (1.0, 1e-3), (0.1, 0.0), (0.1, 1.0)])
def test_required_samples_single_rejects_out_of_range(delta: float, beta: float) -> None:
    with pytest.raises(ValueError, match="must be in"):
        required_samples_single(delta, beta)


# --- check_version ---------------------------------------------------------------------------------------


def test_single_version_passes_after_exactly_66_agreeing_pages() -> None:
    sample = Script(repeat("v2", 1000))
    result = check_version(sample, "v2")
    assert result.decision == "pass"
    assert result.passed is True
    assert result.requests == 66
    assert sample.calls == 66
    assert result.counts == {"v2": 66}
    assert result.expected == {"v2": 1.0}


def test_single_version_fails_at_the_first_other_label() -> None:
    sample = Script([*repeat("v2", 40), "v1", *repeat("v2", 100)])
    result = check_version(sample, "v2")
    assert result.decision == "fail"
    assert result.passed is False
    assert result.requests == 41
    assert sample.calls == 41  # stopped at once
    assert result.counts == {"v2": 40, "v1": 1}
    assert "request 41 showed 'v1'" in result.reason


def test_single_version_fails_on_a_page_without_a_label() -> None:
    result = check_version(Script(["v2", None, "v2"]), "v2")
    assert result.decision == "fail"
    assert result.counts == {"v2": 1, NONE_KEY: 1}
    assert "no label" in result.reason
    assert "allow_none=True" in result.reason


def test_single_version_with_allow_none_counts_blank_pages_but_needs_66_agreeing() -> None:
    sample = Script(["v2", None], cycle=True)
    result = check_version(sample, "v2", allow_none=True)
    assert result.passed
    assert result.counts == {"v2": 66, NONE_KEY: 65}
    assert result.requests == 131
    assert result.observed_shares() == {"v2": 1.0}


def test_single_version_delta_and_beta_set_the_length() -> None:
    result = check_version(Script(repeat("v3", 1000)), "v3", delta=0.05, beta=1e-4)
    assert result.passed
    assert result.requests == required_samples_single(0.05, 1e-4) == 180


def test_single_version_max_requests_below_the_needed_length_is_undecided() -> None:
    result = check_version(Script(repeat("v2", 1000)), "v2", max_requests=30)
    assert result.decision == "undecided"
    assert result.passed is False
    assert result.requests == 30
    assert "max_requests=30" in result.reason


def test_single_version_with_only_blank_pages_is_undecided_at_the_cap() -> None:
    result = check_version(Script(repeat(None, 500)), "v2", allow_none=True, max_requests=200)
    assert result.decision == "undecided"
    assert result.counts == {"v2": 0, NONE_KEY: 200}
    assert "200 pages showed no label" in result.reason


def test_single_version_labels_are_arbitrary_strings() -> None:
    # "none" is a real stars label and must not be confused with pages that show nothing.
    assert check_version(Script(repeat("none", 100)), "none").passed
    result = check_version(Script(["unavailable", "yes"]), "unavailable")
    assert result.decision == "fail"
    assert result.counts == {"unavailable": 1, "yes": 1}


def test_single_version_explain_states_expected_observed_and_guarantee() -> None:
    passed = check_version(Script(repeat("v2", 100)), "v2").explain()
    assert "PASS" in passed
    assert "v2 1.00 vs 1.00 (66/66)" in passed
    assert "within 66 pages" in passed
    failed = check_version(Script(["v2", "v2", "v1"]), "v2").explain()
    assert "FAIL" in failed
    assert "v2 1.00 vs 0.667 (2/3)" in failed
    assert "v1 not expected vs 0.333 (1/3)" in failed


# --- check_split: immediate failures ---------------------------------------------------------------------


def test_split_fails_at_once_on_a_foreign_label() -> None:
    sample = Script(["v2", "v3", "v2", "v1", "v3"])
    result = check_split(sample, {"v2": 50, "v3": 50})
    assert result.decision == "fail"
    assert result.requests == 4
    assert sample.calls == 4
    assert result.counts == {"v2": 2, "v3": 1, "v1": 1}
    assert "request 4 showed 'v1', which is not expected" in result.reason


def test_split_fails_at_once_on_a_zero_weight_label() -> None:
    result = check_split(Script(["v3", "v1"]), {"v1": 0, "v2": 50, "v3": 50})
    assert result.decision == "fail"
    assert result.requests == 2
    assert result.counts == {"v1": 1, "v2": 0, "v3": 1}
    assert "expected weight is 0" in result.reason


def test_split_fails_at_once_on_a_blank_page_unless_allowed() -> None:
    result = check_split(Script(["v2", None]), {"v2": 1, "v3": 1})
    assert result.decision == "fail"
    assert result.counts == {"v2": 1, "v3": 0, NONE_KEY: 1}
    allowed = check_split(Script(["v2", None, "v3", None], cycle=True), {"v2": 1, "v3": 1}, allow_none=True)
    assert allowed.passed
    assert allowed.counts[NONE_KEY] == allowed.requests // 2
    assert allowed.observed_shares() == {"v2": 0.5, "v3": 0.5}


def test_split_with_one_positive_weight_is_a_single_version_check() -> None:
    passed = check_split(Script(repeat("v1", 200)), {"v1": 100, "v2": 0})
    assert passed.passed
    assert passed.requests == 66
    assert passed.kind == "split"
    assert passed.expected == {"v1": 1.0, "v2": 0.0}
    assert passed.counts == {"v1": 66, "v2": 0}
    assert "a leak of >= 10 % to any other label shows within 66 pages" in passed.explain()
    failed = check_split(Script(["v1", "v2"]), {"v1": 100, "v2": 0})
    assert failed.decision == "fail"
    assert "expected weight is 0" in failed.reason


# --- check_split: sequential decisions ---------------------------------------------------------------------


def replay(weights: dict[str, float], pages: Iterable[str]) -> tuple[str, int]:
    """Runs ``pages`` through every test of the plan on every page (no check_split): decision, page."""
    plan = plan_split(normalise_weights(weights), alpha=1e-6, beta=1e-3, delta=0.1, beta_fraction=0.7)
    accepted: set[int] = set()
    counts = dict.fromkeys(weights, 0)
    n = 0
    for n, label in enumerate(pages, start=1):
        counts[label] += 1
        for k, test in enumerate(plan.tests):
            if k in accepted:
                continue
            decision = test.decide(counts[test.label], n - counts[test.label])
            if decision == "reject":
                return "fail", n
            if decision == "accept":
                accepted.add(k)
        if len(accepted) == len(plan.tests):
            return "pass", n
        assert n < 100_000
    return "undecided", n


@pytest.mark.parametrize(
    ("weights", "pattern"),
    [
        ({"v2": 50, "v3": 50}, ["v2", "v3"]),
        ({"v2": 50, "v3": 50}, ["v3", "v2", "v3", "v3", "v2"]),  # 60 % v3: fails
        ({"v1": 80, "v2": 20}, ["v1", "v1", "v1", "v1", "v2"]),
        ({"v1": 90, "v2": 10}, ["v1"] * 9 + ["v2"]),
        ({"a": 1, "b": 1, "c": 1}, ["a", "b", "c"]),
        ({"a": 1, "b": 1, "c": 1}, ["a", "a", "b", "c", "a", "b"]),  # a at 0.5: fails
    ],
)
def test_split_decides_where_its_sprts_do(weights: dict[str, float], pattern: list[str]) -> None:
    expected_decision, expected_n = replay(weights, itertools.cycle(pattern))
    result = check_split(Script(pattern, cycle=True), weights)
    assert (result.decision, result.requests) == (expected_decision, expected_n)
    assert sum(result.counts.values()) == expected_n


@pytest.mark.parametrize(
    ("weights", "truth"),
    [
        ({"v2": 50, "v3": 50}, {"v2": 0.5, "v3": 0.5}),
        ({"v2": 50, "v3": 50}, {"v2": 0.6, "v3": 0.4}),
        ({"v1": 90, "v2": 10}, {"v1": 0.9, "v2": 0.1}),
        ({"v1": 90, "v2": 10}, {"v1": 0.8, "v2": 0.2}),
        ({"a": 1, "b": 1, "c": 1}, {"a": 0.4, "b": 0.35, "c": 0.25}),
        ({"a": 2, "b": 1, "c": 1}, {"a": 0.5, "b": 0.25, "c": 0.25}),
    ],
)
def test_split_matches_a_direct_replay_of_its_sprts_on_random_streams(
    weights: dict[str, float], truth: dict[str, float]
) -> None:
    # The check only looks at a test on a miss when its deadline comes; replaying every test on every
    # page must give the same decision at the same request.
    rng = random.Random(2024)
    for _ in range(40):
        stream = rng.choices(list(truth), weights=list(truth.values()), k=3000)
        result = check_split(Script(stream), weights)
        assert (result.decision, result.requests) == replay(weights, stream)


def test_split_exact_alternation_passes_50_50_well_under_500_requests() -> None:
    result = check_split(Script(["v2", "v3"], cycle=True), {"v2": 50, "v3": 50})
    assert result.passed
    assert result.requests < 500
    assert {t.state for t in result.tests} == {"accepted"}


def test_split_90_10_all_on_v1_fails_after_the_run_an_sprt_against_95_percent_needs() -> None:
    # The tolerance of 90/10 is 0.05 (half of the 10 % share): v1's "above" test (0.90 against 0.95)
    # rejects after n pages of v1 in a row with n * ln(0.95 / 0.9) >= ln(2 / alpha).
    result = check_split(Script(repeat("v1", 1000)), {"v1": 90, "v2": 10})
    assert result.decision == "fail"
    assert result.requests == math.ceil(math.log(2 / 1e-6) / math.log(0.95 / 0.9)) == 269
    assert "v1 share 1.00" in result.reason
    assert "in favour of 0.95" in result.reason
    assert "v2 never answered in 269 pages despite a positive weight" in result.reason


def test_split_explain_shows_expected_and_observed_shares_with_counts() -> None:
    result = check_split(Script(["v3", "v2", "v3", "v3", "v2"], cycle=True), {"v2": 50, "v3": 50})
    assert result.decision == "fail"
    n = result.requests
    v2, v3 = result.counts["v2"], result.counts["v3"]
    text = result.explain()
    assert f"v2 0.50 vs {v2 / n:.3f} ({v2}/{n})" in text or f"v2 0.50 vs {v2 / n:.2f} ({v2}/{n})" in text
    assert f"({v3}/{n})" in text
    assert f"v2 share {v2 / n:.3f} ({v2}/{n}) is below 0.50" in result.reason
    assert f"so v3 {v3 / n:.3f} ({v3}/{n}) is above 0.50" in result.reason
    assert "an SPRT rejected 0.50 in favour of 0.40 (α=1e-06)" in result.reason
    assert "fails with probability <= 1e-06" in text


def test_split_max_requests_ends_undecided_never_passed() -> None:
    # 55 % v2 sits between 0.50 and 0.60: the "above" test cannot decide within 100 pages.
    pattern = ["v2", "v3"] * 9 + ["v2", "v2"]
    result = check_split(Script(pattern, cycle=True), {"v2": 50, "v3": 50}, max_requests=100)
    assert result.decision == "undecided"
    assert result.passed is False
    assert result.requests == 100
    assert "max_requests=100" in result.reason
    assert "still open" in result.reason
    assert any(t.state == "open" for t in result.tests)


def test_split_on_progress_is_called_every_n_requests_and_at_the_end() -> None:
    seen: list[tuple[dict[str, int], int]] = []
    result = check_split(
        Script(["v2", "v3"], cycle=True),
        {"v2": 50, "v3": 50},
        on_progress=lambda counts, requests: seen.append((counts, requests)),
        progress_every=25,
    )
    assert [r for _, r in seen[:-1]] == list(range(25, result.requests, 25))
    assert seen[-1] == (result.counts, result.requests)
    assert seen[0][0] == {"v2": 13, "v3": 12}


def test_version_on_progress_is_called_every_n_requests_and_at_the_end() -> None:
    seen: list[int] = []
    check_version(Script(repeat("v1", 100)), "v1", on_progress=lambda _c, r: seen.append(r), progress_every=20)
    assert seen == [20, 40, 60, 66]


def test_split_labels_and_weights_are_normalised() -> None:
    result = check_split(Script(["a", "b", "b", "b"], cycle=True), {"a": 1, "b": 3})
    assert result.expected == {"a": 0.25, "b": 0.75}
    assert result.passed


def test_result_to_dict_is_json_ready_and_complete() -> None:
    result = check_split(Script(["v1"] * 9 + ["v2"], cycle=True), {"v1": 90, "v2": 10})
    data = json.loads(json.dumps(result.to_dict()))
    assert data["decision"] == "pass"
    assert data["passed"] is True
    assert data["counts"] == result.counts
    assert data["expected"] == {"v1": 0.9, "v2": 0.1}
    assert data["explanation"] == result.explain()
    assert sorted(round(t["alternative"], 9) for t in data["tests"]) == [0.85, 0.95]
    assert {label: round(tol, 9) for label, tol in data["tolerances"].items()} == {"v1": 0.05, "v2": 0.05}
    assert data["max_requests"] == result.max_requests > 5000  # the plan's cap


# --- plan ----------------------------------------------------------------------------------------------


def test_plan_tests_one_label_of_two_and_does_not_double_count_alpha() -> None:
    plan = plan_split({"v2": 0.5, "v3": 0.5}, alpha=1e-6, beta=1e-3, delta=0.1, beta_fraction=0.7)
    assert [(t.label, t.side, t.p1) for t in plan.tests] == [("v2", "above", 0.6), ("v2", "below", 0.4)]
    assert all(math.isclose(t.log_reject, math.log(2 / 1e-6)) for t in plan.tests)
    assert all(math.isclose(t.log_accept, math.log(0.7e-3)) for t in plan.tests)


def test_plan_tests_every_label_on_both_sides_for_three_labels() -> None:
    plan = plan_split({"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}, alpha=1e-6, beta=1e-3, delta=0.1, beta_fraction=1.0)
    assert len(plan.tests) == 6
    assert all(math.isclose(t.log_reject, math.log(6 / 1e-6)) for t in plan.tests)


def test_plan_tests_both_sides_of_a_large_share_at_the_small_shares_tolerance() -> None:
    # 95/5: the canary's tolerance is 2.5 points, so v1 is tested at 97.5 % (the canary at 2.5 %) and at
    # 92.5 % (the canary at 7.5 %) -- both sides, alpha split over the two.
    plan = plan_split({"a": 0.95, "b": 0.05}, alpha=1e-6, beta=1e-3, delta=0.1, beta_fraction=0.7)
    assert [(t.label, t.side, round(t.p1, 9)) for t in plan.tests] == [("a", "above", 0.975), ("a", "below", 0.925)]
    assert all(math.isclose(t.log_reject, math.log(2 / 1e-6)) for t in plan.tests)
    assert {label: round(tol, 9) for label, tol in plan.tolerances.items()} == {"a": 0.025, "b": 0.025}
    swapped = plan_split({"b": 0.05, "a": 0.95}, alpha=1e-6, beta=1e-3, delta=0.1, beta_fraction=0.7)
    assert [(t.label, t.side, round(t.p1, 9)) for t in swapped.tests] == [("b", "above", 0.075), ("b", "below", 0.025)]
    assert swapped.max_pages == plan.max_pages


def test_split_95_5_still_catches_a_drop_to_85_15() -> None:
    # 85/15 is off by four times the tolerance: it must fail (deterministic pattern at exactly 85 %).
    pattern = ["a"] * 17 + ["b"] * 3
    result = check_split(Script(pattern, cycle=True), {"a": 95, "b": 5})
    assert result.decision == "fail"


# --- input validation --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({}, "no labels given"),
        ({"v2": -5, "v3": 50}, "the weight of 'v2' is negative (-5)"),
        ({"v2": 0, "v3": 0.0}, "all weights are 0 (v2: 0, v3: 0.0)"),
        ({"v2": "50", "v3": 50}, "the weight of 'v2' must be a number, got '50' (str)"),
        ({"v2": None, "v3": 50}, "the weight of 'v2' must be a number, got None"),
        ({"v2": True, "v3": 50}, "got True (bool)"),
        ({"v2": math.nan, "v3": 50}, "must be a finite number"),
        ({"v2": math.inf, "v3": 50}, "must be a finite number"),
        ({2: 50, "v3": 50}, "labels must be non-empty strings, got 2 (int)"),
        ({"": 50, "v3": 50}, "labels must be non-empty strings"),
        ({NONE_KEY: 50, "v3": 50}, "reserved"),
        (["v2", "v3"], "expected a mapping of label to weight"),
    ],
)
def test_split_rejects_bad_weights_with_a_clear_message(weights: object, message: str) -> None:
    sample = Script(repeat("v2", 10))
    with pytest.raises(UserInputError) as info:
        check_split(sample, weights)  # type: ignore[arg-type]
    assert message in str(info.value)
    assert info.value.field == "weights"
    assert sample.calls == 0


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"alpha": 0}, "alpha"),
        ({"alpha": 1.5}, "alpha"),
        ({"beta": -0.1}, "beta"),
        ({"delta": 1}, "delta"),
        ({"delta": "0.1"}, "delta"),
        ({"max_requests": 0}, "max_requests"),
        ({"max_requests": 10.5}, "max_requests"),
        ({"progress_every": 0}, "progress_every"),
        ({"beta_fraction": 0}, "beta_fraction"),
        ({"delta": 1e-5}, "delta"),  # 50/50 at +/-0.001 % would need billions of pages
    ],
)
def test_split_rejects_bad_options(options: dict[str, object], field: str) -> None:
    with pytest.raises(UserInputError) as info:
        check_split(Script(repeat("v2", 10)), {"v2": 1, "v3": 1}, **options)  # type: ignore[arg-type]
    assert info.value.field == field


@pytest.mark.parametrize("version", ["", None, NONE_KEY])
def test_version_rejects_a_bad_label(version: object) -> None:
    with pytest.raises(UserInputError, match="non-empty label"):
        check_version(Script(repeat("v2", 10)), version)  # type: ignore[arg-type]


def test_version_rejects_bad_options() -> None:
    with pytest.raises(UserInputError, match="max_requests"):
        check_version(Script(repeat("v2", 10)), "v2", max_requests=-1)


def test_results_are_frozen_dataclasses() -> None:
    result: VerdictResult = check_version(Script(repeat("v2", 100)), "v2")
    with pytest.raises(AttributeError):
        result.decision = "fail"  # type: ignore[misc]


# --- check_spread (the default route over all versions) -------------------------------------------------


def test_spread_passes_when_every_version_answers_and_nothing_else() -> None:
    from meshrelease.verdict.checks import check_spread

    labels = iter(["v1", "v2", "v3"] * 100)
    result = check_spread(lambda: next(labels), ["v1", "v2", "v3"])
    assert result.passed and result.kind == "spread"
    assert result.requests == required_samples_single(0.10, 1e-3)
    assert result.counts == {"v1": 22, "v2": 22, "v3": 22}
    assert "every listed version answered" in result.explain()


def test_spread_fails_on_a_missing_version_after_the_cap() -> None:
    from meshrelease.verdict.checks import check_spread

    labels = iter(["v1", "v2"] * 100)
    result = check_spread(lambda: next(labels), ["v1", "v2", "v3"], max_requests=150)
    assert result.decision == "fail" and result.requests == 150
    assert "v3 never answered in 150 pages" in result.reason


def test_spread_fails_at_once_on_a_foreign_label() -> None:
    from meshrelease.verdict.checks import check_spread

    labels = iter(["v1", "v2", "v3", "unavailable", "v1"])
    result = check_spread(lambda: next(labels), ["v1", "v2", "v3"])
    assert result.decision == "fail" and result.requests == 4
    assert result.counts["unavailable"] == 1


def test_spread_rejects_bad_input() -> None:
    from meshrelease.verdict.checks import check_spread

    with pytest.raises(UserInputError):
        check_spread(lambda: "v1", ["v1"])
