"""Running ``meshrelease run`` as a user does, for the tests that check it end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def meshrelease_run(cwd: Path, *args: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess[str]:
    """``meshrelease run ARGS`` in ``cwd`` (bounded by ``timeout``): the caller's ``MESHRELEASE_*`` variables
    dropped, ``MESHRELEASE_HOME`` under ``cwd``, ``env`` added."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MESHRELEASE_")}
    environ.update(env, MESHRELEASE_HOME=str(cwd / "home"))
    return subprocess.run(
        [sys.executable, "-m", "meshrelease.cli.main", "run", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=environ,
        check=False,
    )
