"""What the kind and cluster backends share: once started, a step's work goes to their MeshSession."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

from meshrelease.backends.base import ApplyResult, ObjectDoc
from meshrelease.backends.kube.session import MeshSession
from meshrelease.errors import MeshReleaseError

log = logging.getLogger("meshrelease.backends.kube")


class SessionBackend(ABC):
    """Base of KindBackend and ClusterBackend: the Backend methods that delegate to the started session."""

    name: str
    session: MeshSession | None = None
    collect_logs_dir: Path | None = None
    _ingress_url: str = ""

    @abstractmethod
    def close(self) -> None:
        """Tear down what this run created, nothing else."""

    @abstractmethod
    def collect_logs(self, dest_dir: Path) -> Path | None:
        """Save the cluster's logs under ``dest_dir``; returns where they went."""

    def finish(self, *, failed: bool) -> Path | None:
        """End a session: on failure with ``--collect-logs``, save the logs first; then ``close()``.

        Returns where the logs went (None when none were collected). A failure to collect is logged, never
        raised over the session's own failure; ``close()`` always runs."""
        saved: Path | None = None
        try:
            if failed and self.collect_logs_dir is not None:
                try:
                    saved = self.collect_logs(self.collect_logs_dir)
                except MeshReleaseError as exc:
                    log.warning("could not collect logs into %s: %s", self.collect_logs_dir, exc)
        finally:
            self.close()
        return saved

    @property
    def ingress_url(self) -> str:
        return self._ingress_url

    def apply(self, docs: Sequence[ObjectDoc], *, source: str | None = None) -> ApplyResult:
        return self._session().apply(docs, source=source)

    def delete(self, docs: Sequence[ObjectDoc], *, source: str | None = None) -> ApplyResult:
        return self._session().delete(docs, source=source)

    def reset_routing(self) -> None:
        self._session().reset(routing_only=True)

    def wait_synced(self, timeout: float = 30.0) -> float:
        return self._session().wait_synced(timeout)

    def access_log_lines(self, request_id: str) -> list[str]:
        return self._session().access_log_lines(request_id)

    def diagnostics(self) -> dict[str, str]:
        return self._session().collect_diagnostics()

    def _session(self) -> MeshSession:
        if self.session is None:
            raise MeshReleaseError(f"the {self.name} backend is not started", hint="call start() first")
        return self.session
