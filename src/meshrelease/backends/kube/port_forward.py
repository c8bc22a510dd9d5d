"""``kubectl port-forward`` to a Service, kept running while the harness needs it.

A Gateway API Gateway's deployment (``<name>-istio``) gets a LoadBalancer Service; on kind (no load balancer)
or when its address is cluster-internal, the harness reaches it through ``kubectl port-forward -n NS
service/<name>-istio :PORT``: kubectl picks a free local port and prints ``Forwarding from
127.0.0.1:<local> -> <port>``, which is read here (with a timeout) to build the URL.
"""

from __future__ import annotations

import queue
import re
import subprocess
import threading
import time
from collections.abc import Sequence

from meshrelease.errors import MeshReleaseError

_FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)")


class PortForward:
    """One running ``kubectl port-forward``; :meth:`stop` ends it (and reaps it)."""

    def __init__(self, argv: Sequence[str], *, timeout: float = 30.0) -> None:
        self.argv = [str(a) for a in argv]
        self._proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, name="kubectl-port-forward", daemon=True)
        self._reader.start()
        self.local_port = self._wait_port(timeout)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.local_port}"

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def running(self) -> bool:
        """Whether the process is still alive (False once it exited and was reaped)."""
        return self._proc.poll() is None

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _wait_port(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                raise MeshReleaseError(
                    f"kubectl port-forward printed no 'Forwarding from' line within {timeout:g}s; "
                    f"last output: {' | '.join(seen[-3:]) or 'nothing'}",
                    hint="check that the gateway's Service and pods exist: " + " ".join(self.argv[1:]),
                )
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                code = self._proc.wait(timeout=5)
                raise MeshReleaseError(
                    f"kubectl port-forward exited with status {code}: {' | '.join(seen[-3:]) or 'no output'}",
                    hint="check that the gateway's Service and pods exist: " + " ".join(self.argv[1:]),
                )
            seen.append(line)
            match = _FORWARDING.search(line)
            if match:
                return int(match.group(1))

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)
        self._reader.join(timeout=5)  # the pipe ends with the process
