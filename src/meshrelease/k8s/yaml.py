"""The one YAML loader of meshrelease: safe, line-tracking, with kubectl's strictness.

Every YAML file the harness reads (manifests, scenario files) goes through :class:`LineLoader`: PyYAML's
safe loader (libyaml's when available), with timestamps kept as strings (as Kubernetes' YAML-to-JSON
conversion keeps them) and duplicate keys rejected (as kubectl rejects them; PyYAML would keep the last).

Two views of a document, both from the same composed node tree:

- :func:`field_lines` — the line of every field path (``("spec", "http", 0)`` -> 14), for manifests, whose
  data stays plain dicts and lists;
- :func:`construct_with_lines` — :class:`LineDict` / :class:`LineList` (plain ``dict``/``list`` subclasses
  that also know the line of each key or item), for scenario files.

Syntax errors become :class:`~meshrelease.errors.UserInputError` naming the file and line. So do YAML alias
bombs: every composed document is measured before anything walks or constructs it, and one whose aliases
would add more than :data:`MAX_ALIAS_EXPANSION` nodes (or that refers to itself) is refused, naming the line of
the node that crossed the budget — a 641-byte "billion laughs" costs milliseconds, not gigabytes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from meshrelease.errors import UserInputError
from meshrelease.k8s.objects import FieldPath, format_path

MAX_DEPTH = 100
"""Deeper nesting than this is refused: no real manifest or scenario comes near it."""

MAX_ALIAS_EXPANSION = 10_000
"""How many nodes aliases may add to one document (its expanded size minus its distinct nodes). Ordinary
anchors (a shared label set, a merge key) add tens; an alias bomb adds billions."""

_SafeBase: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LineLoader(_SafeBase):  # type: ignore[valid-type,misc]
    """SafeLoader that keeps timestamps as strings."""


LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class LineDict(dict[str, Any]):
    """A mapping that knows its first line and the line of each key."""

    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list[Any]):
    """A sequence that knows its first line and the line of each item."""

    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        if 0 <= index < len(self.item_lines):
            return self.item_lines[index]
        return self.line


def yaml_error(exc: yaml.YAMLError, source: str) -> UserInputError:
    """A parse error as the user should see it: ``file:line: invalid YAML: … (column n)``."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        detail = exc.problem or exc.context or "syntax error"
        column = f" (column {mark.column + 1})" if mark is not None else ""
        return UserInputError(
            f"invalid YAML: {detail}{column}", path=source, line=mark.line + 1 if mark is not None else None
        )
    return UserInputError(f"invalid YAML: {exc}", path=source)


def compose_documents(text: str, source: str) -> Iterator[tuple[yaml.Node, LineLoader]]:
    """Each document's node tree (empty documents skipped), with the loader that can construct it.

    Refuses a document whose aliases expand it by more than :data:`MAX_ALIAS_EXPANSION` nodes."""
    loader = LineLoader(text)
    try:
        while True:
            try:
                if not loader.check_node():
                    break
                node = loader.get_node()
            except RecursionError:
                raise UserInputError(f"the document nests more than {MAX_DEPTH} levels deep", path=source) from None
            if node is not None:
                check_alias_expansion(node, source)
                yield node, loader
    except yaml.YAMLError as exc:
        raise yaml_error(exc, source) from None
    finally:
        loader.dispose()


def check_alias_expansion(root: yaml.Node, source: str) -> None:
    """Refuse ``root`` if expanding its aliases adds more than :data:`MAX_ALIAS_EXPANSION` nodes, or if an
    alias refers to a node that contains it. Linear in the distinct nodes (iterative, memoised by node)."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            size = 1 + sum(sizes[id(child)] for child in _children(node))
            sizes[key] = size
            if size - len(sizes) > MAX_ALIAS_EXPANSION:
                raise UserInputError(
                    f"YAML aliases expand this document by more than {MAX_ALIAS_EXPANSION} nodes "
                    "(an alias bomb?); meshrelease refuses it",
                    path=source,
                    line=node.start_mark.line + 1,
                    hint="write the repeated parts out, or use fewer nested aliases",
                )
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise UserInputError(
                "a YAML alias refers to a node that contains it (a recursive alias)",
                path=source,
                line=node.start_mark.line + 1,
            )
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


_FLOAT_TAG = "tag:yaml.org,2002:float"


def check_finite_numbers(root: yaml.Node, loader: LineLoader, source: str) -> None:
    """Refuse ``.nan``, ``.inf`` and numbers too large for a float (``1e999``) anywhere in the document,
    naming the field and line: JSON — and so Kubernetes — has no NaN or infinity, and no number the harness
    reads means anything as one. For manifests; the scenario loader checks its few numbers itself, with its
    own messages. Call on a document :func:`compose_documents` gave (its aliases are bounded)."""
    stack: list[tuple[yaml.Node, FieldPath]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, yaml.MappingNode):
            stack.extend(
                (value, (*path, str(key.value))) for key, value in node.value if isinstance(key, yaml.ScalarNode)
            )
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, (*path, index)) for index, item in enumerate(node.value))
        elif node.tag == _FLOAT_TAG and not math.isfinite(loader.construct_yaml_float(node)):
            raise UserInputError(
                f"{node.value} is not a finite number",
                path=source,
                line=node.start_mark.line + 1,
                field=format_path(path) if path else None,
                hint="NaN and infinity are refused wherever meshrelease reads a number (JSON, and so Kubernetes, "
                "has neither); write a finite number",
            )


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def field_lines(node: yaml.Node, source: str) -> dict[FieldPath, int]:
    """The line of every field path under ``node``; rejects duplicate keys and too deep nesting."""
    lines: dict[FieldPath, int] = {}
    _record_lines(node, (), lines, source, 0)
    return lines


def _record_lines(node: yaml.Node, path: FieldPath, lines: dict[FieldPath, int], source: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise UserInputError(
            f"the document nests more than {MAX_DEPTH} levels deep (a recursive YAML alias?)",
            path=source,
            line=node.start_mark.line + 1,
        )
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "<<":
                continue
            key, line = key_node.value, key_node.start_mark.line + 1
            if key in seen:
                raise UserInputError(
                    f'mapping key "{key}" already defined at line {seen[key]}',
                    path=source,
                    line=line,
                    hint="remove one of the two entries; kubectl rejects duplicate keys",
                )
            seen[key] = line
            lines[(*path, key)] = line
            _record_lines(value_node, (*path, key), lines, source, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _record_lines(item, (*path, index), lines, source, depth + 1)


def construct(node: yaml.Node, loader: LineLoader, source: str) -> Any:
    """The plain Python value of a composed document."""
    try:
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise yaml_error(exc, source) from None


def construct_with_lines(node: yaml.Node, loader: LineLoader, source: str) -> Any:
    """The document as :class:`LineDict` / :class:`LineList` (scalars as plain values)."""
    field_lines(node, source)  # duplicate keys and depth, checked once for the whole tree
    try:
        return _with_lines(node, loader)
    except yaml.YAMLError as exc:
        raise yaml_error(exc, source) from None


def _with_lines(node: yaml.Node, loader: LineLoader) -> Any:
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out = LineDict()
        out.line = node.start_mark.line + 1
        out.key_lines = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"unhashable or complex key {key!r}", key_node.start_mark
                )
            skey = key if isinstance(key, str) else str(key)
            out[skey] = _with_lines(value_node, loader)
            out.key_lines[skey] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        items = LineList(_with_lines(child, loader) for child in node.value)
        items.line = node.start_mark.line + 1
        items.item_lines = [child.start_mark.line + 1 for child in node.value]
        return items
    return loader.construct_object(node, deep=True)


def read_text(path: Path, what: str = "file") -> str:
    """The file's text as UTF-8; a missing, unreadable or non-UTF-8 file is a UserInputError."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserInputError(f"{what} not found", path=str(path), hint="check the path") from None
    except UnicodeDecodeError as exc:
        raise UserInputError(f"the {what} is not UTF-8 text (byte {exc.start}: {exc.reason})", path=str(path)) from None
    except OSError as exc:
        raise UserInputError(f"cannot read the {what}: {exc.strerror}", path=str(path)) from None


def load_with_lines(path: Path) -> Any:
    """The first document of ``path`` as :class:`LineDict` / :class:`LineList` (None for an empty file)."""
    source = str(path)
    for node, loader in compose_documents(read_text(path), source):
        return construct_with_lines(node, loader, source)
    return None


class _KubectlDumper(yaml.SafeDumper):
    """Dumps like kubectl: strings that would read back as another type (``"19"``, timestamps) in double
    quotes, other strings that need quoting in single quotes."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    tag = dumper.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    style = '"' if tag != "tag:yaml.org,2002:str" else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_KubectlDumper.add_representer(str, _represent_str)


def dump_like_kubectl(data: Any) -> str:
    """YAML as ``kubectl get -o yaml`` prints it: keys sorted, block style, strings quoted only when needed."""
    return yaml.dump(data, Dumper=_KubectlDumper, sort_keys=True, default_flow_style=False, allow_unicode=True)
