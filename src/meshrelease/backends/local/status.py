"""What the local mesh reports about itself: status, diagnostics for failure reports, versions, access logs.

Read-only views over :class:`~meshrelease.backends.local.runtime.MeshRuntime` and
:class:`~meshrelease.backends.local.sync.ConfigSync`; a proxy whose admin endpoint does not answer is
reported as such, never raised.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from meshrelease.backends.base import BackendInfo
from meshrelease.backends.local.dataplane.envoy import EnvoyProcess
from meshrelease.backends.local.dataplane.envoy_binary import find_envoy
from meshrelease.backends.local.model import Translation
from meshrelease.backends.local.runtime import MeshRuntime


def proxy_lag(proc: EnvoyProcess) -> str | None:
    """What a proxy still lacks (None when synced); never raises, for status and diagnostics."""
    try:
        return proc.lagging()
    except Exception as exc:
        return f"admin not answering: {exc.__class__.__name__}: {exc}"


def workloads(runtime: MeshRuntime) -> list[dict[str, Any]]:
    """The running pods (name, deployment, implementation, port, labels, start time, ready containers); no
    proxy is asked anything."""
    return [
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
            "started": p.started.isoformat(timespec="seconds"),
            "ready": p.containers_ready(),
        }
        for p in sorted(runtime.pods.values(), key=lambda r: r.plan.name)
    ]


def status(runtime: MeshRuntime, config_version: int) -> dict[str, Any]:
    """Proxies (id, kind, pid, admin URL, the configuration version they run) and workloads."""
    proxies = []
    for proc in runtime.proxies():
        lag = proxy_lag(proc)
        proxies.append(
            {
                "id": proc.proxy.id,
                "kind": proc.proxy.kind,
                "pid": proc.pid,
                "alive": proc.alive(),
                "admin": proc.admin_endpoint,
                "listeners": {str(k): v for k, v in proc.proxy.bind_ports.items()},
                "config_version": proc.xds.written_version,
                "synced": lag is None,
                "lag": lag,
            }
        )
    return {
        "ingress_url": runtime.ingress_url,
        "run_dir": str(runtime.run_dir),
        "config_version": config_version,
        "proxies": proxies,
        "workloads": workloads(runtime),
    }


def diagnostics(runtime: MeshRuntime, last_translation: Translation | None) -> dict[str, str]:
    """Proxies that lag or rejected an update, and the last translation's warnings (for a failed step)."""
    out: dict[str, str] = {}
    for proc in runtime.proxies():
        gap = proxy_lag(proc)
        rejected = proc.rejected_updates()
        if gap or rejected:
            out[f"proxy {proc.proxy.id}"] = f"lag: {gap}; rejected updates: {rejected}"
    if last_translation is not None:
        for w in last_translation.warnings:
            out.setdefault("warnings", "")
            out["warnings"] += w + "\n"
    return out


def describe(runtime: MeshRuntime, envoy_bin: str | None) -> BackendInfo:
    """Envoy's version and the Bookinfo image tags running (works before start, from ``envoy_bin``)."""
    envoy = runtime.envoy or find_envoy(envoy_bin)
    tags = sorted({p.plan.impl.tag for p in runtime.pods.values() if p.plan.impl.kind == "bookinfo"})
    return BackendInfo(
        backend="local",
        mesh=f"envoy {envoy.version_text} ({envoy.source}) with meshrelease's local control plane",
        kubernetes="",
        bookinfo=",".join(tags),
        extra={"envoy_path": envoy.path},
    )


def access_log_paths(run_dir: Path) -> list[Path]:
    """Every proxy's access log in the run directory."""
    return sorted((run_dir / "logs").glob("*.access.log"))
