"""Every Envoy of the local mesh serves its admin API on a private Unix socket, never on a TCP port
(meshrelease.backends.local.dataplane.unix_http; issue 13: other local users could stop the gateway through its
loopback admin port)."""

from __future__ import annotations

import errno
import os
import socket
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshrelease.backends.local.mesh import LocalMesh
from meshrelease.backends.local.options import LocalMeshOptions

pytestmark = pytest.mark.envoy


@pytest.fixture(scope="module")
def mesh() -> Iterator[LocalMesh]:
    with LocalMesh(LocalMeshOptions()) as running:
        running.wait_synced(30)
        yield running


def listening_tcp_ports(pid: int) -> set[int]:
    """The TCP ports process ``pid`` listens on (Linux: its socket fds matched against /proc/net/tcp{,6})."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("tcp", "tcp6"):
        path = Path(f"/proc/{pid}/net/{table}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A: LISTEN
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


def test_each_admin_endpoint_is_a_0600_socket_in_the_0700_run_directory(mesh: LocalMesh) -> None:
    status = mesh.status()
    run_dir = Path(status["run_dir"])
    proxies = status["proxies"]
    sockets = {Path(str(p["admin"]).removeprefix("unix:")) for p in proxies}

    assert len(sockets) == len(proxies) > 1
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700
    for path in sockets:
        mode = path.stat().st_mode
        assert path.is_relative_to(run_dir) and stat.S_ISSOCK(mode), path
        assert stat.S_IMODE(mode) == 0o600, (path, oct(mode))
    for proc in mesh._proxies():
        ready = proc.admin_get("/ready")
        assert (ready.status_code, ready.text.strip()) == (200, "LIVE"), proc.proxy.id


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_no_envoy_listens_on_a_tcp_port_other_than_its_own_listeners(mesh: LocalMesh) -> None:
    for proxy in mesh.status()["proxies"]:
        assert listening_tcp_ports(proxy["pid"]) == set(proxy["listeners"].values()), proxy


def connect_as(uid: int, path: Path, request: bytes) -> str:
    """Send ``request`` to the Unix socket ``path`` as user ``uid`` (from a forked child); the errno name or "ok"."""
    pid = os.fork()
    if pid == 0:  # the child: no Python-level cleanup, only syscalls, then _exit
        code = 0
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(5)
                sock.connect(str(path))
                sock.sendall(request)
        except OSError as exc:
            code = exc.errno or 255
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return "ok" if code == 0 else errno.errorcode.get(code, str(code))


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to act as another user")
def test_another_local_user_cannot_reach_an_admin_endpoint(mesh: LocalMesh) -> None:
    nobody = 65534
    gateway = next(p for p in mesh.status()["proxies"] if p["kind"] == "gateway")

    admin = Path(str(gateway["admin"]).removeprefix("unix:"))
    stop = b"POST /quitquitquit HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"

    assert connect_as(nobody, admin, stop) == "EACCES"
    assert connect_as(0, admin, b"GET /ready HTTP/1.1\r\nHost: x\r\n\r\n") == "ok"  # the probe reaches it as owner
    assert mesh.wait_synced(30) >= 0  # the gateway still runs: nobody could not stop it
