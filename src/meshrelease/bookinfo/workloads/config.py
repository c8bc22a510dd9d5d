"""Pod configuration of the Bookinfo-compatible workloads: what a pod is, the env the real images bake in,
the service addresses a pod calls and the (real-app) timeouts it uses."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from meshrelease.errors import MeshReleaseError

SERVICES = ("productpage", "details", "reviews", "ratings")
UIS = ("modern", "classic")
SERVICE_PORT = 9080

TIMEOUT_SCALE_ENV = "MESHRELEASE_TIMEOUT_SCALE"
"""Multiplies every outbound timeout of a pod (pod env first, then the process env). Tests use it to run
timeout cases against a delayed upstream quickly; unset means the real app's timeouts."""
MAX_TIMEOUT_SCALE = 1000.0


class WorkloadConfigError(MeshReleaseError):
    """Raised when a pod configuration cannot be run (unknown service, bad port, bad proxy/upstream)."""


@dataclass
class PodConfig:
    """One pod to run: which service, its pod name (also its HOSTNAME), its environment, where it listens
    and how its outbound calls leave it."""

    service: str  # "productpage" | "details" | "reviews" | "ratings"
    name: str  # pod name, also HOSTNAME, e.g. "reviews-v2-7f8c9d6b5-x2k4q"
    env: dict[str, str]  # SERVICE_VERSION, ENABLE_RATINGS, STAR_COLOR, CLUSTER_NAME, *_HOSTNAME, ...
    port: int = 0  # 127.0.0.1 port to listen on; 0 = pick a free one
    ui: str = "modern"  # productpage only: "modern" | "classic"
    # destination port -> HTTP proxy URL (the sidecar), e.g. {9080: "http://127.0.0.1:41234"}
    proxies: dict[int, str] = field(default_factory=dict)
    # "details:9080" -> "127.0.0.1:41001" when calling directly (no proxy); a comma-separated list of
    # addresses is used round-robin (standalone runs have no mesh to balance)
    upstreams: dict[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        """Raise WorkloadConfigError naming the pod and the field when this configuration cannot run."""
        where = f"pod {self.name!r}"
        if self.service not in SERVICES:
            raise WorkloadConfigError(
                f"{where}: service {self.service!r} is not a Bookinfo service",
                hint=f"use one of {', '.join(SERVICES)}",
            )
        if not self.name:
            raise WorkloadConfigError("pod name is empty", hint="give every pod a Kubernetes-style name")
        if not 0 <= self.port <= 65535:
            raise WorkloadConfigError(f"{where}: port {self.port} is out of range 0-65535")
        if self.ui not in UIS:
            raise WorkloadConfigError(f"{where}: ui {self.ui!r} is unknown", hint="use 'modern' or 'classic'")
        for key, value in self.env.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise WorkloadConfigError(f"{where}: env {key!r} must map a string to a string, got {value!r}")

    def getenv(self, key: str, default: str = "") -> str:
        """The pod's environment variable ``key`` (HOSTNAME falls back to the pod name)."""
        if key == "HOSTNAME":
            return self.env.get(key) or self.name
        return self.env.get(key, default)


def pod_config_from_mapping(data: Mapping[str, Any]) -> PodConfig:
    """Build a PodConfig from decoded JSON (the host protocol): proxy ports may arrive as strings."""
    known = {f.name for f in fields(PodConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise WorkloadConfigError(
            f"pod config has unknown field(s) {', '.join(unknown)}",
            hint=f"known fields: {', '.join(sorted(known))}",
        )
    for required in ("service", "name"):
        if not isinstance(data.get(required), str):
            raise WorkloadConfigError(f"pod config field {required!r} must be a string, got {data.get(required)!r}")
    name = str(data["name"])
    env = data.get("env") or {}
    proxies = data.get("proxies") or {}
    upstreams = data.get("upstreams") or {}
    port = data.get("port", 0)
    ui = data.get("ui", "modern")
    if not isinstance(env, Mapping) or not isinstance(proxies, Mapping) or not isinstance(upstreams, Mapping):
        raise WorkloadConfigError(f"pod {name!r}: env, proxies and upstreams must be JSON objects")
    if not isinstance(port, int) or isinstance(port, bool):
        raise WorkloadConfigError(f"pod {name!r}: port must be an integer, got {port!r}")
    if not isinstance(ui, str):
        raise WorkloadConfigError(f"pod {name!r}: ui must be a string, got {ui!r}")
    try:
        proxy_map = {int(k): str(v) for k, v in proxies.items()}
    except ValueError as exc:
        raise WorkloadConfigError(f"pod {name!r}: proxies keys must be port numbers ({exc})") from None
    cfg = PodConfig(
        service=str(data["service"]),
        name=name,
        env={str(k): str(v) for k, v in env.items()},
        port=port,
        ui=ui,
        proxies=proxy_map,
        upstreams={str(k): str(v) for k, v in upstreams.items()},
    )
    cfg.validate()
    return cfg


def default_env(service: str, version: str) -> dict[str, str]:
    """The environment the real Bookinfo image of ``service``/``version`` bakes in.

    reviews v1: ratings off; v2: ratings on, black stars; v3: ratings on, red stars. details v2 turns on the
    external book service. HOSTNAME and CLUSTER_NAME are not baked in (the pod sets them)."""
    if service not in SERVICES:
        raise WorkloadConfigError(
            f"no Bookinfo image for service {service!r}", hint=f"use one of {', '.join(SERVICES)}"
        )
    env = {"SERVICE_VERSION": version}
    if service == "reviews":
        env["ENABLE_RATINGS"] = "false" if version == "v1" else "true"
        env["STAR_COLOR"] = "red" if version == "v3" else "black"
    elif service == "details" and version == "v2":
        env["ENABLE_EXTERNAL_BOOK_SERVICE"] = "true"
    return env


def service_authority(cfg: PodConfig, service: str) -> tuple[str, int]:
    """``(host, port)`` a pod calls for ``service``: ``{SERVICE}_HOSTNAME`` (default the service name) plus
    ``.<SERVICES_DOMAIN>`` when set, and ``{SERVICE}_SERVICE_PORT`` (default 9080)."""
    prefix = service.upper()
    host = cfg.getenv(f"{prefix}_HOSTNAME") or service
    domain = cfg.getenv("SERVICES_DOMAIN")
    if domain:
        host = f"{host}.{domain}"
    raw_port = cfg.getenv(f"{prefix}_SERVICE_PORT") or str(SERVICE_PORT)
    try:
        port = int(raw_port)
    except ValueError:
        raise WorkloadConfigError(
            f"pod {cfg.name!r}: {prefix}_SERVICE_PORT={raw_port!r} is not a port number"
        ) from None
    return host, port


@dataclass(frozen=True)
class Timeouts:
    """Outbound timeouts in seconds, as the real apps use them (multiplied by ``scale``)."""

    details: float = 3.0  # productpage -> details, one attempt
    reviews: float = 3.0  # productpage -> reviews, per attempt
    reviews_attempts: int = 2  # productpage's hard-coded retry loop
    ratings: float = 3.0  # productpage -> ratings (API route only)
    ratings_black: float = 10.0  # reviews -> ratings when STAR_COLOR is black
    ratings_other: float = 2.5  # reviews -> ratings otherwise
    scale: float = 1.0  # the factor applied to the real values (other delays of a pod use it too)

    @classmethod
    def for_pod(cls, cfg: PodConfig) -> Timeouts:
        """The real timeouts, scaled by MESHRELEASE_TIMEOUT_SCALE (pod env, else process env) when set."""
        raw = cfg.env.get(TIMEOUT_SCALE_ENV) or os.environ.get(TIMEOUT_SCALE_ENV) or "1"
        try:
            scale = float(raw)
        except ValueError:
            scale = -1.0
        if not 0 < scale <= MAX_TIMEOUT_SCALE:  # also refuses nan and inf: a timeout must end
            raise WorkloadConfigError(
                f"pod {cfg.name!r}: {TIMEOUT_SCALE_ENV}={raw!r} must be a positive number up to {MAX_TIMEOUT_SCALE:g}",
                hint="unset it",
            )
        base = cls()
        return cls(
            details=base.details * scale,
            reviews=base.reviews * scale,
            reviews_attempts=base.reviews_attempts,
            ratings=base.ratings * scale,
            ratings_black=base.ratings_black * scale,
            ratings_other=base.ratings_other * scale,
            scale=scale,
        )
