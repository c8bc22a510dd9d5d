"""The ``meshrelease`` command.

    meshrelease run [PATH...] [--backend local|kind|cluster] [-k EXPR] [pytest options]
    meshrelease serve [--port PORT] [--ui modern|classic] [-f MANIFEST]...
    meshrelease apply -f FILE|DIR... [-R] [-n NS]      meshrelease delete -f FILE|DIR... | KIND NAME...
    meshrelease get [KIND [NAME...]] [-n NS | -A] [-o yaml|json|name|wide]      meshrelease status
    meshrelease compare A/results.json B/results.json [--out DIR]
    meshrelease doctor --backend kind|cluster [kind/cluster options]

User mistakes (a bad file, a missing tool, no running mesh) print one clear message and exit 1, without a
traceback. ``meshrelease run`` exits as pytest does: 0 all passed, 1 a step failed, 2 interrupted (or collection
errors), 3 internal error, 4 usage error (an unknown option, an invalid value, no such path), 5 nothing
collected. A command line argparse cannot parse is a usage error (4) for every command; an unexpected exception
is an internal error (3), printed with its traceback.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from typing import NoReturn

from meshrelease._version import __version__
from meshrelease.cli import compare, doctor, objects, run, serve, upgrade
from meshrelease.errors import MeshReleaseError, ValidationError

EPILOG = """examples:
  meshrelease run                                   every scenario on the local backend
  meshrelease run scenarios/asm-release -k canary   the canary steps (the first replays what comes before it)
  meshrelease serve --port 8080                     Bookinfo on a local mesh; open the printed URL
  meshrelease apply -f scenarios/asm-release/manifests/reviews-v2.yaml
  meshrelease get virtualservices -o yaml
  meshrelease doctor --backend kind --istio-version 1.30.5   what a kind run needs, checked before it starts
"""


EXIT_INTERRUPTED = 2
EXIT_INTERNAL_ERROR = 3
EXIT_USAGE_ERROR = 4


class ArgumentParser(argparse.ArgumentParser):
    """argparse with pytest's exit code for a command line it cannot parse (4, not argparse's 2)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE_ERROR, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="meshrelease",
        description="End-to-end tests for service-mesh release scenarios (blue-green, weighted canary, header "
        "canary) on Istio with the Bookinfo sample. The local backend runs real Envoy proxies without Docker.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"meshrelease {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run.add_parser(sub)
    serve.add_parser(sub)
    objects.add_parsers(sub)
    compare.add_parser(sub)
    upgrade.add_parser(sub)
    doctor.add_parser(sub)
    return parser


def _print_err(text: str) -> None:
    print(f"error: {text}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command in objects.VERBS:
        words = list(sys.argv[1:] if argv is None else argv)
        args = objects.parse_intermixed(args.command, words[words.index(args.command) + 1 :], ArgumentParser)
        extra = []
    if extra and args.command not in ("run", "upgrade-check"):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        if args.command == "run":
            return run.cmd_run(args, extra)
        if args.command == "serve":
            return serve.cmd_serve(args)
        if args.command in ("apply", "delete"):
            return objects.cmd_apply(args, delete=args.command == "delete")
        if args.command == "get":
            return objects.cmd_get(args)
        if args.command == "status":
            return objects.cmd_status()
        if args.command == "compare":
            return compare.cmd_compare(args)
        if args.command == "upgrade-check":
            return upgrade.run(args, extra)
        if args.command == "doctor":
            return doctor.cmd_doctor(args)
    except ValidationError as exc:
        _print_err(str(exc))
        return 1
    except MeshReleaseError as exc:
        _print_err(str(exc))
        return 1
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception:
        traceback.print_exc()
        _print_err("internal error (the traceback above); please report it")
        return EXIT_INTERNAL_ERROR
    parser.print_help()
    return EXIT_USAGE_ERROR


if __name__ == "__main__":
    sys.exit(main())
