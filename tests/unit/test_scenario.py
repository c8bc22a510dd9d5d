"""The scenario loader: good files load into the model, every bad input names file, line and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from meshrelease.errors import UserInputError
from meshrelease.scenario.loader import load_scenario, parse_duration
from tests.paths import SCENARIOS


def write_scenario(tmp_path: Path, body: str, manifests: tuple[str, ...] = ("m.yaml",)) -> Path:
    folder = tmp_path / "my-scenario"
    folder.mkdir(exist_ok=True)
    for name in manifests:
        (folder / name).write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n")
    path = folder / "scenario.yaml"
    path.write_text(textwrap.dedent(body).lstrip("\n"))
    return path


GOOD = """
description: a test
steps:
  - name: one
    apply: [m.yaml]
    expect:
      - reviews: v1
      - user: jason
        reviews: {v2: 80, v3: 20}
        stars: black
  - name: two
    delete: [m.yaml, {kind: VirtualService, name: reviews}]
    expect:
      - reviews: [v1, v2, v3]
        latency: {min: 500ms, max: 2s}
        contains: [Book Reviews]
        status: 200
"""


def test_good_scenario_loads(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, GOOD)
    sc = load_scenario(path.parent)
    assert sc.name == "my-scenario"  # defaults to the folder name
    assert sc.namespace == "default"
    assert [s.name for s in sc.steps] == ["one", "two"]
    one, two = sc.steps
    assert one.apply == (path.parent / "m.yaml",)
    assert one.line == 3
    assert one.expect[0].reviews is not None and one.expect[0].reviews.version == "v1"
    jason = one.expect[1]
    assert jason.user == "jason" and jason.stars == "black" and jason.line == 7
    assert jason.reviews is not None and jason.reviews.kind == "split"
    assert jason.reviews.weights == {"v2": 80.0, "v3": 20.0}
    assert two.delete[0].path == path.parent / "m.yaml"
    assert (two.delete[1].kind, two.delete[1].name) == ("VirtualService", "reviews")
    spread = two.expect[0]
    assert spread.reviews is not None and spread.reviews.versions == ("v1", "v2", "v3")
    assert (spread.latency_min, spread.latency_max) == (0.5, 2.0)
    assert spread.contains == ("Book Reviews",)
    assert sc.steps_before("two") == (one,)


def test_single_positive_weight_is_a_single_version(tmp_path: Path) -> None:
    path = write_scenario(
        tmp_path,
        """
        steps:
          - name: s
            expect:
              - reviews: {v2: 100, v3: 0}
        """,
    )
    rev = load_scenario(path).steps[0].expect[0].reviews
    assert rev is not None and (rev.kind, rev.version) == ("version", "v2")


@pytest.mark.parametrize(
    ("body", "line", "fragment"),
    [
        (
            "steps:\n  - name: s\n    expect:\n      - reviews: v1\n        colour: red\n",
            5,
            "unknown key 'colour'",
        ),
        ("steps:\n  - name: s\n    expect:\n      - reviews: {v2: -5, v3: 10}\n", 4, "weight -5 is negative"),
        ("steps:\n  - name: s\n    expect:\n      - reviews: {v2: 0, v3: 0}\n", 4, "weights sum to 0"),
        ("steps:\n  - name: s\n    expect:\n      - reviews: {v2: fifty}\n", 4, "'fifty' is not a number"),
        (
            "steps:\n  - name: s\n    apply: [missing.yaml]\n    expect: [{reviews: v1}]\n",
            3,
            "'missing.yaml' not found",
        ),
        (
            "steps:\n  - name: a\n    expect: [{reviews: v1}]\n  - name: a\n    expect: [{reviews: v2}]\n",
            4,
            "duplicate step name 'a' (first defined on line 2)",
        ),
        ("steps:\n  - name: Bad_Name\n    expect: [{reviews: v1}]\n", 2, "'Bad_Name' is invalid"),
        ("steps: []\n", 1, "has no steps"),
        ("description: x\n", 1, "has no steps"),
        (
            "steps:\n  - name: s\n    expect:\n      - user: 42\n        reviews: v1\n",
            4,
            "user must be a user name",
        ),
        (
            "steps:\n  - name: s\n    expect:\n      - user: [jason]\n        reviews: v1\n",
            4,
            "not a list (['jason'])",
        ),
        ("steps:\n  - name: s\n    expect: []\n", 3, "has no expectations"),
        ("steps:\n  - name: s\n    expect:\n      - user: jason\n", 4, "checks nothing"),
        ("steps:\n  - name: s\n    expect:\n      - stars: pink\n", 4, "expected one of: none, black, red"),
        ("steps:\n  - name: s\n    expect:\n      - latency: {min: soon}\n", 4, "'soon' is not a duration"),
        ("steps:\n  - name: s\n    expect:\n      - status: 999\n", 4, "HTTP status code"),
        (
            "steps:\n  - name: s\n    expect:\n      - reviews: version-two\n",
            4,
            "expected a version such as v1",
        ),
        ("steps:\n  - name: s\n    expect:\n      - reviews: [v1]\n", 4, "spread needs at least two"),
        ("name: x\nname: y\nsteps: []\n", 2, 'mapping key "name" already defined at line 1'),
        ("steps:\n  - name: s\n    expect: [{reviews: v1}\n", 4, "invalid YAML"),
        ("stepz: []\n", 1, "unknown key 'stepz'"),
        (
            "ingress: bookinfo-gateway\nsteps:\n  - name: s\n    expect: [{reviews: v1}]\n",
            1,
            "scenario.ingress must be a mapping naming a Gateway",
        ),
        (
            "ingress: {namespace: x}\nsteps:\n  - name: s\n    expect: [{reviews: v1}]\n",
            1,
            "scenario.ingress.gateway is missing",
        ),
        (
            "ingress:\n  gateway: g\n  port: 70000\nsteps:\n  - name: s\n    expect: [{reviews: v1}]\n",
            3,
            "expected a listener port number",
        ),
        ("ingress: {gateway: g, host: x}\nsteps:\n  - name: s\n    expect: [{reviews: v1}]\n", 1, "unknown key 'host'"),
    ],
)
def test_bad_scenarios_name_file_line_and_field(tmp_path: Path, body: str, line: int, fragment: str) -> None:
    path = write_scenario(tmp_path, body)
    with pytest.raises(UserInputError) as err:
        load_scenario(path)
    message = str(err.value)
    assert f"{path}:{line}:" in message, message
    assert fragment in message, message
    assert err.value.line == line


def test_delta_override_loads_per_expectation(tmp_path: Path) -> None:
    path = write_scenario(
        tmp_path,
        """
        steps:
          - name: canary
            expect:
              - reviews: {v1: 99, v3: 1}
                delta: 0.002
              - reviews: v1
                delta: 0.01
              - reviews: {v1: 95, v3: 5}
        """,
    )
    tight, leak, default = load_scenario(path).steps[0].expect
    assert tight.delta == 0.002
    assert leak.delta == 0.01
    assert default.delta is None


DELTA_BODY = "steps:\n  - name: s\n    expect:\n      - reviews: {v1: 95, v3: 5}\n        delta: %s\n"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("2pp", "delta must be a number, not a string ('2pp')"),
        ("true", "delta must be a number, not a boolean (True)"),
        ("[0.1]", "delta must be a number, not a list"),
        ("0", "delta is 0; it must be between 0 and 1 (exclusive)"),
        ("1", "delta is 1; it must be between 0 and 1 (exclusive)"),
        ("1.5", "delta is 1.5; it must be between 0 and 1"),
        ("-0.05", "delta is -0.05; it must be between 0 and 1"),
        (".nan", "delta is nan; it must be between 0 and 1"),
    ],
)
def test_bad_delta_names_file_line_and_what_to_write(tmp_path: Path, value: str, fragment: str) -> None:
    path = write_scenario(tmp_path, DELTA_BODY % value)
    with pytest.raises(UserInputError) as err:
        load_scenario(path)
    message = str(err.value)
    assert f"{path}:5:" in message, message
    assert "step 's' expect[0].delta" in message, message
    assert fragment in message, message
    assert "such as 0.05" in message, message


def test_an_expectation_with_only_a_delta_checks_nothing(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, "steps:\n  - name: s\n    expect:\n      - user: jason\n        delta: 0.05\n")
    with pytest.raises(UserInputError, match="checks nothing"):
        load_scenario(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="scenario file not found"):
        load_scenario(tmp_path / "nothing-here")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5s", 5.0), ("500ms", 0.5), ("1m", 60.0), (2, 2.0), ("0.5s", 0.5), ("x", None), (-1, None)],
)
def test_parse_duration(text: object, seconds: float | None) -> None:
    assert parse_duration(text) == seconds


def test_repository_scenarios_are_valid() -> None:
    names = set()
    for path in sorted(SCENARIOS.glob("*/scenario.yaml")):
        sc = load_scenario(path)
        names.add(sc.name)
        assert sc.steps
    assert {
        "asm-release",
        "request-routing",
        "traffic-shifting",
        "fault-injection",
        "request-timeouts",
        "gateway-api-release",
        "gateway-api-request-routing",
        "gateway-api-traffic-shifting",
    } <= names


def test_ingress_names_a_gateway_api_gateway(tmp_path: Path) -> None:
    plain = load_scenario(write_scenario(tmp_path, GOOD))
    assert plain.ingress is None
    path = write_scenario(tmp_path, "namespace: shop\ningress: {gateway: web, port: 8080}\n" + textwrap.dedent(GOOD))
    ingress = load_scenario(path).ingress
    assert ingress is not None
    assert (ingress.gateway, ingress.namespace, ingress.port, ingress.line) == ("web", "shop", 8080, 2)
    assert ingress.describe() == "Gateway shop/web port 8080"


def test_gateway_api_release_follows_the_release_guide() -> None:
    """The release guide's steps, with HTTPRoutes instead of VirtualServices, through the Gateway API gateway."""
    sc = load_scenario(SCENARIOS / "gateway-api-release")
    assert sc.ingress is not None and sc.ingress.gateway == "bookinfo-gateway"
    assert [s.name for s in sc.steps] == [
        "gateway-and-versions",
        "baseline-all-v1",
        "blue-green-v2",
        "canary-v2-v3-50-50",
        "rollback-weights-100-0",
        "header-canary-jason-v3",
        "clean-up",
    ]
    for step in sc.steps:
        for path in step.apply:
            if path.parent.name == "manifests":
                assert "apiVersion: gateway.networking.k8s.io/v1" in path.read_text()
                assert "networking.istio.io" not in path.read_text()


def test_asm_release_follows_the_release_guide() -> None:
    sc = load_scenario(SCENARIOS / "asm-release")
    names = [s.name for s in sc.steps]
    assert names == [
        "destination-rules",
        "baseline-all-v1",
        "blue-green-v2",
        "rollback-to-v1",
        "blue-green-v2-again",
        "canary-v2-v3-50-50",
        "rollback-weights-100-0",
        "header-canary-jason-v3",
        "clean-up",
    ]
    # Manifests as the guide writes them.
    for step in sc.steps:
        for path in step.apply:
            assert "networking.istio.io/v1alpha3" in path.read_text()
    header = sc.step("header-canary-jason-v3")
    who = {e.who: e.reviews.version for e in header.expect if e.reviews}
    assert who == {"anonymous": "v2", "jason": "v3"}
