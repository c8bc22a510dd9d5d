#!/usr/bin/env python3
"""What ``istioctl proxy-status`` prints, release by release, rendered by the fake istioctl.

Written for meshrelease's tests from the writer code of each release (read, not copied):

- ``TABLE_SOURCE``: istio/istio 1.28.0 ``istioctl/pkg/writer/pilot/status.go`` (identical at 1.29.6): the
  default table ``NAME CLUSTER ISTIOD VERSION SUBSCRIBED TYPES`` (``xdsStatusPrintlnSubscribedTypes``: the count
  and the short names of the types whose state is not IGNORED, core types first in the order CDS, LDS, EDS,
  RDS), and with ``--verbosity 1`` (``printAllVerbose``) ``NAME CLUSTER`` + one column per type (the seen types
  and CDS, LDS, EDS, RDS, ECDS, sorted by type URL) + ``ISTIOD VERSION``, a cell being ``formatStatus``:
  ``SYNCED (<age>)``, ``NOT SENT`` or ``IGNORED``. ``-o json`` is accepted and ignored by these releases
  (``PrintAll`` never reads ``OutputFormat``). Both tables go through Go's tabwriter with minwidth 0,
  padding 5, pad character space, no flags.
- ``JSON_SOURCE``: istio/istio 1.30.3 ``istioctl/pkg/writer/pilot/status.go`` (identical at 1.31.0-rc.0 and
  on release-1.31), ``printMachineReadable``: every istiod's ``DiscoveryResponse`` through
  ``protomarshal.ToJSONWithIndent(…, "    ")`` (golang/protobuf jsonpb: lowerCamelCase names, zero values
  left out), one after the other. The resources are the ``ClientConfig`` of istio/istio 1.30.3
  ``pilot/pkg/xds/statusgen.go`` ``debugSyncz`` (node id, metadata CLUSTER_ID/NAMESPACE/ISTIO_VERSION,
  ``genericXdsConfigs`` sorted by type URL with ``configStatus`` and ``lastUpdated``); the control plane
  identifier is istio/istio 1.30.3 ``pilot/pkg/xds/xdsgen.go`` ``IstioControlPlaneInstance`` as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

TABLE_SOURCE = "istio/istio 1.28.0 istioctl/pkg/writer/pilot/status.go"
JSON_SOURCE = "istio/istio 1.30.3 istioctl/pkg/writer/pilot/status.go"
FIRST_JSON_MINOR = (1, 30)  # 1.29.x prints tables whatever -o says

TYPE_URLS = {
    "CDS": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
    "LDS": "type.googleapis.com/envoy.config.listener.v3.Listener",
    "EDS": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
    "RDS": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
    "ECDS": "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig",
}
SIDECAR_TYPES = ("CDS", "EDS", "LDS", "RDS")  # what a sidecar or gateway watches from istiod
JSON_STATES = {"SYNCED": "SYNCED", "STALE": "STALE", "NOT SENT": "NOT_SENT", "ERROR": "ERROR"}


def prints_json(version: str) -> bool:
    major, minor = (int(p) for p in version.split(".")[:2])
    return (major, minor) >= FIRST_JSON_MINOR


def tabwrite(rows: Sequence[Sequence[str]], padding: int = 5) -> str:
    """Go's ``tabwriter.NewWriter(w, 0, 8, padding, ' ', 0)`` over tab-separated rows: every cell but the last
    of a row is padded to its column's widest cell plus ``padding``."""
    widths: list[int] = []
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            if i == len(widths):
                widths.append(0)
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i] + padding) for i, cell in enumerate(row[:-1])]
        lines.append("".join(cells) + row[-1])
    return "\n".join(lines) + "\n"


def table(proxies: Iterable[Mapping[str, Any]]) -> str:
    """The default table (1.27+): ``SUBSCRIBED TYPES`` instead of per-type states."""
    rows = [["NAME", "CLUSTER", "ISTIOD", "VERSION", "SUBSCRIBED TYPES"]]
    for p in sorted(proxies, key=lambda p: p["id"]):
        subscribed = [t for t in ("CDS", "LDS", "EDS", "RDS") if t in p["types"]]
        subscribed += sorted(t for t in p["types"] if t not in subscribed)
        count = f"{len(subscribed)} ({','.join(subscribed)})" if subscribed else "0"
        rows.append([p["id"], p["cluster"], p["istiod"], p["version"], count])
    return tabwrite(rows)


def verbose_table(proxies: Iterable[Mapping[str, Any]]) -> str:
    """``--verbosity 1`` (1.27-1.29): one column per xDS type, sorted by type URL."""
    listed = list(proxies)
    known = {TYPE_URLS[t] for t in ("CDS", "LDS", "EDS", "RDS", "ECDS")}
    urls = sorted(known | {TYPE_URLS[t] for p in listed for t in p["types"]})
    short = {url: t for t, url in TYPE_URLS.items()}
    rows = [["NAME", "CLUSTER", *[short[u] for u in urls], "ISTIOD", "VERSION"]]
    for p in sorted(listed, key=lambda p: p["id"]):
        cells = []
        for url in urls:
            state = p["types"].get(short[url])
            if state is None:
                cells.append("IGNORED")
            elif state == "NOT SENT":
                cells.append(state)
            else:
                cells.append(f"{state} ({p['age']})")
        rows.append([p["id"], p["cluster"], *cells, p["istiod"], p["version"]])
    return tabwrite(rows)


def syncz_json(istiods: Mapping[str, Mapping[str, Any]], proxies: Iterable[Mapping[str, Any]], now: str) -> str:
    """1.30+ ``-o json``: one DiscoveryResponse per istiod (``istiods``: pod name -> {"version": …})."""
    by_istiod: dict[str, list[Mapping[str, Any]]] = {name: [] for name in istiods}
    for p in proxies:
        by_istiod.setdefault(p["istiod"], []).append(p)
    docs = []
    for name in sorted(by_istiod):
        version = str((istiods.get(name) or {}).get("version", ""))
        resources = []
        for p in sorted(by_istiod[name], key=lambda p: p["id"]):
            configs = []
            for t, state in sorted(p["types"].items(), key=lambda kv: TYPE_URLS[kv[0]]):
                config: dict[str, Any] = {"typeUrl": TYPE_URLS[t], "lastUpdated": now}
                config["configStatus"] = JSON_STATES[state]
                configs.append(config)
            resources.append(
                {
                    "@type": "type.googleapis.com/envoy.service.status.v3.ClientConfig",
                    "node": {
                        "id": p["id"],
                        "metadata": {
                            "CLUSTER_ID": p["cluster"],
                            "ISTIO_VERSION": p["version"],
                            "NAMESPACE": p["id"].rpartition(".")[2],
                        },
                    },
                    "genericXdsConfigs": configs,
                }
            )
        identifier = {
            "Component": "istiod",
            "ID": name,
            "Info": {
                "version": version,
                "revision": "fake",
                "golang_version": "go1.24",
                "status": "Clean",
                "tag": version,
            },
        }
        response: dict[str, Any] = {"versionInfo": f"{now}/7"}
        if resources:
            response["resources"] = resources
        response |= {
            "typeUrl": "istio.io/debug/syncz",
            "nonce": "f4c1e2d0-7b1a-4c9e-9a57-3e0f2b8d6c11",
            "controlPlane": {"identifier": json.dumps(identifier, separators=(",", ":"))},
        }
        docs.append(json.dumps(response, indent=4))
    return "\n".join(docs) + "\n"
