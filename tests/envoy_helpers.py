"""Helpers for tests that feed generated xDS to the real Envoy binary.

- :func:`write_xds` writes a proxy's resources the way the runtime does (``lds.json``, ``cds.json``,
  ``rds/<name>.json``; DiscoveryResponse JSON, moved into place atomically).
- :func:`dynamic_bootstrap` points Envoy at those files (``path_config_source``), admin on 127.0.0.1:0.
- :func:`static_bootstrap` is the same configuration with route configurations inlined into the listeners
  and everything under ``static_resources``. ``envoy --mode validate`` does **not** load path-based
  LDS/CDS/RDS (it reports OK for broken files), so validation uses this form (:func:`validate`).
- :class:`RunningEnvoy` starts a real Envoy on the dynamic bootstrap, waits (bounded) until every listener,
  cluster and route configuration is loaded at the expected version, reads the admin API, and is always
  reaped (a context manager).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meshrelease.backends.local.model import ProxyResources
from meshrelease.backends.local.translate.translator import rds_path
from meshrelease.errors import WaitTimeout

HCM_NAME = "envoy.filters.network.http_connection_manager"


def discovery_response(resources: Iterable[dict[str, Any]], version: str) -> dict[str, Any]:
    return {"version_info": version, "resources": list(resources)}


def _write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=1)
    os.replace(tmp, path)


def write_xds(xds_dir: str | Path, resources: ProxyResources, version: str) -> None:
    """Write RDS files first, then CDS, then LDS (listeners reference route configurations)."""
    xds_dir = Path(xds_dir)
    for rc in resources.route_configs:
        _write_json_atomic(Path(rds_path(str(xds_dir), rc["name"])), discovery_response([rc], version))
    _write_json_atomic(xds_dir / "cds.json", discovery_response(resources.clusters, version))
    _write_json_atomic(xds_dir / "lds.json", discovery_response(resources.listeners, version))


def _admin() -> dict[str, Any]:
    return {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}}


def dynamic_bootstrap(xds_dir: str | Path, node_id: str) -> dict[str, Any]:
    """A bootstrap reading LDS and CDS from ``<xds_dir>/lds.json`` and ``cds.json``."""
    xds_dir = Path(xds_dir)

    def source(name: str) -> dict[str, Any]:
        return {"path_config_source": {"path": str(xds_dir / name)}, "resource_api_version": "V3"}

    return {
        "node": {"id": node_id, "cluster": "meshrelease"},
        "admin": _admin(),
        "dynamic_resources": {"lds_config": source("lds.json"), "cds_config": source("cds.json")},
    }


def _untyped(resource: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(resource)
    out.pop("@type", None)
    return out


def static_bootstrap(resources: ProxyResources, node_id: str) -> dict[str, Any]:
    """The equivalent static configuration: each listener's ``rds`` replaced by its route configuration."""
    routes = {rc["name"]: _untyped(rc) for rc in resources.route_configs}
    listeners = []
    for listener in resources.listeners:
        listener = _untyped(listener)
        for chain in listener.get("filter_chains", []):
            for flt in chain.get("filters", []):
                hcm = flt.get("typed_config", {})
                if flt.get("name") == HCM_NAME and "rds" in hcm:
                    name = hcm.pop("rds")["route_config_name"]
                    if name not in routes:
                        raise AssertionError(f"listener {listener['name']} names route config {name!r}, not generated")
                    hcm["route_config"] = routes[name]
        listeners.append(listener)
    return {
        "node": {"id": node_id, "cluster": "meshrelease"},
        "admin": _admin(),
        "static_resources": {"listeners": listeners, "clusters": [_untyped(c) for c in resources.clusters]},
    }


@dataclass
class ValidateResult:
    ok: bool
    output: str


def validate(envoy: str, bootstrap: dict[str, Any], workdir: str | Path, *, timeout: float = 60.0) -> ValidateResult:
    """``envoy --mode validate -c <bootstrap>``; ``ok`` is Envoy's verdict, ``output`` its log tail."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "bootstrap.json"
    path.write_text(json.dumps(bootstrap, indent=1))
    proc = subprocess.run(
        [envoy, "--mode", "validate", "-c", str(path), "--log-level", "warn", "--use-dynamic-base-id"],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    # Envoy warns about max_grpc_timeout (deprecated, but rendered by istiod) once per route: drop the noise.
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "Deprecated field" not in ln]
    output = "\n".join(lines)[-6000:]
    return ValidateResult(ok=proc.returncode == 0 and "OK" in proc.stdout + proc.stderr, output=output)


@dataclass
class LoadedConfig:
    """What an Envoy admin ``/config_dump`` shows as loaded (dynamic resources, name -> version)."""

    listeners: dict[str, str] = field(default_factory=dict)
    listener_errors: dict[str, Any] = field(default_factory=dict)
    clusters: dict[str, str] = field(default_factory=dict)
    route_configs: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        return (
            f"listeners={self.listeners} listener_errors={self.listener_errors} "
            f"clusters={len(self.clusters)} {sorted(self.clusters)[:5]}… route_configs={self.route_configs}"
        )


def parse_config_dump(dump: dict[str, Any]) -> LoadedConfig:
    out = LoadedConfig()
    for cfg in dump.get("configs", []):
        kind = cfg.get("@type", "")
        if kind.endswith("ListenersConfigDump"):
            for item in cfg.get("dynamic_listeners", []):
                if "active_state" in item:
                    out.listeners[item["name"]] = item["active_state"].get("version_info", "")
                if "error_state" in item:
                    out.listener_errors[item["name"]] = item["error_state"]
        elif kind.endswith("ClustersConfigDump"):
            for item in cfg.get("dynamic_active_clusters", []):
                out.clusters[item["cluster"]["name"]] = item.get("version_info", "")
        elif kind.endswith("RoutesConfigDump"):
            for item in cfg.get("dynamic_route_configs", []):
                out.route_configs[item["route_config"]["name"]] = item.get("version_info", "")
    return out


class RunningEnvoy:
    """A real Envoy on a dynamic (file-based) bootstrap; a context manager that always reaps it."""

    def __init__(self, envoy: str, bootstrap: dict[str, Any], workdir: str | Path) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.bootstrap_path = self.workdir / "bootstrap.json"
        self.bootstrap_path.write_text(json.dumps(bootstrap, indent=1))
        self.admin_path = self.workdir / "admin.address"
        self.log_path = self.workdir / "envoy.log"
        self.envoy = envoy
        self.proc: subprocess.Popen[bytes] | None = None
        self.admin_url = ""

    def __enter__(self) -> RunningEnvoy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 20.0) -> None:
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    self.envoy,
                    "-c",
                    str(self.bootstrap_path),
                    "--admin-address-path",
                    str(self.admin_path),
                    "--concurrency",
                    "1",
                    "--use-dynamic-base-id",
                    "--log-level",
                    "info",
                    # Access-log lines reach the file within 50 ms (Envoy buffers for 10 s by default).
                    "--file-flush-interval-msec",
                    "50",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"envoy exited with {self.proc.returncode}:\n{self.log_tail()}")
            text = self.admin_path.read_text().strip() if self.admin_path.exists() else ""
            if text:
                self.admin_url = f"http://{text}"
                return
            time.sleep(0.02)
        raise WaitTimeout("the Envoy admin address file", timeout, f"not written; log:\n{self.log_tail()}")

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        self.proc = None

    def log_tail(self, size: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-size:] if self.log_path.exists() else ""

    def admin(self, path: str) -> str:
        with urllib.request.urlopen(f"{self.admin_url}{path}", timeout=5) as resp:
            return str(resp.read().decode())

    def loaded(self) -> LoadedConfig:
        return parse_config_dump(json.loads(self.admin("/config_dump")))

    def rejected_updates(self) -> dict[str, int]:
        """Every ``*.update_rejected`` stat that is not zero (LDS, CDS and each RDS subscription)."""
        out: dict[str, int] = {}
        for line in self.admin("/stats?filter=update_rejected").splitlines():
            name, _, value = line.partition(": ")
            if value.strip().isdigit() and int(value) != 0:
                out[name] = int(value)
        return out

    def subscription_versions(self) -> dict[str, str]:
        """The last accepted version of each xDS subscription: ``lds``, ``cds`` and ``rds:<route config>``.

        These stats advance on every accepted file, even when its content is unchanged; the per-resource
        ``version_info`` in ``/config_dump`` only moves when that resource itself changed."""
        out: dict[str, str] = {}
        for line in self.admin("/stats?filter=version_text").splitlines():
            name, _, value = line.partition(": ")
            value = value.strip().strip('"')
            if name == "listener_manager.lds.version_text":
                out["lds"] = value
            elif name == "cluster_manager.cds.version_text":
                out["cds"] = value
            elif ".rds." in name and name.endswith(".version_text"):
                out["rds:" + name.rsplit(".rds.", 1)[1].removesuffix(".version_text")] = value
        return out

    def wait_loaded(self, resources: ProxyResources, version: str, timeout: float = 15.0) -> LoadedConfig:
        """Wait until LDS, CDS and every RDS subscription accepted ``version`` and every generated
        listener, cluster and route configuration is active.

        Fails early when Envoy counts a rejected update; on timeout reports the last state seen."""
        want_listeners = {x["name"] for x in resources.listeners}
        want_clusters = {x["name"] for x in resources.clusters}
        want_routes = {x["name"] for x in resources.route_configs}
        want_versions = {"lds": version, "cds": version} | {f"rds:{n}": version for n in want_routes}
        deadline = time.monotonic() + timeout
        last = LoadedConfig()
        versions: dict[str, str] = {}
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise AssertionError(f"envoy is not running:\n{self.log_tail()}")
            rejected = self.rejected_updates()
            if rejected:
                raise AssertionError(f"envoy rejected updates {rejected}:\n{self.log_tail()}")
            versions = self.subscription_versions()
            last = self.loaded()
            if (
                all(versions.get(k) == v for k, v in want_versions.items())
                and want_listeners <= set(last.listeners)
                and want_clusters <= set(last.clusters)
                and want_routes <= set(last.route_configs)
            ):
                return last
            time.sleep(0.05)
        raise WaitTimeout(f"envoy to load config version {version}", timeout, f"versions={versions} {last.describe()}")

    def listener_port(self, name: str) -> int:
        """The port a listener really bound (for listeners configured with port 0)."""
        for item in json.loads(self.admin("/listeners?format=json")).get("listener_statuses", []):
            if item.get("name") == name:
                return int(item["local_address"]["socket_address"]["port_value"])
        raise AssertionError(f"no listener {name!r}: {self.admin('/listeners?format=json')}")
