"""Envoy processes of the local mesh: bootstrap, xDS files, admin queries.

Configuration reaches each Envoy as xDS read from files (``path_config_source``): ``lds.json``, ``cds.json``
and one ``rds/<route config>.json`` per route configuration, each a DiscoveryResponse moved into place
atomically, so a change applies without a restart (route changes do not even drain listeners).

:class:`XdsFiles` rewrites only the files whose content changed and remembers the version each file was
last written with. :meth:`EnvoyProcess.lagging` compares that with the ``version_text`` of each xDS
subscription in the proxy's admin stats (``listener_manager.lds``, ``cluster_manager.cds``,
``http.<prefix>.rds.<name>``), which moves only when Envoy *accepted* the file, and checks that no listener
or cluster is still warming. That is one small admin request per proxy (a full ``/config_dump`` is ~50x
larger and made waiting slower than the update itself).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from meshrelease.backends.local.dataplane.lifeline import lifeline
from meshrelease.backends.local.dataplane.unix_http import MAX_SOCKET_PATH, unix_session
from meshrelease.backends.local.model import ProxyResources, ProxySpec
from meshrelease.backends.local.translate.translator import rds_path
from meshrelease.errors import MeshReleaseError, ProcessDied, WaitTimeout

LISTENER_TYPE = "type.googleapis.com/envoy.config.listener.v3.Listener"
CLUSTER_TYPE = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
ROUTE_TYPE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
ADMIN_BASE = "http://envoy-admin"  # requests to it go to the proxy's admin socket


class EnvoyStartError(MeshReleaseError):
    """An Envoy process exited or did not become ready; the message carries the tail of its log."""


class ConfigRejected(MeshReleaseError):
    """An Envoy refused (NACKed) an xDS update: ``proxy`` is its id, ``reason`` Envoy's own words."""

    def __init__(self, proxy: str, resource: str, reason: str, log_path: Path) -> None:
        super().__init__(
            f"Envoy {proxy} rejected the {resource} update: {reason}",
            hint=f"see the proxy log {log_path}",
        )
        self.proxy = proxy
        self.resource = resource
        self.reason = reason


def _canonical(resource: dict[str, Any]) -> str:
    return json.dumps(resource, sort_keys=True, separators=(",", ":"))


def _atomic_write_json(path: Path, payload: dict[str, Any]) -> None:
    # Envoy watches for a file *moved* into place; writing in place could expose a half-written file.
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def rds_file(xds_dir: Path, name: str) -> Path:
    return xds_dir / "rds" / f"{name}.json"


class XdsFiles:
    """Writes one proxy's xDS files and remembers the version each was last written with."""

    def __init__(self, xds_dir: Path) -> None:
        self.dir = xds_dir
        (xds_dir / "rds").mkdir(parents=True, exist_ok=True)
        self._hashes: dict[str, str] = {}
        # "lds", "cds" and "rds/<route config>" -> version of the last write (what Envoy must report).
        self.expected: dict[str, str] = {}
        self.written_version = "0"

    @property
    def lds_path(self) -> Path:
        return self.dir / "lds.json"

    @property
    def cds_path(self) -> Path:
        return self.dir / "cds.json"

    def write_empty(self) -> None:
        """Files that must exist before Envoy starts (it reads them at boot)."""
        for key, path in (("cds", self.cds_path), ("lds", self.lds_path)):
            _atomic_write_json(path, {"version_info": "0", "resources": []})
            self.expected[key] = "0"
            self._hashes[key] = _digest([])

    def _write_if_changed(self, key: str, path: Path, resources: list[dict[str, Any]], version: str) -> bool:
        digest = _digest(resources)
        if self._hashes.get(key) == digest:
            return False
        _atomic_write_json(path, {"version_info": version, "resources": resources})
        self._hashes[key] = digest
        self.expected[key] = version
        return True

    def write(self, resources: ProxyResources, version: str) -> bool:
        """Write what changed: clusters first, then route configurations, then listeners (so a route never
        names a cluster the proxy does not have yet). Returns whether anything changed for this proxy."""
        changed = self._write_if_changed("cds", self.cds_path, resources.clusters, version)
        live_routes = set()
        for rc in resources.route_configs:
            name = str(rc["name"])
            live_routes.add(f"rds/{name}")
            changed |= self._write_if_changed(f"rds/{name}", Path(rds_path(str(self.dir), name)), [rc], version)
        for key in [k for k in self.expected if k.startswith("rds/") and k not in live_routes]:
            # Its listener goes away in this update; Envoy drops the subscription with it.
            del self.expected[key]
            self._hashes.pop(key, None)
            changed = True
        changed |= self._write_if_changed("lds", self.lds_path, resources.listeners, version)
        self.written_version = version
        return changed


def _digest(resources: list[dict[str, Any]]) -> str:
    return hashlib.sha256(_canonical({"r": resources}).encode()).hexdigest()


_SYNC_STATS = (
    r"^(listener_manager\.lds\.version_text|cluster_manager\.cds\.version_text|http\..*\.rds\..*\.version_text"
    r"|listener_manager\.total_listeners_warming|cluster_manager\.warming_clusters"
    r"|listener_manager\.lds\.update_(rejected|failure)|cluster_manager\.cds\.update_(rejected|failure)"
    r"|http\..*\.rds\..*\.update_(rejected|failure))$"
)


def _subscription(name: str, suffix: str) -> str | None:
    """``lds``, ``cds`` or ``rds/<route config>`` for a subscription stat ending in ``.<suffix>``."""
    if name == f"listener_manager.lds.{suffix}":
        return "lds"
    if name == f"cluster_manager.cds.{suffix}":
        return "cds"
    if name.endswith(f".{suffix}") and ".rds." in name:
        return "rds/" + name.split(".rds.", 1)[1][: -len(suffix) - 1]
    return None


def parse_rejections(text: str) -> dict[str, int]:
    """``/stats`` lines -> {"lds"|"cds"|"rds/<name>": updates Envoy refused so far}: rejected (invalid
    configuration) or failed (a file it could not even parse, e.g. a number out of a field's range)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        name, _, value = line.partition(": ")
        key = _subscription(name, "update_rejected") or _subscription(name, "update_failure")
        if key is not None:
            with contextlib.suppress(ValueError):
                out[key] = out.get(key, 0) + int(value.strip())
    return out


def parse_sync_stats(text: str) -> tuple[dict[str, str], int]:
    """``/stats`` lines -> ({"lds"|"cds"|"rds/<name>": version}, listeners + clusters still warming)."""
    versions: dict[str, str] = {}
    warming = 0
    for line in text.splitlines():
        name, _, value = line.partition(": ")
        value = value.strip()
        if name.endswith((".update_rejected", ".update_failure")):
            continue
        if name == "listener_manager.lds.version_text":
            versions["lds"] = value.strip('"')
        elif name == "cluster_manager.cds.version_text":
            versions["cds"] = value.strip('"')
        elif name.endswith(".version_text") and ".rds." in name:
            route = name.split(".rds.", 1)[1][: -len(".version_text")]
            versions[f"rds/{route}"] = value.strip('"')
        elif name in ("listener_manager.total_listeners_warming", "cluster_manager.warming_clusters"):
            with contextlib.suppress(ValueError):
                warming += int(value)
    return versions, warming


def bootstrap_config(proxy: ProxySpec, xds: XdsFiles, admin_socket: Path | None = None) -> dict[str, Any]:
    """The Envoy bootstrap: node identity, the admin endpoint (on the Unix socket ``admin_socket``, mode 0600,
    or else on a loopback port), LDS/CDS from files."""
    cluster = proxy.labels.get("app") or proxy.labels.get("istio") or proxy.id
    admin: dict[str, Any] = {"socket_address": {"address": "127.0.0.1", "port_value": 0}}
    if admin_socket is not None:
        admin = {"pipe": {"path": str(admin_socket), "mode": 0o600}}
    return {
        "node": {
            "id": proxy.id,
            "cluster": f"{cluster}.{proxy.namespace}",
            "metadata": {"NAMESPACE": proxy.namespace, "LABELS": proxy.labels, "POD_NAME": proxy.pod},
        },
        "admin": {"address": admin},
        "dynamic_resources": {
            "lds_config": {"path_config_source": {"path": str(xds.lds_path)}, "resource_api_version": "V3"},
            "cds_config": {"path_config_source": {"path": str(xds.cds_path)}, "resource_api_version": "V3"},
        },
        "layered_runtime": {
            "layers": [
                {
                    "name": "static",
                    "static_layer": {
                        # Loopback-only mesh: quiet the "no connection limit" startup warning.
                        "overload.global_downstream_max_connections": 50000,
                    },
                }
            ]
        },
    }


def popen_child(argv: list[str], *, log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a child that is tied to this process's lifetime through the lifeline. Stop it with
    :func:`stop_process`.

    Not Linux's parent-death signal: it fires when the *thread* that started the child ends, and ``serve``
    starts pods from short-lived request threads, so pods would die as soon as the apply that started them
    returned."""
    log = log_path.open("ab")
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    finally:
        log.close()
    if os.name == "posix":
        lifeline().register(proc.pid)
    return proc


class EnvoyProcess:
    """One Envoy: started with its bootstrap, ready when the admin endpoint says LIVE."""

    def __init__(self, binary: str, proxy: ProxySpec, run_dir: Path, *, log_level: str = "warning") -> None:
        self.binary = binary
        self.proxy = proxy
        self.dir = run_dir
        self.xds = XdsFiles(Path(proxy.xds_dir))
        self.log_path = run_dir / "envoy.log"
        self.log_level = log_level
        self.proc: subprocess.Popen[bytes] | None = None
        self._socket_dir: Path | None = None  # a private directory for the socket when run_dir's path is too long
        self.admin_socket = self._admin_socket_path(run_dir)
        self.admin_url: str | None = None  # ADMIN_BASE once the socket exists
        self._session = unix_session(ADMIN_BASE, str(self.admin_socket))
        self._rejections_seen: dict[str, int] = {}  # update_rejected counters already reported

    def _admin_socket_path(self, run_dir: Path) -> Path:
        """``<run_dir>/admin.sock``; a socket path must fit ``sockaddr_un``, so a long run directory gets a
        private (0700) temporary directory for it instead, removed with the process."""
        path = run_dir / "admin.sock"
        if len(os.fsencode(path)) <= MAX_SOCKET_PATH:
            return path
        self._socket_dir = Path(tempfile.mkdtemp(prefix="mr-admin-"))
        return self._socket_dir / "admin.sock"

    @property
    def admin_endpoint(self) -> str:
        """Where the admin endpoint listens, for people: ``unix:<path>``."""
        return f"unix:{self.admin_socket}"

    def admin_get(self, path: str, **params: str) -> requests.Response:
        """GET an admin path (``/stats``, ``/config_dump``, …) over the admin socket."""
        return self._session.get(f"{ADMIN_BASE}{path}", params=params or None, timeout=5.0)

    def start(self) -> None:
        """Start the process (does not wait; see :meth:`wait_ready`)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.xds.write_empty()
        boot = self.dir / "bootstrap.json"
        boot.write_text(
            json.dumps(bootstrap_config(self.proxy, self.xds, self.admin_socket), indent=1), encoding="utf-8"
        )
        argv = [
            self.binary,
            "-c",
            str(boot),
            "--concurrency",
            "1",
            "--disable-hot-restart",
            "--drain-time-s",
            "0",
            "--file-flush-interval-msec",
            "100",
            "-l",
            self.log_level,
            "--service-node",
            self.proxy.id,
        ]
        self.proc = popen_child(argv, log_path=self.log_path)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, deadline: float) -> None:
        """Wait until the admin endpoint answers /ready with LIVE; raise with the log tail otherwise."""
        last = "not started"
        while True:
            if self.proc is None or self.proc.poll() is not None:
                code = None if self.proc is None else self.proc.returncode
                raise EnvoyStartError(
                    f"Envoy for {self.proxy.id} exited (code {code}) before it was ready:\n{self.log_tail()}"
                )
            if self.admin_url is None and self.admin_socket.exists():
                self.admin_url = ADMIN_BASE
            if self.admin_url is not None:
                try:
                    resp = self._session.get(f"{self.admin_url}/ready", timeout=1.0)
                    last = f"/ready -> {resp.status_code} {resp.text.strip()}"
                    if resp.status_code == 200:
                        return
                except requests.RequestException as exc:
                    last = f"admin not answering: {exc.__class__.__name__}"
            else:
                last = f"admin socket {self.admin_socket} not created yet"
            if time.monotonic() > deadline:
                raise EnvoyStartError(f"Envoy for {self.proxy.id} was not ready in time ({last}):\n{self.log_tail()}")
            time.sleep(0.01)

    def lagging(self) -> str | None:
        """None when the proxy accepted every file written to it and nothing is warming, else the first gap.

        Raises :class:`ProcessDied` when the process has exited and :class:`ConfigRejected` when Envoy rejected
        an update since the last time it was in sync (its rejected-update counters moved), with Envoy's reason
        from its log."""
        if not self.alive():
            raise ProcessDied(self.died_message())
        if self.admin_url is None:
            return "admin endpoint not known yet"
        resp = self._session.get(f"{self.admin_url}/stats", params={"filter": _SYNC_STATS}, timeout=5.0)
        resp.raise_for_status()
        rejections = parse_rejections(resp.text)
        for key, count in sorted(rejections.items()):
            if count > self._rejections_seen.get(key, 0):
                self._rejections_seen = rejections  # reported once; a later wait looks for new rejections only
                raise ConfigRejected(self.proxy.id, key, self.rejection_reason(), self.log_path)
        running, warming = parse_sync_stats(resp.text)
        for key, version in sorted(self.xds.expected.items()):
            have = running.get(key)
            if have != version:
                state = "not loaded" if have is None else f"at version {have}"
                return f"{key} {state}, expected version {version}"
        if warming:
            return f"{warming} listener(s)/cluster(s) still warming"
        return None

    def rejected_updates(self) -> dict[str, int]:
        """Counters of xDS updates Envoy rejected (non-zero means a bug in the translation)."""
        if self.admin_url is None:
            return {}
        try:
            resp = self._session.get(f"{self.admin_url}/stats", params={"filter": "update_rejected"}, timeout=2.0)
        except requests.RequestException:
            return {}
        out: dict[str, int] = {}
        for line in resp.text.splitlines():
            name, _, value = line.partition(":")
            with contextlib.suppress(ValueError):
                if int(value.strip()) > 0:
                    out[name.strip()] = int(value.strip())
        return out

    def rejection_reason(self) -> str:
        """Envoy's last words about a refused update: the last log line saying so (the configuration it dumps
        after that line is left out), at most 400 characters."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "its log could not be read"
        for line in reversed(text.splitlines()):
            lowered = line.lower()
            if any(k in lowered for k in ("rejected", "update failure", "error adding/updating")):
                reason = line.split("] ", 3)[-1].strip() if "] " in line else line.strip()
                return reason if len(reason) <= 400 else reason[:397] + "..."
        return "no reason found in its log"

    def died_message(self) -> str:
        code = None if self.proc is None else self.proc.poll()
        pid = None if self.proc is None else self.proc.pid
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit status {code}"
        return (
            f"{'gateway' if self.proxy.kind == 'gateway' else 'sidecar'} Envoy {self.proxy.id} (pod {self.proxy.pod}, "
            f"pid {pid}) is not running ({how}); its log ends:\n{self.log_tail(10)}"
        )

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        self._session.close()
        try:
            if self.proc is not None:
                stop_process(self.proc, timeout)
        finally:
            if self._socket_dir is not None:
                shutil.rmtree(self._socket_dir, ignore_errors=True)


def stop_process(proc: subprocess.Popen[Any], timeout: float = 5.0) -> None:
    """SIGTERM, wait up to ``timeout``, then SIGKILL; always reaps (and takes the pid off the lifeline)."""
    try:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(timeout=timeout)
        else:
            proc.wait()
    finally:
        if proc.returncode is not None:
            lifeline().unregister(proc.pid)


def wait_all_ready(processes: list[EnvoyProcess], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for p in processes:
        p.wait_ready(deadline)


def wait_synced(processes: list[EnvoyProcess], timeout: float, *, poll: float = 0.01) -> float:
    """Block until every proxy reports the expected version of every resource; return the seconds waited."""
    start = time.monotonic()
    deadline = start + timeout
    pending = list(processes)
    last: dict[str, str] = {}
    while pending:
        still: list[EnvoyProcess] = []
        for p in pending:
            try:
                gap = p.lagging()
            except (ConfigRejected, ProcessDied):
                raise
            except (requests.RequestException, MeshReleaseError) as exc:
                gap = f"admin endpoint not answering ({exc.__class__.__name__})"
            if gap is not None:
                still.append(p)
                last[p.proxy.id] = gap
        pending = still
        if not pending:
            break
        if time.monotonic() > deadline:
            worst = pending[0]
            rejected = worst.rejected_updates()
            detail = f"; Envoy rejected updates: {rejected}" if rejected else ""
            lines = "; ".join(f"{p.proxy.id}: {last[p.proxy.id]}" for p in pending)
            raise WaitTimeout(
                f"{len(pending)} proxy(ies) to run configuration version {worst.xds.written_version}",
                timeout,
                lines + detail,
                hint=f"see the proxy log {worst.log_path}",
            )
        time.sleep(poll)
    return time.monotonic() - start
