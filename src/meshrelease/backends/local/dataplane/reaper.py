"""The lifeline's far end: a tiny process that takes the local mesh's children down when the harness dies.

Run as a script (``python -I reaper.py``) with a pipe from the harness on stdin; it imports nothing from
meshrelease. The harness writes ``+PID`` when it starts a child and ``-PID`` once it has reaped it. When stdin
reaches end of file — the harness closed it, exited, or was killed, even by SIGKILL, since the kernel closes a
dead process's pipes — every PID still registered gets SIGTERM, and SIGKILL after ``GRACE`` seconds.

This works on every POSIX system and, unlike Linux's parent-death signal, does not depend on which thread
started a child.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time

GRACE = 5.0


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (it may belong to another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def take_down(pids: set[int], grace: float = GRACE) -> None:
    """SIGTERM every pid, wait up to ``grace`` seconds for them to go, SIGKILL what is left."""
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    left = {p for p in pids if pid_alive(p)}
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = {p for p in left if pid_alive(p)}
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def main() -> int:
    # Ctrl-C reaches the whole foreground process group; the harness handles it, and this process must outlive
    # it in case the harness dies before its own cleanup.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pids: set[int] = set()
    for line in sys.stdin:
        line = line.strip()
        if len(line) < 2 or line[0] not in "+-" or not line[1:].isdigit():
            continue
        pid = int(line[1:])
        if line[0] == "+":
            pids.add(pid)
        else:
            pids.discard(pid)
    take_down(pids)
    return 0


if __name__ == "__main__":
    sys.exit(main())
