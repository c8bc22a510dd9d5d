"""What ``kubectl get`` and ``kubectl delete KIND NAME`` see of the local mesh: stored objects and running pods.

Pods are not stored objects: the local mesh runs one per Deployment replica, so a Pod here is built from the
running pod (name, labels, its two containers, 127.0.0.1 as its IP) the way the API server would show it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from meshrelease.errors import UserInputError
from meshrelease.k8s.kinds import require_kind
from meshrelease.k8s.objects import ObjectKey

if TYPE_CHECKING:
    from meshrelease.backends.local.mesh import LocalMesh

POD_NAMES = ("pods", "pod", "po")
KNOWN_TYPES_HINT = "the local backend has pods, deploy, svc, sa, ns, vs, dr and gw"


def age(created: datetime, now: datetime | None = None) -> str:
    """kubectl's AGE: ``45s``, ``12m``, ``3h``, ``2d``."""
    seconds = int(((now or datetime.now(UTC)) - created).total_seconds())
    if seconds < 120:
        return f"{max(seconds, 0)}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 2 * 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _not_found(resource: str, name: str) -> str:
    return f'Error from server (NotFound): {resource} "{name}" not found'


def _pod_object(workload: dict[str, Any], ready: int) -> dict[str, Any]:
    started = str(workload.get("started") or "")
    app = str(workload.get("deployment") or workload["pod"]).rsplit("-", 1)[0]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": workload["pod"],
            "namespace": workload["namespace"],
            "labels": dict(workload.get("labels") or {}),
            "creationTimestamp": started,
        },
        "spec": {
            "containers": [
                {"name": app, "image": workload.get("image", "")},
                {"name": "istio-proxy", "image": "envoy (meshrelease local mesh)"},
            ]
        },
        "status": {
            "phase": "Running" if ready == 2 else "Pending",
            "podIP": "127.0.0.1",
            "hostIP": "127.0.0.1",
            "startTime": started,
            "containerStatuses": [
                {"name": app, "ready": ready >= 1, "restartCount": 0},
                {"name": "istio-proxy", "ready": ready == 2, "restartCount": 0},
            ],
        },
    }


def _pods(mesh: LocalMesh) -> list[dict[str, Any]]:
    """One entry per running pod: the Pod object and its extras (ready containers, age)."""
    entries = []
    for w in mesh.workloads():
        ready = int(w.get("ready", 0))
        started = datetime.fromisoformat(w["started"]) if w.get("started") else datetime.now(UTC)
        entries.append(
            {
                "kind": "Pod",
                "group": "",
                "namespace": w["namespace"],
                "name": w["pod"],
                "display": f"pod/{w['pod']}",
                "age": age(started),
                "ready": ready,
                "containers": 2,
                "deployment": w.get("deployment", ""),
                "object": _pod_object(w, ready),
            }
        )
    return sorted(entries, key=lambda e: (e["namespace"], e["name"]))


def list_objects(mesh: LocalMesh, kind: str, names: Sequence[str], namespace: str | None) -> dict[str, Any]:
    """``{"objects": [...], "missing": [kubectl's NotFound lines]}`` for ``get [KIND [NAME...]]``; ``namespace``
    None is every namespace."""
    if kind.strip().lower() in POD_NAMES:
        entries = [e for e in _pods(mesh) if namespace is None or e["namespace"] == namespace]
        resource = "pods"
    else:
        store = mesh.store
        info = require_kind(kind, hint=KNOWN_TYPES_HINT) if kind else None
        kind_name, resource = (info.kind, info.resource) if info is not None else (None, "objects")
        pods = _pods(mesh) if kind_name in (None, "Deployment") else []
        entries = []
        statuses = mesh.object_statuses()
        for o in store.list(kind=info.resource if info is not None else None, namespace=namespace):
            entry: dict[str, Any] = {
                "kind": o.key.kind,
                "group": o.key.group,
                "namespace": o.key.namespace,
                "name": o.key.name,
                "display": o.key.display(),
                "age": age(o.created),
                "generation": o.generation,
                "object": store.to_object(o),
            }
            status = statuses.get((o.key.group, o.key.kind, o.key.namespace, o.key.name))
            if status is not None:
                entry["object"]["status"] = status
            if o.key.kind == "Deployment":
                mine = [p for p in pods if p["namespace"] == o.key.namespace and p["deployment"] == o.key.name]
                replicas = o.spec.get("replicas", 1)
                entry["replicas"] = replicas if isinstance(replicas, int) else 1
                entry["ready"] = sum(1 for p in mine if p["ready"] == p["containers"])
                entry["up_to_date"] = len(mine)
            entries.append(entry)
    if not names:
        return {"objects": entries, "missing": []}
    by_name = {e["name"]: e for e in entries}
    return {
        "objects": [by_name[n] for n in names if n in by_name],
        "missing": [_not_found(resource, n) for n in names if n not in by_name],
    }


def keys_to_delete(kind: str, names: Sequence[str], namespace: str) -> list[ObjectKey]:
    """The objects ``delete KIND NAME...`` names (pods are deleted through their Deployment)."""
    if kind.strip().lower() in POD_NAMES:
        raise UserInputError(
            "the local mesh runs pods for Deployments and does not delete single pods",
            hint="delete (or scale) their Deployment: meshrelease delete deploy NAME",
        )
    info = require_kind(kind, hint=KNOWN_TYPES_HINT)
    return [ObjectKey(info.group, info.kind, namespace if info.namespaced else "", n) for n in names]
