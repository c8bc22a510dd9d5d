"""Files meshrelease ships as package data, read through :mod:`importlib.resources`.

- ``bookinfo.yaml``: Bookinfo's Services, ServiceAccounts and Deployments (images at tag 1.20.3), the
  workloads every backend starts with;
- ``bookinfo-gateway.yaml``: the Istio ``Gateway`` + ``VirtualService`` that expose productpage on the
  ingress gateway;
- ``destination-rule-all.yaml``: subsets v1, v2, v3 of every Bookinfo service (what scenarios apply first);
- ``kind.yaml``: the kind cluster of the ``kind`` backend (ingress NodePort published on 127.0.0.1:30080);
- ``istio-install.yaml``: the IstioOperator the ``kind`` backend installs with ``istioctl``;
- ``kind-pins.json``: the versions the ``kind`` backend and the e2e-kind workflow run (Istio minors, kind
  node images, kind and kubectl releases), each with its source.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from meshrelease.errors import MeshReleaseError

__all__ = ["BOOKINFO_TAG", "bookinfo_manifests", "data_dir", "data_file"]

BOOKINFO_TAG = "1.20.3"
"""The tag of the Bookinfo images in ``bookinfo.yaml`` (the tag of Istio's current samples)."""
BOOKINFO = "bookinfo.yaml"
BOOKINFO_GATEWAY = "bookinfo-gateway.yaml"


def data_dir() -> Path:
    """The directory holding the package's data files (the package is always installed unzipped)."""
    path = Path(str(resources.files(__name__)))
    if not (path / BOOKINFO).is_file():
        raise MeshReleaseError(
            f"meshrelease's package data is missing from {path}",
            hint="reinstall meshrelease (pip install --force-reinstall meshrelease)",
        )
    return path


def data_file(name: str) -> Path:
    """One data file by name, e.g. ``data_file("kind.yaml")``."""
    path = data_dir() / name
    if not path.is_file():
        raise MeshReleaseError(f"meshrelease ships no data file {name!r}", hint=f"see {data_dir()}")
    return path


def bookinfo_manifests() -> list[Path]:
    """The manifests a fresh mesh gets: Bookinfo's workloads and its ingress Gateway + VirtualService."""
    return [data_file(BOOKINFO), data_file(BOOKINFO_GATEWAY)]
