"""A synchronous client of the workload host process: start it, start and stop pods in it, reap it."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import IO, Any

from meshrelease.bookinfo.workloads.config import PodConfig
from meshrelease.errors import MeshReleaseError, WaitTimeout


class WorkloadHostError(MeshReleaseError):
    """Raised when the host process refuses a command or is gone."""


class WorkloadHostProcess:
    """Runs ``python -m meshrelease.bookinfo.workloads --host`` as a child and talks its JSON-lines protocol.

    Use it as a context manager (or call :meth:`close`): the child is always reaped. The child's logs are
    appended to ``log_path`` when given, else go to ``stderr`` (inherited by default). One command at a
    time; the methods are thread-safe."""

    def __init__(
        self,
        *,
        python: str = sys.executable,
        env: Mapping[str, str] | None = None,
        stderr: int | IO[Any] | None = None,
        log_path: str | os.PathLike[str] | None = None,
        reply_timeout: float = 30.0,
    ) -> None:
        self.reply_timeout = reply_timeout
        self._log_hint = f"see its log in {log_path}" if log_path is not None else "see its stderr"
        log: IO[Any] | None = None
        if log_path is not None:
            log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - closed right after the child starts
            stderr = log
        self._lock = threading.Lock()
        self._replies: queue.Queue[str | None] = queue.Queue()
        try:
            self._proc = subprocess.Popen(
                [python, "-m", "meshrelease.bookinfo.workloads", "--host"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=dict(env) if env is not None else None,
                text=True,
                encoding="utf-8",
                bufsize=1,
            )
        finally:
            if log is not None:
                log.close()  # the child has its own descriptor
        self._reader = threading.Thread(target=self._read_replies, name="workload-host-replies", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        """The child's exit status once it has been reaped, else None."""
        return self._proc.poll()

    def _read_replies(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._replies.put(line)
        self._replies.put(None)

    def request(self, command: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """Send one command and return its reply (raises WaitTimeout or WorkloadHostError)."""
        limit = self.reply_timeout if timeout is None else timeout
        with self._lock:
            if self._proc.stdin is None or self._proc.stdin.closed:
                raise WorkloadHostError("the workload host process is closed")
            try:
                self._proc.stdin.write(json.dumps(command) + "\n")
                self._proc.stdin.flush()
            except (BrokenPipeError, OSError) as exc:
                raise WorkloadHostError(
                    f"the workload host process (pid {self.pid}) is gone: {exc}; exit status {self._proc.poll()}",
                    hint=self._log_hint,
                ) from None
            try:
                line = self._replies.get(timeout=limit)
            except queue.Empty:
                raise WaitTimeout(
                    f"the workload host's reply to {command.get('op')!r}",
                    limit,
                    f"no reply; child pid {self.pid} {'running' if self._proc.poll() is None else 'exited'}",
                ) from None
        if line is None:
            self._replies.put(None)  # later calls see the EOF too
            raise WorkloadHostError(
                f"the workload host process (pid {self.pid}) exited (status {self._proc.wait(timeout=5)}) "
                f"before answering {command.get('op')!r}",
                hint=self._log_hint,
            )
        reply = json.loads(line)
        if not isinstance(reply, dict):
            raise WorkloadHostError(f"the workload host answered {line.strip()!r}, not a JSON object")
        return reply

    def start_pod(self, cfg: PodConfig) -> int:
        """Start a pod in the child and return the 127.0.0.1 port it listens on."""
        reply = self.request({"op": "start", "pod": dataclasses.asdict(cfg)})
        if not reply.get("ok"):
            raise WorkloadHostError(f"pod {cfg.name!r} did not start: {reply.get('error')}")
        return int(reply["port"])

    def stop_pod(self, name: str) -> None:
        """Stop a pod (its listener closes and its in-flight requests are cancelled)."""
        reply = self.request({"op": "stop", "name": name})
        if not reply.get("ok"):
            raise WorkloadHostError(f"pod {name!r} did not stop: {reply.get('error')}")

    def ping(self) -> list[str]:
        """The names of the running pods."""
        reply = self.request({"op": "ping"})
        return [str(name) for name in reply.get("pods", [])]

    def close(self, timeout: float = 10.0) -> int:
        """Close the child's stdin (it stops every pod and exits), wait up to ``timeout`` seconds, then kill
        it. Returns its exit status; the child is reaped in every case."""
        with self._lock:
            if self._proc.stdin is not None and not self._proc.stdin.closed:
                with contextlib.suppress(BrokenPipeError, OSError):
                    self._proc.stdin.close()
            try:
                self._proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
            self._reader.join(timeout=5)
            if self._proc.stdout is not None:
                self._proc.stdout.close()
            return self._proc.returncode

    def __enter__(self) -> WorkloadHostProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
