"""``meshrelease serve``: Bookinfo on a local mesh until Ctrl-C; other terminals act on it (see objects.py)."""

from __future__ import annotations

import argparse
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from meshrelease.backends.settings import add_options, build_settings, options_in
from meshrelease.errors import MeshReleaseError


def add_parser(sub: Any) -> None:
    serve = sub.add_parser(
        "serve",
        help="run Bookinfo on a local mesh until Ctrl-C; apply/delete/get/status act on it",
        description="Start the local mesh (real Envoy) with Bookinfo and keep it up until Ctrl-C or SIGTERM. "
        "Prints the productpage URL. Other terminals use `meshrelease apply/delete/get/status`.",
    )
    serve.add_argument("-f", "--filename", action="append", default=[], metavar="MANIFEST", help="apply at start")
    add_options(serve, options_in("local"))
    serve.set_defaults(port_default=8080)


def local_settings(args: argparse.Namespace) -> Any:
    """The local backend's settings from serve's flags (each falling back to its environment variable);
    serve's gateway port defaults to 8080."""
    values = {o.dest: getattr(args, o.dest) for o in options_in("local")}
    settings = build_settings(values).local
    if settings.port is None:
        import dataclasses

        settings = dataclasses.replace(settings, port=args.port_default)
    return settings


def cmd_serve(args: argparse.Namespace) -> int:
    from meshrelease.backends.local.control import ControlServer, claim_state, ensure_not_serving, release_state
    from meshrelease.backends.local.mesh import LocalMesh
    from meshrelease.backends.local.options import mesh_options

    settings = local_settings(args)  # a bad option is an error before anything starts
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
    mesh = LocalMesh(mesh_options(settings, manifests=[Path(f) for f in args.filename]))
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
