"""The running processes of the local mesh: run directory, ports, ingress-gateway Envoy, workload host, pods.

:class:`MeshRuntime` starts the gateway and the workload host, keeps the set of running pods equal to what the
stored Deployments ask for (:meth:`MeshRuntime.reconcile_pods`), and on :meth:`MeshRuntime.close` stops every
process it started and removes the run directory. Every process is a child of the harness, registered with
the lifeline (:mod:`meshrelease.backends.local.dataplane.lifeline`), and is reaped on close.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from meshrelease.backends.local.dataplane.envoy import EnvoyProcess, wait_all_ready
from meshrelease.backends.local.dataplane.envoy_binary import EnvoyBinary, find_envoy
from meshrelease.backends.local.dataplane.pods import POD_NAME_ALPHABET, plan_pods
from meshrelease.backends.local.dataplane.ports import PortAllocator
from meshrelease.backends.local.model import ProxySpec, StoredObject
from meshrelease.backends.local.pod_processes import PodLauncher, PodRuntime, ensure_bind_ports
from meshrelease.backends.local.run_dirs import create_run_dir
from meshrelease.backends.local.translate import translator as translate
from meshrelease.errors import MeshReleaseError
from meshrelease.k8s.gateway_api import GATEWAY_NAME_LABEL

if TYPE_CHECKING:
    from meshrelease.backends.local.options import LocalMeshOptions
    from meshrelease.bookinfo.workloads import WorkloadHostProcess

GATEWAY_LABELS = {"istio": "ingressgateway", "app": "istio-ingressgateway"}
GATEWAY_NAMESPACE = "istio-system"
INGRESS_PORT = 8080  # the resolved gateway port Bookinfo's Gateway uses; --port binds it


class MeshRuntime:
    """The mesh's processes and ports. Not thread-safe: the mesh facade serialises calls with its lock."""

    def __init__(self, options: LocalMeshOptions, rng: random.Random) -> None:
        self.options = options
        self._rng = rng
        self.ports = PortAllocator(share=options.port_slice)
        self.pods: dict[str, PodRuntime] = {}
        self.gateway: EnvoyProcess | None = None
        # Gateway API Gateways of class istio: (namespace, name) -> the Envoy of its "<name>-istio" deployment
        self.api_gateways: dict[tuple[str, str], EnvoyProcess] = {}
        self.host: WorkloadHostProcess | None = None
        self.envoy: EnvoyBinary | None = None
        self.ingress_port: int | None = None
        self._gateway_spec: ProxySpec | None = None
        self._run_root: Path | None = None
        self._launcher: PodLauncher | None = None

    @property
    def run_dir(self) -> Path:
        if self._run_root is None:
            raise MeshReleaseError("the local mesh is not started")
        return self._run_root

    @property
    def ingress_url(self) -> str:
        if self.ingress_port is None:
            raise MeshReleaseError("the local mesh is not started; call start() first")
        return f"http://127.0.0.1:{self.ingress_port}"

    def start(self) -> None:
        """Create the run directory, bind the ingress port, start the workload host and the gateway Envoy (ready
        when this returns). On failure the caller closes the runtime, which stops what was started."""
        options = self.options
        self.envoy = find_envoy(options.envoy_bin)
        self._run_root = create_run_dir(options.run_dir, keep=options.keep_run_dir)
        (self._run_root / "logs").mkdir()
        if options.port:  # None or 0: any free port
            self.ingress_port = self.ports.reserve(options.port, what="the ingress gateway")
        else:
            self.ingress_port = self.ports.allocate()
        # Imported here: the workloads package pulls in aiohttp, which the parent only needs for the host client.
        from meshrelease.bookinfo.workloads import WorkloadHostProcess

        self.host = WorkloadHostProcess(log_path=self._run_root / "logs" / "workloads.log")
        self._launcher = PodLauncher(
            envoy_path=self.envoy.path,
            run_dir=self._run_root,
            ports=self.ports,
            host=self.host,
            log_level=options.envoy_log_level,
            start_timeout=options.start_timeout,
        )
        self._gateway_spec = ProxySpec(
            id=f"istio-ingressgateway-{self._pod_suffix()}.{GATEWAY_NAMESPACE}",
            kind="gateway",
            namespace=GATEWAY_NAMESPACE,
            labels=dict(GATEWAY_LABELS),
            bind_ports={},
            xds_dir=str(self._run_root / "proxies" / "gateway" / "xds"),
            access_log_path=str(self._run_root / "logs" / "istio-ingressgateway.access.log"),
            pod="istio-ingressgateway",
        )
        self.gateway = EnvoyProcess(
            self.envoy.path,
            self._gateway_spec,
            self._run_root / "proxies" / "gateway",
            log_level=options.envoy_log_level,
        )
        self.gateway.start()
        wait_all_ready([self.gateway], options.start_timeout)

    def _pod_suffix(self) -> str:
        """A Kubernetes-style ``<template hash>-<pod hash>`` for the gateway pod (random; it has no template)."""
        rs = "".join(self._rng.choice(POD_NAME_ALPHABET) for _ in range(10))
        return rs + "-" + "".join(self._rng.choice(POD_NAME_ALPHABET) for _ in range(5))

    def proxies(self) -> list[EnvoyProcess]:
        """Every running Envoy: the sidecars, then the gateway, then the Gateway API gateways."""
        procs = [p.sidecar for p in self.pods.values()]
        if self.gateway is not None:
            procs.append(self.gateway)
        procs += [self.api_gateways[key] for key in sorted(self.api_gateways)]
        return procs

    def api_gateway_url(self, namespace: str, name: str, port: int | None = None) -> str:
        """``http://127.0.0.1:<port>`` where the Gateway API Gateway ``namespace/name`` serves its listener on
        ``port`` (its first HTTP listener when None)."""
        proc = self.api_gateways.get((namespace, name))
        if proc is None:
            running = ", ".join(f"{ns}/{n}" for ns, n in sorted(self.api_gateways)) or "none"
            raise MeshReleaseError(
                f"no gateway runs for the Gateway API Gateway {namespace}/{name} (running: {running})",
                hint="apply a Gateway of gatewayClassName: istio with that name in a step before this one "
                "(e.g. Istio's samples/bookinfo/gateway-api/bookinfo-gateway.yaml)",
            )
        bound = proc.proxy.bind_ports
        if port is None:
            if not bound:
                raise MeshReleaseError(f"the Gateway {namespace}/{name} has no HTTP listener the local mesh runs")
            port = min(bound)
        if port not in bound:
            raise MeshReleaseError(
                f"the Gateway {namespace}/{name} has no HTTP listener on port {port} (it has: "
                f"{', '.join(str(p) for p in sorted(bound)) or 'none'})"
            )
        return f"http://127.0.0.1:{bound[port]}"

    def _reconcile_api_gateways(self, objects: list[StoredObject]) -> None:
        """Run one gateway Envoy per Gateway API Gateway of class istio (as istiod deploys ``<name>-istio``), with
        a listener port per HTTP listener; stop those whose Gateway is gone."""
        assert self.envoy is not None and self._run_root is not None
        wanted = {(g.namespace, g.name): g for g in translate.managed_gateways(objects, self.options.translate_options)}
        for key in [k for k in self.api_gateways if k not in wanted]:
            proc = self.api_gateways.pop(key)
            ensure_bind_ports(self.ports, proc.proxy, [])
            proc.stop()
        started: list[EnvoyProcess] = []
        for key, managed in sorted(wanted.items()):
            existing = self.api_gateways.get(key)
            if existing is not None:
                proc = existing
            else:
                pod = f"{managed.deployment}-{self._pod_suffix()}"
                folder = self._run_root / "proxies" / f"{pod}.{managed.namespace}"
                spec = ProxySpec(
                    id=f"{pod}.{managed.namespace}",
                    kind="gateway",
                    namespace=managed.namespace,
                    labels={
                        GATEWAY_NAME_LABEL: managed.name,
                        "service.istio.io/canonical-name": managed.deployment,
                    },
                    bind_ports={},
                    xds_dir=str(folder / "xds"),
                    access_log_path=str(self._run_root / "logs" / f"{pod}.access.log"),
                    pod=pod,
                )
                proc = EnvoyProcess(self.envoy.path, spec, folder, log_level=self.options.envoy_log_level)
                self.api_gateways[key] = proc
                proc.start()
                started.append(proc)
            ports = translate.gateway_listener_ports(objects, proc.proxy, self.options.translate_options)
            ensure_bind_ports(self.ports, proc.proxy, ports)
        if started:
            wait_all_ready(started, self.options.start_timeout)

    def reconcile_pods(self, objects: list[StoredObject]) -> list[PodRuntime]:
        """Start the pods the Deployments in ``objects`` ask for and give every proxy its listener ports. Pods
        no Deployment asks for leave :attr:`pods` but keep running: the caller stops them with
        :meth:`stop_pods` once the proxies were told they are gone. Returns them."""
        assert self._launcher is not None
        plans = {p.name: p for p in plan_pods(objects, workloads=self.options.workloads, ui_override=self.options.ui)}
        http_ports = translate.http_service_ports(objects)
        added = [plans[n] for n in plans if n not in self.pods]
        removed = [self.pods[n] for n in self.pods if n not in plans]
        if added:
            for r in self._launcher.start(added, http_ports):
                self.pods[r.plan.name] = r
        for pod in self.pods.values():
            ensure_bind_ports(self.ports, pod.proxy, http_ports)
        gateway = self._gateway_spec
        assert gateway is not None and self.ingress_port is not None
        gw_ports = translate.gateway_listener_ports(objects, gateway, self.options.translate_options)
        ensure_bind_ports(self.ports, gateway, gw_ports, fixed={INGRESS_PORT: self.ingress_port})
        self._reconcile_api_gateways(objects)
        for pod in removed:
            del self.pods[pod.plan.name]
        return removed

    def stop_pods(self, pods: Sequence[PodRuntime]) -> None:
        for pod in pods:
            assert self._launcher is not None  # pods exist only once started
            self._launcher.stop(pod)

    def close(self) -> None:
        """Stop every pod, the gateway and the workload host (each reaped); remove the run directory unless
        the options keep it."""
        self.stop_pods(list(self.pods.values()))
        self.pods.clear()
        if self.gateway is not None:
            self.gateway.stop()
        for proc in self.api_gateways.values():
            proc.stop()
        self.api_gateways.clear()
        if self.host is not None:
            self.host.close()
        if self._run_root is not None and not self.options.keep_run_dir:
            shutil.rmtree(self._run_root, ignore_errors=True)
