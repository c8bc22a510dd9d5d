"""Building the backend the settings name (``--backend local|kind|cluster``)."""

from __future__ import annotations

import os

from meshrelease.backends.base import Backend
from meshrelease.backends.settings import Settings
from meshrelease.errors import UserInputError


def make_backend(settings: Settings) -> Backend:
    """The backend ``settings.backend`` names, not started (its modules are imported only when chosen)."""
    if settings.backend == "local":
        from meshrelease.backends.local.mesh import LocalMesh
        from meshrelease.backends.local.options import mesh_options

        return LocalMesh(mesh_options(settings.local))
    if settings.backend == "kind":
        if os.environ.get("PYTEST_XDIST_WORKER"):
            raise UserInputError(
                "the kind backend runs one cluster per session and cannot be split over xdist workers",
                field="-n",
                hint="run the kind scenarios serially (-p no:xdist or -n 0)",
            )
        from meshrelease.backends.kube.kind_backend import KindBackend

        return KindBackend(settings.kind)
    if settings.backend == "cluster":
        from meshrelease.backends.kube.cluster_backend import ClusterBackend

        return ClusterBackend(settings.cluster)
    raise UserInputError(f"unknown backend {settings.backend!r}", field="--backend", hint="local, kind or cluster")
