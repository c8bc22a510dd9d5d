"""How ``meshrelease get`` prints what the running mesh returns, as kubectl would: per-kind tables, ``-o wide``,
``-o name``, and ``-o yaml``/``-o json`` (one object for one name, otherwise a ``List``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from meshrelease.k8s.yaml import dump_like_kubectl

Entry = dict[str, Any]


def _array(value: Any) -> str:
    """A list column as kubectl prints it: ``["reviews"]``."""
    return json.dumps(value, separators=(",", ":")) if value else "<none>"


def _spec(e: Entry) -> dict[str, Any]:
    spec = e["object"].get("spec")
    return spec if isinstance(spec, dict) else {}


def _ports(e: Entry) -> str:
    ports = _spec(e).get("ports") or []
    shown = [f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports if isinstance(p, dict)]
    return ",".join(shown) or "<none>"


def _status(e: Entry) -> dict[str, Any]:
    status = e["object"].get("status")
    return status if isinstance(status, dict) else {}


def _address(e: Entry) -> str:
    addresses = _status(e).get("addresses") or []
    return str(addresses[0].get("value", "")) if addresses and isinstance(addresses[0], dict) else ""


def _condition(e: Entry, kind: str) -> str:
    for condition in _status(e).get("conditions") or []:
        if isinstance(condition, dict) and condition.get("type") == kind:
            return str(condition.get("status", "Unknown"))
    return "Unknown"


Column = tuple[str, Callable[[Entry], str]]

# Columns after NAME and before AGE, per kind (the kind's printer columns in a cluster).
COLUMNS: dict[str, list[Column]] = {
    "Pod": [
        ("READY", lambda e: f"{e['ready']}/{e['containers']}"),
        ("STATUS", lambda e: str(e["object"]["status"]["phase"])),
        ("RESTARTS", lambda e: "0"),
    ],
    "Deployment": [
        ("READY", lambda e: f"{e['ready']}/{e['replicas']}"),
        ("UP-TO-DATE", lambda e: str(e["up_to_date"])),
        ("AVAILABLE", lambda e: str(e["ready"])),
    ],
    "VirtualService": [
        ("GATEWAYS", lambda e: _array(_spec(e).get("gateways"))),
        ("HOSTS", lambda e: _array(_spec(e).get("hosts"))),
    ],
    "DestinationRule": [("HOST", lambda e: str(_spec(e).get("host", "")))],
    "Service": [
        ("TYPE", lambda e: str(_spec(e).get("type", "ClusterIP"))),
        ("CLUSTER-IP", lambda e: "<none>"),  # the local mesh reaches services through sidecar listeners
        ("EXTERNAL-IP", lambda e: "<none>"),
        ("PORT(S)", _ports),
    ],
    "Namespace": [("STATUS", lambda e: "Active")],
    # Gateway API kinds are keyed "<Kind>.<group>": Istio's Gateway has no printer columns.
    "Gateway.gateway.networking.k8s.io": [
        ("CLASS", lambda e: str(_spec(e).get("gatewayClassName", ""))),
        ("ADDRESS", lambda e: _address(e)),
        ("PROGRAMMED", lambda e: _condition(e, "Programmed")),
    ],
    "HTTPRoute.gateway.networking.k8s.io": [("HOSTNAMES", lambda e: _array(_spec(e).get("hostnames")))],
    "ServiceAccount": [("SECRETS", lambda e: "0")],
}
WIDE: dict[str, list[Column]] = {
    "Pod": [("IP", lambda e: "127.0.0.1"), ("NODE", lambda e: "localhost")],
}


def table(rows: Sequence[Sequence[str]]) -> str:
    """Columns left-aligned, three spaces apart, as kubectl prints them."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def kind_table(entries: Sequence[Entry], kind: str, *, all_namespaces: bool, wide: bool) -> str:
    """The table of ``get KIND``."""
    group = str(entries[0].get("group", "")) if entries else ""
    columns = COLUMNS.get(f"{kind}.{group}") or ([] if group == "gateway.networking.k8s.io" else COLUMNS.get(kind, []))
    after = WIDE.get(kind, []) if wide else []  # kubectl puts -o wide's columns after AGE
    show_namespace = all_namespaces and kind != "Namespace"
    header = ["NAMESPACE"] if show_namespace else []
    header += ["NAME", *(c[0] for c in columns), "AGE", *(c[0] for c in after)]
    rows = [header]
    for e in entries:
        row = [e["namespace"]] if show_namespace else []
        row += [e["name"], *(f(e) for _, f in columns), e["age"], *(f(e) for _, f in after)]
        rows.append(row)
    return table(rows)


def mixed_table(entries: Sequence[Entry]) -> str:
    """The table of ``get`` without a kind (every object in every namespace)."""
    rows = [("KIND", "NAMESPACE", "NAME", "GENERATION", "AGE")]
    rows += [(e["kind"], e["namespace"] or "-", e["name"], str(e.get("generation", "-")), e["age"]) for e in entries]
    return table(rows)


def as_document(entries: Sequence[Entry], *, single: bool) -> dict[str, Any]:
    """One object (``get KIND NAME``) or kubectl's ``List`` of them."""
    if single and len(entries) == 1:
        return dict(entries[0]["object"])
    return {
        "apiVersion": "v1",
        "items": [e["object"] for e in entries],
        "kind": "List",
        "metadata": {"resourceVersion": ""},
    }


def render(entries: Sequence[Entry], output: str, *, single: bool) -> str:
    """``-o yaml``, ``-o json`` or ``-o name``."""
    if output == "name":
        return "\n".join(e["display"] for e in entries)
    doc = as_document(entries, single=single)
    if output == "json":
        return json.dumps(doc, indent=4, sort_keys=True)
    return dump_like_kubectl(doc).rstrip("\n")
