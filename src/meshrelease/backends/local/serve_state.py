"""The state file of ``meshrelease serve``: where its control endpoint listens and the token that opens it.

``$MESHRELEASE_HOME/serve.json`` (default ``~/.meshrelease``). The token is a credential for the running
mesh, so the file is created 0600 with ``O_EXCL | O_NOFOLLOW`` (a stale temporary file or a planted link is
removed, never written through) and moved into place atomically, in a home that only its owner can change:
the default home is created (or tightened to) 0700; a ``MESHRELEASE_HOME`` owned by someone else, or that
group or others may write, is refused. A corrupt file is a clear error for the commands that read it and
is replaced by the next ``serve``.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from meshrelease.backends.local.dataplane.reaper import pid_alive
from meshrelease.errors import MeshReleaseError

STATE_NAME = "serve.json"
TMP_NAME = ".serve.json.tmp"
STATE_KEYS = ("pid", "control_url", "token", "ingress_url", "run_dir")


class AlreadyServing(MeshReleaseError):
    """Raised when another ``meshrelease serve`` is running with the same state directory."""


class CorruptState(MeshReleaseError):
    """Raised when the state file exists but is not what ``serve`` writes."""


def _default_home() -> Path:
    return Path.home() / ".meshrelease"


def state_dir() -> Path:
    return Path(os.environ.get("MESHRELEASE_HOME") or _default_home())


def state_file() -> Path:
    return state_dir() / STATE_NAME


def read_state() -> dict[str, Any] | None:
    """The running serve's state; None when there is none or its process has ended. Raises CorruptState
    when the file holds something else."""
    path = state_file()
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise _corrupt(path, f"cannot be read ({exc})") from None
    try:
        state = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _corrupt(path, f"is not JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(state, dict):
        raise _corrupt(path, "is not a JSON object")
    pid = state.get("pid")
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        raise _corrupt(path, f"names no process (pid {pid!r})")
    if not pid_alive(pid):
        return None  # left by a serve that is gone
    missing = [k for k in STATE_KEYS if k not in state]
    if missing:
        raise _corrupt(path, "has no " + ", ".join(missing))
    if not all(isinstance(state[k], str) for k in STATE_KEYS if k != "pid"):
        raise _corrupt(path, "has a field that is not a string")
    return state


def _corrupt(path: Path, what: str) -> CorruptState:
    return CorruptState(
        f"the state file {path} {what}",
        hint="if no `meshrelease serve` is running, remove the file; the next `meshrelease serve` writes a new one",
    )


def ensure_not_serving() -> None:
    """Raise AlreadyServing when another process serves a mesh with this state directory (a corrupt state
    file names nobody: serve replaces it)."""
    try:
        existing = read_state()
    except CorruptState:
        return
    if existing is not None and existing.get("pid") != os.getpid():
        raise AlreadyServing(
            f"meshrelease serve is already running (pid {existing['pid']}, productpage at "
            f"{existing.get('ingress_url')}/productpage)",
            hint=f"stop it with Ctrl-C (or `kill {existing['pid']}`), or set MESHRELEASE_HOME to another "
            "directory to run a second mesh",
        )


def private_home() -> Path:
    """The state directory, made or checked private (see the module docstring); returns it."""
    home = state_dir()
    default = "MESHRELEASE_HOME" not in os.environ or not os.environ["MESHRELEASE_HOME"]
    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = home.stat()
    except OSError as exc:
        raise MeshReleaseError(f"cannot create the state directory {home}: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise MeshReleaseError(f"the state directory {home} is not a directory")
    if info.st_uid != os.getuid():
        raise MeshReleaseError(
            f"the state directory {home} belongs to another user (uid {info.st_uid})",
            hint="set MESHRELEASE_HOME to a directory of your own",
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077 and default:
        os.chmod(home, 0o700)  # meshrelease's own directory: nobody else needs it
    elif mode & 0o022:
        raise MeshReleaseError(
            f"the state directory {home} may be written by group or others (mode {mode:o}); it will hold the "
            "token of the running mesh",
            hint=f"chmod 700 {home}, or set MESHRELEASE_HOME to a private directory",
        )
    return home


def claim_state(ingress_url: str, control_url: str, token: str, run_dir: str) -> Path:
    """Write the state file (0600, created exclusively, never through a link) and return its path."""
    ensure_not_serving()
    home = private_home()
    path = home / STATE_NAME
    payload = {
        "pid": os.getpid(),
        "control_url": control_url,
        "token": token,
        "ingress_url": ingress_url,
        "run_dir": run_dir,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    tmp = home / TMP_NAME
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()  # a stale temporary file (or a link planted in its place) is removed, not reused
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        os.fchmod(fh.fileno(), 0o600)
        json.dump(payload, fh)
    os.replace(tmp, path)
    return path


def release_state() -> None:
    """Remove the state file if this process wrote it."""
    with contextlib.suppress(MeshReleaseError):
        state = read_state()
        if state is not None and state.get("pid") == os.getpid():
            state_file().unlink(missing_ok=True)
