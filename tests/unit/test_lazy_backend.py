"""LazyBackend: a start that fails or is interrupted is recorded once, and what was created is closed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from meshrelease.backends.base import ApplyResult, BackendInfo, LazyBackend, ObjectDoc
from meshrelease.errors import MeshReleaseError


class HalfBuilt:
    """A backend whose start() raises ``error`` after "creating" something that close() must remove."""

    name = "half-built"

    def __init__(self, error: BaseException, log: list[str]) -> None:
        self.error = error
        self.log = log

    def start(self) -> None:
        self.log.append("created")
        raise self.error

    def close(self) -> None:
        self.log.append("closed")

    def apply(self, docs: Sequence[ObjectDoc], *, source: str | None = None) -> ApplyResult:
        raise AssertionError("never reached")

    delete = apply

    def reset_routing(self) -> None:
        raise AssertionError("never reached")

    def wait_synced(self, timeout: float = 30.0) -> float:
        raise AssertionError("never reached")

    @property
    def ingress_url(self) -> str:
        raise AssertionError("never reached")

    def describe(self) -> BackendInfo:
        raise AssertionError("never reached")

    def access_log_lines(self, request_id: str) -> list[str]:
        return []

    def diagnostics(self) -> dict[str, str]:
        return {}


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (MeshReleaseError("istioctl install failed"), "istioctl install failed"),
        (pytest.fail.Exception("Timeout >300.0s"), "starting was interrupted: Failed: Timeout >300.0s"),
        (KeyboardInterrupt(), "starting was interrupted: KeyboardInterrupt"),
    ],
)
def test_a_failed_or_interrupted_start_is_recorded_once_and_closed_at_the_end(error: BaseException, shown: str) -> None:
    log: list[str] = []
    made: list[HalfBuilt] = []

    def factory() -> Any:
        made.append(HalfBuilt(error, log))
        return made[-1]

    lazy = LazyBackend(factory)
    with pytest.raises(type(error)):
        lazy.start()
    for _ in range(3):  # every later use fails at once with the first reason; nothing is built again
        with pytest.raises(MeshReleaseError, match="the mesh could not be started") as err:
            _ = lazy.ingress_url
        assert shown in str(err.value)
    assert len(made) == 1 and log == ["created"]
    assert lazy.started is None and lazy.diagnostics() == {}
    lazy.close(failed=True)
    assert log == ["created", "closed"]  # the half-built backend is torn down
