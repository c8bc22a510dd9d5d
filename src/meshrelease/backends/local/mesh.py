"""LocalMesh: the ``local`` backend — real Envoy proxies configured by meshrelease's own control plane.

One Envoy sidecar per pod and one ingress-gateway Envoy, all on 127.0.0.1; Bookinfo-compatible workloads
hosted by one child process (:mod:`meshrelease.bookinfo.workloads`), or user commands (``--workload``).
Applied objects go through the store (kubectl-apply semantics, Istio's validation), are translated to
Envoy resources per proxy and pushed as xDS files; :meth:`LocalMesh.wait_synced` reads every proxy's admin
endpoint until it runs exactly that configuration.

The mesh is a context manager: every process it starts is its child (and dies with it, via the Linux
parent-death signal, should the harness be killed) and is reaped on exit; the run directory is removed.
"""

from __future__ import annotations

import contextlib
import functools
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from meshrelease.backends.base import ApplyResult, BackendInfo, ObjectDoc
from meshrelease.backends.local.apiserver.store import ObjectStore
from meshrelease.backends.local.dataplane import accesslog
from meshrelease.backends.local.dataplane.envoy import (
    EnvoyProcess,
    popen_child,
    stop_process,
    wait_all_ready,
    wait_synced,
)
from meshrelease.backends.local.dataplane.envoy_binary import EnvoyBinary, find_envoy
from meshrelease.backends.local.dataplane.pods import (
    POD_NAME_ALPHABET,
    PodPlan,
    UiName,
    check_deployments,
    parse_workload_mappings,
    plan_pods,
)
from meshrelease.backends.local.dataplane.ports import PortAllocator
from meshrelease.backends.local.dataplane.push import Pusher
from meshrelease.backends.local.model import Pod, ProxyResources, ProxySpec, StoredObject, Translation
from meshrelease.backends.local.translate import translator as translate
from meshrelease.backends.local.translate.errors import TranslationError
from meshrelease.backends.settings import LocalSettings
from meshrelease.data import bookinfo_manifests
from meshrelease.errors import MeshReleaseError, ValidationError, WaitTimeout
from meshrelease.k8s.manifest import load_manifests
from meshrelease.k8s.objects import ObjectKey

GATEWAY_LABELS = {"istio": "ingressgateway", "app": "istio-ingressgateway"}
GATEWAY_NAMESPACE = "istio-system"
INGRESS_PORT = 8080  # the resolved gateway port Bookinfo's Gateway uses; --port binds it


@dataclass
class LocalMeshOptions:
    port: int | None = None  # 127.0.0.1 port of the gateway's 8080 listener (None or 0: a free one)
    ui: UiName | None = None  # force the productpage UI instead of deriving it from the image tag
    run_dir: Path | None = None  # where the run directory is created (default: the system temp dir)
    keep_run_dir: bool = False
    envoy_bin: str | None = None
    propagation_delay: tuple[float, float] | None = None  # seconds, per proxy and update, uniform
    workloads: dict[str, tuple[str, ...]] = field(default_factory=dict)  # image -> argv template
    bookinfo: bool = True  # apply fixtures/kubernetes/bookinfo.yaml + bookinfo-gateway.yaml on start
    manifests: list[Path] = field(default_factory=list)  # applied after Bookinfo on start
    seed: int | None = None
    envoy_log_level: str = "warning"
    start_timeout: float = 60.0
    translate_options: translate.TranslateOptions = field(default_factory=translate.TranslateOptions)


def mesh_options(settings: LocalSettings, *, manifests: Sequence[Path] = ()) -> LocalMeshOptions:
    """LocalMeshOptions from the user's settings (``meshrelease serve`` and the pytest options share them):
    ``--envoy-version`` fetches that Envoy; ``--workload IMAGE=COMMAND`` is parsed here with a clear error for a
    bad value."""
    envoy_bin = settings.envoy_bin
    if settings.envoy_version:
        from meshrelease.backends.local.dataplane.envoy_versions import ensure_envoy_version

        envoy_bin = ensure_envoy_version(settings.envoy_version)
    return LocalMeshOptions(
        port=settings.port,
        ui=settings.ui,
        envoy_bin=envoy_bin,
        propagation_delay=settings.propagation_delay,
        workloads=parse_workload_mappings(settings.workloads),
        manifests=list(manifests),
        keep_run_dir=settings.keep_run_dir,
        run_dir=settings.run_dir,
    )


@dataclass
class _PodRuntime:
    plan: PodPlan
    model: Pod
    proxy: ProxySpec
    sidecar: EnvoyProcess
    app_port: int
    command: subprocess.Popen[bytes] | None = None  # for --workload pods


class LocalMesh:
    """The local backend (see the module docstring). Use as a context manager or call start()/close()."""

    name = "local"

    def __init__(self, options: LocalMeshOptions | None = None) -> None:
        self.options = options or LocalMeshOptions()
        self.store = ObjectStore()
        self._lock = threading.RLock()
        self._ports = PortAllocator()
        self._pods: dict[str, _PodRuntime] = {}
        self._gateway: EnvoyProcess | None = None
        self._gateway_spec: ProxySpec | None = None
        self._host: Any = None  # WorkloadHostProcess
        self._envoy: EnvoyBinary | None = None
        self._run_root: Path | None = None
        self._pusher: Pusher | None = None
        self._version = 0
        self._ingress_port: int | None = None
        self._baseline: dict[ObjectKey, StoredObject] = {}
        self._started = False
        self._closed = False
        self.last_translation: Translation | None = None
        self._rng = random.Random(self.options.seed)

    # ----------------------------------------------------------------- lifecycle
    def __enter__(self) -> LocalMesh:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def run_dir(self) -> Path:
        if self._run_root is None:
            raise MeshReleaseError("the local mesh is not started")
        return self._run_root

    def start(self) -> None:
        """Start the gateway and the workload host, then apply Bookinfo (and extra manifests). Idempotent."""
        with self._lock:
            if self._started:
                return
            if self._closed:
                raise MeshReleaseError("this LocalMesh was closed; create a new one")
            self._started = True
            try:
                self._start()
            except BaseException:
                self.close()
                raise

    def _start(self) -> None:
        self._envoy = find_envoy(self.options.envoy_bin)
        base = self.options.run_dir
        if base is not None:
            base.mkdir(parents=True, exist_ok=True)
        self._run_root = Path(tempfile.mkdtemp(prefix="meshrelease-", dir=base))
        (self._run_root / "logs").mkdir()
        if self.options.port:  # None or 0: any free port
            self._ingress_port = self._ports.reserve(self.options.port, what="the ingress gateway")
        else:
            self._ingress_port = self._ports.allocate()
        if self.options.propagation_delay is not None:
            self._pusher = Pusher(self.options.propagation_delay, self._rng)
        # Imported here: the workloads package pulls in aiohttp, which the parent only needs for the host client.
        from meshrelease.bookinfo.workloads import WorkloadHostProcess

        self._host = WorkloadHostProcess(log_path=self._run_root / "logs" / "workloads.log")
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
        self._gateway = EnvoyProcess(
            self._envoy.path,
            self._gateway_spec,
            self._run_root / "proxies" / "gateway",
            log_level=self.options.envoy_log_level,
        )
        self._gateway.start()
        wait_all_ready([self._gateway], self.options.start_timeout)
        docs: list[ObjectDoc] = []
        if self.options.bookinfo:
            for path in bookinfo_manifests():
                docs.extend(load_manifests(path))
        for path in self.options.manifests:
            docs.extend(load_manifests(path))
        if docs:
            self.apply(docs, source="bookinfo" if not self.options.manifests else "start-up manifests")
        self._baseline = {o.key: o for o in self.store.objects()}
        # start() returns a mesh that serves: every proxy runs the start-up configuration (listeners bound).
        self.wait_synced(self.options.start_timeout)

    def _pod_suffix(self) -> str:
        """A Kubernetes-style ``<template hash>-<pod hash>`` for the gateway pod (random; it has no template)."""
        rs = "".join(self._rng.choice(POD_NAME_ALPHABET) for _ in range(10))
        return rs + "-" + "".join(self._rng.choice(POD_NAME_ALPHABET) for _ in range(5))

    def close(self) -> None:
        """Stop every process this mesh started and remove its run directory. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._pusher is not None:
                self._pusher.close()
            for pod in list(self._pods.values()):
                self._stop_pod(pod)
            self._pods.clear()
            if self._gateway is not None:
                self._gateway.stop()
            if self._host is not None:
                self._host.close()
            if self._run_root is not None and not self.options.keep_run_dir:
                shutil.rmtree(self._run_root, ignore_errors=True)

    # ----------------------------------------------------------------- Backend API
    @property
    def ingress_url(self) -> str:
        if self._ingress_port is None:
            raise MeshReleaseError("the local mesh is not started; call start() first")
        return f"http://127.0.0.1:{self._ingress_port}"

    def apply(self, docs: Sequence[ObjectDoc], *, source: str | None = None) -> ApplyResult:
        with self._lock:
            self._require_running()
            check = functools.partial(self._check_candidate, source=source)
            return self._change(lambda: self.store.apply(docs, source=source, check=check))

    def delete(self, docs: Sequence[ObjectDoc], *, source: str | None = None) -> ApplyResult:
        with self._lock:
            self._require_running()
            return self._change(lambda: self.store.delete(docs, source=source))

    def delete_keys(self, keys: Sequence[ObjectKey]) -> ApplyResult:
        with self._lock:
            self._require_running()
            return self._change(lambda: self.store.delete_keys(keys))

    def _change(self, change: Callable[[], ApplyResult]) -> ApplyResult:
        """Run a store change and bring the mesh to it; if the mesh cannot follow (a pod that does not
        start), put the objects back as they were, so a failed apply changes nothing."""
        before = {o.key: o for o in self.store.objects()}
        result = change()
        try:
            self._reconcile()
        except BaseException:
            self._restore_objects(before)
            with contextlib.suppress(MeshReleaseError):
                self._reconcile()
            raise
        return result

    def _restore_objects(self, target: Mapping[ObjectKey, StoredObject]) -> bool:
        """Make the store hold exactly ``target``'s objects (bodies as they were); True if anything changed.
        Re-created objects get a new creation time."""
        current = {o.key: o for o in self.store.objects()}
        extra = [k for k in current if k not in target]
        changed = [o for k, o in target.items() if k not in current or current[k].body != o.body]
        if extra:
            self.store.delete_keys(extra, ignore_not_found=True)  # a Namespace deletion may cascade
        if changed:
            changed.sort(key=lambda o: (o.key.kind != "Namespace", o.seq))  # namespaces before their objects
            self.store.apply([o.body for o in changed], source="restore", check=self._check_candidate)
        return bool(extra or changed)

    def reset_routing(self) -> None:
        """Bring every object back to the state right after start (routing included); cheap when unchanged."""
        with self._lock:
            self._require_running()
            if self._restore_objects(self._baseline):
                self._reconcile()

    def wait_synced(self, timeout: float = 30.0) -> float:
        start = time.monotonic()
        deadline = start + timeout
        if self._pusher is not None:
            pending = self._pusher.wait_idle(deadline)
            if pending:
                lagging = list(dict.fromkeys(pending))
                raise WaitTimeout(
                    f"configuration version {self._version} to reach every proxy (delayed pushes)",
                    timeout,
                    f"{len(pending)} push(es) still scheduled, for {len(lagging)} proxy(ies): {', '.join(lagging[:5])}",
                )
        with self._lock:
            processes = self._all_proxies()
        wait_synced(processes, max(0.0, deadline - time.monotonic()))
        return time.monotonic() - start

    def describe(self) -> BackendInfo:
        envoy = self._envoy or find_envoy(self.options.envoy_bin)
        tags = sorted({p.plan.impl.tag for p in self._pods.values() if p.plan.impl.kind == "bookinfo"})
        return BackendInfo(
            backend="local",
            mesh=f"envoy {envoy.version_text} ({envoy.source}) with meshrelease's local control plane",
            kubernetes="",
            bookinfo=",".join(tags),
            extra={"envoy_path": envoy.path},
        )

    def access_log_entries(self, request_id: str, *, wait: float = 1.0) -> list[dict[str, Any]]:
        """Access-log entries of every proxy for one request id (waits for Envoy's 100 ms log flush)."""
        return accesslog.lines_for_request(self._log_paths(), request_id, wait=wait)

    def access_log_lines(self, request_id: str) -> list[str]:
        """The request's access-log entries as JSON lines, the routing keys first (for failure reports)."""
        return [accesslog.format_entry(e) for e in self.access_log_entries(request_id)]

    def access_log_window(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        return accesslog.lines_between(self._log_paths(), start, end)

    def diagnostics(self) -> dict[str, str]:
        out: dict[str, str] = {}
        with self._lock:
            for proc in self._all_proxies():
                gap = _lag(proc)
                rejected = proc.rejected_updates()
                if gap or rejected:
                    out[f"proxy {proc.proxy.id}"] = f"lag: {gap}; rejected updates: {rejected}"
        if self.last_translation is not None:
            for w in self.last_translation.warnings:
                out.setdefault("warnings", "")
                out["warnings"] += w + "\n"
        return out

    # ----------------------------------------------------------------- status / introspection
    def status(self) -> dict[str, Any]:
        """Proxies (id, kind, pid, admin URL, the configuration version they run) and workloads."""
        with self._lock:
            proxies = []
            for proc in self._all_proxies():
                lag = _lag(proc)
                proxies.append(
                    {
                        "id": proc.proxy.id,
                        "kind": proc.proxy.kind,
                        "pid": proc.pid,
                        "alive": proc.alive(),
                        "admin": proc.admin_url,
                        "listeners": {str(k): v for k, v in proc.proxy.bind_ports.items()},
                        "config_version": proc.xds.written_version,
                        "synced": lag is None,
                        "lag": lag,
                    }
                )
            workloads = [
                {
                    "pod": p.plan.name,
                    "namespace": p.plan.namespace,
                    "deployment": p.plan.deployment,
                    "implementation": (
                        f"bookinfo {p.plan.impl.service} {p.plan.impl.version} ({p.plan.impl.ui} UI)"
                        if p.plan.impl.kind == "bookinfo"
                        else "command: " + " ".join(p.plan.impl.command)
                    ),
                    "image": p.plan.image,
                    "port": p.app_port,
                    "labels": p.plan.labels,
                }
                for p in sorted(self._pods.values(), key=lambda r: r.plan.name)
            ]
            return {
                "ingress_url": self.ingress_url,
                "run_dir": str(self.run_dir),
                "config_version": self._version,
                "proxies": proxies,
                "workloads": workloads,
            }

    def pods(self) -> list[Pod]:
        with self._lock:
            return [p.model for p in self._pods.values()]

    # ----------------------------------------------------------------- internals
    def _require_running(self) -> None:
        if not self._started or self._closed:
            raise MeshReleaseError("the local mesh is not running; start() it first (or use it as a context manager)")

    def _all_proxies(self) -> list[EnvoyProcess]:
        procs = [p.sidecar for p in self._pods.values()]
        if self._gateway is not None:
            procs.append(self._gateway)
        return procs

    def _log_paths(self) -> list[Path]:
        return sorted((self.run_dir / "logs").glob("*.access.log"))

    def _check_candidate(self, objects: list[StoredObject], *, source: str | None = None) -> None:
        """Apply-time check on the state an apply would produce: runnable images, supported fields, and a
        dry-run translation. Raises ValidationError naming ``source``; the store then changes nothing."""
        errors = check_deployments(objects, workloads=self.options.workloads, ui_override=self.options.ui)
        pods = list(self._pods.values())
        try:
            # The translation lists every unsupported field itself (TranslationError), so it is not scanned twice.
            translate.translate(
                objects, [p.model for p in pods], [p.proxy for p in pods], self.options.translate_options
            )
        except TranslationError as exc:
            errors += exc.errors
        if errors:
            raise ValidationError(errors, source=source)

    def _ensure_bind_ports(
        self, spec: ProxySpec, logical: Sequence[int], fixed: Mapping[int, int] | None = None
    ) -> None:
        """Give ``spec`` a 127.0.0.1 port for every logical port in ``logical`` and release the others. A port in
        ``fixed`` (the gateway's ingress listener) always binds there and is never released."""
        fixed = fixed or {}
        for port in logical:
            if port not in spec.bind_ports:
                spec.bind_ports[port] = fixed.get(port) or self._ports.allocate()
        for port in list(spec.bind_ports):
            if port not in logical:
                bound = spec.bind_ports.pop(port)
                if port not in fixed:
                    self._ports.release(bound)

    def _reconcile(self) -> None:
        """Make the running pods match the Deployments, then translate and push to every proxy."""
        objects = self.store.objects()
        plans = {p.name: p for p in plan_pods(objects, workloads=self.options.workloads, ui_override=self.options.ui)}
        http_ports = translate.http_service_ports(objects)
        added = [plans[n] for n in plans if n not in self._pods]
        removed = [self._pods[n] for n in self._pods if n not in plans]
        if added:
            self._start_pods(added, http_ports)
        for pod in self._pods.values():
            self._ensure_bind_ports(pod.proxy, http_ports)
        gateway = self._gateway_spec
        assert gateway is not None and self._ingress_port is not None
        gw_ports = translate.gateway_listener_ports(objects, gateway, self.options.translate_options)
        self._ensure_bind_ports(gateway, gw_ports, fixed={INGRESS_PORT: self._ingress_port})
        for pod in removed:
            del self._pods[pod.plan.name]
        live = list(self._pods.values())
        specs = [p.proxy for p in live] + [gateway]
        translation = translate.translate(objects, [p.model for p in live], specs, self.options.translate_options)
        self.last_translation = translation
        self._version += 1
        self._push(translation, [p.sidecar for p in live] + ([self._gateway] if self._gateway else []))
        for pod in removed:
            self._stop_pod(pod)

    def _push(self, translation: Translation, processes: list[EnvoyProcess]) -> None:
        version = str(self._version)
        for proc in processes:
            resources = translation.proxies.get(proc.proxy.id, ProxyResources())
            if self._pusher is not None:
                self._pusher.schedule(proc.proxy.id, functools.partial(proc.xds.write, resources, version))
            else:
                proc.xds.write(resources, version)

    def _start_pods(self, plans: Sequence[PodPlan], http_ports: Sequence[int]) -> None:
        from meshrelease.bookinfo.workloads import PodConfig, default_env

        assert self._envoy is not None
        started: list[_PodRuntime] = []
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
                self._ensure_bind_ports(spec, http_ports)
                sidecar = EnvoyProcess(self._envoy.path, spec, pod_dir, log_level=self.options.envoy_log_level)
                sidecar.start()
                app_port = self._ports.allocate()
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
                runtime = _PodRuntime(plan=plan, model=model, proxy=spec, sidecar=sidecar, app_port=app_port)
                started.append(runtime)
                proxies = {port: f"http://127.0.0.1:{bind}" for port, bind in spec.bind_ports.items()}
                if plan.impl.kind == "bookinfo":
                    env = default_env(plan.impl.service, plan.impl.version)
                    env.update(plan.env)
                    env["HOSTNAME"] = plan.name
                    self._host.start_pod(
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
                    runtime.command = self._start_command_pod(plan, app_port, proxies)
            wait_all_ready([r.sidecar for r in started], self.options.start_timeout)
            for r in started:
                if r.command is not None:
                    _wait_port(r.app_port, r.plan.name, r.command, self.options.start_timeout)
        except BaseException:
            for r in started:
                self._stop_pod(r)
            raise
        for r in started:
            self._pods[r.plan.name] = r

    def _start_command_pod(self, plan: PodPlan, port: int, proxies: Mapping[int, str]) -> subprocess.Popen[bytes]:
        import os

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

    def _stop_pod(self, pod: _PodRuntime) -> None:
        if pod.command is not None:
            stop_process(pod.command)
        elif self._host is not None:
            with contextlib.suppress(Exception):
                self._host.stop_pod(pod.plan.name)
        pod.sidecar.stop()
        self._ports.release(pod.app_port)
        for bound in pod.proxy.bind_ports.values():
            self._ports.release(bound)


def _lag(proc: EnvoyProcess) -> str | None:
    """What a proxy still lacks (None when synced); never raises, for status and diagnostics."""
    try:
        return proc.lagging()
    except Exception as exc:
        return f"admin not answering: {exc.__class__.__name__}: {exc}"


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
