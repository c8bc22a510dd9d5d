"""The local mesh's object store: applied objects with ``kubectl apply`` semantics.

* Manifests: :func:`load_manifests` / :func:`load_manifest_text` read multi-document YAML (safe loading,
  ``kind: List`` expanded) into :class:`Manifest` dicts that remember their file and the line of every
  field, so errors can say ``file:line``.
* :class:`ObjectStore` keeps objects by identity (API group, kind, namespace, name: networking.istio.io
  v1, v1beta1 and v1alpha3 are one object). ``apply`` creates or replaces, ``delete`` removes; both are
  all-or-nothing: every document is validated first (:mod:`meshrelease.backends.local.validation.validate`), an optional
  ``check`` sees the whole candidate state, and only then is anything committed. Output lines are
  kubectl's; warnings come from Istio's webhook and from :func:`meshrelease.backends.local.apiserver.analysis.analyze`.
"""

from __future__ import annotations

import base64
import builtins
import copy
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from meshrelease.backends.base import ApplyResult
from meshrelease.backends.local.apiserver.analysis import analyze
from meshrelease.backends.local.model import StoredObject
from meshrelease.backends.local.validation.validate import identify, validate_object
from meshrelease.errors import UserInputError, ValidationError
from meshrelease.k8s.kinds import KindInfo, kind_for_key, kind_info, require_kind
from meshrelease.k8s.manifest import Manifest, Origin, describe_value
from meshrelease.k8s.objects import ObjectKey
from meshrelease.k8s.yaml import dump_like_kubectl

BUILTIN_NAMESPACES = ("default", "istio-system", "kube-system")
"""Namespaces that exist from the start and cannot be deleted (the local mesh's gateway runs in
istio-system)."""

NAMESPACE_HINT = "create the Namespace first, or put it in the same file before the objects that use it"
_SERVER_FIELDS = ("creationTimestamp", "resourceVersion", "uid", "generation", "managedFields", "selfLink")
_MAX_DEPTH = 100


# ------------------------------------------------------------------------------------------ the store
def _utc_now() -> datetime:
    return datetime.now(UTC)


def _plain(value: Any, depth: int = 0) -> Any:
    """A deep copy as JSON-like data: string keys, null fields dropped (as the API server drops them),
    binary as base64 text."""
    if depth > _MAX_DEPTH:
        raise UserInputError("the object nests too deeply (a recursive YAML alias?)")
    if isinstance(value, Mapping):
        return {_key(k): _plain(v, depth + 1) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def _key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


@dataclass
class _Prepared:
    index: int  # position of the document in the apply, to report errors in document order
    info: KindInfo
    key: ObjectKey
    body: dict[str, Any]
    origin: Origin


@dataclass
class _Counters:
    seq: int
    revision: int
    changed: bool = False


@dataclass
class _Batch:
    prepared: list[_Prepared] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (document index, entry)
    warnings: list[str] = field(default_factory=list)


class DeleteError(ValidationError):
    """Raised when a delete names objects that do not exist (or may not be deleted); nothing was deleted."""

    def __init__(self, errors: Sequence[str], *, source: str | None = None, hint: str | None = None) -> None:
        super().__init__(errors, source=source, hint=hint)
        head = f'error when deleting "{source}"' if source else "the objects were not deleted"
        body = "\n".join(f"  - {e}" for e in self.errors)
        self.message = f"{head}; nothing was changed:\n{body}"
        self.args = (self.message,)


def _delete_line(key: ObjectKey) -> str:
    kind = key.kind.lower()
    shown = f"{kind}.{key.group}" if key.group else kind
    return f'{shown} "{key.name}" deleted'


class ObjectStore:
    """Applied Kubernetes and Istio objects with ``kubectl apply`` semantics. Thread-safe.

    ``clock`` returns the current time (aware datetime); tests inject a fixed one."""

    def __init__(self, *, clock: Callable[[], datetime] | None = None) -> None:
        self._clock = clock or _utc_now
        self._lock = threading.RLock()
        self._objects: dict[ObjectKey, StoredObject] = {}
        self._seq = 0
        self._revision = 0
        counters = _Counters(0, 0)
        for name in BUILTIN_NAMESPACES:
            info = kind_info("Namespace")
            assert info is not None
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            key = ObjectKey("", "Namespace", "", name)
            self._put(self._objects, _Prepared(0, info, key, body, Origin()), counters)
        self._seq, self._revision = counters.seq, counters.revision

    # ----------------------------------------------------------------------------- reading
    @property
    def revision(self) -> int:
        """Bumps on every change of any object (it is the resourceVersion of the last change)."""
        with self._lock:
            return self._revision

    def get(self, key: ObjectKey) -> StoredObject | None:
        """A copy of the object with this identity, or None."""
        with self._lock:
            obj = self._objects.get(key)
            return copy.deepcopy(obj) if obj is not None else None

    def list(self, kind: str | None = None, namespace: str | None = None) -> builtins.list[StoredObject]:
        """Copies of the objects of ``kind`` (any kubectl name: ``vs``, ``virtualservices``...) in
        ``namespace`` (ignored for cluster-scoped kinds), sorted by kind, namespace, name."""
        group_kind = self.resolve_kind(kind) if kind is not None else None
        with self._lock:
            found = []
            for obj in self._objects.values():
                if group_kind is not None and (obj.key.group, obj.key.kind) != group_kind:
                    continue
                if namespace is not None and obj.key.namespace and obj.key.namespace != namespace:
                    continue
                found.append(obj)
            return copy.deepcopy(_sorted(found))

    def objects(self) -> builtins.list[StoredObject]:
        """A consistent snapshot of every object (copies), sorted by kind, namespace, name."""
        with self._lock:
            return copy.deepcopy(_sorted(self._objects.values()))

    @staticmethod
    def resolve_kind(name: str) -> tuple[str, str]:
        """``(group, kind)`` for a kubectl kind name (``vs``, ``virtualservice``, ``virtualservices``,
        ``virtualservices.networking.istio.io``, ``dr``, ``gw``, ``svc``, ``deploy``, ``sa``, ``ns``...)."""
        info = require_kind(name, hint="the local backend has vs, dr, gw, gtw, httproute, svc, deploy, sa and ns")
        return info.group, info.kind

    def to_yaml(self, obj: StoredObject) -> str:
        """The object as ``kubectl get -o yaml`` prints it (server fields in metadata, keys sorted)."""
        return dump_like_kubectl(self.to_object(obj))

    @staticmethod
    def to_object(obj: StoredObject) -> dict[str, Any]:
        """The object as the API server returns it: its body with the server's fields in metadata."""
        body = copy.deepcopy(obj.body)
        metadata = dict(body.get("metadata") or {})
        metadata["creationTimestamp"] = obj.created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        metadata["generation"] = obj.generation
        metadata["resourceVersion"] = str(obj.resource_version)
        if obj.key.namespace:
            metadata["namespace"] = obj.key.namespace
        body.update({"apiVersion": obj.api_version, "kind": obj.key.kind, "metadata": metadata})
        return body

    # ----------------------------------------------------------------------------- writing
    def apply(
        self,
        docs: Sequence[Mapping[str, Any]],
        *,
        source: str | None = None,
        check: Callable[[builtins.list[StoredObject]], None] | None = None,
    ) -> ApplyResult:
        """Create or replace every object, all-or-nothing.

        Raises ValidationError listing every problem (``file:line: Kind ns/name: message``) and changes
        nothing if any document is invalid, names a namespace that does not exist, or if ``check`` (given
        copies of every object as they would be after the apply) raises."""
        with self._lock:
            batch = self._prepare(docs, source)
            candidate = dict(self._objects)
            counters = _Counters(self._seq, self._revision)
            lines = []
            namespace_missing = False
            for item in batch.prepared:
                namespace = item.key.namespace
                if namespace and ObjectKey("", "Namespace", "", namespace) not in candidate:
                    where = item.origin.where(("metadata", "namespace"))
                    batch.errors.append((item.index, f'{where}{item.key.ref()}: namespaces "{namespace}" not found'))
                    namespace_missing = True
                    continue
                lines.append(self._put(candidate, item, counters))
            if batch.errors:
                errors = [entry for _, entry in sorted(batch.errors, key=lambda e: e[0])]
                hint = NAMESPACE_HINT if namespace_missing else None
                raise ValidationError(errors, source=_source_name(source, docs), hint=hint)
            if counters.changed and check is not None:
                check(copy.deepcopy(_sorted(candidate.values())))
            before = list(self._objects.values())
            self._commit(candidate, counters)
            touched = {item.key for item in batch.prepared}
            return ApplyResult(lines=lines, warnings=batch.warnings + _relevant_warnings(before, candidate, touched))

    def delete(
        self, docs: Sequence[Mapping[str, Any]], *, source: str | None = None, ignore_not_found: bool = False
    ) -> ApplyResult:
        """Delete the objects the documents identify (apiVersion/kind/namespace/name), all-or-nothing.
        Deleting a Namespace deletes what is in it. Raises DeleteError for objects that do not exist
        (unless ``ignore_not_found``)."""
        with self._lock:
            targets: builtins.list[tuple[ObjectKey, Origin]] = []
            errors = []
            for index, doc in enumerate(docs):
                origin = _origin(doc, source)
                body = _plain(doc)
                found = identify(body, origin) if isinstance(body, dict) else _not_an_object(index, body, origin)
                if isinstance(found, str):
                    errors.append(found)
                else:
                    targets.append((found[1], origin))
            return self._delete(targets, errors, source=_source_name(source, docs), ignore_not_found=ignore_not_found)

    def delete_keys(self, keys: Iterable[ObjectKey], *, ignore_not_found: bool = False) -> ApplyResult:
        """Delete objects by identity, all-or-nothing (as :meth:`delete`)."""
        with self._lock:
            return self._delete([(k, Origin()) for k in keys], [], source=None, ignore_not_found=ignore_not_found)

    # ----------------------------------------------------------------------------- internals
    def _prepare(self, docs: Sequence[Mapping[str, Any]], source: str | None) -> _Batch:
        batch = _Batch()
        for index, doc in enumerate(docs):
            origin = _origin(doc, source)
            body = _plain(doc)
            found = identify(body, origin) if isinstance(body, dict) else _not_an_object(index, body, origin)
            if isinstance(found, str):
                batch.errors.append((index, found))
                continue
            info, key = found
            report = validate_object(body, info, key, origin)
            batch.errors += [(index, e) for e in report.errors]
            batch.warnings += report.warnings
            if not report.errors:
                batch.prepared.append(_Prepared(index, info, key, _stored_body(body, key), origin))
        return batch

    def _put(self, objects: dict[ObjectKey, StoredObject], item: _Prepared, counters: _Counters) -> str:
        existing = objects.get(item.key)
        api_version = str(item.body["apiVersion"])
        if existing is None:
            counters.seq += 1
            counters.revision += 1
            counters.changed = True
            objects[item.key] = StoredObject(
                key=item.key,
                api_version=api_version,
                body=item.body,
                generation=1,
                created=self._clock(),
                seq=counters.seq,
                resource_version=counters.revision,
            )
            return f"{item.key.display()} created"
        if existing.body == item.body:
            return f"{item.key.display()} unchanged"
        counters.revision += 1
        counters.changed = True
        spec_changed = existing.body.get("spec") != item.body.get("spec")
        objects[item.key] = StoredObject(
            key=item.key,
            api_version=api_version,
            body=item.body,
            generation=existing.generation + (1 if spec_changed else 0),
            created=existing.created,
            seq=existing.seq,
            resource_version=counters.revision,
        )
        return f"{item.key.display()} configured"

    def _delete(
        self,
        targets: builtins.list[tuple[ObjectKey, Origin]],
        errors: builtins.list[str],
        *,
        source: str | None,
        ignore_not_found: bool,
    ) -> ApplyResult:
        candidate = dict(self._objects)
        counters = _Counters(self._seq, self._revision)
        cascaded: set[ObjectKey] = set()
        lines = []
        for key, origin in targets:
            if key.kind == "Namespace" and key.name in BUILTIN_NAMESPACES:
                forbidden = f'namespaces "{key.name}" is forbidden: this namespace may not be deleted'
                errors.append(f"{origin.where()}{key.ref()}: {forbidden}")
            elif key in candidate:
                del candidate[key]
                counters.revision += 1
                lines.append(_delete_line(key))
                if key.kind == "Namespace":
                    for inner in [k for k in candidate if k.namespace == key.name]:
                        del candidate[inner]
                        counters.revision += 1
                        cascaded.add(inner)
            elif key in cascaded:
                cascaded.discard(key)
                lines.append(_delete_line(key))
            elif not ignore_not_found:
                info = kind_for_key(key.group, key.kind)
                resource = info.resource if info is not None else key.kind.lower()
                not_found = f'Error from server (NotFound): {resource} "{key.name}" not found'
                errors.append(f"{origin.where()}{key.ref()}: {not_found}")
        if errors:
            raise DeleteError(errors, source=source)
        before = list(self._objects.values())
        self._commit(candidate, counters)
        return ApplyResult(lines=lines, warnings=_relevant_warnings(before, candidate, set()))

    def _commit(self, candidate: dict[ObjectKey, StoredObject], counters: _Counters) -> None:
        self._objects = candidate
        self._seq = counters.seq
        self._revision = counters.revision


def _not_an_object(index: int, value: Any, origin: Origin) -> str:
    return f"{origin.where()}document {index + 1} is {describe_value(value)}, not a Kubernetes object"


def _sorted(objects: Iterable[StoredObject]) -> list[StoredObject]:
    return sorted(objects, key=lambda o: (o.key.kind, o.key.namespace, o.key.name))


def _origin(doc: Mapping[str, Any], source: str | None) -> Origin:
    if isinstance(doc, Manifest):
        return doc.origin
    return Origin(source)


def _source_name(source: str | None, docs: Sequence[Mapping[str, Any]]) -> str | None:
    """The apply's name for error headers: ``source``, else the one file every manifest came from."""
    if source is not None:
        return source
    files = {d.source for d in docs if isinstance(d, Manifest)}
    return files.pop() if len(files) == 1 else None


def _stored_body(body: dict[str, Any], key: ObjectKey) -> dict[str, Any]:
    """The object as stored: server-managed metadata and status dropped, the namespace filled in (or
    removed for cluster-scoped kinds)."""
    stored = {k: v for k, v in body.items() if k != "status"}
    metadata = {k: v for k, v in dict(stored.get("metadata") or {}).items() if k not in _SERVER_FIELDS}
    if key.namespace:
        metadata["namespace"] = key.namespace
    else:
        metadata.pop("namespace", None)
    stored["metadata"] = metadata
    return stored


def _relevant_warnings(
    before: list[StoredObject], after: dict[ObjectKey, StoredObject], touched: set[ObjectKey]
) -> list[str]:
    """Analyzer findings worth printing for one change: those about the objects it applied, and those the
    change caused elsewhere (e.g. a deleted DestinationRule leaving a VirtualService's subset undefined).
    Findings that stood before and concern other objects are not repeated on every apply."""
    old = set(analyze(before))
    refs = {f"({key.kind} {key.namespace}/{key.name})" for key in touched}
    return [w for w in analyze(list(after.values())) if w not in old or any(ref in w for ref in refs)]
