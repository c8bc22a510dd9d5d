"""Exact operating characteristics of a two-label split check (no simulation).

With two labels every test of :func:`meshrelease.verdict.sprt.plan_split` looks at the same count ``h``
(pages that showed the first label among ``n``), so the whole check is a walk on ``(n, h)`` plus which
tests have already accepted. Pushing the probability mass of that walk forward step by step gives the
exact chance to pass, fail or reach the cap, and the mean number of pages, for any true share. The
benchmark prints these beside its simulations, and the tests use them to check the error bounds
without sampling noise.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshrelease.verdict.sprt import SplitPlan


@dataclass(frozen=True)
class SplitCharacteristics:
    """Probabilities of each outcome and the mean pages to a decision (the cap counts as a decision).

    ``p_dropped`` is mass left out because it fell below the pruning threshold: the true pass
    probability lies in ``[p_pass, p_pass + p_dropped]`` (likewise for the others).
    """

    p_pass: float
    p_fail: float
    p_undecided: float
    p_dropped: float
    mean_pages: float


def split_characteristics(
    plan: SplitPlan, true_share: float, *, max_pages: int | None = None, prune: float = 1e-16
) -> SplitCharacteristics:
    """Exact outcome probabilities of the two-label ``plan`` when the tested label has share ``true_share``.

    Every page shows an expected label (no pages without one). ``max_pages`` defaults to the plan's cap.
    Runs in about a second for 50/50 at the defaults, half a minute for 99/1.
    """
    if max_pages is None:
        max_pages = plan.max_pages
    labels = {t.label for t in plan.tests}
    if len(labels) != 1 or sum(1 for share in plan.expected.values() if share > 0) != 2:
        raise ValueError("exact characteristics are computed for two-label splits only")
    if not 0.0 <= true_share <= 1.0:
        raise ValueError(f"true_share must be in [0, 1], got {true_share!r}")
    tests = plan.tests
    none_accepted = (False,) * len(tests)
    states: dict[tuple[int, tuple[bool, ...]], float] = {(0, none_accepted): 1.0}
    p_pass = p_fail = p_dropped = 0.0
    weighted_pages = 0.0
    steps = ((1, true_share), (0, 1.0 - true_share))
    for n in range(1, max_pages + 1):
        following: dict[tuple[int, tuple[bool, ...]], float] = {}
        for (h_before, accepted), mass in states.items():
            for hit, chance in steps:
                if chance == 0.0:
                    continue
                h = h_before + hit
                now = list(accepted)
                failed = False
                for k, test in enumerate(tests):
                    if now[k]:
                        continue
                    decision = test.decide(h, n - h)
                    if decision == "reject":
                        failed = True
                        break
                    if decision == "accept":
                        now[k] = True
                step_mass = mass * chance
                if failed:
                    p_fail += step_mass
                    weighted_pages += step_mass * n
                elif all(now):
                    p_pass += step_mass
                    weighted_pages += step_mass * n
                else:
                    key = (h, tuple(now))
                    following[key] = following.get(key, 0.0) + step_mass
        states = {}
        for key, mass in following.items():
            if mass >= prune:
                states[key] = mass
            else:
                p_dropped += mass
        if not states:
            break
    p_undecided = sum(states.values())
    return SplitCharacteristics(p_pass, p_fail, p_undecided, p_dropped, weighted_pages + p_undecided * max_pages)
