"""How many requests the verdicts need, and how often they err, beside the "100 requests, ±10" rule.

For 50/50, 80/20, 90/10, one third each and a single version, simulates ``--runs`` checks at the true
weights and ``--runs`` with one share off by delta (0.10), and prints for each: mean and 99th-percentile
requests to a decision, the observed false-failure and miss rates, and -- on the very same page
streams (the first 100 pages of each run) -- the rates of Istio's rule: 100 requests, every share
within ±10 requests inclusive. For two-label splits it also prints the exact rates and mean (computed,
not sampled; see meshrelease.verdict.exact).

    .venv/bin/python bench/verdict_efficiency.py [--runs 3000] [--seed 1] [--no-exact]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from itertools import accumulate

from meshrelease.verdict.checks import (
    DEFAULT_ALPHA,
    DEFAULT_BETA,
    DEFAULT_BETA_FRACTION,
    DEFAULT_DELTA,
    VerdictResult,
    check_split,
    check_version,
    normalise_weights,
    required_samples_single,
)
from meshrelease.verdict.exact import split_characteristics
from meshrelease.verdict.sprt import plan_split

THIRD = 1 / 3
RULE_REQUESTS = 100
RULE_TOLERANCE = 10


@dataclass(frozen=True)
class Case:
    name: str
    expected: dict[str, float]  # weights, or {version: 1} for the single-version check
    truth_off: dict[str, float]  # true shares with one share off by delta
    single: bool = False


CASES = [
    Case("50/50", {"v2": 50, "v3": 50}, {"v2": 0.6, "v3": 0.4}),
    Case("80/20", {"v1": 80, "v2": 20}, {"v1": 0.7, "v2": 0.3}),
    Case("80/20", {"v1": 80, "v2": 20}, {"v1": 0.9, "v2": 0.1}),
    Case("90/10", {"v1": 90, "v2": 10}, {"v1": 0.8, "v2": 0.2}),
    Case("thirds", {"v1": 1, "v2": 1, "v3": 1}, {"v1": THIRD + 0.1, "v2": THIRD, "v3": THIRD - 0.1}),
    Case("single v2", {"v2": 1}, {"v2": 0.9, "v1": 0.1}, single=True),
]


class RecordingSampler:
    """Independent pages with the given shares; keeps the first pages for the 100-request rule."""

    def __init__(self, rng: random.Random, shares: Mapping[str, float]) -> None:
        self.rng = rng
        self.labels = list(shares)
        self.cumulative = list(accumulate(shares.values()))
        self.first: list[str] = []
        self._pages = self._stream()

    def _stream(self) -> Iterator[str]:
        while True:
            yield from self.rng.choices(self.labels, cum_weights=self.cumulative, k=128)

    def __call__(self) -> str | None:
        page = next(self._pages)
        if len(self.first) < RULE_REQUESTS:
            self.first.append(page)
        return page

    def first_pages(self) -> list[str]:
        """The first 100 pages of this stream (drawing more if the check stopped earlier)."""
        while len(self.first) < RULE_REQUESTS:
            self.first.append(next(self._pages))
        return self.first


def rule_passes(pages: list[str], shares: Mapping[str, float]) -> bool:
    """The "100 requests, ±10" rule: every label's count within ±10 (inclusive) of 100 x its share.

    Labels seen but not expected count as share 0, so up to 10 stray pages pass, as they would in a
    check that compares each host's count with its weight.
    """
    counts = dict.fromkeys(shares, 0)
    for page in pages:
        counts[page] = counts.get(page, 0) + 1
    return all(abs(count - RULE_REQUESTS * shares.get(label, 0.0)) <= RULE_TOLERANCE for label, count in counts.items())


@dataclass
class Tally:
    requests: list[int]
    passed: int = 0
    failed: int = 0
    undecided: int = 0
    rule_passed: int = 0

    def add(self, result: VerdictResult, rule_ok: bool) -> None:
        self.requests.append(result.requests)
        self.passed += result.decision == "pass"
        self.failed += result.decision == "fail"
        self.undecided += result.decision == "undecided"
        self.rule_passed += rule_ok

    @property
    def runs(self) -> int:
        return len(self.requests)

    def mean(self) -> float:
        return sum(self.requests) / self.runs

    def p99(self) -> int:
        ordered = sorted(self.requests)
        return ordered[math.ceil(0.99 * len(ordered)) - 1]


def simulate(case: Case, truth: Mapping[str, float], runs: int, seed: str) -> Tally:
    rng = random.Random(seed)
    shares = normalise_weights(case.expected)
    check: Callable[[RecordingSampler], VerdictResult]
    if case.single:
        version = next(iter(case.expected))
        check = lambda s: check_version(s, version)  # noqa: E731
    else:
        check = lambda s: check_split(s, case.expected)  # noqa: E731
    tally = Tally([])
    for _ in range(runs):
        sample = RecordingSampler(rng, truth)
        result = check(sample)
        tally.add(result, rule_passes(sample.first_pages(), shares))
    return tally


def rate(count: int, runs: int) -> str:
    return f"{count}/{runs}" if count else f"0/{runs}"


def percent(count: int, runs: int) -> str:
    return f"{100 * count / runs:.1f}%"


def exact_figures(case: Case) -> str:
    shares = normalise_weights(case.expected)
    if case.single:
        n = required_samples_single(DEFAULT_DELTA, DEFAULT_BETA)
        return f"n={n}, P(fail)=0, P(miss)={(1 - DEFAULT_DELTA) ** n:.2e}"
    if sum(1 for share in shares.values() if share > 0) != 2:
        return "-"
    plan = plan_split(
        shares,
        alpha=DEFAULT_ALPHA,
        beta=DEFAULT_BETA,
        delta=DEFAULT_DELTA,
        beta_fraction=DEFAULT_BETA_FRACTION,
    )
    tested = plan.tests[0].label
    at_truth = split_characteristics(plan, shares[tested])
    off = split_characteristics(plan, case.truth_off[tested])
    return (
        f"E[n]={at_truth.mean_pages:.1f}, P(fail)={at_truth.p_fail:.1e} | "
        f"E[n]={off.mean_pages:.1f}, P(miss)={off.p_pass:.1e}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3000, help="checks per case and truth (default 3000)")
    parser.add_argument("--seed", type=int, default=1, help="base seed (default 1)")
    parser.add_argument("--no-exact", action="store_true", help="skip the exact two-label computation")
    args = parser.parse_args(argv)
    if args.runs < 100:
        parser.error("--runs must be at least 100")

    started = time.monotonic()
    print(
        f"verdict efficiency: alpha={DEFAULT_ALPHA:g} beta={DEFAULT_BETA:g} delta={DEFAULT_DELTA:g} "
        f"beta_fraction={DEFAULT_BETA_FRACTION:g}, {args.runs} runs per column, seed {args.seed}"
    )
    print("requests to a decision: mean / p99. SPRT errors: observed count/runs. 100±10: same page streams.\n")
    header = (
        f"{'case':<10} {'mean':>5} {'p99':>5} {'false fail':>10} {'100±10 ff':>9} | "
        f"{'off by δ':<15} {'mean':>5} {'p99':>5} {'miss':>9} {'100±10 miss':>11}"
    )
    if not args.no_exact:
        header += " | exact (truth | off by δ)"
    print(header)
    print("-" * len(header))
    truth_cache: dict[str, Tally] = {}
    for case in CASES:
        shares = normalise_weights(case.expected)
        key = case.name
        if key not in truth_cache:
            truth_cache[key] = simulate(case, shares, args.runs, f"{args.seed}:{key}:truth")
        truth = truth_cache[key]
        off_name = "/".join(f"{share * 100:.3g}" for share in case.truth_off.values())
        off = simulate(case, case.truth_off, args.runs, f"{args.seed}:{key}:{off_name}")
        false_fail = rate(truth.failed + truth.undecided, truth.runs)
        row = (
            f"{case.name:<10} {truth.mean():>5.0f} {truth.p99():>5d} {false_fail:>10} "
            f"{percent(truth.runs - truth.rule_passed, truth.runs):>9} | "
            f"{off_name:<15} {off.mean():>5.0f} {off.p99():>5d} {rate(off.passed, off.runs):>9} "
            f"{percent(off.rule_passed, off.runs):>11}"
        )
        if not args.no_exact:
            row += " | " + exact_figures(case)
        print(row, flush=True)
    print(
        "\nfalse fail counts fail + undecided at the true weights; miss counts passes with a share off by δ."
        f"\nelapsed {time.monotonic() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
