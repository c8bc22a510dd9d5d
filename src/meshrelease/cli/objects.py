"""``meshrelease apply/delete/get/status``: kubectl-like commands on the mesh ``meshrelease serve`` runs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from meshrelease.errors import MeshReleaseError
from meshrelease.k8s.manifest import manifest_files_in


def _apply_options(apply: argparse.ArgumentParser) -> None:
    _file_options(apply)
    apply.add_argument("-o", "--output", choices=("name",), help="name: print kind.group/name of each object")


def _delete_options(delete: argparse.ArgumentParser) -> None:
    delete.add_argument("resources", nargs="*", metavar="KIND NAME", help="e.g. vs reviews, or vs/reviews")
    _file_options(delete, required=False)
    delete.add_argument("--ignore-not-found", action="store_true", help="treat a missing object as deleted")
    delete.add_argument("-o", "--output", choices=("name",), help="name: print kind.group/name of each object")


def _get_options(get: argparse.ArgumentParser) -> None:
    get.add_argument("resources", nargs="*", metavar="KIND [NAME...]")
    get.add_argument("-o", "--output", choices=("yaml", "json", "name", "wide"), default=None)
    get.add_argument("-n", "--namespace", default=None, help="default: default")
    get.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")


# verb -> (help, description, options)
VERBS: dict[str, tuple[str, str, Callable[[argparse.ArgumentParser], None]]] = {
    "apply": (
        "apply objects on the running local mesh (like kubectl apply -f)",
        "Apply the objects of FILE(s) on the mesh started by `meshrelease serve`, like `kubectl apply`. A FILE "
        "may be a folder (its .yaml, .yml and .json files in name order; -R: and its subfolders) or - for "
        "stdin. Each file is all-or-nothing: on a validation error nothing of it changes, the error is printed, "
        "the other files are applied and the exit code is 1. Waits until every proxy runs the new "
        "configuration. Options may come anywhere on the line.",
        _apply_options,
    ),
    "delete": (
        "delete objects on the running local mesh (like kubectl delete)",
        "Delete the objects of FILE(s) (as apply), or the objects named on the command line: `delete KIND "
        "NAME...` or `delete KIND/NAME...`, in -n NAMESPACE (default: default). A delete is all-or-nothing: if "
        "one object does not exist, nothing is deleted (unless --ignore-not-found).",
        _delete_options,
    ),
    "get": (
        "list objects and pods on the running local mesh (like kubectl get)",
        "List objects of KIND (vs, dr, gw, svc, deploy, pods, sa, ns, or any name kubectl accepts) in -n "
        "NAMESPACE (default: default; -A: every namespace), or the NAMEd ones (also KIND/NAME); `get` alone "
        "lists every object in every namespace. Options may come anywhere on the line.",
        _get_options,
    ),
}


def add_parsers(sub: Any) -> None:
    for verb, (help_text, description, options) in VERBS.items():
        options(sub.add_parser(verb, help=help_text, description=description))
    sub.add_parser("status", help="proxies, their config versions and the workloads of the running local mesh")


def parse_intermixed(verb: str, words: list[str], parser_class: type[argparse.ArgumentParser]) -> argparse.Namespace:
    """The arguments of ``verb`` with options anywhere, as kubectl takes them (``get vs -n bookinfo reviews``):
    argparse does that only on a parser without subcommands, so the verb gets its own."""
    _, description, options = VERBS[verb]
    parser = parser_class(prog=f"meshrelease {verb}", description=description)
    options(parser)
    args = parser.parse_intermixed_args(words)
    args.command = verb
    return args


def _file_options(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument(
        "-f", "--filename", action="append", required=required, metavar="FILE", help="manifest, folder, or -"
    )
    parser.add_argument("-R", "--recursive", action="store_true", help="with -f FOLDER: its subfolders too")
    parser.add_argument("-n", "--namespace", default="", help="namespace for objects that name none")


def manifest_files(names: Sequence[str], *, recursive: bool) -> list[str]:
    """The files ``-f`` names: a file, ``-``, or a folder's manifests (name order; -R: subfolders too)."""
    files: list[str] = []
    for name in names:
        path = Path(name)
        if name == "-" or path.is_file():
            files.append(name)
        elif path.is_dir():
            found = manifest_files_in(path, recursive=recursive)
            if not found:
                raise MeshReleaseError(f'error reading "{name}": no .yaml, .yml or .json files in it')
            files += [str(p) for p in found]
        else:
            raise MeshReleaseError(f'the path "{name}" does not exist')
    return files


def _read_text(name: str) -> str:
    try:
        raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as exc:
        raise MeshReleaseError(f"-f {name}: {exc.strerror}") from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = "stdin" if name == "-" else name
        raise MeshReleaseError(
            f"-f {where}: the manifest is not UTF-8 text (byte {exc.start}: {exc.reason})",
            hint="manifests are YAML or JSON in UTF-8; convert the file (e.g. iconv -f latin1 -t utf-8)",
        ) from None


def named_resources(args: Sequence[str], verb: str) -> tuple[str, list[str]]:
    """``(kind, names)`` from ``KIND NAME...`` or ``KIND/NAME...`` (one kind), as kubectl reads them."""
    if not args:
        return "", []
    if any("/" in a for a in args):
        if not all("/" in a for a in args):
            raise MeshReleaseError(
                "there is no need to specify a resource type as a separate argument when "
                "passing arguments in resource/name form (e.g. 'meshrelease get vs/reviews')"
            )
        kinds = {a.split("/", 1)[0] for a in args}
        if len(kinds) > 1:
            raise MeshReleaseError(
                f"{verb} KIND/NAME: name objects of one kind per command (got {', '.join(sorted(kinds))})"
            )
        return kinds.pop(), [a.split("/", 1)[1] for a in args]
    return args[0], list(args[1:])


def _print_result(data: dict[str, Any], output: str | None) -> None:
    for line in data["lines"]:
        print(_as_name(line) if output == "name" else line)
    for warning in data["warnings"]:
        # Analyzer findings carry their own level ("Error [IST0101] …"), as `istioctl analyze` prints them.
        analyzer = warning.split(" [", 1)[0] in ("Error", "Warning", "Info")
        print(warning if analyzer or warning.startswith("Warning") else f"Warning: {warning}", file=sys.stderr)


def _as_name(line: str) -> str:
    """``kind.group/name`` from an apply line (``… created``) or a delete line (``kind.group "name" deleted``)."""
    if line.endswith(" deleted") and '"' in line:
        kind, name = line[: -len(" deleted")].split(" ", 1)
        return f"{kind}/{name.strip(chr(34))}"
    return line.rsplit(" ", 1)[0]


def cmd_apply(args: argparse.Namespace, *, delete: bool) -> int:
    from meshrelease.backends.local.control import ControlClient

    resources = list(getattr(args, "resources", None) or [])
    if delete and resources and args.filename:
        raise MeshReleaseError(
            "when paths, URLs, or stdin is provided as input, you may not specify resource arguments as well"
        )
    if delete and not args.filename:
        kind, names = named_resources(resources, "delete")
        if not kind:
            raise MeshReleaseError("You must provide one or more resources by argument or filename.")
        if not names:
            raise MeshReleaseError(f"resource(s) were provided, but no name was specified (e.g. delete {kind} NAME)")
        client = ControlClient.connect()
        data = client.delete_named(kind, names, args.namespace, ignore_not_found=args.ignore_not_found)
        _print_result(data, args.output)
        return 0
    files = manifest_files(args.filename, recursive=args.recursive)
    client = ControlClient.connect()
    failed = 0
    for name in files:
        try:
            data = client.apply(
                _read_text(name),
                name,
                delete=delete,
                namespace=args.namespace,
                ignore_not_found=bool(getattr(args, "ignore_not_found", False)),
            )
        except MeshReleaseError as exc:
            if len(files) == 1:
                raise
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        _print_result(data, args.output)
    return 1 if failed else 0


def cmd_get(args: argparse.Namespace) -> int:
    from meshrelease.backends.local.control import ControlClient
    from meshrelease.cli import kubectl_output as out

    kind, names = named_resources(args.resources, "get")
    namespace = "" if args.all_namespaces else (args.namespace or ("default" if kind else ""))
    client = ControlClient.connect()
    data = client.objects(
        kind=kind, names=",".join(names), namespace=namespace, all_namespaces="1" if args.all_namespaces else ""
    )
    objs, missing = data["objects"], data.get("missing", [])
    if args.output in ("yaml", "json", "name"):
        if objs or (not names and args.output != "name"):  # an empty listing is an empty List, as kubectl's
            print(out.render(objs, args.output, single=len(names) == 1))
    elif objs:
        if kind:
            print(out.kind_table(objs, objs[0]["kind"], all_namespaces=not namespace, wide=args.output == "wide"))
        else:
            print(out.mixed_table(objs))
    elif not missing:
        where = f" in {namespace} namespace" if namespace else ""
        print(f"No resources found{where}.", file=sys.stderr)
    for line in missing:
        print(line, file=sys.stderr)
    return 1 if missing else 0


def cmd_status() -> int:
    from meshrelease.backends.local.control import ControlClient
    from meshrelease.cli.kubectl_output import table

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
    print(table(rows))
    print()
    rows = [("POD", "NAMESPACE", "PORT", "IMPLEMENTATION")]
    rows += [(str(w["pod"]), str(w["namespace"]), str(w["port"]), str(w["implementation"])) for w in st["workloads"]]
    print(table(rows))
    return 0
