"""Running steps: :mod:`~meshrelease.engine.runner` (bring the mesh to a step's state, sync, settle, sample,
decide), :mod:`~meshrelease.engine.sampler` (productpage requests in flight, per user), and
:mod:`~meshrelease.engine.results` (the typed results schema ``meshrelease/results/v1``).

The face exports only the results types: importing the runner loads the HTTP client stack, which the pytest
plugin does only when a step runs.
"""

from meshrelease.engine.results import ExpectationResult, RunResults, StepRecord, StepResult, load_results

__all__ = ["ExpectationResult", "RunResults", "StepRecord", "StepResult", "load_results"]
