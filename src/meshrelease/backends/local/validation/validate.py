"""Validation of one applied object, in the order a real cluster runs it, with a real cluster's messages.

1. kubectl's strict field validation: unknown fields (``strict decoding error: unknown field ...``);
2. the API server: the schema (types, enums, required fields, ``oneOf``, Istio's duration rule) and, for
   Kubernetes kinds, names, ports, selectors and containers (``The Service "x" is invalid: ...``);
3. for Istio kinds, Istio's validating webhook (``admission webhook "validation.istio.io" denied the
   request: configuration is invalid: ...``), whose warnings kubectl prints as ``Warning: ...``.

A stage only runs when the previous one passed, as on a cluster. The result is one error entry per
rejected object, prefixed with ``file:line: Kind namespace/name:``; the line is the first problem's field
when the manifest was loaded from a file, else the document's first line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from meshrelease.backends.local.validation.common import Problem
from meshrelease.backends.local.validation.gateway_api import gateway_api_problems
from meshrelease.backends.local.validation.gateway_api_schema import SPECS as GATEWAY_API_SPECS
from meshrelease.backends.local.validation.istio import webhook_validate
from meshrelease.backends.local.validation.istio_cel import istio_cel_problems
from meshrelease.backends.local.validation.istio_schema import SPECS
from meshrelease.backends.local.validation.kube import kube_problems, metadata_problems
from meshrelease.backends.local.validation.kube_schema import OBJECT_SCHEMAS, envelope
from meshrelease.backends.local.validation.schema import Obj, check_schema
from meshrelease.k8s.kinds import (
    KindInfo,
    kind_info,
    unknown_version_message,
    unsupported_kind_message,
)
from meshrelease.k8s.manifest import Origin
from meshrelease.k8s.objects import GATEWAY_API_GROUP, ISTIO_GROUP, ObjectKey, format_path

WEBHOOK_PREFIX = 'admission webhook "validation.istio.io" denied the request: configuration is invalid: '

_SCHEMAS: dict[tuple[str, str], Obj] = {
    **{("apps" if kind == "Deployment" else "", kind): schema for kind, schema in OBJECT_SCHEMAS.items()},
    **{(ISTIO_GROUP, kind): envelope(spec) for kind, spec in SPECS.items()},
    **{(GATEWAY_API_GROUP, kind): envelope(spec) for kind, spec in GATEWAY_API_SPECS.items()},
}


@dataclass
class ObjectReport:
    """Validation outcome of one object: error entries (non-empty = rejected) and kubectl-style warnings."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def identify(doc: Mapping[str, Any], origin: Origin) -> tuple[KindInfo, ObjectKey] | str:
    """The kind and identity of a document, or the error entry that explains why it has none."""
    api_version, kind = _text(doc.get("apiVersion")), _text(doc.get("kind"))
    metadata = _mapping(doc.get("metadata"))
    name = _text(metadata.get("name"))
    missing = [text for text, ok in (("apiVersion not set", api_version), ("kind not set", kind)) if not ok]
    if not name:
        missing.append("metadata.name: Required value (every object needs a name)")
    if missing:
        what = f"{kind} " if kind else "object "
        return f"{origin.where()}{what}{name or '(unnamed)'}: error validating data: [{', '.join(missing)}]"
    assert api_version is not None and kind is not None and name is not None
    info = kind_info(kind, api_version)
    if info is None:
        return f"{origin.where(('kind',))}{kind} {name}: {unsupported_kind_message(kind, api_version)}"
    if api_version not in info.api_versions:
        return f"{origin.where(('apiVersion',))}{kind} {name}: {unknown_version_message(info, api_version)}"
    namespace = ""
    if info.namespaced:
        namespace = _text(metadata.get("namespace")) or "default"
    return info, ObjectKey(info.group, info.kind, namespace, name)


def validate_object(doc: Mapping[str, Any], info: KindInfo, key: ObjectKey, origin: Origin) -> ObjectReport:
    """Validate one object (null fields already dropped, as the API server drops them)."""
    report = ObjectReport()
    ref = key.ref()
    schema = check_schema(_SCHEMAS[(info.group, info.kind)], doc)
    if schema.unknown:
        version = str(doc.get("apiVersion", "")).rpartition("/")[2]
        fields = ", ".join(p.message for p in schema.unknown)
        message = (
            f'{info.kind} in version "{version}" cannot be handled as a {info.kind}: strict decoding error: {fields}'
        )
        report.errors.append(f"{origin.where(schema.unknown[0].path)}{ref}: {message}")
        return report
    problems = schema.errors
    if not problems:
        if info.is_gateway_api:
            spec = _mapping(doc.get("spec"))
            problems = metadata_problems(info.kind, doc) + gateway_api_problems(info.kind, spec)
        elif info.is_istio:
            problems = metadata_problems(info.kind, doc) + istio_cel_problems(info.kind, _mapping(doc.get("spec")))
        else:
            problems = kube_problems(info.kind, doc)
    if problems:
        report.errors.append(
            f"{origin.where(problems[0].path)}{ref}: {_api_server_message(info.kind, key.name, problems)}"
        )
        return report
    if not info.is_istio:
        return report
    spec = _mapping(doc.get("spec"))
    result = webhook_validate(info.kind, spec, key.namespace, key.name)
    if result.errors:
        where = origin.where(result.errors[0].path)
        report.errors.append(f"{where}{ref}: {WEBHOOK_PREFIX}{_join_webhook(result.errors, origin)}")
    report.warnings += [f"Warning: ({ref}) {w.message}" for w in result.warnings]
    return report


def _api_server_message(kind: str, name: str, problems: Sequence[Problem]) -> str:
    """``The Kind "name" is invalid: <error>`` or, for several, ``... is invalid: [<e1>, <e2>]``."""
    messages = [p.message for p in problems]
    body = messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"
    return f'The {kind} "{name}" is invalid: {body}'


def _join_webhook(problems: Sequence[Problem], origin: Origin) -> str:
    """Istio joins several errors the way hashicorp/go-multierror prints them; each message here also
    says which field it is about (Istio's own messages do not)."""

    def located(problem: Problem) -> str:
        where = format_path(problem.path)
        line = origin.line_of(problem.path) if origin.lines else None
        suffix = f"{where}, line {line}" if line is not None and len(problems) > 1 else where
        return f"{problem.message} (at {suffix})" if where else problem.message

    if len(problems) == 1:
        return located(problems[0])
    items = "".join(f"\n\t* {located(p)}" for p in problems)
    return f"{len(problems)} errors occurred:{items}"
