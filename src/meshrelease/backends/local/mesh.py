"""LocalMesh: the ``local`` backend — real Envoy proxies configured by meshrelease's own control plane.

One Envoy sidecar per pod and one ingress-gateway Envoy, all on 127.0.0.1; Bookinfo-compatible workloads
hosted by one child process (:mod:`meshrelease.bookinfo.workloads`), or user commands (``--workload``).
Applied objects go through the store (kubectl-apply semantics, Istio's validation), are translated to
Envoy resources per proxy and pushed as xDS files; :meth:`LocalMesh.wait_synced` reads every proxy's admin
endpoint until it runs exactly that configuration.

The mesh is a context manager: every process it starts is its child (and dies with it, through the lifeline,
should the harness be killed) and is reaped on exit; the run directory is removed.

This module holds the facade (the :class:`~meshrelease.backends.base.Backend` protocol, one lock, the
started/closed state); its options are in :mod:`.options`; the work is done by :mod:`.runtime` (processes, ports, pods),
:mod:`.transaction` (all-or-nothing apply/delete/reset), :mod:`.sync` (translation, push, wait) and
:mod:`.status` (status, diagnostics, versions, access logs).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from meshrelease.backends.base import ApplyResult, BackendInfo, ObjectDoc
from meshrelease.backends.local import status as mesh_status
from meshrelease.backends.local.apiserver.store import ObjectStore
from meshrelease.backends.local.dataplane import accesslog
from meshrelease.backends.local.dataplane.envoy import ConfigRejected, EnvoyProcess
from meshrelease.backends.local.model import Pod, Translation
from meshrelease.backends.local.options import LocalMeshOptions
from meshrelease.backends.local.runtime import MeshRuntime
from meshrelease.backends.local.sync import ConfigSync
from meshrelease.backends.local.transaction import Transactions
from meshrelease.data import bookinfo_manifests
from meshrelease.errors import MeshReleaseError, ProcessDied
from meshrelease.k8s.manifest import load_manifests
from meshrelease.k8s.objects import GATEWAY_API_GROUP, ObjectKey


class LocalMesh:
    """The local backend (see the module docstring). Use as a context manager or call start()/close()."""

    name = "local"

    def __init__(self, options: LocalMeshOptions | None = None) -> None:
        self.options = options or LocalMeshOptions()
        self.store = ObjectStore()
        self._lock = threading.RLock()
        self._started = False
        self._closed = False
        rng = random.Random(self.options.seed)
        self._runtime = MeshRuntime(self.options, rng)
        self._sync = ConfigSync(self.options.translate_options, self.options.propagation_delay, rng)
        self._changes = Transactions(self.options, self.store, self._runtime, self._sync)

    # ----------------------------------------------------------------- lifecycle
    def __enter__(self) -> LocalMesh:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def run_dir(self) -> Path:
        return self._runtime.run_dir

    def start(self) -> None:
        """Start the gateway and the workload host, then apply Bookinfo (and extra manifests). Idempotent."""
        with self._lock:
            if self._started:
                return
            if self._closed:
                raise MeshReleaseError("this LocalMesh was closed; create a new one")
            self._started = True
            try:
                self._start()
            except BaseException:
                self.close()
                raise

    def _start(self) -> None:
        self._runtime.start()
        self._sync.start()
        docs: list[ObjectDoc] = []
        if self.options.bookinfo:
            for path in bookinfo_manifests():
                docs.extend(load_manifests(path))
        for path in self.options.manifests:
            docs.extend(load_manifests(path))
        if docs:
            self.apply(docs, source="bookinfo" if not self.options.manifests else "start-up manifests")
        self._changes.mark_baseline()
        # start() returns a mesh that serves: every proxy runs the start-up configuration (listeners bound).
        self.wait_synced(self.options.start_timeout)

    def close(self) -> None:
        """Stop every process this mesh started and remove its run directory. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._sync.close()
            self._runtime.close()

    # ----------------------------------------------------------------- Backend API
    @property
    def ingress_url(self) -> str:
        return self._runtime.ingress_url

    def gateway_url(self, namespace: str, name: str, port: int | None = None) -> str:
        with self._lock:
            self._require_running()
            return self._runtime.api_gateway_url(namespace, name, port)

    def apply(self, docs: Sequence[ObjectDoc], *, source: str | None = None) -> ApplyResult:
        with self._lock:
            self._require_running()
            return self._changes.apply(docs, source=source)

    def delete(
        self, docs: Sequence[ObjectDoc], *, source: str | None = None, ignore_not_found: bool = False
    ) -> ApplyResult:
        with self._lock:
            self._require_running()
            return self._changes.delete(docs, source=source, ignore_not_found=ignore_not_found)

    def delete_keys(self, keys: Sequence[ObjectKey], *, ignore_not_found: bool = False) -> ApplyResult:
        with self._lock:
            self._require_running()
            return self._changes.delete_keys(keys, ignore_not_found=ignore_not_found)

    def reset_routing(self) -> None:
        """Bring every object back to the state right after start (routing included); cheap when unchanged."""
        with self._lock:
            self._require_running()
            self._changes.reset_routing()

    def wait_synced(self, timeout: float = 30.0) -> float:
        """Wait until every proxy runs the configuration last applied.

        A process of the mesh that died fails at once (:class:`ProcessDied`, naming it, its pid, exit status
        and log). A configuration an Envoy refused is rolled back: the store returns to what the data plane last
        ran, that is pushed again, and :class:`ConfigRejected` names Envoy's reason and the objects rolled back,
        so the mesh keeps accepting later applies."""
        started = time.monotonic()
        self._check_processes()
        try:
            waited = self._sync.wait_synced(timeout, self._proxies)
        except ConfigRejected as exc:
            with self._lock:
                rolled_back = self._changes.roll_back_to_synced()
            self._wait_after_rollback(started + max(5.0, timeout))
            objects = ", ".join(rolled_back) or "nothing had changed"
            raise ConfigRejected(
                exc.proxy,
                exc.resource,
                f"{exc.reason}; the change was rolled back ({objects}): the mesh runs what it ran before",
                self.run_dir / "proxies",
            ) from None
        self._check_processes()
        with self._lock:
            self._changes.mark_synced()
        return waited

    def _wait_after_rollback(self, deadline: float) -> None:
        """Wait for the rolled-back configuration. Other proxies may report the refused update too (each once):
        those reports are about the change already undone."""
        for _ in range(len(self._proxies()) + 1):
            try:
                self._sync.wait_synced(max(0.5, deadline - time.monotonic()), self._proxies)
                return
            except ConfigRejected:
                continue
        self._sync.wait_synced(max(0.5, deadline - time.monotonic()), self._proxies)

    def check_alive(self) -> None:
        """Raise :class:`ProcessDied` naming the first process of the mesh that is no longer running."""
        self._check_processes()

    def _check_processes(self) -> None:
        host = self._runtime.host
        if host is not None and host.returncode is not None:
            code = host.returncode
            how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
            log = self.run_dir / "logs" / "workloads.log"
            try:
                tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-10:])
            except OSError:
                tail = "(no log)"
            raise ProcessDied(
                f"the workload host (pid {host.pid}, every Bookinfo pod) is not running ({how}); {log} ends:\n{tail}"
            )
        for proc in self._proxies():
            if not proc.alive():
                raise ProcessDied(proc.died_message())
        for pod in list(self._runtime.pods.values()):
            if pod.command is not None and pod.command.poll() is not None:
                raise ProcessDied(
                    f"the --workload command of pod {pod.plan.name} (pid {pod.command.pid}) is not running "
                    f"(exit status {pod.command.poll()})"
                )

    def describe(self) -> BackendInfo:
        return mesh_status.describe(self._runtime, self.options.envoy_bin)

    def access_log_entries(self, request_id: str, *, wait: float = 1.0) -> list[dict[str, Any]]:
        """Access-log entries of every proxy for one request id (waits for Envoy's 100 ms log flush)."""
        return accesslog.lines_for_request(mesh_status.access_log_paths(self.run_dir), request_id, wait=wait)

    def access_log_lines(self, request_id: str) -> list[str]:
        """The request's access-log entries as JSON lines, the routing keys first (for failure reports)."""
        return [accesslog.format_entry(e) for e in self.access_log_entries(request_id)]

    def access_log_window(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        return accesslog.lines_between(mesh_status.access_log_paths(self.run_dir), start, end)

    def diagnostics(self) -> dict[str, str]:
        with self._lock:
            out = mesh_status.diagnostics(self._runtime, self._sync.last_translation)
            try:
                self._check_processes()
            except ProcessDied as exc:
                out = {"dead process": str(exc), **out}
            return out

    # ----------------------------------------------------------------- status / introspection
    def status(self) -> dict[str, Any]:
        """Proxies (id, kind, pid, admin URL, the configuration version they run) and workloads."""
        with self._lock:
            return mesh_status.status(self._runtime, self._sync.version)

    def object_statuses(self) -> dict[tuple[str, str, str, str], dict[str, Any]]:
        """The status istiod would write on each Gateway API object, by (group, kind, namespace, name), as of
        the configuration last pushed."""
        translation = self._sync.last_translation
        if translation is None:
            return {}
        return {(GATEWAY_API_GROUP, *key): status for key, status in translation.statuses.items()}

    def workloads(self) -> list[dict[str, Any]]:
        """The running pods as :meth:`status` lists them, without asking the proxies anything."""
        with self._lock:
            return mesh_status.workloads(self._runtime)

    def pods(self) -> list[Pod]:
        with self._lock:
            return [p.model for p in self._runtime.pods.values()]

    def deployed_versions(self, app: str) -> list[str] | None:
        """The ``version`` labels of the running pods labelled ``app=<app>`` (Bookinfo's convention), sorted."""
        return sorted({v for p in self.pods() if p.labels.get("app") == app and (v := p.labels.get("version"))})

    @property
    def last_translation(self) -> Translation | None:
        """The translation last pushed to the proxies (None before the first push)."""
        return self._sync.last_translation

    @property
    def _host(self) -> Any:
        # bench/local_mesh.py reads the workload host's pid through this for its memory figure.
        return self._runtime.host

    # ----------------------------------------------------------------- internals
    def _require_running(self) -> None:
        if not self._started or self._closed:
            raise MeshReleaseError("the local mesh is not running; start() it first (or use it as a context manager)")

    def _proxies(self) -> list[EnvoyProcess]:
        with self._lock:
            return self._runtime.proxies()
