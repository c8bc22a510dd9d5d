"""Verdicts: does the sampled traffic match the expected routing?

- :func:`check_version`: every page shows one version; passes after enough agreeing pages.
- :func:`check_split`: pages follow relative weights; sequential tests with exact error bounds, each share
  checked at ``+/- share_tolerance(p, delta)``; a version with weight > 0 that never answers fails.
- :func:`check_spread`: every listed version answers, nothing else does.

The statistics are derived in :mod:`meshrelease.verdict.sprt` and explained in ``docs/verdicts.md``.
"""

from meshrelease.verdict.checks import (
    NONE_KEY,
    VerdictResult,
    check_split,
    check_spread,
    check_version,
    normalise_weights,
    required_samples_single,
)
from meshrelease.verdict.options import DEFAULT_ALPHA, DEFAULT_BETA, DEFAULT_DELTA, VerdictOptions
from meshrelease.verdict.sprt import share_tolerance

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_BETA",
    "DEFAULT_DELTA",
    "NONE_KEY",
    "VerdictOptions",
    "VerdictResult",
    "check_split",
    "check_spread",
    "check_version",
    "normalise_weights",
    "required_samples_single",
    "share_tolerance",
]
