"""A small structural-schema language and the checker the API server would run with it.

Schemas are data (see :mod:`validation_istio_schema` and :mod:`validation_kube_schema`). The checker
reports what a Kubernetes API server reports before any admission webhook runs:

* unknown fields, as kubectl's strict field validation prints them (``unknown field "spec.http[0].rout"``);
* type, enum, range and required-field errors, a ``oneOf`` violation and the duration rule of Istio's
  CRDs, each formatted like the API server's field errors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from meshrelease.backends.local.validation.common import Problem, go_quote, go_value, json_type, parse_duration_ns
from meshrelease.k8s.objects import FieldPath as Path
from meshrelease.k8s.objects import format_path

ScalarType = Literal["string", "integer", "number", "boolean"]


@dataclass(frozen=True)
class Obj:
    """An object with known fields. ``one_of`` lists groups of fields of which at most one may be set."""

    fields: Mapping[str, Node]
    required: tuple[str, ...] = ()
    one_of: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Arr:
    items: Node
    max_items: int | None = None
    min_items: int | None = None


@dataclass(frozen=True)
class MapOf:
    """An object with arbitrary keys (``additionalProperties``), every value following ``values``."""

    values: Node


@dataclass(frozen=True)
class Scalar:
    type: ScalarType
    enum: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    # Istio's CRDs check durations with a CEL rule; the value is the smallest duration allowed, in ns.
    min_duration_ns: int | None = None
    duration_message: str = ""
    int_or_string: bool = False
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None  # an ECMA/RE2-compatible regex the whole value must match (re.search, as the CRD)


@dataclass(frozen=True)
class AnyValue:
    """Anything goes (a part of the API the local backend does not model field by field)."""


Node = Obj | Arr | MapOf | Scalar | AnyValue

ANY = AnyValue()
STRING = Scalar("string")
BOOL = Scalar("boolean")
NUMBER = Scalar("number")
INT32 = Scalar("integer")
UINT32 = Scalar("integer", minimum=0, maximum=4294967295)
INT_OR_STRING = Scalar("string", int_or_string=True)
STRINGS = Arr(STRING)
STRING_MAP = MapOf(STRING)
DURATION = Scalar("string", min_duration_ns=1_000_000, duration_message="must be a valid duration greater than 1ms")
DURATION_ANY = Scalar("string", min_duration_ns=0, duration_message="must be a valid duration greater than 0s")


def enum(*values: str) -> Scalar:
    """A string restricted to ``values`` (a proto enum in Istio's CRDs)."""
    return Scalar("string", enum=values)


@dataclass
class SchemaReport:
    """Findings of one object: unknown fields (strict decoding) and schema errors, separately."""

    unknown: list[Problem] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)


def check_schema(node: Node, value: Any, path: Path = ()) -> SchemaReport:
    """Check ``value`` against ``node``; ``path`` is where ``value`` sits in the object."""
    report = SchemaReport()
    _check(node, value, path, report)
    return report


def _check(node: Node, value: Any, path: Path, report: SchemaReport) -> None:
    if isinstance(node, AnyValue):
        return
    if isinstance(node, Obj):
        if not isinstance(value, dict):
            report.errors.append(_type_error(path, "object", value))
            return
        for key in value:
            if key not in node.fields:
                report.unknown.append(Problem((*path, key), f"unknown field {go_quote(format_path((*path, key)))}"))
        for key, sub in node.fields.items():
            if key in value and value[key] is not None:
                _check(sub, value[key], (*path, key), report)
        for key in node.required:
            if value.get(key) is None:
                report.errors.append(Problem((*path, key), f"{format_path((*path, key))}: Required value"))
        for group in node.one_of:
            present = [k for k in group if value.get(k) is not None]
            if len(present) > 1:
                report.errors.append(
                    Problem(
                        path,
                        f'<nil>: Invalid value: "": {go_quote(format_path(path))} must validate one and '
                        f"only one schema (oneOf). Found {len(present)} valid alternatives",
                    )
                )
        return
    if isinstance(node, Arr):
        if not isinstance(value, list):
            report.errors.append(_type_error(path, "array", value))
            return
        where = format_path(path)
        if node.max_items is not None and len(value) > node.max_items:
            report.errors.append(
                Problem(path, f"{where}: Too many: {len(value)}: must have at most {node.max_items} items")
            )
        if node.min_items is not None and len(value) < node.min_items:
            report.errors.append(
                Problem(
                    path,
                    f"{where}: Invalid value: {len(value)}: {where} in body should have at least "
                    f"{node.min_items} items",
                )
            )
        for index, item in enumerate(value):
            _check(node.items, item, (*path, index), report)
        return
    if isinstance(node, MapOf):
        if not isinstance(value, dict):
            report.errors.append(_type_error(path, "object", value))
            return
        for key, item in value.items():
            if item is not None:
                _check(node.values, item, (*path, key), report)
        return
    _check_scalar(node, value, path, report)


def _check_scalar(node: Scalar, value: Any, path: Path, report: SchemaReport) -> None:
    where = format_path(path)
    if node.int_or_string:
        if isinstance(value, bool) or not isinstance(value, int | str):
            report.errors.append(_type_error(path, "integer or string", value))
        return
    if not _has_type(value, node.type):
        report.errors.append(_type_error(path, node.type, value))
        return
    if node.enum and value not in node.enum:
        supported = ", ".join(go_quote(v) for v in node.enum)
        report.errors.append(
            Problem(path, f"{where}: Unsupported value: {go_quote(str(value))}: supported values: {supported}")
        )
    if node.minimum is not None and value < node.minimum:
        report.errors.append(
            Problem(
                path,
                f"{where}: Invalid value: {go_value(value)}: {where} in body should be greater than or "
                f"equal to {node.minimum}",
            )
        )
    if node.maximum is not None and value > node.maximum:
        report.errors.append(
            Problem(
                path,
                f"{where}: Invalid value: {go_value(value)}: {where} in body should be less than or equal to "
                f"{node.maximum}",
            )
        )
    if isinstance(value, str):
        _check_string(node, value, path, report)
    if node.min_duration_ns is not None:
        parsed = parse_duration_ns(value)
        if parsed is None or parsed < node.min_duration_ns:
            report.errors.append(Problem(path, f'{where}: Invalid value: "string": {node.duration_message}'))


def _check_string(node: Scalar, value: str, path: Path, report: SchemaReport) -> None:
    """maxLength, minLength and pattern, worded as the API server words them."""
    where = format_path(path)
    if node.max_length is not None and len(value.encode()) > node.max_length:
        report.errors.append(Problem(path, f"{where}: Too long: may not be more than {node.max_length} bytes"))
    if node.min_length is not None and len(value) < node.min_length:
        report.errors.append(
            Problem(
                path,
                f"{where}: Invalid value: {go_quote(value)}: {where} in body should be at least "
                f"{node.min_length} chars long",
            )
        )
    if node.pattern is not None and re.search(node.pattern, value) is None:
        report.errors.append(
            Problem(
                path,
                f"{where}: Invalid value: {go_quote(value)}: {where} in body should match '{node.pattern}'",
            )
        )


def _has_type(value: Any, expected: ScalarType) -> bool:
    if isinstance(value, bool):
        return expected == "boolean"
    if expected == "string":
        return isinstance(value, str)
    if expected == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if expected == "number":
        return isinstance(value, int | float)
    return False


def _type_error(path: Path, expected: str, value: Any) -> Problem:
    where = format_path(path)
    given = json_type(value)
    return Problem(path, f'{where}: Invalid value: "{given}": {where} in body must be of type {expected}: "{given}"')
