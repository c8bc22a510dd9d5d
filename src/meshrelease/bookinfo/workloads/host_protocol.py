"""The workload host process (``python -m meshrelease.bookinfo.workloads --host``).

It reads one JSON command per line on stdin and answers one JSON line per command on stdout, in order:

- ``{"op": "start", "pod": {<PodConfig fields>}}`` -> ``{"ok": true, "name": …, "port": …}`` once listening,
  or ``{"ok": false, "name": …, "error": "…"}``
- ``{"op": "stop", "name": "<pod>"}`` -> ``{"ok": true, "name": …}`` (``ok: false`` when no such pod runs)
- ``{"op": "ping"}`` -> ``{"ok": true, "pods": [names]}``

EOF on stdin, SIGTERM or SIGINT stop every pod and exit 0. Only replies go to stdout: the protocol stream is
a private copy of the original stdout, and file descriptor 1 is pointed at stderr, so stray prints and
logs of any library land on stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from typing import Any, TextIO

from meshrelease.bookinfo.workloads.config import pod_config_from_mapping
from meshrelease.bookinfo.workloads.host import WorkloadHost
from meshrelease.errors import MeshReleaseError

log = logging.getLogger(__name__)


def _start_stdin_reader(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes | None], fd: int = 0) -> None:
    """Feed stdin lines into ``queue`` (None at EOF) from a daemon thread: works for pipes, files and
    terminals alike, and never keeps the process alive at exit."""

    def post(item: bytes | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is already closed: we are exiting
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def read() -> None:
        # os.read on the raw descriptor, not sys.stdin: a daemon thread blocked inside a buffered reader
        # would make interpreter shutdown abort ("could not acquire lock for <stdin>").
        pending = b""
        try:
            while chunk := os.read(fd, 65536):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    post(line + b"\n")
        except OSError:
            pass
        if pending:
            post(pending)
        post(None)

    threading.Thread(target=read, name="host-stdin", daemon=True).start()


async def handle_command(host: WorkloadHost, command: Any) -> dict[str, Any]:
    """Execute one decoded command and return its reply."""
    if not isinstance(command, dict):
        return {"ok": False, "error": f"a command must be a JSON object, got {type(command).__name__}"}
    op = command.get("op")
    if op == "ping":
        return {"ok": True, "pods": sorted(host.pods)}
    if op == "start":
        pod = command.get("pod")
        name = pod.get("name") if isinstance(pod, dict) else None
        if not isinstance(pod, dict):
            return {"ok": False, "name": name, "error": 'start needs "pod": {<PodConfig fields>}'}
        try:
            running = await host.start(pod_config_from_mapping(pod))
        except MeshReleaseError as exc:
            return {"ok": False, "name": name, "error": str(exc)}
        except Exception as exc:
            log.exception("starting pod %s failed", name)
            return {"ok": False, "name": name, "error": f"{type(exc).__name__}: {exc}"}
        return {"ok": True, "name": running.name, "port": running.port}
    if op == "stop":
        name = command.get("name")
        if not isinstance(name, str) or name not in host.pods:
            return {"ok": False, "name": name, "error": f"no pod named {name!r} is running"}
        try:
            await host.stop(name)
        except Exception as exc:
            log.exception("stopping pod %s failed", name)
            return {"ok": False, "name": name, "error": f"{type(exc).__name__}: {exc}"}
        return {"ok": True, "name": name}
    return {"ok": False, "error": f"unknown op {op!r}; use start, stop or ping"}


async def serve(out: TextIO) -> int:
    """Serve the protocol until EOF on stdin or SIGTERM/SIGINT; every pod is stopped before returning 0."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()
    _start_stdin_reader(loop, queue)
    host = WorkloadHost()

    async def commands() -> None:
        while (line := await queue.get()) is not None:
            if not line.strip():
                continue
            try:
                command = json.loads(line)
            except ValueError as exc:
                reply: dict[str, Any] = {"ok": False, "error": f"not a JSON line: {exc}"}
            else:
                reply = await handle_command(host, command)
            out.write(json.dumps(reply) + "\n")
            out.flush()

    worker = asyncio.create_task(commands())
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({worker, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (worker, stopper):
            task.cancel()
        await asyncio.gather(worker, stopper, return_exceptions=True)
        await host.close()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    if worker.done() and not worker.cancelled() and (exc := worker.exception()) is not None:
        if isinstance(exc, BrokenPipeError):  # nobody reads our replies any more: just stop
            return 0
        raise exc
    return 0


def main() -> int:
    """Entry point of ``--host``: protect stdout, log to stderr, serve."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="workload-host: %(levelname)s %(message)s")
    try:
        return asyncio.run(serve(out))
    finally:
        with contextlib.suppress(OSError):
            out.close()
