"""Outbound HTTP of one pod: ``http://<service>:<port>/…`` through the pod's sidecar (an HTTP proxy), or,
without a proxy, straight to a configured address; plus the header propagation rules of Bookinfo."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy

from meshrelease.bookinfo.workloads.config import WorkloadConfigError

# Copied from the incoming request when present (docs/bookinfo-contract.md §3); never synthesised.
PROPAGATED_HEADERS: tuple[str, ...] = (
    "x-request-id",
    "x-ot-span-context",
    "x-datadog-trace-id",
    "x-datadog-parent-id",
    "x-datadog-sampling-priority",
    "traceparent",
    "tracestate",
    "x-cloud-trace-context",
    "grpc-trace-bin",
    "sw8",
    "user-agent",
    "cookie",
    "authorization",
    "jwt",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
    "b3",
)


def productpage_forward_headers(incoming: CIMultiDictProxy[str], user: str | None) -> dict[str, str]:
    """Headers productpage sends to details/reviews/ratings: the propagated list from ``incoming`` plus
    ``end-user`` taken from the session only (an incoming ``end-user`` header is never copied)."""
    headers = {name: incoming[name] for name in PROPAGATED_HEADERS if name in incoming}
    if user is not None:
        headers["end-user"] = user
    return headers


def reviews_forward_headers(incoming: CIMultiDictProxy[str]) -> dict[str, str]:
    """Headers reviews sends to ratings: the propagated list plus ``end-user``, copied from ``incoming``."""
    headers = {name: incoming[name] for name in PROPAGATED_HEADERS if name in incoming}
    if "end-user" in incoming:
        headers["end-user"] = incoming["end-user"]
    return headers


class OutboundError(Exception):
    """An outbound call got no HTTP reply (unresolvable host, refused, reset, timed out)."""


@dataclass(frozen=True)
class Reply:
    """An HTTP reply from an upstream (any status)."""

    status: int
    body: bytes

    def json(self) -> Any:
        """The body decoded as JSON (raises ValueError when it is not JSON)."""
        return json.loads(self.body)


def _parse_address(pod: str, key: str, address: str) -> str:
    host, sep, port = address.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise WorkloadConfigError(
            f"pod {pod!r}: upstream {key!r} -> {address!r} is not host:port",
            hint='write e.g. "127.0.0.1:41001"',
        )
    return f"{host}:{port}"


class Outbound:
    """The HTTP client of one pod.

    A call to ``http://<host>:<port>/path`` goes through ``proxies[port]`` when set (absolute-form request,
    Host ``<host>:<port>``); else to ``upstreams["<host>:<port>"]`` keeping that Host header; else it fails
    the way an unresolvable name fails. Connections are pooled, including towards the proxy: the sidecar,
    not the app, balances each request over the endpoints, so reusing a connection does not pin a
    backend (the real productpage opens a connection per request only to make that visible without a mesh).
    """

    def __init__(self, pod: str, proxies: Mapping[int, str], upstreams: Mapping[str, str]) -> None:
        self._pod = pod
        self._proxies = dict(proxies)
        self._upstreams: dict[str, Iterator[str]] = {}
        for key, value in upstreams.items():
            addresses = [_parse_address(pod, key, a) for a in value.split(",") if a.strip()]
            if not addresses:
                raise WorkloadConfigError(f"pod {pod!r}: upstream {key!r} has no address")
            self._upstreams[key] = itertools.cycle(addresses)
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, use_dns_cache=False),
                # Upstream Set-Cookie must not leak into later calls: cookies are forwarded explicitly.
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=True,
            )
        return self._session

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        cached = self._timeouts.get(seconds)
        if cached is None:
            cached = self._timeouts[seconds] = aiohttp.ClientTimeout(total=seconds)
        return cached

    async def get(self, host: str, port: int, path: str, headers: Mapping[str, str], timeout: float) -> Reply:
        """GET ``http://host:port/path``; any reply is returned, no reply raises OutboundError."""
        authority = f"{host}:{port}"
        proxy = self._proxies.get(port)
        send = dict(headers)
        if proxy is not None:
            url = f"http://{authority}{path}"
        elif authority in self._upstreams:
            url = f"http://{next(self._upstreams[authority])}{path}"
            send["Host"] = authority
        else:
            raise OutboundError(f"cannot resolve {host!r}: no sidecar proxy for port {port} and no upstream address")
        try:
            async with self._client().get(
                url,
                headers=send,
                proxy=proxy,
                timeout=self._timeout(timeout),
                allow_redirects=False,
            ) as response:
                body = await response.read()
                return Reply(response.status, body)
        except TimeoutError as exc:
            raise OutboundError(f"GET http://{authority}{path}: timed out after {timeout:g} s") from exc
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise OutboundError(f"GET http://{authority}{path}: {type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        """Close pooled connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None
