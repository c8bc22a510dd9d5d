"""Children of the local mesh die with the harness, on every platform.

Linux's parent-death signal cannot do it: it fires when the *thread* that started a child ends (``serve`` starts
pods from request threads), and macOS and the BSDs have none. So every child is registered with a *reaper*
process (``reaper.py``) that holds the read end of a pipe from this process: when this process dies, however it
dies, the reaper reads end of file and stops every child still registered. The reaper runs only while children
are registered: it starts with the first and is closed (and reaped) when the last one is unregistered, so a
closed mesh leaves no process behind.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from pathlib import Path

REAPER = Path(__file__).with_name("reaper.py")


class Lifeline:
    """The harness's end of the pipe to the reaper; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None
        self._pids: set[int] = set()

    @property
    def reaper_pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def register(self, pid: int) -> None:
        """Stop ``pid`` when this process dies (until :meth:`unregister`)."""
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._start()
            self._pids.add(pid)
            self._send(f"+{pid}")

    def unregister(self, pid: int) -> None:
        """``pid`` was reaped: forget it; close the reaper when nothing is left to watch."""
        with self._lock:
            if pid not in self._pids:
                return
            self._pids.discard(pid)
            self._send(f"-{pid}")
            if not self._pids:
                self._close()

    def _start(self) -> None:
        if self._proc is not None:
            self._close()
        self._proc = subprocess.Popen(
            [sys.executable, "-I", str(REAPER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
            close_fds=True,
        )
        for pid in self._pids:
            self._send(f"+{pid}")

    def _send(self, line: str) -> None:
        if self._proc is None or self._proc.stdin is None:
            return
        with contextlib.suppress(OSError, ValueError):
            self._proc.stdin.write(line + "\n")
            self._proc.stdin.flush()

    def _close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError, ValueError):
                proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


_LIFELINE = Lifeline()


def lifeline() -> Lifeline:
    """This process's lifeline."""
    return _LIFELINE
