"""The table of bench/malformed_inputs.py, in CI: its cases that need no mesh (scenario files through the
loader, bad command lines) must each be a clear error — no traceback, no hang. The bench runs the whole table,
manifests and control-endpoint requests included, against a started `meshrelease serve`."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.malformed_inputs import CASES, NO_MESH_TARGETS, Case, try_cases

NO_MESH = [c for c in CASES if c.target in NO_MESH_TARGETS]


def test_the_table_is_large_and_covers_every_target() -> None:
    assert len(CASES) >= 60
    assert len({c.name for c in CASES if c.target == "apply"}) == sum(c.target == "apply" for c in CASES)
    assert {c.target for c in CASES} == {"apply", "http", "cli", "cli-serve", "scenario"}


@pytest.mark.parametrize("case", NO_MESH, ids=[c.name for c in NO_MESH])
def test_a_malformed_input_is_a_clear_error(case: Case, tmp_path: Path) -> None:
    (outcome,) = try_cases([case], home=tmp_path / "home", work=tmp_path, timeout=60, say=lambda _: None)
    assert outcome.verdict == "clear error", outcome.detail
    assert not outcome.state_changed
