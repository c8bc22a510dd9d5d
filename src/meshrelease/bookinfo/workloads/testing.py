"""Test doubles for the workloads' neighbours: a recording HTTP server with scripted replies.

:class:`RecordingServer` speaks plain HTTP/1.1 (keep-alive, Content-Length bodies) on 127.0.0.1 and keeps
every request exactly as received, request line included, so the same server stands in for an upstream
service (origin-form ``GET /ratings/0``) or for a pod's sidecar proxy (absolute-form
``GET http://ratings:9080/ratings/0``). Each reply is scripted: status, body, a delay, or no answer at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_MAX_HEAD = 64 * 1024


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received."""

    method: str
    target: str  # as on the request line: "/details/0", or "http://details:9080/details/0" through a proxy
    headers: dict[str, str]  # names lower-cased; a repeated header keeps its last value
    body: bytes = b""

    @property
    def path(self) -> str:
        """The path of the target, also for an absolute-form target."""
        if "://" in self.target:
            rest = self.target.split("://", 1)[1]
            return "/" + rest.split("/", 1)[1] if "/" in rest else "/"
        return self.target


@dataclass
class CannedReply:
    """What to answer: ``status`` with ``body`` (a dict/list is sent as JSON) after ``delay`` seconds, or
    nothing at all when ``hang`` (the connection stays open until the server closes)."""

    status: int = 200
    body: Any = field(default_factory=dict)
    delay: float = 0.0
    hang: bool = False
    content_type: str = "application/json"

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


Script = Callable[[RecordedRequest], CannedReply]


def _as_script(script: Script | CannedReply) -> Script:
    if isinstance(script, CannedReply):
        reply = script
        return lambda _request: reply
    return script


class RecordingServer:
    """An HTTP/1.1 server on 127.0.0.1 that records requests and answers from ``script``.

    Create, ``await start()``, use ``port``/``address``/``url``; read ``requests``; ``await close()``."""

    def __init__(self, script: Script | CannedReply | None = None) -> None:
        if script is None:
            script = CannedReply()
        self._script: Script = _as_script(script)
        self.requests: list[RecordedRequest] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = asyncio.Event()

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>`` (the form ``PodConfig.upstreams`` takes)."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (the form ``PodConfig.proxies`` takes)."""
        return f"http://{self.address}"

    def set_script(self, script: Script | CannedReply) -> None:
        """Answer later requests from ``script``."""
        self._script = _as_script(script)

    async def start(self) -> RecordingServer:
        """Listen on a free port."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                request = await self._read_request(reader)
                if request is None:
                    return
                self.requests.append(request)
                reply = self._script(request)
                if reply.hang:
                    await self._closing.wait()
                    return
                if reply.delay:
                    await asyncio.sleep(reply.delay)
                body = reply.encoded()
                head = (
                    f"HTTP/1.1 {reply.status} X\r\nContent-Type: {reply.content_type}\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                )
                writer.write(head.encode() + body)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            return
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    @staticmethod
    async def _read_request(reader: asyncio.StreamReader) -> RecordedRequest | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        if len(head) > _MAX_HEAD:
            raise ValueError("request head too large")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        body = await reader.readexactly(length) if length else b""
        return RecordedRequest(method, target, headers, body)

    async def close(self) -> None:
        """Stop listening and drop every connection (hanging requests end without an answer)."""
        self._closing.set()
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
