"""Changes to the local mesh as transactions: apply, delete and reset all-or-nothing.

A change goes: store candidate → apply-time check (runnable images, supported fields, dry-run translation;
a refused candidate leaves the store as it was) → commit → reconcile pods → push to every proxy. When the
mesh cannot follow a committed change (a pod that does not start), :class:`Transactions` puts the objects
back as they were and brings the mesh back to them, so a failed apply changes nothing.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from meshrelease.backends.base import ApplyResult, ObjectDoc
from meshrelease.backends.local.apiserver.store import ObjectStore
from meshrelease.backends.local.dataplane.pods import check_deployments
from meshrelease.backends.local.model import StoredObject
from meshrelease.backends.local.runtime import MeshRuntime
from meshrelease.backends.local.sync import ConfigSync
from meshrelease.backends.local.translate import translator as translate
from meshrelease.backends.local.translate.errors import TranslationError
from meshrelease.errors import MeshReleaseError, ValidationError
from meshrelease.k8s.objects import ObjectKey

if TYPE_CHECKING:
    from meshrelease.backends.local.options import LocalMeshOptions


class Transactions:
    """Store changes that the running mesh follows, or that are undone. Callers hold the mesh's lock."""

    def __init__(self, options: LocalMeshOptions, store: ObjectStore, runtime: MeshRuntime, sync: ConfigSync) -> None:
        self.options = options
        self.store = store
        self.runtime = runtime
        self.sync = sync
        self._baseline: dict[ObjectKey, StoredObject] = {}
        self._synced: dict[ObjectKey, StoredObject] = {}  # the objects the data plane last ran completely
        self._candidate_warnings: list[str] = []

    def apply(self, docs: Sequence[ObjectDoc], *, source: str | None = None) -> ApplyResult:
        """Apply ``docs``; the result also carries the local backend's own notes (``Kind ns/name: …``, e.g. a
        DestinationRule TLS mode it ignores) about the objects this apply created or changed."""
        check = functools.partial(self.check_candidate, source=source)
        versions = {o.key: o.resource_version for o in self.store.objects()}
        self._candidate_warnings = []
        result = self._change(lambda: self.store.apply(docs, source=source, check=check))
        changed = {o.key.ref() for o in self.store.objects() if versions.get(o.key) != o.resource_version}
        for warning in self._candidate_warnings:
            if warning.split(": ", 1)[0] in changed and warning not in result.warnings:
                result.warnings.append(warning)
        return result

    def delete(
        self, docs: Sequence[ObjectDoc], *, source: str | None = None, ignore_not_found: bool = False
    ) -> ApplyResult:
        return self._change(lambda: self.store.delete(docs, source=source, ignore_not_found=ignore_not_found))

    def delete_keys(self, keys: Sequence[ObjectKey], *, ignore_not_found: bool = False) -> ApplyResult:
        return self._change(lambda: self.store.delete_keys(keys, ignore_not_found=ignore_not_found))

    def mark_baseline(self) -> None:
        """Remember the stored objects as the state :meth:`reset_routing` returns to (the state after start)."""
        self._baseline = {o.key: o for o in self.store.objects()}

    def mark_synced(self) -> None:
        """Remember the stored objects as what every proxy runs (after a wait_synced that succeeded)."""
        self._synced = {o.key: o for o in self.store.objects()}

    def roll_back_to_synced(self) -> list[str]:
        """Put the store back to what the data plane last ran and push it again (after Envoy refused a later
        change); returns the objects that changed, as ``Kind ns/name``."""
        current = {o.key: o for o in self.store.objects()}
        keys = {k for k in current if k not in self._synced}
        keys |= {k for k, o in self._synced.items() if k not in current or current[k].body != o.body}
        if self._restore_objects(self._synced):
            self.reconcile()
        return sorted(k.ref() for k in keys)

    def reset_routing(self) -> None:
        """Bring every object back to the baseline (routing included); cheap when unchanged."""
        if self._restore_objects(self._baseline):
            self.reconcile()

    def _change(self, change: Callable[[], ApplyResult]) -> ApplyResult:
        """Run a store change and bring the mesh to it; if the mesh cannot follow (a pod that does not
        start), put the objects back as they were, so a failed apply changes nothing."""
        before = {o.key: o for o in self.store.objects()}
        result = change()
        try:
            self.reconcile()
        except BaseException:
            self._restore_objects(before)
            with contextlib.suppress(MeshReleaseError):
                self.reconcile()
            raise
        return result

    def _restore_objects(self, target: Mapping[ObjectKey, StoredObject]) -> bool:
        """Make the store hold exactly ``target``'s objects (bodies as they were); True if anything changed.
        Re-created objects get a new creation time."""
        current = {o.key: o for o in self.store.objects()}
        extra = [k for k in current if k not in target]
        changed = [o for k, o in target.items() if k not in current or current[k].body != o.body]
        if extra:
            self.store.delete_keys(extra, ignore_not_found=True)  # a Namespace deletion may cascade
        if changed:
            changed.sort(key=lambda o: (o.key.kind != "Namespace", o.seq))  # namespaces before their objects
            self.store.apply([o.body for o in changed], source="restore", check=self.check_candidate)
        return bool(extra or changed)

    def reconcile(self) -> None:
        """Make the running pods match the Deployments, then translate and push to every proxy; pods that
        went away stop after the proxies were told."""
        objects = self.store.objects()
        removed = self.runtime.reconcile_pods(objects)
        live = list(self.runtime.pods.values())
        self.sync.push(objects, [p.model for p in live], self.runtime.proxies())
        self.runtime.stop_pods(removed)

    def check_candidate(self, objects: list[StoredObject], *, source: str | None = None) -> None:
        """Apply-time check on the state an apply would produce: runnable images, supported fields, and a
        dry-run translation. Raises ValidationError naming ``source``; the store then changes nothing."""
        errors = check_deployments(objects, workloads=self.options.workloads, ui_override=self.options.ui)
        pods = list(self.runtime.pods.values())
        try:
            # The translation lists every unsupported field itself (TranslationError), so it is not scanned twice.
            translation = translate.translate(
                objects, [p.model for p in pods], [p.proxy for p in pods], self.options.translate_options
            )
            self._candidate_warnings = translation.warnings
        except TranslationError as exc:
            errors += exc.errors
        if errors:
            raise ValidationError(errors, source=source)
