"""Configuration delivery of the local mesh: translation → xDS push → wait until every proxy runs it.

:class:`ConfigSync` numbers the mesh's configuration versions, translates the stored objects to Envoy
resources per proxy, writes them to each proxy's xDS files (at once, or after a random per-proxy delay with
``--propagation-delay``, see :mod:`meshrelease.backends.local.dataplane.push`), and waits until every
proxy's admin endpoint reports exactly that configuration.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable, Sequence

from meshrelease.backends.local.dataplane.envoy import EnvoyProcess, wait_synced
from meshrelease.backends.local.dataplane.push import Pusher
from meshrelease.backends.local.model import Pod, ProxyResources, StoredObject, Translation
from meshrelease.backends.local.translate import translator as translate
from meshrelease.errors import WaitTimeout


class ConfigSync:
    """The configuration version, the last translation, and the (optionally delayed) pushes."""

    def __init__(
        self,
        translate_options: translate.TranslateOptions,
        propagation_delay: tuple[float, float] | None,
        rng: random.Random,
    ) -> None:
        self.translate_options = translate_options
        self.propagation_delay = propagation_delay
        self._rng = rng
        self.version = 0
        self.last_translation: Translation | None = None
        self._pusher: Pusher | None = None

    def start(self) -> None:
        """Start the delayed-push thread when a propagation delay is set."""
        if self.propagation_delay is not None:
            self._pusher = Pusher(self.propagation_delay, self._rng)

    def close(self) -> None:
        """Drop the pushes still scheduled and stop the push thread."""
        if self._pusher is not None:
            self._pusher.close()

    def push(self, objects: list[StoredObject], pods: Sequence[Pod], processes: Sequence[EnvoyProcess]) -> None:
        """Translate ``objects`` for ``processes`` (the sidecars of ``pods``, then the gateway) and write each
        proxy its resources under a new version."""
        specs = [proc.proxy for proc in processes]
        translation = translate.translate(objects, list(pods), specs, self.translate_options)
        self.last_translation = translation
        self.version += 1
        version = str(self.version)
        for proc in processes:
            resources = translation.proxies.get(proc.proxy.id, ProxyResources())
            if self._pusher is not None:
                self._pusher.schedule(proc.proxy.id, functools.partial(proc.xds.write, resources, version))
            else:
                proc.xds.write(resources, version)

    def wait_synced(self, timeout: float, proxies: Callable[[], list[EnvoyProcess]]) -> float:
        """Wait until every delayed push ran, then until every proxy of ``proxies()`` runs the configuration
        written to it; returns the seconds waited. Raises WaitTimeout naming what still lags."""
        start = time.monotonic()
        deadline = start + timeout
        if self._pusher is not None:
            pending = self._pusher.wait_idle(deadline)
            if pending:
                lagging = list(dict.fromkeys(pending))
                raise WaitTimeout(
                    f"configuration version {self.version} to reach every proxy (delayed pushes)",
                    timeout,
                    f"{len(pending)} push(es) still scheduled, for {len(lagging)} proxy(ies): {', '.join(lagging[:5])}",
                )
        wait_synced(proxies(), max(0.0, deadline - time.monotonic()))
        return time.monotonic() - start
