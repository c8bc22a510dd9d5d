"""What the kind and cluster backends share: once started, a step's work goes to their MeshSession."""

from __future__ import annotations

from collections.abc import Sequence

from meshrelease.backend import ApplyResult, Manifest
from meshrelease.errors import MeshReleaseError
from meshrelease.kube.session import MeshSession


class SessionBackend:
    """Base of KindBackend and ClusterBackend: the Backend methods that delegate to the started session."""

    name: str
    session: MeshSession | None = None
    _ingress_url: str = ""

    @property
    def ingress_url(self) -> str:
        return self._ingress_url

    def apply(self, docs: Sequence[Manifest], *, source: str | None = None) -> ApplyResult:
        return self._session().apply(docs, source=source)

    def delete(self, docs: Sequence[Manifest], *, source: str | None = None) -> ApplyResult:
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
