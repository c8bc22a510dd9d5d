"""Command line: ``python -m meshrelease.bookinfo.workloads --standalone [--port 9080] [--ui modern|classic]``
or ``--host`` (the pod host protocol)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from meshrelease.bookinfo.workloads.config import SERVICE_PORT, UIS
from meshrelease.errors import MeshReleaseError


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the standalone app or the host process."""
    parser = argparse.ArgumentParser(
        prog="python -m meshrelease.bookinfo.workloads",
        description="meshrelease's Bookinfo-compatible workloads (productpage, details, reviews, ratings)",
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--standalone", action="store_true", help="run all services wired directly, no mesh")
    mode.add_argument("--host", action="store_true", help="serve the JSON-lines pod host protocol on stdin/stdout")
    parser.add_argument("--port", type=int, default=SERVICE_PORT, help="productpage port (standalone; 0 = any)")
    parser.add_argument("--ui", choices=UIS, default="modern", help="productpage UI generation (standalone)")
    args = parser.parse_args(argv)
    if args.host:
        from meshrelease.bookinfo.workloads.host_protocol import main as host_main

        return host_main()
    from meshrelease.bookinfo.workloads.standalone import run_standalone

    try:
        return asyncio.run(run_standalone(port=args.port, ui=args.ui))
    except MeshReleaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
