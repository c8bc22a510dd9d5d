"""``python -m meshrelease.bookinfo.workloads --standalone``: prints the productpage URL, serves both UIs
with reviews round-robin over v1/v2/v3, and stops cleanly on Ctrl-C (SIGINT) and SIGTERM."""

from __future__ import annotations

import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from meshrelease.bookinfo.client import BookinfoClient

STARTUP_TIMEOUT = 20.0


def read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """The child's first stdout line, or a failure naming what was seen within ``timeout``."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if sel.select(timeout=left):
                return proc.stdout.readline()
    pytest.fail(f"no productpage URL within {timeout:g} s; child exit status {proc.poll()}")


@pytest.fixture
def standalone(request: pytest.FixtureRequest) -> Iterator[tuple[subprocess.Popen[str], str]]:
    ui = request.param
    proc = subprocess.Popen(
        [sys.executable, "-m", "meshrelease.bookinfo.workloads", "--standalone", "--port", "0", "--ui", ui],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = read_line(proc, STARTUP_TIMEOUT)
        assert line.startswith("productpage: http://127.0.0.1:"), line
        assert line.rstrip().endswith("/productpage")
        yield proc, line.split(" ", 1)[1].strip()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        assert proc.stdout is not None
        proc.stdout.close()


@pytest.mark.parametrize(("standalone", "ui"), [("classic", "classic"), ("modern", "modern")], indirect=["standalone"])
def test_standalone_serves_the_ui_round_robin_and_stops_on_ctrl_c(
    standalone: tuple[subprocess.Popen[str], str], ui: str
) -> None:
    proc, url = standalone
    base = url.removesuffix("/productpage")
    with BookinfoClient(base, timeout=10.0) as client:
        pages = [client.fetch_page() for _ in range(3)]
        assert {(p.ui, p.error) for p in pages} == {(ui, None)}
        assert sorted(p.version or "" for p in pages) == ["v1", "v2", "v3"]
        assert client.sign_in("jason").user == "jason"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 0


@pytest.mark.parametrize("standalone", ["modern"], indirect=True)
def test_standalone_stops_on_sigterm(standalone: tuple[subprocess.Popen[str], str]) -> None:
    proc, _url = standalone
    proc.terminate()
    assert proc.wait(timeout=10) == 0


def test_standalone_reports_a_busy_port_and_exits_2() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "meshrelease.bookinfo.workloads", "--standalone", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert result.stdout == ""
