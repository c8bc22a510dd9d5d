"""How many requests the verdicts need, and how often they err, beside the "100 requests, ±10" rule.

For each expected split (50/50, 80/20, 90/10, 95/5, 99/1, one third each) and the single-version check,
simulates ``--runs`` checks at the true weights and ``--runs`` for each wrong truth: one share off by
exactly its tolerance δᵢ = min(δ, p/2, (1 - p)/2) in each direction, and starved canaries (a version with
a positive weight that gets no traffic at all). For each it prints the mean and 99th-percentile requests
to a decision, the observed false-failure / miss counts, and -- on the very same page streams (the first
100 pages of each run) -- the rates of Istio's rule: 100 requests, every share within ±10 requests
inclusive. For two-label splits it also prints the exact rates and mean (computed, not sampled; see
meshrelease.verdict.exact). Progress goes to stderr; the whole run takes a few minutes.

    .venv/bin/python bench/verdict_efficiency.py [--runs 3000] [--seed 1] [--no-exact] [--only 99/1]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
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
from meshrelease.verdict.sprt import SplitPlan, plan_split

THIRD = 1 / 3
RULE_REQUESTS = 100
RULE_TOLERANCE = 10


@dataclass(frozen=True)
class Wrong:
    """A wrong truth to run the check against: ``name`` for the table, the true shares, and whether it is a
    starved canary (then every run must fail) or a share off by its tolerance (then a pass is a miss)."""

    name: str
    shares: dict[str, float]
    starved: bool = False


@dataclass(frozen=True)
class Case:
    name: str
    expected: dict[str, float]  # weights, or {version: 1} for the single-version check
    wrong: tuple[Wrong, ...] = field(default_factory=tuple)
    single: bool = False


CASES = [
    Case(
        "50/50",
        {"v2": 50, "v3": 50},
        (Wrong("60/40", {"v2": 0.6, "v3": 0.4}), Wrong("v3 starved", {"v2": 1.0}, starved=True)),
    ),
    Case(
        "80/20",
        {"v1": 80, "v2": 20},
        (Wrong("70/30", {"v1": 0.7, "v2": 0.3}), Wrong("90/10", {"v1": 0.9, "v2": 0.1})),
    ),
    Case(
        "90/10",
        {"v1": 90, "v2": 10},
        (
            Wrong("85/15", {"v1": 0.85, "v2": 0.15}),
            Wrong("95/5", {"v1": 0.95, "v2": 0.05}),
            Wrong("v2 starved", {"v1": 1.0}, starved=True),
        ),
    ),
    Case("92/8", {"v1": 92, "v3": 8}, (Wrong("v3 starved", {"v1": 1.0}, starved=True),)),
    Case(
        "95/5",
        {"v1": 95, "v3": 5},
        (
            Wrong("92.5/7.5", {"v1": 0.925, "v3": 0.075}),
            Wrong("97.5/2.5", {"v1": 0.975, "v3": 0.025}),
            Wrong("v3 starved", {"v1": 1.0}, starved=True),
        ),
    ),
    Case(
        "99/1",
        {"v1": 99, "v3": 1},
        (
            Wrong("98.5/1.5", {"v1": 0.985, "v3": 0.015}),
            Wrong("99.5/0.5", {"v1": 0.995, "v3": 0.005}),
            Wrong("v3 starved", {"v1": 1.0}, starved=True),
        ),
    ),
    Case(
        "90/5/5",
        {"v1": 90, "v2": 5, "v3": 5},
        (Wrong("v3 starved", {"v1": 0.9 / 0.95, "v2": 0.05 / 0.95}, starved=True),),
    ),
    Case(
        "thirds",
        {"v1": 1, "v2": 1, "v3": 1},
        (Wrong("43/33/23", {"v1": THIRD + 0.1, "v2": THIRD, "v3": THIRD - 0.1}),),
    ),
    Case("single v2", {"v2": 1}, (Wrong("10 % leak", {"v2": 0.9, "v1": 0.1}),), single=True),
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
            yield from self.rng.choices(self.labels, cum_weights=self.cumulative, k=256)

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


def default_plan(case: Case) -> SplitPlan:
    return plan_split(
        normalise_weights(case.expected),
        alpha=DEFAULT_ALPHA,
        beta=DEFAULT_BETA,
        delta=DEFAULT_DELTA,
        beta_fraction=DEFAULT_BETA_FRACTION,
    )


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


def binomial_tail(n: int, p: float, k: int) -> float:
    """P(Binomial(n, p) >= k)."""
    return 1.0 - math.fsum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k))


def count(n: int) -> str:
    return str(n) if n else "0"


def percent(n: int, runs: int) -> str:
    return f"{100 * n / runs:.1f}%"


def exact_at(case: Case, truth: Mapping[str, float]) -> str:
    """Exact P(pass) or P(fail) and mean pages for two-label splits ("-" otherwise)."""
    if case.single:
        n = required_samples_single(DEFAULT_DELTA, DEFAULT_BETA)
        leak = 1.0 - truth[next(iter(case.expected))]
        return f"n={n}, P(fail)=0" if leak == 0 else f"P(miss)={(1 - leak) ** n:.2e}"
    if sum(1 for share in normalise_weights(case.expected).values() if share > 0) != 2:
        return "-"
    plan = default_plan(case)
    tested = plan.tests[0].label
    exact = split_characteristics(plan, truth.get(tested, 0.0))
    shares = normalise_weights(case.expected)
    if all(math.isclose(truth.get(label, 0.0), share) for label, share in shares.items()):
        return f"E[n]={exact.mean_pages:.1f}, P(fail)={exact.p_fail:.1e}, P(undecided)={exact.p_undecided:.1e}"
    return f"E[n]={exact.mean_pages:.1f}, P(miss)={exact.p_pass:.1e}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3000, help="checks per row (default 3000)")
    parser.add_argument("--seed", type=int, default=1, help="base seed (default 1)")
    parser.add_argument("--no-exact", action="store_true", help="skip the exact two-label computation")
    parser.add_argument("--only", action="append", default=[], metavar="CASE", help="run only these cases (repeat)")
    args = parser.parse_args(argv)
    if args.runs < 100:
        parser.error("--runs must be at least 100")
    cases = [case for case in CASES if not args.only or case.name in args.only]
    if not cases:
        parser.error(f"no case named {', '.join(args.only)}; cases: {', '.join(c.name for c in CASES)}")

    started = time.monotonic()
    print(
        f"verdict efficiency: alpha={DEFAULT_ALPHA:g} beta={DEFAULT_BETA:g} delta={DEFAULT_DELTA:g} "
        f"beta_fraction={DEFAULT_BETA_FRACTION:g}, {args.runs} runs per row, seed {args.seed}"
    )
    print(
        "requests to a decision: mean / p99. SPRT outcomes: counts of runs. 100±10: the same page streams.\n"
        "Rows 'truth': the expected weights (false fail = fail + undecided). Rows 'off': one share off by its\n"
        "tolerance δᵢ (miss = pass). Rows 'starved': a version with weight > 0 gets no traffic (must fail).\n"
    )
    header = (
        f"{'case':<10} {'δᵢ':>6} {'cap':>6} | {'truth':<16} {'mean':>6} {'p99':>6} {'pass':>5} {'fail':>5} "
        f"{'undec':>5} {'100±10 pass':>11}"
    )
    if not args.no_exact:
        header += " | exact"
    print(header)
    print("-" * len(header), flush=True)
    worst_false_fail = 0
    misses: list[tuple[str, int, int]] = []
    starved_not_failed = 0
    for case in cases:
        shares = normalise_weights(case.expected)
        if case.single:
            tolerance, cap = f"{DEFAULT_DELTA:g}", "-"
        else:
            plan = default_plan(case)
            tolerance = f"{min(plan.tolerances.values()):.3g}"
            cap = str(plan.max_pages)
        rows: list[tuple[str, Mapping[str, float], str]] = [("truth", shares, "truth")]
        rows += [(w.name, w.shares, "starved" if w.starved else "off") for w in case.wrong]
        for index, (name, truth, role) in enumerate(rows):
            row_started = time.monotonic()
            print(f"  {case.name}: {name} ({args.runs} runs) ...", file=sys.stderr, flush=True)
            tally = simulate(case, truth, args.runs, f"{args.seed}:{case.name}:{name}")
            if role == "truth":
                worst_false_fail = max(worst_false_fail, tally.failed + tally.undecided)
            elif role == "off":
                misses.append((f"{case.name} at {name}", tally.passed, tally.runs))
            else:
                starved_not_failed += tally.runs - tally.failed
            label = f"off {name}" if role == "off" else name
            row = (
                f"{case.name if index == 0 else '':<10} {tolerance if index == 0 else '':>6} "
                f"{cap if index == 0 else '':>6} | {label:<16} {tally.mean():>6.0f} {tally.p99():>6d} "
                f"{count(tally.passed):>5} {count(tally.failed):>5} {count(tally.undecided):>5} "
                f"{percent(tally.rule_passed, tally.runs):>11}"
            )
            if not args.no_exact:
                row += " | " + exact_at(case, truth)
            print(row, flush=True)
            print(f"    done in {time.monotonic() - row_started:.0f} s", file=sys.stderr, flush=True)
    beta_accept = DEFAULT_BETA_FRACTION * DEFAULT_BETA
    print(f"\nfalse failures at the true weights (fail + undecided), worst row: {worst_false_fail}")
    print(f"starved canaries that did not fail: {starved_not_failed}")
    print(
        f"misses at δᵢ: guaranteed <= β' = {beta_accept:g} a run for splits, <= β = {DEFAULT_BETA:g} for one "
        "version.\nP(>= k | β): the chance of k or more misses at a rate of exactly β (a small one would mean "
        "the rate exceeds β)"
    )
    for name, n, runs in misses:
        print(f"  {name:<22} {n}/{runs}  P(>= {n} | β) = {binomial_tail(runs, DEFAULT_BETA, n):.2f}")
    if misses:
        total, runs_total = sum(n for _, n, _ in misses), sum(runs for _, _, runs in misses)
        print(f"  {'pooled':<22} {total}/{runs_total} = {total / runs_total:.1e}")
    print(f"elapsed {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
