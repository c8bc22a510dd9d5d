"""Loopback port allocation for the local mesh's listeners and workloads."""

from __future__ import annotations

import random
import socket
from pathlib import Path

from meshrelease.errors import MeshReleaseError

LOWEST_PORT = 10000


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range for outgoing connections' local ports (Linux; the IANA range elsewhere)."""
    try:
        lo, hi = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text(encoding="ascii").split()
        return int(lo), int(hi)
    except (OSError, ValueError):
        return 49152, 65535


class PortInUse(MeshReleaseError):
    """Raised when a port the user asked for is already taken."""


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class PortAllocator:
    """Hands out free 127.0.0.1 ports, never the same one twice in one mesh.

    ``share=(index, count)`` confines the ports to the index-th of ``count`` equal parts of the range: meshes
    started at the same moment in different processes (pytest-xdist workers) then never pick the same port
    between checking it and binding it."""

    def __init__(self, rng: random.Random | None = None, *, share: tuple[int, int] | None = None) -> None:
        self._given: set[int] = set()
        self._rng = rng or random.Random()
        lo, _ = ephemeral_range()
        # Listeners get ports below the ephemeral range: a port there can be taken by any outgoing connection
        # (the sampler opens thousands) between the check here and the moment Envoy binds it.
        self._range = (LOWEST_PORT, lo - 1) if lo - LOWEST_PORT >= 1000 else None
        if share is not None and self._range is not None:
            index, count = share
            if not 0 <= index < count:
                raise ValueError(f"port share {index} of {count}")
            width = (self._range[1] - self._range[0] + 1) // count
            start = self._range[0] + index * width
            self._range = (start, start + width - 1)

    def reserve(self, port: int, *, what: str) -> int:
        """Claim a fixed port the user asked for; clear error if it is busy."""
        if port in self._given or not port_is_free(port):
            raise PortInUse(
                f"port {port} on 127.0.0.1 (for {what}) is already in use",
                hint="stop whatever listens there (another `meshrelease serve`?) or choose another --port",
            )
        self._given.add(port)
        return port

    def allocate(self) -> int:
        for _ in range(100):
            if self._range is not None:
                port = self._rng.randint(*self._range)
                if not port_is_free(port):
                    continue
            else:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                    sock.bind(("127.0.0.1", 0))
                    port = int(sock.getsockname()[1])
            if port not in self._given:
                self._given.add(port)
                return port
        raise MeshReleaseError("could not find a free port on 127.0.0.1 after 100 attempts")

    def release(self, port: int) -> None:
        self._given.discard(port)
