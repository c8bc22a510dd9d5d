"""Running pods: each pod is an aiohttp server on its own 127.0.0.1 port; one event loop hosts many."""

from __future__ import annotations

import logging
import socket
from types import TracebackType

from aiohttp import web

from meshrelease.bookinfo.workloads.config import PodConfig, Timeouts, WorkloadConfigError
from meshrelease.bookinfo.workloads.details import build_details_app
from meshrelease.bookinfo.workloads.outbound import Outbound
from meshrelease.bookinfo.workloads.productpage import build_productpage_app
from meshrelease.bookinfo.workloads.ratings import build_ratings_app
from meshrelease.bookinfo.workloads.reviews import build_reviews_app

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 0.5
"""How long a stopping pod lets in-flight requests finish before cancelling them."""


def _listen(cfg: PodConfig) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", cfg.port))
        sock.listen(512)
    except OSError as exc:
        sock.close()
        raise WorkloadConfigError(
            f"pod {cfg.name!r}: cannot listen on 127.0.0.1:{cfg.port}: {exc.strerror or exc}",
            hint="pick another port, or 0 for a free one",
        ) from None
    sock.setblocking(False)
    return sock


def build_app(cfg: PodConfig, outbound: Outbound, timeouts: Timeouts) -> web.Application:
    """The aiohttp application of ``cfg.service``."""
    if cfg.service == "productpage":
        return build_productpage_app(cfg, outbound, timeouts)
    if cfg.service == "reviews":
        return build_reviews_app(cfg, outbound, timeouts)
    if cfg.service == "ratings":
        return build_ratings_app(cfg, timeouts)
    return build_details_app(cfg)


class RunningPod:
    """A pod whose server is listening on ``127.0.0.1:port``."""

    def __init__(self, cfg: PodConfig, port: int, runner: web.AppRunner, outbound: Outbound) -> None:
        self.config = cfg
        self.name = cfg.name
        self.service = cfg.service
        self.port = port
        self._runner = runner
        self._outbound = outbound
        self._closed = False

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    async def close(self) -> None:
        """Stop listening, cancel in-flight requests after a short grace, close outbound connections."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._runner.cleanup()
        finally:
            await self._outbound.close()


async def start_pod(cfg: PodConfig) -> RunningPod:
    """Start ``cfg``'s service and return once its server is listening.

    Raises WorkloadConfigError when the configuration is invalid or the port cannot be bound."""
    cfg.validate()
    timeouts = Timeouts.for_pod(cfg)
    outbound = Outbound(cfg.name, cfg.proxies, cfg.upstreams)
    app = build_app(cfg, outbound, timeouts)
    sock = _listen(cfg)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=STOP_GRACE_SECONDS)
    try:
        await runner.setup()
        site = web.SockSite(runner, sock)
        await site.start()
    except BaseException:
        sock.close()
        await runner.cleanup()
        await outbound.close()
        raise
    port = int(sock.getsockname()[1])
    log.info("pod %s (%s) listening on 127.0.0.1:%d", cfg.name, cfg.service, port)
    return RunningPod(cfg, port, runner, outbound)


class WorkloadHost:
    """Many pods on one event loop, by pod name. Use ``async with`` or call :meth:`close`."""

    def __init__(self) -> None:
        self._pods: dict[str, RunningPod] = {}

    @property
    def pods(self) -> dict[str, RunningPod]:
        """The running pods by name (a copy)."""
        return dict(self._pods)

    async def start(self, cfg: PodConfig) -> RunningPod:
        """Start a pod; its name must not be running already."""
        if cfg.name in self._pods:
            raise WorkloadConfigError(
                f"pod {cfg.name!r} is already running on port {self._pods[cfg.name].port}",
                hint="stop it first or give the new pod another name",
            )
        pod = await start_pod(cfg)
        self._pods[cfg.name] = pod
        return pod

    async def stop(self, name: str) -> None:
        """Stop the pod ``name`` (KeyError when there is none)."""
        pod = self._pods.pop(name)
        await pod.close()
        log.info("pod %s stopped", name)

    async def close(self) -> None:
        """Stop every pod."""
        while self._pods:
            _, pod = self._pods.popitem()
            try:
                await pod.close()
            except Exception:  # keep stopping the others
                log.exception("stopping pod %s failed", pod.name)

    async def __aenter__(self) -> WorkloadHost:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
