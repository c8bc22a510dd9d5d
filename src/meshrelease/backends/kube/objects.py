"""What this run applied to a cluster, and how to take it back.

The first time a run touches an object (apply or delete) the object's prior state is read from the cluster
(``kubectl get -f``): absent, or the live object. Resetting then deletes what the run created and re-applies
what it changed or deleted, so a run never deletes what it did not create — on an existing mesh a
VirtualService that was there before the run is put back as it was.

Istio objects (networking.istio.io) go to the mesh's API server and everything else to the workloads' (the
same one except on a managed mesh such as ASM). Every apply or delete is checked with a server-side dry run
first, on every API server involved, so a rejected call changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from meshrelease.backends.base import ApplyResult, ObjectDoc
from meshrelease.backends.kube.kubectl import Kubectl
from meshrelease.backends.kube.manifests import ManifestWriter, is_istio, object_key, restorable, with_namespace
from meshrelease.k8s.objects import GATEWAY_API_GROUP, ISTIO_GROUP, ObjectKey

# Teardown order: routes before the subsets they use (make before break, in reverse); restores the other way.
_DELETE_ORDER = {"VirtualService": 0, "Gateway": 1, "DestinationRule": 3}
_RESTORE_ORDER = {"DestinationRule": 0, "Gateway": 1, "VirtualService": 3}


@dataclass
class Touched:
    """One object this run applied or deleted."""

    key: ObjectKey
    original: dict[str, Any] | None  # the object before this run first touched it; None: it did not exist
    last_body: dict[str, Any]  # what this run last applied (or, if it only deleted, the original)

    @property
    def routing(self) -> bool:
        """Istio and Gateway API objects: what ``reset_routing`` removes or restores."""
        return self.key.group in (ISTIO_GROUP, GATEWAY_API_GROUP)


class AppliedObjects:
    """Applies and deletes objects on the workload and mesh API servers and remembers what it did."""

    def __init__(self, workload: Kubectl, mesh: Kubectl, writer: ManifestWriter, namespace: str) -> None:
        self.workload = workload
        self.mesh = mesh
        self.writer = writer
        self.namespace = namespace
        self.touched: dict[ObjectKey, Touched] = {}
        # changed since the last wait_synced: every body involved (before and after), so a host that a change
        # removed from a VirtualService is checked too
        self.pending: dict[ObjectKey, list[dict[str, Any]]] = {}

    # -- public -----------------------------------------------------------------------------------------

    def apply(self, docs: Sequence[ObjectDoc], *, source: str | None = None) -> ApplyResult:
        """Dry-run every document on its API server, then apply; remembers prior states first."""
        prepared = [with_namespace(d, self.namespace) for d in docs]
        keys = [object_key(d, self.namespace) for d in prepared]
        groups = self._groups(prepared, order="apply")
        originals = self._originals(groups, keys)
        files = [(kubectl, self.writer.write(group, f"apply-{kubectl.role}")) for kubectl, group in groups]
        for kubectl, path in files:
            kubectl.apply_file(path, dry_run=True, source=source)
        lines: list[str] = []
        warnings: list[str] = []
        for kubectl, path in files:
            out, warn = kubectl.apply_file(path, source=source)
            lines += out
            warnings += warn
        for key, doc in zip(keys, prepared, strict=True):
            existed = key in self.touched
            record = self._record(key, originals, doc)
            if existed or record.original is not None:
                self._note(key, record.last_body)  # what the mesh ran before this apply
            record.last_body = doc
            self._note(key, doc)
        return ApplyResult(lines=lines, warnings=warnings)

    def delete(self, docs: Sequence[ObjectDoc], *, source: str | None = None) -> ApplyResult:
        """Dry-run, then delete the objects named by ``docs`` (apiVersion/kind/namespace/name)."""
        prepared = [with_namespace(d, self.namespace) for d in docs]
        keys = [object_key(d, self.namespace) for d in prepared]
        groups = self._groups(prepared, order="delete")
        originals = self._originals(groups, keys)
        files = [(kubectl, self.writer.write(group, f"delete-{kubectl.role}")) for kubectl, group in groups]
        for kubectl, path in files:
            kubectl.delete_file(path, dry_run=True, source=source)
        lines: list[str] = []
        warnings: list[str] = []
        for kubectl, path in files:
            out, warn = kubectl.delete_file(path, source=source)
            lines += out
            warnings += warn
        for key, doc in zip(keys, prepared, strict=True):
            self._note(key, self._record(key, originals, doc).last_body)
        return ApplyResult(lines=lines, warnings=warnings)

    def reset(self, *, routing_only: bool) -> list[str]:
        """Delete what this run created and restore what it changed; returns kubectl's lines.

        ``routing_only`` limits it to networking.istio.io objects (``reset_routing``)."""
        records = [r for r in self.touched.values() if r.routing or not routing_only]
        if not records:
            return []
        lines: list[str] = []
        created = sorted((r for r in records if r.original is None), key=lambda r: _rank(r, _DELETE_ORDER))
        for kubectl, group in self._groups([r.last_body for r in created], order="delete"):
            path = self.writer.write(group, f"reset-delete-{kubectl.role}")
            lines += kubectl.delete_file(path, ignore_not_found=True)[0]
        changed = sorted((r for r in records if r.original is not None), key=lambda r: _rank(r, _RESTORE_ORDER))
        for kubectl, group in self._groups([r.original for r in changed if r.original], order="apply"):
            path = self.writer.write(group, f"reset-restore-{kubectl.role}")
            lines += kubectl.apply_file(path)[0]
        for record in records:
            del self.touched[record.key]
            self._note(record.key, record.last_body)
            self._note(record.key, record.original)
        return lines

    def take_pending(self) -> dict[ObjectKey, list[dict[str, Any]]]:
        """Objects changed since the last call (for wait_synced), with every body involved; forgets them."""
        out = dict(self.pending)
        self.pending.clear()
        return out

    def restore_pending(self, changes: Mapping[ObjectKey, list[dict[str, Any]]]) -> None:
        """Put back changes taken by :meth:`take_pending` whose wait did not complete (merged with newer ones)."""
        for key, bodies in changes.items():
            for body in bodies:
                self._note(key, body)

    def _note(self, key: ObjectKey, body: dict[str, Any] | None) -> None:
        bodies = self.pending.setdefault(key, [])
        if body is not None and body not in bodies:
            bodies.append(body)

    # -- helpers ----------------------------------------------------------------------------------------

    def _groups(self, docs: Iterable[Mapping[str, Any]], *, order: str) -> list[tuple[Kubectl, list[dict[str, Any]]]]:
        return split_by_api_server(docs, self.workload, self.mesh, order=order)

    def _originals(
        self, groups: list[tuple[Kubectl, list[dict[str, Any]]]], keys: list[ObjectKey]
    ) -> dict[ObjectKey, dict[str, Any] | None]:
        """Prior states of objects this run has not touched yet (one ``kubectl get -f`` per API server)."""
        fresh = {k for k in keys if k not in self.touched}
        out: dict[ObjectKey, dict[str, Any] | None] = dict.fromkeys(fresh)
        for kubectl, group in groups:
            docs = [d for d in group if object_key(d, self.namespace) in fresh]
            if not docs:
                continue
            path = self.writer.write(docs, f"prior-{kubectl.role}")
            for live in kubectl.get_file_json(path):
                key = object_key(live, self.namespace)
                if key in out:
                    out[key] = restorable(live)
        return out

    def _record(
        self, key: ObjectKey, originals: Mapping[ObjectKey, dict[str, Any] | None], doc: dict[str, Any]
    ) -> Touched:
        record = self.touched.get(key)
        if record is None:
            original = originals.get(key)
            record = Touched(key, original, original if original is not None else doc)
            self.touched[key] = record
        return record


def _rank(record: Touched, order: Mapping[str, int]) -> int:
    return order.get(record.key.kind, 2)


def split_by_api_server(
    docs: Iterable[Mapping[str, Any]], workload: Kubectl, mesh: Kubectl, *, order: str = "apply"
) -> list[tuple[Kubectl, list[dict[str, Any]]]]:
    """Documents grouped by the API server they go to, each group in the caller's order.

    With one API server, one group. Otherwise applies go to the workloads first (a new version's
    Deployment before the routes to it) and deletes to the mesh first."""
    all_docs = [dict(d) for d in docs]
    if mesh.same_api_server(workload):
        return [(workload, all_docs)] if all_docs else []
    pairs = [
        (workload, [d for d in all_docs if not is_istio(d)]),
        (mesh, [d for d in all_docs if is_istio(d)]),
    ]
    if order == "delete":
        pairs.reverse()
    return [(kubectl, group) for kubectl, group in pairs if group]
