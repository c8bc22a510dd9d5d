"""The local backend's part of the upgrade check: the suite on Envoy FROM, then on Envoy TO."""

from __future__ import annotations

from collections.abc import Callable

from meshrelease.backends.base import Backend
from meshrelease.errors import MeshReleaseError, UserInputError
from meshrelease.upgrade.check import PhaseFn, UpgradePlan


class LocalVersionsDriver:
    """The local backend: the suite on Envoy FROM, then on Envoy TO (no mid-run upgrade)."""

    backend = "local"

    def __init__(self, plan: UpgradePlan, *, fetch: Callable[[str], str] | None = None) -> None:
        self.plan = plan
        self._fetch = fetch

    def prepare(self) -> UpgradePlan:
        if self.plan.mode is not None:
            raise UserInputError(
                "--mode is for the kind backend; the local backend runs each Envoy version from the start",
                field="--mode",
                hint="drop --mode",
            )
        if self.plan.from_version == self.plan.to_version:
            raise UserInputError(f"--from and --to are both {self.plan.from_version}", field="--to")
        fetch = self._fetch
        if fetch is None:
            from meshrelease.backends.local.dataplane.envoy_versions import ensure_envoy_version

            fetch = ensure_envoy_version
        for version in (self.plan.from_version, self.plan.to_version):
            fetch(version)  # fetched (or found in the cache) now, so a bad TO fails before the first run
        return self.plan

    def start(self) -> Backend | None:
        return None

    def suite_args(self, *, upgraded: bool) -> list[str]:
        return ["--envoy-version", self.plan.to_version if upgraded else self.plan.from_version]

    def upgrade(self, on_phase: PhaseFn) -> None:
        raise MeshReleaseError("the local backend has no mid-run upgrade")

    def close(self, *, failed: bool) -> str:
        return ""
