"""The interface every mesh backend implements, and :class:`LazyBackend`, which starts one on first use.

The scenario runner, the page client, the verdicts and the report are the same for all backends; what
differs (a local Envoy mesh, a kind cluster with Istio, an existing cluster) sits behind this protocol.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from meshrelease.errors import MeshReleaseError, ProcessDied

log = logging.getLogger("meshrelease.backends")
_T = TypeVar("_T")

ObjectDoc = Mapping[str, Any]
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

    def apply(self, docs: Sequence[ObjectDoc], *, source: str | None = None) -> ApplyResult:
        """Create or replace the objects, all-or-nothing: on error nothing changes (raises ValidationError)."""

    def delete(self, docs: Sequence[ObjectDoc], *, source: str | None = None) -> ApplyResult:
        """Delete the objects identified by apiVersion/kind/namespace/name."""

    def reset_routing(self) -> None:
        """Remove every routing object (VirtualService, DestinationRule) this harness applied."""

    def wait_synced(self, timeout: float = 30.0) -> float:
        """Block until the data plane runs the configuration just applied; returns the seconds waited.

        Raises WaitTimeout naming the lagging proxy and the version it runs."""

    @property
    def ingress_url(self) -> str:
        """Base URL of the ingress gateway, e.g. "http://127.0.0.1:8080" (no trailing slash)."""

    def gateway_url(self, namespace: str, name: str, port: int | None = None) -> str:
        """Base URL of the gateway istiod deployed for the Gateway API ``Gateway`` ``namespace/name``, on its
        listener ``port`` (None: its first HTTP listener). Raises MeshReleaseError naming what is missing."""

    def describe(self) -> BackendInfo:
        """Versions of the mesh, Kubernetes and Bookinfo."""

    def access_log_lines(self, request_id: str) -> list[str]:
        """Proxy access-log lines of one request (by x-request-id), for failure reports; [] if unknown."""

    def diagnostics(self) -> dict[str, str]:
        """Extra text for a failed step's report (proxy routes, recent logs); {} if none."""

    def close(self) -> None:
        """Tear down what this run created, nothing else."""


@runtime_checkable
class KnowsDeployedVersions(Protocol):
    """A backend that can say which versions of an app its running pods serve (optional: the runner then fails
    an expectation of a version nobody serves at once, instead of waiting out the convergence timeout)."""

    def deployed_versions(self, app: str) -> list[str] | None:
        """The ``version`` labels of the running pods labelled ``app=<app>``, sorted; None when unknown."""


def deployed_versions(backend: object, app: str) -> list[str] | None:
    """``backend.deployed_versions(app)`` when the backend knows them, else None."""
    return backend.deployed_versions(app) if isinstance(backend, KnowsDeployedVersions) else None


class LazyBackend:
    """Wraps a backend factory: starts it on first use and remembers a failure to start, so every later step
    fails fast with the same reason instead of trying again."""

    def __init__(self, factory: Callable[[], Backend], on_started: Callable[[BackendInfo], None] | None = None):
        self._factory = factory
        self._on_started = on_started
        self._backend: Backend | None = None
        self._created: Backend | None = None  # kept even when start() failed, so close() can clean up
        self._dead: str | None = None  # why the started backend can no longer serve (restarted on next use)
        self.restarts = 0
        self._error: MeshReleaseError | None = None
        self._lock = threading.Lock()
        self.name = "lazy"

    def _get(self) -> Backend:
        with self._lock:
            if self._error is not None:
                raise MeshReleaseError(f"the mesh could not be started: {self._error}")
            if self._backend is not None and self._dead is not None:
                # A process the mesh needs died: tear it down and start a fresh one for what comes next.
                log.warning("restarting the %s mesh: %s", self._backend.name, self._dead)
                self._dead = None
                dead, self._backend, self._created = self._backend, None, None
                with contextlib.suppress(MeshReleaseError):
                    dead.close()
                self.restarts += 1
            if self._backend is None:
                try:
                    backend = self._factory()
                    self._created = backend
                    backend.start()
                except MeshReleaseError as exc:
                    self._error = exc
                    raise
                except BaseException as exc:
                    # Also a pytest timeout or Ctrl-C mid-start: a later step must not start (or adopt) the
                    # half-built mesh again; close() tears down what was created.
                    self._error = MeshReleaseError(f"starting was interrupted: {type(exc).__name__}: {exc}")
                    raise
                self._backend = backend
                self.name = backend.name
                if self._on_started is not None:
                    self._on_started(backend.describe())
            return self._backend

    @property
    def started(self) -> Backend | None:
        return self._backend

    def start(self) -> None:
        self._get()

    def apply(self, docs: Sequence[ObjectDoc], *, source: str | None = None) -> ApplyResult:
        return self._get().apply(docs, source=source)

    def delete(self, docs: Sequence[ObjectDoc], *, source: str | None = None) -> ApplyResult:
        return self._get().delete(docs, source=source)

    def reset_routing(self) -> None:
        self._get().reset_routing()

    def wait_synced(self, timeout: float = 30.0) -> float:
        return self._watching(lambda: self._get().wait_synced(timeout))

    def deployed_versions(self, app: str) -> list[str] | None:
        return deployed_versions(self._get(), app)

    def check_alive(self) -> None:
        """Raise ProcessDied when a process the started backend needs died (backends that cannot tell: never);
        the backend is then replaced before its next use."""
        check = getattr(self._backend, "check_alive", None)
        if check is not None:
            self._watching(check)

    def _watching(self, call: Callable[[], _T]) -> _T:
        """``call()``; a ProcessDied it raises marks the backend for replacement before its next use."""
        try:
            return call()
        except ProcessDied as exc:
            self._dead = str(exc).splitlines()[0]
            raise

    @property
    def ingress_url(self) -> str:
        return self._get().ingress_url

    def gateway_url(self, namespace: str, name: str, port: int | None = None) -> str:
        return self._get().gateway_url(namespace, name, port)

    def describe(self) -> BackendInfo:
        return self._get().describe()

    def access_log_lines(self, request_id: str) -> list[str]:
        return self._get().access_log_lines(request_id)

    def diagnostics(self) -> dict[str, str]:
        if self._backend is None:
            return {}
        return self._backend.diagnostics()

    def close(self, *, failed: bool = False) -> None:
        """Tear down what was created (also after a failed start); on a failed session, real-cluster
        backends first collect their logs when ``--collect-logs`` asked for it."""
        with self._lock:
            backend = self._backend or self._created
            if backend is None:
                return
            finish = getattr(backend, "finish", None)
            if callable(finish):
                finish(failed=failed)  # real-cluster backends collect their logs first when asked to
            else:
                backend.close()
