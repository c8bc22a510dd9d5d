"""The local mesh's options (:class:`LocalMeshOptions`), and building them from the user's settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from meshrelease.backends.local.dataplane.pods import UiName, parse_workload_mappings
from meshrelease.backends.local.translate import translator as translate
from meshrelease.backends.settings import LocalSettings


@dataclass
class LocalMeshOptions:
    port: int | None = None  # 127.0.0.1 port of the gateway's 8080 listener (None or 0: a free one)
    ui: UiName | None = None  # force the productpage UI instead of deriving it from the image tag
    run_dir: Path | None = None  # where the run directory is created (default: the system temp dir)
    keep_run_dir: bool = False
    envoy_bin: str | None = None
    propagation_delay: tuple[float, float] | None = None  # seconds, per proxy and update, uniform
    workloads: dict[str, tuple[str, ...]] = field(default_factory=dict)  # image -> argv template
    bookinfo: bool = True  # apply the packaged bookinfo.yaml + bookinfo-gateway.yaml on start
    manifests: list[Path] = field(default_factory=list)  # applied after Bookinfo on start
    seed: int | None = None
    envoy_log_level: str = "warning"
    start_timeout: float = 60.0
    port_slice: tuple[int, int] | None = None  # (index, count): allocate ports only in this share of the range
    translate_options: translate.TranslateOptions = field(default_factory=translate.TranslateOptions)


def mesh_options(settings: LocalSettings, *, manifests: Sequence[Path] = ()) -> LocalMeshOptions:
    """LocalMeshOptions from the user's settings (``meshrelease serve`` and the pytest options share them):
    ``--envoy-version`` fetches that Envoy; ``--workload IMAGE=COMMAND`` is parsed here with a clear error for a
    bad value."""
    envoy_bin = settings.envoy_bin
    if settings.envoy_version:
        from meshrelease.backends.local.dataplane.envoy_versions import ensure_envoy_version

        envoy_bin = ensure_envoy_version(settings.envoy_version)
    return LocalMeshOptions(
        port=settings.port,
        ui=settings.ui,
        envoy_bin=envoy_bin,
        propagation_delay=settings.propagation_delay,
        workloads=parse_workload_mappings(settings.workloads),
        manifests=list(manifests),
        keep_run_dir=settings.keep_run_dir,
        run_dir=settings.run_dir,
        port_slice=settings.port_slice,
    )
