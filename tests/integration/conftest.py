"""Shared by the local-mesh integration tests: the ``leak_probe`` fixture, leak checks that read Linux
``/proc`` and try loopback ports.

A process is identified by its pid *and* its start time (``/proc/<pid>/stat`` field 22), so a pid the kernel
reused for an unrelated process never counts as a leftover.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass(frozen=True)
class Proc:
    """One process as /proc shows it."""

    pid: int
    start: str  # start time in clock ticks since boot
    state: str  # R, S, Z, ...
    name: str


def proc_info(pid: int) -> Proc | None:
    """The process ``pid``, or None when there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")".
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2 :].split()
    return Proc(pid=pid, start=fields[19], state=fields[0], name=name)


def children_of(parent: int) -> dict[int, Proc]:
    """Every process whose parent is ``parent`` (zombies included: they are not reaped yet)."""
    out: dict[int, Proc] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text(encoding="utf-8", errors="replace")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        ppid = next((line.split()[1] for line in status.splitlines() if line.startswith("PPid:")), "")
        if ppid == str(parent):
            info = proc_info(int(entry.name))
            if info is not None:
                out[info.pid] = info
    return out


def still_present(procs: Iterable[Proc], *, zombies_count: bool = True) -> list[Proc]:
    """Those of ``procs`` that still exist (same pid and start time); a zombie counts unless told otherwise."""
    left = []
    for proc in procs:
        now = proc_info(proc.pid)
        if now is None or now.start != proc.start:
            continue
        if now.state == "Z" and not zombies_count:
            continue
        left.append(now)
    return left


def port_is_bound(port: int) -> bool:
    """True when something still listens on (or holds) 127.0.0.1:``port``.

    SO_REUSEADDR lets the probe bind over connections in TIME_WAIT, which hold no listener."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def ports_from_status(status: dict[str, Any]) -> set[int]:
    """Every 127.0.0.1 port a mesh's ``status()`` names: gateway, listeners, admin endpoints, workloads."""
    ports = {int(str(status["ingress_url"]).rsplit(":", 1)[1])}
    for proxy in status["proxies"]:
        ports.update(int(p) for p in proxy["listeners"].values())
        if proxy["admin"]:
            ports.add(int(str(proxy["admin"]).rsplit(":", 1)[1]))
    ports.update(int(w["port"]) for w in status["workloads"])
    return ports


class LeakProbe:
    """The helpers above, handed to tests by the ``leak_probe`` fixture (tests do not import conftest)."""

    proc_info = staticmethod(proc_info)
    children_of = staticmethod(children_of)
    still_present = staticmethod(still_present)
    port_is_bound = staticmethod(port_is_bound)
    ports_from_status = staticmethod(ports_from_status)

    def own_children(self) -> dict[int, Proc]:
        """The children of this (the test) process."""
        return children_of(os.getpid())


@pytest.fixture
def leak_probe() -> LeakProbe:
    """Process and port leak checks (see the module docstring)."""
    return LeakProbe()
