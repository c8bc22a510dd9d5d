"""Reading ``istioctl proxy-status``: one record per proxy, whichever form this istioctl prints.

The backends ask for ``istioctl proxy-status -o json --verbosity=1`` and accept every form that answers:

- **JSON** (Istio 1.30+, istio/istio 1.30.3 ``istioctl/pkg/writer/pilot/status.go``, printMachineReadable):
  one ``DiscoveryResponse`` of type ``istio.io/debug/syncz`` per istiod, printed one after the other. Its
  ``controlPlane.identifier`` is a JSON string whose ``ID`` is the istiod pod; each resource is a
  ``ClientConfig`` with ``node.id`` (``<pod>.<namespace>``), ``node.metadata.ISTIO_VERSION`` and
  ``CLUSTER_ID``, and ``genericXdsConfigs[]`` with ``typeUrl`` and ``configStatus`` (``SYNCED``,
  ``NOT_SENT``, ``STALE``, ``ERROR``; absent means ``UNKNOWN``, an unsubscribed type).
- **A table** (Istio 1.27-1.29 ignore ``-o json``; same file at 1.28.0): with ``--verbosity=1`` the header is
  ``NAME CLUSTER <one column per xDS type> ISTIOD VERSION`` and a cell reads ``SYNCED (2m5s)``, ``STALE (3s)``,
  ``NOT SENT`` or ``IGNORED``; without it, ``NAME CLUSTER ISTIOD VERSION SUBSCRIBED TYPES`` with
  ``4 (CDS,LDS,EDS,RDS)`` and no per-type state. Before 1.27 the per-type columns came without durations.
  Columns are found by their header names, never by position: Go's tabwriter aligns every cell of a column
  at the offset of its header, and a cell may hold a space.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SHORT_TYPES = {
    "type.googleapis.com/envoy.config.cluster.v3.Cluster": "CDS",
    "type.googleapis.com/envoy.config.listener.v3.Listener": "LDS",
    "type.googleapis.com/envoy.config.route.v3.RouteConfiguration": "RDS",
    "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment": "EDS",
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret": "SDS",
    "type.googleapis.com/istio.networking.nds.v1.NameTable": "NDS",
    "type.googleapis.com/istio.mesh.v1alpha1.ProxyConfig": "PCDS",
    "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig": "ECDS",
    "type.googleapis.com/istio.workload.Address": "WDS",
    "type.googleapis.com/istio.workload.Workload": "WDS",
    "type.googleapis.com/istio.security.Authorization": "WADS",
}
"""xDS type URL -> the short name istioctl prints (istio/istio 1.30.3 pkg/model/xds.go, GetShortType)."""

_JSON_STATES = {"NOT_SENT": "NOT SENT", "UNKNOWN": "IGNORED"}
NOT_IN_SYNC = ("STALE", "ERROR")
_FIXED_COLUMNS = ("NAME", "CLUSTER", "ISTIOD", "VERSION", "SUBSCRIBED TYPES")
_HEADER_CELL = re.compile(r"\S+(?: \S+)*")  # tabwriter pads with >= 5 spaces; a header name holds at most one


class ProxyStatusFormatError(ValueError):
    """The text is neither proxy-status JSON nor a proxy-status table."""


@dataclass(frozen=True)
class ProxyStatus:
    """One proxy as istiod reports it."""

    proxy: str  # node id: "<pod>.<namespace>"
    cluster: str
    istiod: str  # the istiod pod it is connected to ("" when not shown)
    version: str  # the proxy's own Istio version (its ISTIO_VERSION metadata)
    types: dict[str, str] = field(default_factory=dict)  # "RDS" -> "SYNCED"; {} when only subscriptions are shown
    subscribed: tuple[str, ...] = ()

    @property
    def namespace(self) -> str:
        return self.proxy.rpartition(".")[2]

    @property
    def pod(self) -> str:
        return self.proxy.rpartition(".")[0]

    @property
    def sync_known(self) -> bool:
        """Whether the per-type states were printed (JSON, or a verbose table)."""
        return bool(self.types)

    def out_of_sync(self) -> dict[str, str]:
        """Types istiod sent but the proxy has not acknowledged (STALE) or rejected (ERROR)."""
        return {t: s for t, s in self.types.items() if s in NOT_IN_SYNC}

    def describe(self) -> str:
        states = ", ".join(f"{t} {s}" for t, s in sorted(self.types.items()) if s != "IGNORED")
        shown = states or (f"subscribed {','.join(self.subscribed)}" if self.subscribed else "no xDS state shown")
        return f"{self.proxy}: Istio {self.version or '?'} on {self.istiod or '?'}, {shown}"


@dataclass(frozen=True)
class ProxyStatusReport:
    """Every proxy of one ``istioctl proxy-status`` answer, and which form it came in."""

    form: str  # "json" | "table" | "verbose table"
    proxies: tuple[ProxyStatus, ...]

    def find(self, proxy: str) -> ProxyStatus | None:
        return next((p for p in self.proxies if p.proxy == proxy), None)

    def in_namespace(self, namespace: str) -> list[ProxyStatus]:
        return [p for p in self.proxies if p.namespace == namespace]


def parse_proxy_status(text: str) -> ProxyStatusReport:
    """Parse what ``istioctl proxy-status`` printed (JSON or a table); raises ProxyStatusFormatError."""
    stripped = text.strip()
    if not stripped:
        raise ProxyStatusFormatError("istioctl proxy-status printed nothing")
    if stripped.startswith("{"):
        return ProxyStatusReport("json", tuple(_from_json(stripped)))
    return _from_table(stripped)


# -- JSON ----------------------------------------------------------------------------------------------------


def _json_documents(text: str) -> Iterable[Any]:
    decoder = json.JSONDecoder()
    index = 0
    while index < len(text):
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            break
        try:
            doc, index = decoder.raw_decode(text, index)
        except ValueError as exc:
            raise ProxyStatusFormatError(f"not JSON at character {index}: {exc}") from None
        yield doc


def _from_json(text: str) -> list[ProxyStatus]:
    out: list[ProxyStatus] = []
    for response in _json_documents(text):
        if not isinstance(response, Mapping):
            raise ProxyStatusFormatError("a proxy-status JSON document is not an object")
        istiod = _istiod_id(response.get("controlPlane"))
        for resource in response.get("resources") or []:
            if not isinstance(resource, Mapping) or not str(resource.get("@type", "")).endswith(".ClientConfig"):
                continue
            node = resource.get("node") or {}
            metadata = node.get("metadata") or {}
            types: dict[str, str] = {}
            for config in resource.get("genericXdsConfigs") or []:
                if not isinstance(config, Mapping):
                    continue
                url = str(config.get("typeUrl", ""))
                state = str(config.get("configStatus") or "UNKNOWN")
                types[SHORT_TYPES.get(url, url)] = _JSON_STATES.get(state, state)
            out.append(
                ProxyStatus(
                    proxy=str(node.get("id", "")),
                    cluster=str(metadata.get("CLUSTER_ID", "")),
                    istiod=istiod,
                    version=str(metadata.get("ISTIO_VERSION", "")),
                    types=types,
                    subscribed=tuple(t for t, s in types.items() if s != "IGNORED"),
                )
            )
    return out


def _istiod_id(control_plane: Any) -> str:
    if not isinstance(control_plane, Mapping):
        return ""
    try:
        identifier = json.loads(str(control_plane.get("identifier", "")))
    except ValueError:
        return ""
    return str(identifier.get("ID", "")) if isinstance(identifier, Mapping) else ""


# -- tables --------------------------------------------------------------------------------------------------


def _from_table(text: str) -> ProxyStatusReport:
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    header = lines[0]
    cells = [(m.start(), m.group(0)) for m in _HEADER_CELL.finditer(header)]
    names = [name for _, name in cells]
    if names[:1] != ["NAME"] or "VERSION" not in names:
        raise ProxyStatusFormatError(f"not a proxy-status table (header {header!r})")
    type_columns = [n for n in names if n not in _FIXED_COLUMNS]
    out: list[ProxyStatus] = []
    for line in lines[1:]:
        row = _slice(line, [start for start, _ in cells], names)
        types = {t: _state(row.get(t, "")) for t in type_columns}
        subscribed = _subscribed(row.get("SUBSCRIBED TYPES", ""))
        out.append(
            ProxyStatus(
                proxy=row.get("NAME", ""),
                cluster=row.get("CLUSTER", ""),
                istiod=row.get("ISTIOD", ""),
                version=row.get("VERSION", ""),
                types=types,
                subscribed=subscribed or tuple(t for t, s in types.items() if s != "IGNORED"),
            )
        )
    return ProxyStatusReport("verbose table" if type_columns else "table", tuple(out))


def _slice(line: str, starts: Sequence[int], names: Sequence[str]) -> dict[str, str]:
    row: dict[str, str] = {}
    for i, name in enumerate(names):
        end = starts[i + 1] if i + 1 < len(starts) else len(line)
        row[name] = line[starts[i] : end].strip()
    return row


def _state(cell: str) -> str:
    """``SYNCED (2m5s)`` -> ``SYNCED``; ``NOT SENT`` stays."""
    return re.sub(r"\s*\(.*\)$", "", cell).strip() or "IGNORED"


def _subscribed(cell: str) -> tuple[str, ...]:
    """``4 (CDS,LDS,EDS,RDS)`` -> the types; ``0`` -> ()."""
    match = re.search(r"\((.*)\)", cell)
    return tuple(t for t in (match.group(1).split(",") if match else []) if t)
