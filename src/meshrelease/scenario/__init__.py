"""Release scenarios: the model (:mod:`~meshrelease.scenario.model`), the ``scenario.yaml`` loader with its
``file:line`` errors (:mod:`~meshrelease.scenario.loader`), and labelling one page against an expectation
(:mod:`~meshrelease.scenario.labels`). The format is described in docs/scenarios.md."""

from meshrelease.scenario.labels import expected_set, label_page
from meshrelease.scenario.loader import load_scenario
from meshrelease.scenario.model import DeleteRef, Expectation, ReviewsExpectation, Scenario, Step

__all__ = [
    "DeleteRef",
    "Expectation",
    "ReviewsExpectation",
    "Scenario",
    "Step",
    "expected_set",
    "label_page",
    "load_scenario",
]
