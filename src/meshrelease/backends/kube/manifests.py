"""Manifests on their way to kubectl: identities, namespaces filled in, written to files.

kubectl always gets files (``apply -f <file>``), never YAML through a shell pipe, so a quote or a space in a
value needs no escaping (pytest-kubernetes 0.9's ``echo '<yaml>' |`` breaks on a single quote). Each
namespaced document gets ``metadata.namespace`` written out when it has none, so ``-n`` is never needed
(kubectl refuses a ``-n`` that disagrees with a namespace in the file).
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from meshrelease.backends.base import ObjectDoc
from meshrelease.errors import UserInputError
from meshrelease.k8s.objects import ISTIO_GROUP, ObjectKey

CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "StorageClass",
        "PriorityClass",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "IngressClass",
    }
)
ROUTING_KINDS = frozenset({"VirtualService", "DestinationRule"})

# Fields the API server owns; dropped before an object read back from the cluster is applied again.
_SERVER_METADATA = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink")
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def api_group(api_version: str) -> str:
    """``networking.istio.io/v1`` -> ``networking.istio.io``; ``v1`` (core) -> ``""``."""
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def is_istio(doc: ObjectDoc) -> bool:
    """True for objects of the networking.istio.io group (they live on the mesh's API server)."""
    return api_group(str(doc.get("apiVersion", ""))) == ISTIO_GROUP


def object_key(doc: ObjectDoc, default_namespace: str) -> ObjectKey:
    """The identity of ``doc``; raises UserInputError when apiVersion, kind or metadata.name is missing."""
    api_version = doc.get("apiVersion")
    kind = doc.get("kind")
    metadata = doc.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    if not isinstance(api_version, str) or not isinstance(kind, str) or not isinstance(name, str) or not name:
        raise UserInputError(
            "every object needs apiVersion, kind and metadata.name",
            field="metadata.name" if isinstance(kind, str) else "kind",
            hint=f"got apiVersion={api_version!r}, kind={kind!r}, name={name!r}",
        )
    namespace = ""
    if kind not in CLUSTER_SCOPED_KINDS:
        ns = metadata.get("namespace") if isinstance(metadata, Mapping) else None
        namespace = str(ns) if ns else default_namespace
    return ObjectKey(api_group(api_version), kind, namespace, name)


def with_namespace(doc: ObjectDoc, default_namespace: str) -> dict[str, Any]:
    """A deep copy of ``doc`` with ``metadata.namespace`` set when the kind is namespaced and it has none."""
    out: dict[str, Any] = copy.deepcopy(dict(doc))
    kind = out.get("kind")
    if kind not in CLUSTER_SCOPED_KINDS:
        metadata = out.setdefault("metadata", {})
        if isinstance(metadata, dict) and not metadata.get("namespace"):
            metadata["namespace"] = default_namespace
    return out


def restorable(live: Mapping[str, Any]) -> dict[str, Any]:
    """An object read from the cluster, stripped of server-owned fields so it can be applied again."""
    out: dict[str, Any] = copy.deepcopy(dict(live))
    out.pop("status", None)
    metadata = out.get("metadata")
    if isinstance(metadata, dict):
        for key in _SERVER_METADATA:
            metadata.pop(key, None)
        annotations = metadata.get("annotations")
        if isinstance(annotations, dict):
            annotations.pop(_LAST_APPLIED, None)
            if not annotations:
                metadata.pop("annotations")
    return out


def items_of(data: Any) -> list[dict[str, Any]]:
    """Objects in kubectl's ``-o json`` output: a List's items, one object, or nothing."""
    if not isinstance(data, dict):
        return []
    if data.get("kind") == "List" or ("items" in data and "metadata" not in data):
        return [item for item in data.get("items") or [] if isinstance(item, dict)]
    return [data]


def kubectl_name(key: ObjectKey) -> str:
    """kubectl's name for the type of ``key``: ``virtualservices.networking.istio.io``, ``services``."""
    kind = key.kind.lower()
    if kind.endswith("s"):
        plural = kind + "es"
    elif kind.endswith("y") and kind[-2:-1] not in ("a", "e", "o", "u"):
        plural = kind[:-1] + "ies"
    else:
        plural = kind + "s"
    return f"{plural}.{key.group}" if key.group else plural


class ManifestWriter:
    """Writes documents to numbered YAML files under one directory (owned by the backend, removed by it)."""

    _SAFE = re.compile(r"[^a-z0-9.-]+")

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._counter = itertools.count(1)

    def write(self, docs: Iterable[Mapping[str, Any]], label: str) -> Path:
        """Write ``docs`` as one multi-document YAML file; returns its path."""
        directory = self.directory
        directory.mkdir(parents=True, exist_ok=True)
        safe = self._SAFE.sub("-", label.lower()).strip("-") or "objects"
        path = directory / f"{next(self._counter):04d}-{safe[:40]}.yaml"
        text = yaml.safe_dump_all([dict(d) for d in docs], sort_keys=False, default_flow_style=False)
        path.write_text(text, encoding="utf-8")
        return path


def load_manifest_file(path: Path) -> list[dict[str, Any]]:
    """The documents of a multi-document YAML file (empty documents skipped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserInputError(f"cannot read the file: {exc.strerror}", path=str(path)) from None
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise UserInputError(
            f"invalid YAML: {exc.problem}", path=str(path), line=mark.line + 1 if mark else None
        ) from None
    out: list[dict[str, Any]] = []
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise UserInputError("every document must be a mapping (a Kubernetes object)", path=str(path))
        out.append(doc)
    return out


def set_bookinfo_tag(docs: Sequence[Mapping[str, Any]], tag: str, registry: str | None = None) -> list[dict[str, Any]]:
    """Copies of ``docs`` whose Bookinfo images (``…/examples-bookinfo-*:<tag>``) carry ``tag`` and, when given,
    come from ``registry`` (``registry.istio.io/release`` -> ``registry.istio.io/release/examples-bookinfo-…``)."""
    out: list[dict[str, Any]] = []
    for doc in docs:
        copied: dict[str, Any] = copy.deepcopy(dict(doc))
        if copied.get("kind") == "Deployment":
            for container in _containers(copied):
                image = container.get("image")
                if isinstance(image, str) and "examples-bookinfo-" in image:
                    repository = image.rsplit(":", 1)[0]
                    if registry:
                        repository = f"{registry.rstrip('/')}/{repository.rsplit('/', 1)[-1]}"
                    container["image"] = f"{repository}:{tag}"
        out.append(copied)
    return out


def _containers(deployment: Mapping[str, Any]) -> list[dict[str, Any]]:
    spec = deployment.get("spec") or {}
    template = spec.get("template") or {} if isinstance(spec, Mapping) else {}
    pod_spec = template.get("spec") or {} if isinstance(template, Mapping) else {}
    containers = pod_spec.get("containers") or [] if isinstance(pod_spec, Mapping) else []
    return [c for c in containers if isinstance(c, dict)]


def deployment_images(deployment: Mapping[str, Any]) -> list[str]:
    """The container images of a Deployment."""
    return [str(c.get("image", "")) for c in _containers(deployment)]
