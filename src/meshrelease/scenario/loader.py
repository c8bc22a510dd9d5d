"""Release scenarios as data: the model and the loader of ``scenario.yaml`` (``docs/scenarios.md``).

Every problem in a scenario file is a :class:`~meshrelease.errors.UserInputError` naming the file, the
line and the field, raised at collection time — before any mesh is started.

    name: asm-release                 # optional, defaults to the folder name
    description: …
    namespace: default                # optional: namespace of manifest objects that name none
    steps:
      - name: baseline-all-v1         # unique, [a-z0-9-]+
        apply: [manifests/all-v1.yaml]
        delete: []                    # manifest paths, or {kind, name[, namespace, apiVersion]}
        expect:
          - reviews: v1               # anonymous user
          - user: jason
            reviews: v1
          - reviews: {v2: 50, v3: 50} # relative weights
          - reviews: [v1, v2, v3]     # spread: every listed version answers, no other does
          - reviews: {v1: 99, v3: 1}
            delta: 0.002              # optional: this expectation's tolerance (default: --delta)
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from meshrelease.data import data_dir
from meshrelease.errors import UserInputError
from meshrelease.k8s.yaml import LineDict, LineList, load_with_lines
from meshrelease.scenario.model import DeleteRef, Expectation, IngressRef, ReviewsExpectation, Scenario, Step

NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
VERSION_RE = re.compile(r"^v[0-9][a-z0-9-]*$")
DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m)?$")

SCENARIO_KEYS = ("name", "description", "namespace", "ingress", "steps")
INGRESS_KEYS = ("gateway", "namespace", "port")
STEP_KEYS = ("name", "description", "apply", "delete", "expect", "timeout", "upgrade_traffic")
EXPECT_KEYS = (
    "user",
    "reviews",
    "stars",
    "ratings",
    "details",
    "contains",
    "not_contains",
    "latency",
    "status",
    "delta",
)
STARS = ("none", "black", "red")
SHOWN = ("shown", "unavailable")


MAX_DURATION = 86_400.0
"""The longest duration a scenario may give (one day): a longer timeout or latency bound is a mistake, and
NaN or infinity would make every wait meaningless."""


def parse_duration(value: Any) -> float | None:
    """``5s``, ``500ms``, ``1m`` or a number of seconds -> seconds; None if not a duration (negative,
    NaN, infinite or longer than :data:`MAX_DURATION`)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := DURATION_RE.match(value.strip())):
        seconds = float(match.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[match.group(2) or "s"]
    else:
        return None
    return seconds if math.isfinite(seconds) and 0 <= seconds <= MAX_DURATION else None


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "empty"
    return "a string" if isinstance(value, str) else type(value).__name__


class _Ctx:
    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, message: str, line: int | None, field_path: str | None = None, hint: str | None = None) -> None:
        raise UserInputError(message, path=str(self.path), line=line, field=field_path, hint=hint)


def _unknown_keys(ctx: _Ctx, data: LineDict, allowed: tuple[str, ...], where: str) -> None:
    for key in data:
        if key not in allowed:
            ctx.error(
                f"unknown key {key!r} in {where}",
                data.line_of(key),
                hint="allowed keys: " + ", ".join(allowed),
            )


def _string(ctx: _Ctx, data: LineDict, key: str, where: str) -> str | None:
    if key not in data or data[key] is None:
        return None
    value = data[key]
    if not isinstance(value, str):
        ctx.error(f"{where}.{key} must be a string, not {_type_name(value)} ({value!r})", data.line_of(key))
    return str(value)


def _choice(ctx: _Ctx, data: LineDict, key: str, choices: tuple[str, ...], where: str) -> str | None:
    value = _string(ctx, data, key, where)
    if value is not None and value not in choices:
        ctx.error(f"{where}.{key} is {value!r}; expected one of: {', '.join(choices)}", data.line_of(key))
    return value


def _reviews(ctx: _Ctx, data: LineDict, where: str) -> ReviewsExpectation | None:
    if "reviews" not in data:
        return None
    value = data["reviews"]
    line = data.line_of("reviews")
    if isinstance(value, str):
        if value != "unavailable" and not VERSION_RE.match(value):
            ctx.error(
                f"{where}.reviews is {value!r}; expected a version such as v1, a map of version weights, "
                "a list of versions (spread) or 'unavailable'",
                line,
            )
        return ReviewsExpectation(kind="version", version=value)
    if isinstance(value, LineList):
        versions: list[str] = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or not VERSION_RE.match(item):
                ctx.error(f"{where}.reviews[{i}] is {item!r}; expected a version such as v1", value.line_of(i))
            if item in versions:
                ctx.error(f"{where}.reviews lists {item} twice", value.line_of(i))
            versions.append(item)
        if len(versions) < 2:
            ctx.error(f"{where}.reviews spread needs at least two versions; use `reviews: vN` for one", line)
        return ReviewsExpectation(kind="spread", versions=tuple(versions))
    if isinstance(value, LineDict):
        weights: dict[str, float] = {}
        for version, weight in value.items():
            wline = value.line_of(version)
            if not VERSION_RE.match(version):
                ctx.error(f"{where}.reviews has key {version!r}; expected a version such as v2", wline)
            if isinstance(weight, bool) or not isinstance(weight, int | float):
                ctx.error(f"{where}.reviews.{version} weight {weight!r} is not a number", wline)
            if not math.isfinite(weight):
                ctx.error(f"{where}.reviews.{version} weight {weight!r} is not a finite number", wline)
            if weight < 0:
                ctx.error(f"{where}.reviews.{version} weight {weight} is negative; weights must be >= 0", wline)
            weights[version] = float(weight)
        if not weights:
            ctx.error(f"{where}.reviews is an empty map; give version weights such as {{v2: 50, v3: 50}}", line)
        if sum(weights.values()) <= 0:
            ctx.error(f"{where}.reviews weights sum to 0; at least one version needs a positive weight", line)
        positive = [v for v, w in weights.items() if w > 0]
        if len(positive) == 1:
            # A split with one positive weight is a single-version expectation (zero-weight ones must not appear).
            return ReviewsExpectation(kind="version", version=positive[0])
        return ReviewsExpectation(kind="split", weights=weights)
    ctx.error(
        f"{where}.reviews must be a version, a map of weights or a list of versions, not "
        f"{_type_name(value)} ({value!r})",
        line,
    )
    return None


def _texts(ctx: _Ctx, data: LineDict, key: str, where: str) -> tuple[str, ...]:
    if key not in data:
        return ()
    value = data[key]
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item:
            ctx.error(f"{where}.{key} must be a non-empty string or a list of them, not {item!r}", data.line_of(key))
        out.append(item)
    return tuple(out)


def _expectation(ctx: _Ctx, data: Any, line: int, where: str) -> Expectation:
    if not isinstance(data, LineDict):
        ctx.error(f"{where} must be a mapping such as {{reviews: v1}}, not {data!r}", line)
    assert isinstance(data, LineDict)
    _unknown_keys(ctx, data, EXPECT_KEYS, where)
    user: str | None = None
    if "user" in data:
        raw = data["user"]
        if raw is not None and not isinstance(raw, str):
            ctx.error(
                f"{where}.user must be a user name (a string, e.g. jason), not {_type_name(raw)} ({raw!r})",
                data.line_of("user"),
                hint="leave `user` out for the anonymous user",
            )
        if isinstance(raw, str) and not raw.strip():
            ctx.error(f"{where}.user is empty; leave it out for the anonymous user", data.line_of("user"))
        user = raw
    latency_min = latency_max = None
    if "latency" in data:
        lat = data["latency"]
        lline = data.line_of("latency")
        if not isinstance(lat, LineDict) or not lat or set(lat) - {"min", "max"}:
            ctx.error(f"{where}.latency must be a mapping with min and/or max, e.g. {{min: 5s, max: 8s}}", lline)
        assert isinstance(lat, LineDict)
        for bound in ("min", "max"):
            if bound in lat:
                seconds = parse_duration(lat[bound])
                if seconds is None:
                    ctx.error(
                        f"{where}.latency.{bound} {lat[bound]!r} is not a duration like 5s or 500ms (at most 1 day)",
                        lline,
                    )
                if bound == "min":
                    latency_min = seconds
                else:
                    latency_max = seconds
        if latency_min is not None and latency_max is not None and latency_min > latency_max:
            ctx.error(f"{where}.latency.min is greater than latency.max", lline)
    status = 200
    if "status" in data:
        raw_status = data["status"]
        if isinstance(raw_status, bool) or not isinstance(raw_status, int) or not 100 <= raw_status <= 599:
            ctx.error(
                f"{where}.status must be an HTTP status code (100-599), not {raw_status!r}",
                data.line_of("status"),
            )
        status = int(raw_status)
    delta = None
    if "delta" in data:
        raw_delta = data["delta"]
        hint = "a share tolerance written as a decimal such as 0.05 (5 points); leave it out to use the run's --delta"
        if isinstance(raw_delta, bool) or not isinstance(raw_delta, int | float):
            ctx.error(
                f"{where}.delta must be a number, not {_type_name(raw_delta)} ({raw_delta!r})",
                data.line_of("delta"),
                hint=hint,
            )
        if not 0 < raw_delta < 1:
            ctx.error(
                f"{where}.delta is {raw_delta!r}; it must be between 0 and 1 (exclusive)",
                data.line_of("delta"),
                hint=hint,
            )
        delta = float(raw_delta)
    exp = Expectation(
        line=data.line,
        user=user,
        reviews=_reviews(ctx, data, where),
        stars=_choice(ctx, data, "stars", STARS, where),
        ratings=_choice(ctx, data, "ratings", SHOWN, where),
        details=_choice(ctx, data, "details", SHOWN, where),
        contains=_texts(ctx, data, "contains", where),
        not_contains=_texts(ctx, data, "not_contains", where),
        latency_min=latency_min,
        latency_max=latency_max,
        status=status,
        delta=delta,
    )
    if set(data) <= {"user", "delta"}:
        ctx.error(f"{where} checks nothing; add reviews, stars, ratings, details, contains, latency or status", line)
    return exp


def _entries(data: LineDict, key: str) -> list[tuple[int, Any, int]]:
    """(index, item, line) of a key that holds one item or a list of them; [] when absent or null."""
    value = data.get(key)
    if value is None:
        return []
    if isinstance(value, LineList):
        return [(i, item, value.line_of(i)) for i, item in enumerate(value)]
    return [(0, value, data.line_of(key))]


PACKAGE_PREFIX = "meshrelease:"
"""``meshrelease:destination-rule-all.yaml`` names a manifest meshrelease ships (Bookinfo's subsets, …)."""


def _manifest_path(ctx: _Ctx, item: str, where: str, line: int, base: Path) -> Path:
    if item.startswith(PACKAGE_PREFIX):
        name = item[len(PACKAGE_PREFIX) :]
        path = data_dir() / name
        if "/" in name or not path.is_file() or path.suffix != ".yaml":
            shipped = ", ".join(sorted(p.name for p in data_dir().glob("*.yaml")))
            ctx.error(f"{where}: meshrelease ships no manifest {name!r}", line, hint=f"it ships {shipped}")
        return path
    path = (base / item).resolve()
    if not path.is_file():
        ctx.error(
            f"{where}: manifest file {item!r} not found (looked at {path})",
            line,
            hint="paths are relative to the scenario file",
        )
    return path


def _files(ctx: _Ctx, data: LineDict, key: str, where: str, base: Path) -> list[Path]:
    out: list[Path] = []
    for i, item, line in _entries(data, key):
        if not isinstance(item, str):
            ctx.error(f"{where}.{key}[{i}] must be a manifest path, not {item!r}", line)
        out.append(_manifest_path(ctx, item, f"{where}.{key}[{i}]", line, base))
    return out


def _deletes(ctx: _Ctx, data: LineDict, where: str, base: Path) -> tuple[DeleteRef, ...]:
    refs: list[DeleteRef] = []
    for i, item, line in _entries(data, "delete"):
        if isinstance(item, str):
            refs.append(DeleteRef(line=line, path=_manifest_path(ctx, item, f"{where}.delete[{i}]", line, base)))
        elif isinstance(item, LineDict):
            _unknown_keys(ctx, item, ("kind", "name", "namespace", "apiVersion"), f"{where}.delete[{i}]")
            kind = _string(ctx, item, "kind", f"{where}.delete[{i}]")
            name = _string(ctx, item, "name", f"{where}.delete[{i}]")
            if not kind or not name:
                ctx.error(
                    f"{where}.delete[{i}] needs kind and name (e.g. {{kind: VirtualService, name: reviews}})",
                    line,
                )
            refs.append(
                DeleteRef(
                    line=line,
                    kind=kind,
                    name=name,
                    namespace=_string(ctx, item, "namespace", f"{where}.delete[{i}]"),
                    api_version=_string(ctx, item, "apiVersion", f"{where}.delete[{i}]"),
                )
            )
        else:
            ctx.error(f"{where}.delete[{i}] must be a manifest path or {{kind, name}}, not {item!r}", line)
    return tuple(refs)


def _step(ctx: _Ctx, data: Any, line: int, index: int, base: Path, seen: dict[str, int]) -> Step:
    where = f"steps[{index}]"
    if not isinstance(data, LineDict):
        ctx.error(f"{where} must be a mapping with name, apply and expect, not {data!r}", line)
    assert isinstance(data, LineDict)
    _unknown_keys(ctx, data, STEP_KEYS, where)
    name = _string(ctx, data, "name", where)
    if not name:
        ctx.error(f"{where} has no name", data.line)
    assert name is not None
    if not NAME_RE.match(name):
        ctx.error(
            f"{where}.name {name!r} is invalid: use lower-case letters, digits and '-' (e.g. canary-50-50)",
            data.line_of("name"),
        )
    if name in seen:
        ctx.error(f"duplicate step name {name!r} (first defined on line {seen[name]})", data.line_of("name"))
    seen[name] = data.line_of("name")
    where = f"step {name!r}"
    expect_raw = data.get("expect")
    if not isinstance(expect_raw, LineList) or not expect_raw:
        ctx.error(
            f"{where} has no expectations; every step must check something (e.g. expect: [{{reviews: v1}}])",
            data.line_of("expect"),
        )
    assert isinstance(expect_raw, LineList)
    expect = tuple(
        _expectation(ctx, item, expect_raw.line_of(i), f"{where} expect[{i}]") for i, item in enumerate(expect_raw)
    )
    timeout = None
    if "timeout" in data:
        timeout = parse_duration(data["timeout"])
        if timeout is None or timeout <= 0:
            ctx.error(
                f"{where}.timeout {data['timeout']!r} is not a positive duration like 60s (at most 1 day)",
                data.line_of("timeout"),
            )
    description = _string(ctx, data, "description", where) or ""
    upgrade_traffic = data.get("upgrade_traffic", False)
    if not isinstance(upgrade_traffic, bool):
        ctx.error(
            f"{where}.upgrade_traffic must be true or false, not {upgrade_traffic!r}", data.line_of("upgrade_traffic")
        )
    return Step(
        name=name,
        line=data.line,
        description=description,
        apply=tuple(_files(ctx, data, "apply", where, base)),
        delete=_deletes(ctx, data, where, base),
        expect=expect,
        timeout=timeout,
        upgrade_traffic=upgrade_traffic,
    )


def load_scenario(path: Path) -> Scenario:
    """Load and validate ``path`` (a scenario.yaml, or a folder holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / "scenario.yaml"
    ctx = _Ctx(path)
    if not path.is_file():
        raise UserInputError(
            "scenario file not found", path=str(path), hint="a scenario is a folder with scenario.yaml"
        )
    data = load_with_lines(path)
    if not isinstance(data, LineDict):
        ctx.error("a scenario must be a mapping with name, description and steps", 1)
    assert isinstance(data, LineDict)
    _unknown_keys(ctx, data, SCENARIO_KEYS, "the scenario")
    name = _string(ctx, data, "name", "scenario") or path.parent.name
    if not NAME_RE.match(name):
        ctx.error(
            f"scenario name {name!r} is invalid: use lower-case letters, digits and '-'",
            data.line_of("name") if "name" in data else 1,
        )
    namespace = _string(ctx, data, "namespace", "scenario") or "default"
    steps_raw = data.get("steps")
    if not isinstance(steps_raw, LineList) or not steps_raw:
        ctx.error(
            "the scenario has no steps; add a non-empty `steps:` list",
            data.line_of("steps") if "steps" in data else 1,
        )
    assert isinstance(steps_raw, LineList)
    seen: dict[str, int] = {}
    steps = tuple(_step(ctx, item, steps_raw.line_of(i), i, path.parent, seen) for i, item in enumerate(steps_raw))
    return Scenario(
        name=name,
        path=path.resolve(),
        steps=steps,
        description=_string(ctx, data, "description", "scenario") or "",
        namespace=namespace,
        ingress=_ingress(ctx, data, namespace),
    )


def _ingress(ctx: _Ctx, data: LineDict, namespace: str) -> IngressRef | None:
    """``ingress: {gateway: NAME[, namespace: NS][, port: N]}``: users come in through that Gateway API Gateway."""
    if "ingress" not in data:
        return None
    raw, line = data.get("ingress"), data.line_of("ingress")
    if not isinstance(raw, LineDict):
        ctx.error(
            "scenario.ingress must be a mapping naming a Gateway API Gateway, e.g. {gateway: bookinfo-gateway}",
            line,
        )
    assert isinstance(raw, LineDict)
    _unknown_keys(ctx, raw, INGRESS_KEYS, "scenario.ingress")
    gateway = _string(ctx, raw, "gateway", "scenario.ingress")
    if not gateway:
        ctx.error("scenario.ingress.gateway is missing: name the Gateway (gateway.networking.k8s.io) to use", line)
    assert gateway is not None
    port = raw.get("port")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535):
        ctx.error(f"scenario.ingress.port is {port!r}; expected a listener port number (1-65535)", raw.line_of("port"))
    return IngressRef(
        gateway=gateway,
        namespace=_string(ctx, raw, "namespace", "scenario.ingress") or namespace,
        port=port,
        line=line,
    )
