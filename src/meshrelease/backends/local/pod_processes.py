"""The processes of one pod of the local mesh: its sidecar Envoy and its workload.

A Bookinfo pod's workload runs inside the shared workload host process; a ``--workload`` pod runs its own
command, a child started through :func:`~meshrelease.backends.local.dataplane.envoy.popen_child` (tied to the
harness's lifetime by the lifeline) and reaped by :meth:`PodLauncher.stop`. Every 127.0.0.1 port a pod holds
comes from the mesh's :class:`PortAllocator` and goes back to it when the pod stops.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from meshrelease.backends.local.dataplane.envoy import EnvoyProcess, popen_child, stop_process, wait_all_ready
from meshrelease.backends.local.dataplane.pods import PodPlan
from meshrelease.backends.local.dataplane.ports import PortAllocator
from meshrelease.backends.local.model import Pod, ProxySpec
from meshrelease.errors import MeshReleaseError, WaitTimeout

if TYPE_CHECKING:
    from meshrelease.bookinfo.workloads import WorkloadHostProcess


@dataclass
class PodRuntime:
    """A running pod: its plan, its model for the translation, its sidecar and the port its app serves on."""

    plan: PodPlan
    model: Pod
    proxy: ProxySpec
    sidecar: EnvoyProcess
    app_port: int
    command: subprocess.Popen[bytes] | None = None  # for --workload pods
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    def containers_ready(self) -> int:
        """How many of its two containers (workload, sidecar) run, as kubectl's READY column counts them."""
        workload = self.command.poll() is None if self.command is not None else True  # in the workload host
        return int(workload) + int(self.sidecar.alive())


def ensure_bind_ports(
    ports: PortAllocator, spec: ProxySpec, logical: Sequence[int], fixed: Mapping[int, int] | None = None
) -> None:
    """Give ``spec`` a 127.0.0.1 port for every logical port in ``logical`` and release the others. A port in
    ``fixed`` (the gateway's ingress listener) always binds there and is never released."""
    fixed = fixed or {}
    for port in logical:
        if port not in spec.bind_ports:
            spec.bind_ports[port] = fixed.get(port) or ports.allocate()
    for port in list(spec.bind_ports):
        if port not in logical:
            bound = spec.bind_ports.pop(port)
            if port not in fixed:
                ports.release(bound)


class PodLauncher:
    """Starts pods (all of a batch, or none) and stops them, returning their ports to the allocator."""

    def __init__(
        self,
        *,
        envoy_path: str,
        run_dir: Path,
        ports: PortAllocator,
        host: WorkloadHostProcess,
        log_level: str,
        start_timeout: float,
    ) -> None:
        self.envoy_path = envoy_path
        self.run_dir = run_dir
        self.ports = ports
        self.host = host
        self.log_level = log_level
        self.start_timeout = start_timeout

    def start(self, plans: Sequence[PodPlan], http_ports: Sequence[int]) -> list[PodRuntime]:
        """Start every planned pod and wait until its sidecar is ready and a command pod listens; on any
        failure stop the pods this call started and re-raise."""
        from meshrelease.bookinfo.workloads import PodConfig, default_env

        started: list[PodRuntime] = []
        try:
            for plan in plans:
                pod_dir = self.run_dir / "proxies" / plan.name
                spec = ProxySpec(
                    id=f"{plan.name}.{plan.namespace}",
                    kind="sidecar",
                    namespace=plan.namespace,
                    labels=dict(plan.labels),
                    bind_ports={},
                    xds_dir=str(pod_dir / "xds"),
                    access_log_path=str(self.run_dir / "logs" / f"{plan.name}.access.log"),
                    pod=plan.name,
                )
                ensure_bind_ports(self.ports, spec, http_ports)
                sidecar = EnvoyProcess(self.envoy_path, spec, pod_dir, log_level=self.log_level)
                sidecar.start()
                app_port = self.ports.allocate()
                ports = {cp: app_port for cp in plan.container_ports[:1]}
                # Only the first containerPort is served: one app port per pod in the local mesh.
                model = Pod(
                    name=plan.name,
                    namespace=plan.namespace,
                    labels=dict(plan.labels),
                    service_account=plan.service_account,
                    ports=ports,
                    deployment=plan.deployment,
                )
                runtime = PodRuntime(plan=plan, model=model, proxy=spec, sidecar=sidecar, app_port=app_port)
                started.append(runtime)
                proxies = {port: f"http://127.0.0.1:{bind}" for port, bind in spec.bind_ports.items()}
                if plan.impl.kind == "bookinfo":
                    env = default_env(plan.impl.service, plan.impl.version)
                    env.update(plan.env)
                    env["HOSTNAME"] = plan.name
                    self.host.start_pod(
                        PodConfig(
                            service=plan.impl.service,
                            name=plan.name,
                            env=env,
                            port=app_port,
                            ui=plan.impl.ui,
                            proxies=proxies,
                        )
                    )
                else:
                    runtime.command = self._start_command(plan, app_port, proxies)
            wait_all_ready([r.sidecar for r in started], self.start_timeout)
            for r in started:
                if r.command is not None:
                    _wait_port(r.app_port, r.plan.name, r.command, self.start_timeout)
        except BaseException:
            for r in started:
                self.stop(r)
            raise
        return started

    def _start_command(self, plan: PodPlan, port: int, proxies: Mapping[int, str]) -> subprocess.Popen[bytes]:
        argv = [a.replace("{port}", str(port)) for a in plan.impl.command]
        env = dict(os.environ)
        env.update(plan.env)
        env["HOSTNAME"] = plan.name
        env["PORT"] = str(port)
        if proxies:
            first = proxies[min(proxies)]
            env["HTTP_PROXY"] = env["http_proxy"] = first
        env.pop("NO_PROXY", None)
        env.pop("no_proxy", None)
        log = self.run_dir / "logs" / f"{plan.name}.log"
        try:
            return popen_child(argv, log_path=log, env=env)
        except OSError as exc:
            raise MeshReleaseError(
                f"cannot start the workload command for pod {plan.name} ({' '.join(argv)}): {exc}",
                hint="check the --workload mapping for image " + plan.image,
            ) from exc

    def stop(self, pod: PodRuntime) -> None:
        """Stop (and reap) the pod's workload and sidecar; release its ports."""
        if pod.command is not None:
            stop_process(pod.command)
        else:
            with contextlib.suppress(Exception):
                self.host.stop_pod(pod.plan.name)
        pod.sidecar.stop()
        self.ports.release(pod.app_port)
        for bound in pod.proxy.bind_ports.values():
            self.ports.release(bound)


def _wait_port(port: int, name: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise MeshReleaseError(f"the workload command of pod {name} exited with code {proc.returncode}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        if time.monotonic() > deadline:
            raise WaitTimeout(f"pod {name} to listen on 127.0.0.1:{port}", timeout, "connection refused")
        time.sleep(0.02)
