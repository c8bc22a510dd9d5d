"""Loopback port allocation for the local mesh's listeners and workloads."""

from __future__ import annotations

import socket

from meshrelease.errors import MeshReleaseError


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
    """Hands out free 127.0.0.1 ports, never the same one twice in one mesh."""

    def __init__(self) -> None:
        self._given: set[int] = set()

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
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind(("127.0.0.1", 0))
                port = int(sock.getsockname()[1])
            if port not in self._given:
                self._given.add(port)
                return port
        raise MeshReleaseError("could not find a free port on 127.0.0.1 after 100 attempts")

    def release(self, port: int) -> None:
        self._given.discard(port)
