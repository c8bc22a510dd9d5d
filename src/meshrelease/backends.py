"""Choosing and starting a backend from pytest options (``--backend local|kind|cluster``)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from meshrelease.backend import ApplyResult, Backend, BackendInfo, Manifest
from meshrelease.errors import MeshReleaseError


def local_options_from_pytest(config: pytest.Config) -> Any:
    from meshrelease.local.mesh import local_mesh_options

    keep = bool(config.getoption("keep_run_dir"))
    return local_mesh_options(
        port=config.getoption("port"),
        ui=config.getoption("ui"),
        envoy_bin=config.getoption("envoy_bin"),
        envoy_version=config.getoption("envoy_version"),
        propagation_delay=config.getoption("propagation_delay"),
        workloads=config.getoption("workload") or [],
        keep_run_dir=keep,
        run_dir=Path(config.getoption("report_dir")).parent / ".runs" if keep else None,
    )


def make_backend(config: pytest.Config) -> Backend:
    name = config.getoption("backend")
    if name == "local":
        from meshrelease.local.mesh import LocalMesh

        return LocalMesh(local_options_from_pytest(config))
    from meshrelease.kube.options import backend_from_pytest_config

    backend: Backend = backend_from_pytest_config(name, config)
    return backend


class LazyBackend:
    """Wraps a backend factory: starts it on first use and remembers a failure to start, so every later step
    fails fast with the same reason instead of trying again."""

    def __init__(self, factory: Callable[[], Backend], on_started: Callable[[BackendInfo], None] | None = None):
        self._factory = factory
        self._on_started = on_started
        self._backend: Backend | None = None
        self._created: Backend | None = None  # kept even when start() failed, so close() can clean up
        self._error: MeshReleaseError | None = None
        self._lock = threading.Lock()
        self.name = "lazy"

    def _get(self) -> Backend:
        with self._lock:
            if self._error is not None:
                raise MeshReleaseError(f"the mesh could not be started: {self._error}")
            if self._backend is None:
                try:
                    backend = self._factory()
                    self._created = backend
                    backend.start()
                except MeshReleaseError as exc:
                    self._error = exc
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

    def apply(self, docs: Sequence[Manifest], *, source: str | None = None) -> ApplyResult:
        return self._get().apply(docs, source=source)

    def delete(self, docs: Sequence[Manifest], *, source: str | None = None) -> ApplyResult:
        return self._get().delete(docs, source=source)

    def reset_routing(self) -> None:
        self._get().reset_routing()

    def wait_synced(self, timeout: float = 30.0) -> float:
        return self._get().wait_synced(timeout)

    @property
    def ingress_url(self) -> str:
        return self._get().ingress_url

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
            if failed and getattr(backend, "collect_logs_dir", None) is not None:
                from meshrelease.kube.options import finish_session

                finish_session(backend, failed=True)  # type: ignore[arg-type]
            else:
                backend.close()
