"""Lifecycle of the local mesh (docs/architecture.md): every process it starts is reaped, every 127.0.0.1 port it
bound is free again and its run directory is gone — after ``close()``, after an exception inside
``with LocalMesh()``, after a failed start, and (through the lifeline) after the
harness itself was killed. Processes are checked in /proc by pid and start time, ports by binding them.
"""

from __future__ import annotations

import json
import os
import queue
import shlex
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from meshrelease.backends.local.dataplane.lifeline import lifeline
from meshrelease.backends.local.dataplane.pods import parse_workload_mappings
from meshrelease.backends.local.dataplane.ports import PortInUse
from meshrelease.backends.local.mesh import LocalMesh
from meshrelease.backends.local.options import LocalMeshOptions
from meshrelease.data import data_dir
from meshrelease.errors import MeshReleaseError
from meshrelease.k8s.manifest import load_manifests

pytestmark = pytest.mark.envoy

DATA = Path(__file__).resolve().parent.parent / "data" / "mesh"
ECHO_IMAGE = "registry.example.com/meshrelease-tests/echo:1.0"


class Boom(Exception):
    """Raised by a test inside ``with LocalMesh()``."""


def echo_options(tmp_path: Path, command: str) -> LocalMeshOptions:
    """A mesh without Bookinfo running one ``--workload`` pod (echo-workload.yaml) as ``command``."""
    return LocalMeshOptions(
        bookinfo=False,
        run_dir=tmp_path / "runs",
        workloads=parse_workload_mappings([f"{ECHO_IMAGE}={command}"]),
        manifests=[DATA / "echo-workload.yaml"],
    )


def http_server_command(tmp_path: Path) -> str:
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    return (
        f"{shlex.quote(sys.executable)} -m http.server {{port}} --bind 127.0.0.1 --directory {shlex.quote(str(site))}"
    )


def assert_nothing_left(probe: Any, before: dict[int, Any], procs: dict[int, Any], ports: set[int]) -> None:
    assert probe.still_present(procs.values()) == []
    assert sorted(set(probe.own_children()) - set(before)) == []
    assert sorted(p for p in ports if probe.port_is_bound(p)) == []


def test_close_reaps_every_process_and_frees_every_port(tmp_path: Path, leak_probe: Any) -> None:
    before = leak_probe.own_children()
    mesh = LocalMesh(LocalMeshOptions(run_dir=tmp_path))
    try:
        mesh.start()
        status = mesh.status()
        procs = {pid: p for pid, p in leak_probe.own_children().items() if pid not in before}
        proxies = {p["id"]: p for p in status["proxies"]}
        # Every Envoy is a child of this process, and so are the workload host (one process for all pods) and
        # the lifeline's reaper.
        assert {p["pid"] for p in proxies.values()} <= set(procs)
        assert lifeline().reaper_pid in procs
        assert sorted(p.name for p in procs.values()).count("envoy") == len(proxies) == len(procs) - 2, procs
        ports = leak_probe.ports_from_status(status)
        assert all(leak_probe.port_is_bound(p) for p in ports)  # the probe sees the ports of a running mesh
        run_dir = Path(status["run_dir"])
        assert run_dir.parent == tmp_path and run_dir.is_dir()
        # Admin endpoints are Unix sockets only their owner reaches: mode 0600 in a 0700 directory, no TCP port.
        sockets = leak_probe.admin_sockets_from_status(status)
        assert len(sockets) == len(proxies)
        for sock in sockets:
            mode = os.stat(sock).st_mode
            assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600, (sock, oct(mode))
            # inside the run directory, or (a run directory whose path is too long for a socket) a private one
            private = run_dir if Path(sock).is_relative_to(run_dir) else Path(sock).parent
            assert stat.S_IMODE(os.stat(private).st_mode) == 0o700, (sock, oct(os.stat(private).st_mode))

        # Deleting a Deployment stops its pod at once: sidecar reaped, its ports free, the rest untouched.
        [v3] = [w for w in status["workloads"] if w["deployment"] == "reviews-v3"]
        v3_proxy = proxies.pop(f"{v3['pod']}.{v3['namespace']}")
        v3_ports = leak_probe.ports_from_status({"ingress_url": ":0", "proxies": [v3_proxy], "workloads": [v3]})
        v3_ports.discard(0)
        reviews_v3 = [
            d
            for d in load_manifests(data_dir() / "bookinfo.yaml")
            if d["kind"] == "Deployment" and d["metadata"]["name"] == "reviews-v3"
        ]
        mesh.delete(reviews_v3, source="reviews-v3")
        assert leak_probe.still_present([procs[v3_proxy["pid"]]]) == []
        assert v3_proxy["pid"] not in leak_probe.own_children()
        assert sorted(p for p in v3_ports if leak_probe.port_is_bound(p)) == []
        left = {p["id"]: p["alive"] for p in mesh.status()["proxies"]}
        assert left == dict.fromkeys(proxies, True)
    finally:
        mesh.close()

    assert_nothing_left(leak_probe, before, procs, ports)
    assert not run_dir.exists() and list(tmp_path.iterdir()) == []
    mesh.close()  # a second close is a no-op


def test_an_exception_inside_with_still_tears_everything_down(tmp_path: Path, leak_probe: Any) -> None:
    before = leak_probe.own_children()
    with pytest.raises(Boom), LocalMesh(echo_options(tmp_path, http_server_command(tmp_path))) as mesh:
        status = mesh.status()
        procs = {pid: p for pid, p in leak_probe.own_children().items() if pid not in before}
        ports = leak_probe.ports_from_status(status)
        run_dir = Path(status["run_dir"])
        [pod] = status["workloads"]
        assert pod["implementation"].startswith("command: ")
        # gateway + echo sidecar (Envoy), the echo command itself, the (idle) workload host, the reaper
        assert len(procs) == 5 and lifeline().reaper_pid in procs, procs
        assert sorted(p.name for p in procs.values()).count("envoy") == 2, procs
        assert leak_probe.port_is_bound(pod["port"])
        raise Boom("the test body failed")

    assert_nothing_left(leak_probe, before, procs, ports)
    assert not run_dir.exists()
    assert list((tmp_path / "runs").iterdir()) == []


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_a_start_that_fails_on_a_busy_port_leaves_nothing(tmp_path: Path, busy_port: int, leak_probe: Any) -> None:
    before = leak_probe.own_children()
    mesh = LocalMesh(LocalMeshOptions(port=busy_port, run_dir=tmp_path))

    with pytest.raises(PortInUse, match=f"port {busy_port} .* already in use"):
        mesh.start()

    assert leak_probe.own_children() == before
    assert list(tmp_path.iterdir()) == []


def test_a_start_that_fails_after_processes_started_leaves_nothing(tmp_path: Path, leak_probe: Any) -> None:
    before = leak_probe.own_children()
    crashing = f"{shlex.quote(sys.executable)} -c 'import sys; sys.exit(3)' {{port}}"

    with pytest.raises(MeshReleaseError, match=r"workload command of pod echo-v1-\S+ exited with code 3"):
        LocalMesh(echo_options(tmp_path, crashing)).start()

    assert sorted(set(leak_probe.own_children()) - set(before)) == []
    assert list((tmp_path / "runs").iterdir()) == []


HARNESS = """
import json, sys, time
from pathlib import Path
from meshrelease.backends.local.mesh import LocalMesh
from meshrelease.backends.local.options import LocalMeshOptions

mesh = LocalMesh(LocalMeshOptions(run_dir=Path(sys.argv[1])))
mesh.start()
print(json.dumps(mesh.status()), flush=True)
time.sleep(300)
"""


def test_a_killed_harness_takes_its_mesh_down(tmp_path: Path, leak_probe: Any) -> None:
    errors = tmp_path / "harness.stderr"
    script = HARNESS
    with errors.open("w") as stderr:
        harness = subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, stderr=stderr, text=True
        )
    stdout = harness.stdout
    assert stdout is not None
    procs: dict[int, Any] = {}
    try:
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        try:
            status = json.loads(lines.get(timeout=60))
        except (queue.Empty, json.JSONDecodeError):
            pytest.fail(f"the harness printed no status (exit code {harness.poll()}):\n{errors.read_text()[-3000:]}")
        procs = leak_probe.children_of(harness.pid)
        assert {p["pid"] for p in status["proxies"]} <= set(procs)
        ports = leak_probe.ports_from_status(status)

        os.kill(harness.pid, signal.SIGKILL)  # no close(), no finally: only the kernel and the children act
        harness.wait(timeout=30)

        # Envoys get SIGTERM from the lifeline's reaper, which sees its stdin close, as does the workload host. Orphans
        # are reaped by whoever adopts them, so a zombie counts as gone here.
        deadline = time.monotonic() + 15
        while leak_probe.still_present(procs.values(), zombies_count=False) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert leak_probe.still_present(procs.values(), zombies_count=False) == []
        assert sorted(p for p in ports if leak_probe.port_is_bound(p)) == []
    finally:
        if harness.poll() is None:
            harness.kill()
        harness.wait(timeout=30)
        stdout.close()
        for proc in leak_probe.still_present(procs.values(), zombies_count=False):
            os.kill(proc.pid, signal.SIGKILL)  # do not leave a failed test's processes running
