"""NaN, infinity and absurd magnitudes are refused wherever the harness reads a number: manifests (any field),
scenario weights, timeouts, latency bounds and tolerances, and every float option (flag or environment)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from meshrelease.backends.settings import OPTIONS, add_options, build_settings
from meshrelease.bookinfo.workloads.config import PodConfig, Timeouts, WorkloadConfigError
from meshrelease.errors import UserInputError
from meshrelease.k8s.manifest import load_manifest_text
from meshrelease.scenario.loader import load_scenario, parse_duration

VS = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: %s
    timeout: 5s
"""

FLOAT_FLAGS = [o.flag for o in OPTIONS if o.type == "float"]


@pytest.mark.parametrize("value", [".nan", ".NaN", ".inf", "-.inf", "+.INF", "1.0e+999"])
def test_a_manifest_number_that_is_not_finite_names_field_and_line(value: str) -> None:
    with pytest.raises(UserInputError) as info:
        load_manifest_text(VS % value, "vs.yaml")
    assert info.value.line == 9
    assert "vs.yaml:9: spec.http[0].route[0].weight: " in str(info.value)
    assert "not a finite number" in str(info.value)


def test_finite_numbers_and_strings_that_look_like_nan_load() -> None:
    (doc,) = load_manifest_text(VS % "80", "vs.yaml")
    assert doc["spec"]["http"][0]["route"][0]["weight"] == 80
    (doc,) = load_manifest_text(VS % "NaN", "vs.yaml")  # a string in YAML; the schema check refuses its type
    assert doc["spec"]["http"][0]["route"][0]["weight"] == "NaN"


@pytest.mark.parametrize(
    ("expect", "line", "fragment"),
    [
        ("reviews: {v1: .nan, v2: 50}", 5, "reviews.v1 weight nan is not a finite number"),
        ("reviews: {v1: 50, v2: .inf}", 5, "reviews.v2 weight inf is not a finite number"),
        ("reviews: v1\n        delta: .nan", 6, "delta is nan; it must be between 0 and 1"),
        ("reviews: v1\n        delta: .inf", 6, "delta is inf; it must be between 0 and 1"),
        ("reviews: v1\n        latency: {max: .inf}", 6, "latency.max inf is not a duration"),
        ("reviews: v1\n        latency: {max: 99999999m}", 6, "at most 1 day"),
    ],
)
def test_scenario_numbers_must_be_finite(tmp_path: Path, expect: str, line: int, fragment: str) -> None:
    path = _scenario(tmp_path, f"    expect:\n      - {expect}\n")
    with pytest.raises(UserInputError, match=fragment) as info:
        load_scenario(path)
    assert info.value.line == line, str(info.value)


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "1e999s", "2d"])
def test_a_step_timeout_must_be_a_finite_duration(tmp_path: Path, value: str) -> None:
    path = _scenario(tmp_path, f"    timeout: {value}\n    expect: [{{reviews: v1}}]\n")
    with pytest.raises(UserInputError) as info:
        load_scenario(path)
    assert info.value.line == 4
    assert "is not a positive duration like 60s (at most 1 day)" in str(info.value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "9" * 400, 86_401, "1441m"])
def test_parse_duration_refuses_non_finite_and_over_a_day(value: object) -> None:
    assert parse_duration(value) is None


@pytest.mark.parametrize("flag", FLOAT_FLAGS)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999"])
def test_every_float_option_refuses_non_finite_values(flag: str, value: str) -> None:
    with pytest.raises(UserInputError, match=f"{flag}: '{value}' is not a finite number"):
        _settings([f"{flag}={value}"])
    env = next(o.env for o in OPTIONS if o.flag == flag)
    assert env is not None
    with pytest.raises(UserInputError, match=f"{env}: '{value}' is not a finite number"):
        build_settings(vars(_parser().parse_args([])), {env: value})


@pytest.mark.parametrize("value", ["nan..nan", "inf", "0..inf", "nan", "0..1e300", "-inf..0"])
def test_propagation_delay_must_be_finite_and_bounded(value: str) -> None:
    with pytest.raises(UserInputError, match="--propagation-delay"):
        _settings([f"--propagation-delay={value}"])


def test_converge_timeout_is_bounded() -> None:
    with pytest.raises(UserInputError, match="--converge-timeout: must be a positive number of seconds up to"):
        _settings(["--converge-timeout", "1e300"])
    assert _settings(["--converge-timeout", "90"]).converge_timeout == 90.0


@pytest.mark.parametrize("value", ["nan", "inf", "1e999", "1e6"])
def test_a_pod_timeout_scale_must_be_finite_and_bounded(value: str) -> None:
    with pytest.raises(WorkloadConfigError, match="must be a positive number up to 1000"):
        Timeouts.for_pod(PodConfig("reviews", "r", {"MESHRELEASE_TIMEOUT_SCALE": value}))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_options(parser, OPTIONS)
    return parser


def _settings(args: list[str]) -> object:
    return build_settings(vars(_parser().parse_args(args)), {})


def _scenario(tmp_path: Path, step_tail: str) -> Path:
    folder = tmp_path / "s"
    folder.mkdir(exist_ok=True)
    (folder / "m.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n")
    body = "steps:\n  - name: one\n    apply: [m.yaml]\n" + step_tail
    (folder / "scenario.yaml").write_text(body)
    return folder / "scenario.yaml"
