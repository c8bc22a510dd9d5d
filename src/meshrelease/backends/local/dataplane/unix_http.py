"""HTTP over a Unix domain socket with requests: how the harness talks to each Envoy's admin endpoint.

Envoy's admin endpoint answers anyone who can reach it (``POST /quitquitquit`` stops the proxy), so the local mesh
puts it on a Unix socket (``admin.address.pipe``, mode 0600) in the run directory, which only its owner can enter
(0700). A :class:`requests.Session` gets an adapter for one base URL whose connections go to that socket.
"""

from __future__ import annotations

import socket
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool

MAX_SOCKET_PATH = 107  # sockaddr_un.sun_path is 108 bytes on Linux (104 on macOS/BSD), with the NUL


class _UnixConnection(HTTPConnection):
    def __init__(self, path: str, **kwargs: Any) -> None:
        super().__init__("localhost", **kwargs)
        self._socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        timeout = self.timeout if isinstance(self.timeout, int | float) else None
        sock.settimeout(timeout)
        try:
            sock.connect(self._socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class _UnixPool(HTTPConnectionPool):
    def __init__(self, path: str, **kwargs: Any) -> None:
        super().__init__("localhost", **kwargs)
        self._socket_path = path

    def _new_conn(self) -> HTTPConnection:
        return _UnixConnection(self._socket_path, timeout=self.timeout.connect_timeout)


class UnixSocketAdapter(HTTPAdapter):
    """Sends every request of the prefix it is mounted on to the Unix socket at ``path``."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._pool = _UnixPool(path, maxsize=2)

    def get_connection_with_tls_context(
        self, request: requests.PreparedRequest, verify: Any, proxies: Any = None, cert: Any = None
    ) -> HTTPConnectionPool:
        return self._pool

    def close(self) -> None:
        self._pool.close()
        super().close()


def unix_session(base_url: str, path: str) -> requests.Session:
    """A session whose requests to ``base_url`` (e.g. ``http://envoy-admin``) go to the socket ``path``."""
    session = requests.Session()
    session.mount(base_url.rstrip("/") + "/", UnixSocketAdapter(path))
    return session
