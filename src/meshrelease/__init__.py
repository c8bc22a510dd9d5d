"""meshrelease: end-to-end tests for service-mesh release scenarios (Istio + Bookinfo).

The public API, for tests and tools written against it (importing this package stays cheap: each name loads
its module on first use)::

    from meshrelease import load_manifests, load_scenario, BookinfoClient, Settings, make_backend

- :func:`load_manifests` — Kubernetes objects from a YAML file or folder, each knowing its file and lines;
- :func:`load_scenario` — a ``scenario.yaml`` as a validated :class:`Scenario`;
- :class:`BookinfoClient` — productpage through the ingress gateway, signed in or not; ``fetch_page()`` gives a
  :class:`PageObservation` (reviews version, pod, stars, errors);
- :class:`Settings`, :func:`build_settings`, :func:`make_backend` — a backend (``local``, ``kind``, ``cluster``)
  as the command line would build it; :class:`Backend` is the protocol every backend implements;
- :func:`run_suite` — run scenarios with pytest, as ``meshrelease run`` does;
- :func:`data_file` — a file meshrelease ships, e.g. ``data_file("destination-rule-all.yaml")``.

In pytest, the plugin's fixtures (``meshrelease_backend``, ``bookinfo_client``, ``meshrelease_settings``, …)
are the usual way in; see ``docs/architecture.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from meshrelease._version import __version__

if TYPE_CHECKING:
    from meshrelease.backends.base import Backend, BackendInfo
    from meshrelease.backends.factory import make_backend
    from meshrelease.backends.settings import Settings, build_settings
    from meshrelease.bookinfo.client import BookinfoClient
    from meshrelease.bookinfo.page import PageObservation
    from meshrelease.data import data_file
    from meshrelease.errors import MeshReleaseError, UserInputError, ValidationError
    from meshrelease.k8s.manifest import Manifest, load_manifests
    from meshrelease.scenario.loader import load_scenario
    from meshrelease.scenario.model import Scenario
    from meshrelease.suite import run_suite

_EXPORTS = {
    "Backend": "meshrelease.backends.base",
    "BackendInfo": "meshrelease.backends.base",
    "make_backend": "meshrelease.backends.factory",
    "Settings": "meshrelease.backends.settings",
    "build_settings": "meshrelease.backends.settings",
    "BookinfoClient": "meshrelease.bookinfo.client",
    "PageObservation": "meshrelease.bookinfo.page",
    "data_file": "meshrelease.data",
    "MeshReleaseError": "meshrelease.errors",
    "UserInputError": "meshrelease.errors",
    "ValidationError": "meshrelease.errors",
    "Manifest": "meshrelease.k8s.manifest",
    "load_manifests": "meshrelease.k8s.manifest",
    "load_scenario": "meshrelease.scenario.loader",
    "Scenario": "meshrelease.scenario.model",
    "run_suite": "meshrelease.suite",
}

__all__ = [
    "Backend",
    "BackendInfo",
    "BookinfoClient",
    "Manifest",
    "MeshReleaseError",
    "PageObservation",
    "Scenario",
    "Settings",
    "UserInputError",
    "ValidationError",
    "__version__",
    "build_settings",
    "data_file",
    "load_manifests",
    "load_scenario",
    "make_backend",
    "run_suite",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'meshrelease' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
