"""Release scenarios as data: a scenario is named steps; a step applies and deletes manifests and lists the
expectations that must then hold for the users it names. ``docs/scenarios.md`` describes the file format."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class ReviewsExpectation:
    """``kind`` is "version" (one version or "unavailable"), "split" (relative weights) or "spread"."""

    kind: Literal["version", "split", "spread"]
    version: str | None = None
    weights: dict[str, float] = field(default_factory=dict)
    versions: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind == "version":
            return f"reviews {self.version}"
        if self.kind == "split":
            return "reviews " + "/".join(f"{v}:{w:g}" for v, w in self.weights.items())
        return "reviews spread over " + ", ".join(self.versions)


@dataclass(frozen=True)
class Expectation:
    line: int
    user: str | None = None
    reviews: ReviewsExpectation | None = None
    stars: str | None = None
    ratings: str | None = None
    details: str | None = None
    contains: tuple[str, ...] = ()
    not_contains: tuple[str, ...] = ()
    latency_min: float | None = None
    latency_max: float | None = None
    status: int = 200
    delta: float | None = None  # this expectation's verdict tolerance; None: the run's --delta

    @property
    def who(self) -> str:
        return self.user if self.user is not None else "anonymous"

    def describe(self) -> str:
        parts: list[str] = []
        if self.reviews is not None:
            parts.append(self.reviews.describe())
        if self.stars is not None:
            parts.append(f"stars {self.stars}")
        if self.ratings is not None:
            parts.append(f"ratings {self.ratings}")
        if self.details is not None:
            parts.append(f"details {self.details}")
        parts += [f"contains {c!r}" for c in self.contains]
        parts += [f"not contains {c!r}" for c in self.not_contains]
        if self.latency_min is not None or self.latency_max is not None:
            lo = "0" if self.latency_min is None else f"{self.latency_min:g}"
            hi = "∞" if self.latency_max is None else f"{self.latency_max:g}"
            parts.append(f"latency {lo}..{hi} s")
        if self.status != 200 or not parts:
            parts.append(f"status {self.status}")
        return f"{self.who}: " + ", ".join(parts)


@dataclass(frozen=True)
class DeleteRef:
    """What a step deletes: the objects of a manifest file, or one object by kind and name."""

    line: int
    path: Path | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    api_version: str | None = None


@dataclass(frozen=True)
class Step:
    name: str
    line: int
    description: str = ""
    apply: tuple[Path, ...] = ()
    delete: tuple[DeleteRef, ...] = ()
    expect: tuple[Expectation, ...] = ()
    timeout: float | None = None  # convergence timeout for this step (seconds)
    upgrade_traffic: bool = False  # upgrade checks: keep this step's traffic flowing during the mesh upgrade


@dataclass(frozen=True)
class IngressRef:
    """Where a scenario's users come in: a Kubernetes Gateway API ``Gateway`` (by default, the mesh's Istio
    ingress gateway). ``port`` picks one of its listeners (None: its first HTTP listener)."""

    gateway: str
    namespace: str = "default"
    port: int | None = None
    line: int = 0

    def describe(self) -> str:
        port = f" port {self.port}" if self.port is not None else ""
        return f"Gateway {self.namespace}/{self.gateway}{port}"


@dataclass(frozen=True)
class Scenario:
    name: str
    path: Path  # the scenario.yaml
    steps: tuple[Step, ...]
    description: str = ""
    namespace: str = "default"
    ingress: IngressRef | None = None  # None: the mesh's ingress gateway (istio-ingressgateway)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def step(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)

    def steps_before(self, name: str) -> tuple[Step, ...]:
        for index, s in enumerate(self.steps):
            if s.name == name:
                return self.steps[:index]
        raise KeyError(name)
