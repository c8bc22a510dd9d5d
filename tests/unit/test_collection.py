"""The pytest plugin's collection of scenario.yaml files (no mesh is started)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

GOOD = """
name: demo
steps:
  - name: first-step
    apply: [m.yaml]
    expect: [{reviews: v1}]
  - name: second-step
    expect: [{reviews: {v2: 50, v3: 50}}]
"""


def scenario_dir(root: Path, folder: str, body: str) -> Path:
    d = root / folder
    d.mkdir(parents=True)
    (d / "m.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n")
    (d / "scenario.yaml").write_text(textwrap.dedent(body).lstrip())
    return d


def test_one_item_per_step_with_scenario_and_step_in_the_id(pytester: pytest.Pytester) -> None:
    scenario_dir(pytester.path, "scenarios/demo", GOOD)
    result = pytester.runpytest_inprocess("scenarios", "--collect-only", "-q", "--strict-markers")
    result.stdout.fnmatch_lines(
        [
            "scenarios/demo/scenario.yaml::demo::first-step",
            "scenarios/demo/scenario.yaml::demo::second-step",
        ]
    )
    assert result.ret == 0


def test_k_selects_by_scenario_and_step_name(pytester: pytest.Pytester) -> None:
    scenario_dir(pytester.path, "scenarios/demo", GOOD)
    result = pytester.runpytest_inprocess("scenarios", "--collect-only", "-q", "-k", "demo and second")
    result.stdout.fnmatch_lines(["scenarios/demo/scenario.yaml::demo::second-step", "*1/2 tests collected*"])


def test_a_scenario_file_named_directly_is_collected(pytester: pytest.Pytester) -> None:
    d = scenario_dir(pytester.path, "elsewhere/x", GOOD)
    result = pytester.runpytest_inprocess(str(d / "scenario.yaml"), "--collect-only", "-q")
    result.stdout.fnmatch_lines(["*scenario.yaml::demo::first-step"])


def test_a_bad_scenario_is_a_collection_error_with_file_and_line(pytester: pytest.Pytester) -> None:
    d = scenario_dir(pytester.path, "scenarios/bad", GOOD.replace("expect: [{reviews: v1}]", "expect: [{revews: v1}]"))
    result = pytester.runpytest_inprocess("scenarios", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.INTERRUPTED  # pytest stops on collection errors
    text = result.stdout.str()
    assert f"invalid scenario: {d / 'scenario.yaml'}:5: unknown key 'revews' in step 'first-step' expect[0]" in text
    assert "Traceback" not in text


def test_the_plugin_registers_only_the_scenario_marker(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.scenario:*"])
    for marker in ("envoy", "kind", "slow", "contract"):  # this repository's own markers stay in its pyproject
        result.stdout.no_fnmatch_line(f"@pytest.mark.{marker}:*")


def test_options_are_validated(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--alpha", "0.9", "--collect-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--alpha: 0.9 must be between 0 and 0.5*"])
