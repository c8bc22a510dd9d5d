"""Kubernetes and Istio objects as meshrelease reads them, independent of any backend.

- :mod:`~meshrelease.k8s.manifest`: :class:`Manifest` (an object that knows its file and the line of every
  field), :func:`load_manifests`, :class:`Origin` for ``file:line:`` messages;
- :mod:`~meshrelease.k8s.yaml`: the one safe, line-tracking YAML loader;
- :mod:`~meshrelease.k8s.objects`: :class:`ObjectKey`, field paths;
- :mod:`~meshrelease.k8s.kinds`: the kinds the harness knows (groups, versions, scope);
- :mod:`~meshrelease.k8s.hosts` and :mod:`~meshrelease.k8s.istio_routes`: Istio's host rules and route model,
  written once for every backend (docs/istio-semantics.md).

Imports only :mod:`meshrelease.errors` and itself.
"""

from meshrelease.k8s.manifest import Manifest, Origin, load_manifest_text, load_manifests
from meshrelease.k8s.objects import FieldPath, ObjectKey, format_path

__all__ = ["FieldPath", "Manifest", "ObjectKey", "Origin", "format_path", "load_manifest_text", "load_manifests"]
