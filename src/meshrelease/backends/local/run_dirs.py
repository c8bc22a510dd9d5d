"""Run directories of the local mesh: one per mesh (``meshrelease-XXXXXXXX``: xDS files, logs), removed
when the mesh closes; each records the pid of the process that owns it (``owner.pid``).

A harness killed outright (SIGKILL, a power cut) cannot remove its directory, so each start sweeps the
default location (the system temporary directory) of the run directories whose owner is gone: only
directories named as meshrelease names them, holding an ``owner.pid`` whose process no longer exists,
belonging to this user. Directories kept on purpose (``--keep-run-dir``) record no owner and are never
swept.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from meshrelease.backends.local.dataplane.reaper import pid_alive

PREFIX = "meshrelease-"
OWNER_FILE = "owner.pid"


def create_run_dir(parent: Path | None, *, keep: bool = False) -> Path:
    """A new private run directory under ``parent`` (default: the temporary directory), owned by this process;
    with no ``parent``, stale run directories there are swept first. A directory to ``keep`` records no owner,
    so no sweep ever removes it."""
    if parent is None:
        sweep_stale_run_dirs(Path(tempfile.gettempdir()))
    else:
        parent.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
    if not keep:
        (run_dir / OWNER_FILE).write_text(f"{os.getpid()}\n", encoding="ascii")
    return run_dir


def owner_of(run_dir: Path) -> int | None:
    """The pid recorded in ``run_dir`` (None when there is no readable record)."""
    try:
        text = (run_dir / OWNER_FILE).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def sweep_stale_run_dirs(parent: Path) -> list[Path]:
    """Remove the run directories in ``parent`` whose owner process is gone; returns those removed."""
    removed: list[Path] = []
    try:
        candidates = [p for p in parent.iterdir() if p.name.startswith(PREFIX)]
    except OSError:
        return removed
    for path in candidates:
        try:
            if path.is_symlink() or not path.is_dir() or path.stat().st_uid != os.getuid():
                continue
        except OSError:
            continue
        owner = owner_of(path)
        if owner is None or pid_alive(owner):
            continue
        with contextlib.suppress(OSError):
            shutil.rmtree(path)
            removed.append(path)
    return removed
