"""Where meshrelease finds its own files (Bookinfo manifests, scenarios) in a checkout."""

from __future__ import annotations

import os
from pathlib import Path

from meshrelease.errors import MeshReleaseError

# src/meshrelease/paths.py -> the repository root is three levels up.
REPO_ROOT = Path(__file__).resolve().parents[2]


def fixtures_dir() -> Path:
    """``fixtures/kubernetes`` of the checkout, or ``$MESHRELEASE_FIXTURES``."""
    env = os.environ.get("MESHRELEASE_FIXTURES")
    path = Path(env) if env else REPO_ROOT / "fixtures" / "kubernetes"
    if not (path / "bookinfo.yaml").is_file():
        raise MeshReleaseError(
            f"the Bookinfo manifests are not at {path}",
            hint="run meshrelease from its git checkout (pip install -e .), or set MESHRELEASE_FIXTURES to a "
            "directory holding bookinfo.yaml and bookinfo-gateway.yaml",
        )
    return path


def bookinfo_manifests() -> list[Path]:
    """The manifests a fresh mesh gets: Bookinfo's workloads and its ingress Gateway + VirtualService."""
    base = fixtures_dir()
    return [base / "bookinfo.yaml", base / "bookinfo-gateway.yaml"]


def scenarios_dir() -> Path:
    return REPO_ROOT / "scenarios"
