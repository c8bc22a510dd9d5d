"""Manifests: Kubernetes objects read from YAML, each remembering its file and the line of every field.

:func:`load_manifests` / :func:`load_manifest_text` read multi-document YAML (``kind: List`` expanded) into
:class:`Manifest` dicts; :class:`Origin` turns a field path into ``file:line: `` for error messages. Every
backend and the step runner read manifests through here.
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from meshrelease.errors import UserInputError
from meshrelease.k8s.kinds import kind_info
from meshrelease.k8s.objects import FieldPath
from meshrelease.k8s.yaml import check_finite_numbers, compose_documents, construct, field_lines, read_text


@dataclass(frozen=True)
class Origin:
    """Where a document came from: file (or the apply's source name), its first line, and the line of
    each field path when it was read from YAML."""

    source: str | None = None
    line: int | None = None
    lines: Mapping[FieldPath, int] = field(default_factory=dict)

    def line_of(self, path: FieldPath) -> int | None:
        """The line of ``path``, or of its closest ancestor that has one, or the document's first line."""
        for size in range(len(path), 0, -1):
            line = self.lines.get(path[:size])
            if line is not None:
                return line
        return self.line

    def where(self, path: FieldPath = ()) -> str:
        """``file:line: `` (or ``file: ``, or "" when nothing is known) for an error about ``path``."""
        if self.source is None:
            return ""
        line = self.line_of(path)
        return f"{self.source}:{line}: " if line is not None else f"{self.source}: "


class Manifest(dict[str, Any]):
    """One object read from a manifest: the object itself (a plain dict) plus where it came from.

    ``source`` is the file, ``line`` the document's first line, ``lines`` the line of each field path
    (``("spec", "http", 0, "route")`` -> 14)."""

    def __init__(
        self, data: Mapping[str, Any], *, source: str, line: int, lines: Mapping[FieldPath, int] | None = None
    ) -> None:
        super().__init__(data)
        self.source = source
        self.line = line
        self.lines: dict[FieldPath, int] = dict(lines or {})

    @property
    def origin(self) -> Origin:
        """Where this manifest came from, for error messages."""
        return Origin(self.source, self.line, self.lines)

    def derive(self, data: Mapping[str, Any]) -> Manifest:
        """A changed copy of this manifest (e.g. with a namespace filled in) that keeps its file and lines,
        so errors about it still say ``file:line``."""
        return Manifest(data, source=self.source, line=self.line, lines=self.lines)


def _namespaced(doc: Mapping[str, Any]) -> bool:
    api_version = doc.get("apiVersion")
    info = kind_info(str(doc.get("kind", "")), api_version if isinstance(api_version, str) else None)
    return info.namespaced if info is not None else doc.get("kind") != "Namespace"


def with_default_namespace(doc: Manifest, namespace: str) -> Manifest:
    """``doc`` with ``metadata.namespace`` set to ``namespace`` when its kind is namespaced and it names none."""
    metadata = doc.get("metadata")
    if not _namespaced(doc) or not isinstance(metadata, Mapping) or metadata.get("namespace"):
        return doc
    return doc.derive({**doc, "metadata": {**metadata, "namespace": namespace}})


def namespace_conflict(doc: Manifest, namespace: str) -> str | None:
    """kubectl's error for ``-n namespace`` and an object that names another namespace (None: no conflict)."""
    metadata = doc.get("metadata")
    own = metadata.get("namespace") if isinstance(metadata, Mapping) else None
    if not own or own == namespace or not _namespaced(doc):
        return None
    return (
        f'{doc.origin.where(("metadata", "namespace"))}the namespace from the provided object "{own}" does not '
        f"match the namespace \"{namespace}\". You must pass '--namespace={own}' to perform this operation."
    )


MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


def manifest_files_in(folder: pathlib.Path, *, recursive: bool = False) -> list[pathlib.Path]:
    """The manifest files (``*.yaml``, ``*.yml``, ``*.json``) of ``folder`` in name order; with ``recursive``,
    of its subfolders too (as ``kubectl apply -f DIR -R``)."""
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in folder.glob(pattern) if p.suffix in MANIFEST_SUFFIXES and p.is_file())


def load_manifests(path: str | pathlib.Path) -> list[Manifest]:
    """Read every object of a manifest file (or of the ``*.yaml``/``*.yml``/``*.json`` files of a directory,
    in name order). Raises UserInputError naming the file and line of the problem."""
    target = pathlib.Path(path)
    if target.is_dir():
        return [m for f in manifest_files_in(target) for m in load_manifests(f)]
    return load_manifest_text(read_text(target, "manifest file"), str(path))


def load_manifest_text(text: str, source: str) -> list[Manifest]:
    """Parse multi-document YAML into manifests; empty documents are skipped, ``kind: List`` is expanded."""
    manifests: list[Manifest] = []
    for number, (node, loader) in enumerate(compose_documents(text, source), start=1):
        lines = field_lines(node, source)
        check_finite_numbers(node, loader, source)
        data = construct(node, loader, source)
        if data is None:
            continue
        manifests += _document_manifests(data, source, node.start_mark.line + 1, lines, number)
    return manifests


def describe_value(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__} value"


def _document_manifests(data: Any, source: str, line: int, lines: dict[FieldPath, int], number: int) -> list[Manifest]:
    if not isinstance(data, dict):
        raise UserInputError(
            f"document {number} is {describe_value(data)}, not a Kubernetes object",
            path=source,
            line=line,
            hint="every document must be a mapping with apiVersion, kind and metadata.name",
        )
    if data.get("kind") == "List" and "items" in data:
        items = data["items"]
        if not isinstance(items, list):
            raise UserInputError(f"document {number}: a List's items must be a list", path=source, line=line)
        manifests = []
        for index, item in enumerate(items):
            prefix: FieldPath = ("items", index)
            item_lines = {p[2:]: n for p, n in lines.items() if p[:2] == prefix and len(p) > 2}
            item_line = lines.get(prefix, line)
            if not isinstance(item, dict):
                raise UserInputError(
                    f"document {number}, item {index} is {describe_value(item)}, not a Kubernetes object",
                    path=source,
                    line=item_line,
                )
            manifests.append(_manifest(item, source, item_line, item_lines, f"document {number}, item {index}"))
        return manifests
    return [_manifest(data, source, line, lines, f"document {number}")]


def _manifest(data: dict[str, Any], source: str, line: int, lines: dict[FieldPath, int], what: str) -> Manifest:
    metadata = data.get("metadata")
    kind = data.get("kind")
    label = f"{what} ({kind})" if isinstance(kind, str) and kind else what
    for field_name, value in (("apiVersion", data.get("apiVersion")), ("kind", kind)):
        if not isinstance(value, str) or not value:
            raise UserInputError(
                f'{label} has no "{field_name}"',
                path=source,
                line=line,
                hint="every object needs apiVersion, kind and metadata.name",
            )
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if not isinstance(name, str) or not name:
        raise UserInputError(
            f'{label} has no "metadata.name"',
            path=source,
            line=lines.get(("metadata",), line),
            hint="every object needs apiVersion, kind and metadata.name",
        )
    return Manifest(data, source=source, line=line, lines=lines)
