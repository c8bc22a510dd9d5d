"""The interface every mesh backend implements (DESIGN.md §2).

The scenario runner, the page client, the verdicts and the report are the same for all backends; what
differs (a local Envoy mesh, a kind cluster with Istio, an existing cluster) sits behind this protocol.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

Manifest = Mapping[str, Any]
"""One Kubernetes-style object as parsed from YAML (apiVersion, kind, metadata, spec)."""


@dataclass(frozen=True)
class ApplyResult:
    """What an apply/delete did, one kubectl-style line per object, plus Istio analyzer-style warnings."""

    lines: list[str] = field(default_factory=list)  # e.g. "virtualservice.networking.istio.io/reviews configured"
    warnings: list[str] = field(default_factory=list)  # e.g. 'Warning [IST0101] (VirtualService default/reviews) ...'


@dataclass(frozen=True)
class BackendInfo:
    """Versions recorded in reports; a field is "" when the backend cannot know it."""

    backend: str  # "local" | "kind" | "cluster"
    mesh: str = ""  # e.g. "envoy 1.40.0 (meshrelease local control plane)" or "istio 1.30.4"
    kubernetes: str = ""
    bookinfo: str = ""  # image tag, e.g. "1.20.3"
    extra: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    """A mesh with Bookinfo that scenarios can be run against."""

    name: str

    def start(self) -> None:
        """Bring up the mesh and Bookinfo; idempotent."""

    def apply(self, docs: Sequence[Manifest], *, source: str | None = None) -> ApplyResult:
        """Create or replace the objects, all-or-nothing: on error nothing changes (raises ValidationError)."""

    def delete(self, docs: Sequence[Manifest], *, source: str | None = None) -> ApplyResult:
        """Delete the objects identified by apiVersion/kind/namespace/name."""

    def reset_routing(self) -> None:
        """Remove every routing object (VirtualService, DestinationRule) this harness applied."""

    def wait_synced(self, timeout: float = 30.0) -> float:
        """Block until the data plane runs the configuration just applied; returns the seconds waited.

        Raises WaitTimeout naming the lagging proxy and the version it runs."""

    @property
    def ingress_url(self) -> str:
        """Base URL of the ingress gateway, e.g. "http://127.0.0.1:8080" (no trailing slash)."""

    def describe(self) -> BackendInfo:
        """Versions of the mesh, Kubernetes and Bookinfo."""

    def access_log_lines(self, request_id: str) -> list[str]:
        """Proxy access-log lines of one request (by x-request-id), for failure reports; [] if unknown."""

    def diagnostics(self) -> dict[str, str]:
        """Extra text for a failed step's report (proxy routes, recent logs); {} if none."""

    def close(self) -> None:
        """Tear down what this run created, nothing else."""
