"""``meshrelease apply/delete/get/status``: kubectl-like commands on the mesh ``meshrelease serve`` runs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from meshrelease.errors import MeshReleaseError


def add_parsers(sub: Any) -> None:
    for verb in ("apply", "delete"):
        p = sub.add_parser(
            verb,
            help=f"{verb} objects on the running local mesh (like kubectl {verb} -f)",
            description=f"{verb.capitalize()} the objects of FILE(s) on the mesh started by `meshrelease serve`. "
            "Each file is all-or-nothing: on a validation error nothing changes and the exit code is 1. Waits "
            "until every proxy runs the new configuration.",
        )
        p.add_argument("-f", "--filename", action="append", required=True, metavar="FILE", help="manifest (or -)")

    get = sub.add_parser("get", help="list objects on the running local mesh (like kubectl get)")
    get.add_argument("kind", nargs="?", help="e.g. virtualservices, vs, dr, gw, svc, deploy (default: all)")
    get.add_argument("name", nargs="?")
    get.add_argument("-o", "--output", choices=("yaml", "name", "wide"), default=None)
    get.add_argument("-n", "--namespace", default=None, help="default: every namespace")

    sub.add_parser("status", help="proxies, their config versions and the workloads of the running local mesh")


def _read_text(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    try:
        return Path(name).read_text(encoding="utf-8")
    except OSError as exc:
        raise MeshReleaseError(f"-f {name}: {exc.strerror}") from exc


def cmd_apply(args: argparse.Namespace, *, delete: bool) -> int:
    from meshrelease.backends.local.control import ControlClient

    client = ControlClient.connect()
    for name in args.filename:
        data = client.apply(_read_text(name), name, delete=delete)
        for line in data["lines"]:
            print(line)
        for warning in data["warnings"]:
            # Analyzer findings carry their own level ("Error [IST0101] …"), as `istioctl analyze` prints them.
            analyzer = warning.split(" [", 1)[0] in ("Error", "Warning", "Info")
            print(warning if analyzer or warning.startswith("Warning") else f"Warning: {warning}", file=sys.stderr)
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    from meshrelease.backends.local.control import ControlClient

    client = ControlClient.connect()
    data = client.objects(kind=args.kind or "", name=args.name or "", namespace=args.namespace or "")
    objs = data["objects"]
    if args.output == "yaml":
        print("\n---\n".join(o["yaml"].rstrip() for o in objs))
        return 0
    if args.output == "name":
        for o in objs:
            print(o["display"])
        return 0
    if not objs:
        print("No resources found", file=sys.stderr)
        return 0
    rows = [("KIND", "NAMESPACE", "NAME", "GENERATION", "AGE")]
    rows += [(o["kind"], o["namespace"] or "-", o["name"], str(o["generation"]), o["age"]) for o in objs]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        print("   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return 0


def cmd_status() -> int:
    from meshrelease.backends.local.control import ControlClient

    client = ControlClient.connect()
    st = client.status()
    print(f"productpage: {st['ingress_url']}/productpage   (config version {st['config_version']})")
    print(f"run directory: {st['run_dir']}")
    print()
    rows: list[tuple[str, ...]] = [("PROXY", "KIND", "PID", "LISTENERS", "CONFIG", "SYNCED")]
    for p in st["proxies"]:
        listeners = ",".join(f"{k}->{v}" for k, v in sorted(p["listeners"].items())) or "-"
        synced = "yes" if p["synced"] else f"no: {p['lag']}"
        rows.append((p["id"], p["kind"], str(p["pid"]), listeners, str(p["config_version"]), synced))
    _table(rows)
    print()
    rows = [("POD", "NAMESPACE", "PORT", "IMPLEMENTATION")]
    rows += [(str(w["pod"]), str(w["namespace"]), str(w["port"]), str(w["implementation"])) for w in st["workloads"]]
    _table(rows)
    return 0


def _table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
