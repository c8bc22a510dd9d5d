"""The lifeline's reaper (backends/local/dataplane/reaper.py) on its own: what it stops and when."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from meshrelease.backends.local.dataplane.lifeline import REAPER, Lifeline


@pytest.fixture
def sleepers() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) for _ in range(2)]
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=10)


def test_end_of_file_stops_what_is_still_registered(sleepers: list[subprocess.Popen[bytes]]) -> None:
    kept, released = sleepers
    reaper = subprocess.Popen([sys.executable, "-I", str(REAPER)], stdin=subprocess.PIPE, text=True)
    assert reaper.stdin is not None
    reaper.stdin.write(f"+{kept.pid}\n+{released.pid}\n-{released.pid}\nnot a line\n")
    reaper.stdin.close()  # what the kernel does when the harness dies
    assert kept.wait(timeout=10) != 0  # SIGTERM (reaping it here lets the reaper see it gone)
    assert reaper.wait(timeout=15) == 0
    assert released.poll() is None


def test_the_reaper_runs_only_while_something_is_registered(sleepers: list[subprocess.Popen[bytes]]) -> None:
    line = Lifeline()
    assert line.reaper_pid is None
    first, second = sleepers
    line.register(first.pid)
    reaper = line.reaper_pid
    assert reaper is not None
    line.register(second.pid)
    assert line.reaper_pid == reaper
    line.unregister(first.pid)
    line.unregister(first.pid)  # twice: no-op
    assert line.reaper_pid == reaper
    line.unregister(second.pid)
    assert line.reaper_pid is None
    # The reaper has exited (unregister waited for it) without stopping the children it no longer watched.
    with pytest.raises(subprocess.TimeoutExpired):
        first.wait(timeout=0.5)
    assert second.poll() is None
