"""The verdict's error rates and tolerance, with their defaults (written here once)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from meshrelease.errors import UserInputError

DEFAULT_ALPHA = 1e-6
DEFAULT_BETA = 1e-3
DEFAULT_DELTA = 0.10


@dataclass(frozen=True)
class VerdictOptions:
    """``alpha``: the most a correct mesh may fail a split check; ``beta``: the most a share off by its
    tolerance (or a leak of ``delta`` to another version) may pass; ``delta``: the largest tolerance -- a
    share ``p`` of a split is checked at ``+/- min(delta, p / 2, (1 - p) / 2)``, a single version against a
    leak of ``delta`` (``docs/verdicts.md``). A scenario's ``delta:`` overrides it per expectation."""

    alpha: float = DEFAULT_ALPHA
    beta: float = DEFAULT_BETA
    delta: float = DEFAULT_DELTA

    def __post_init__(self) -> None:
        for name, value, upper in (("alpha", self.alpha, 0.5), ("beta", self.beta, 0.5), ("delta", self.delta, 1.0)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise UserInputError(f"must be a number, not {value!r}", field=f"--{name}")
            if not 0 < value < upper:
                raise UserInputError(f"{value:g} must be between 0 and {upper:g}", field=f"--{name}")
