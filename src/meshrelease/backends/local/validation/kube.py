"""What the Kubernetes API server checks beyond the schema: names, labels, Service ports, Deployment
selectors and containers. Messages are the API server's field errors (``spec.ports[0].port: Required
value``); :mod:`meshrelease.backends.local.validation.validate` wraps them as ``The Service "x" is invalid: ...``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from meshrelease.backends.local.validation.common import (
    DNS1035_LABEL_MSG,
    DNS1123_LABEL_MSG,
    DNS1123_SUBDOMAIN_MSG,
    LABEL_VALUE_MSG,
    Problem,
    go_quote,
    go_value,
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_label_value,
    label_key_problem,
)
from meshrelease.k8s.objects import FieldPath as Path
from meshrelease.k8s.objects import format_path

_PORT_RANGE = "must be between 1 and 65535, inclusive"


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _invalid(path: Path, value: Any, message: str) -> Problem:
    shown = go_quote(value) if isinstance(value, str) else go_value(value)
    return Problem(path, f"{format_path(path)}: Invalid value: {shown}: {message}")


def _required(path: Path, detail: str = "") -> Problem:
    return Problem(path, f"{format_path(path)}: Required value" + (f": {detail}" if detail else ""))


def _duplicate(path: Path, value: str) -> Problem:
    return Problem(path, f"{format_path(path)}: Duplicate value: {go_quote(value)}")


def name_problems(kind: str, name: str) -> list[Problem]:
    """``metadata.name`` rules: DNS-1123 label for Namespaces, DNS-1035 label for Services, DNS-1123
    subdomain for everything else."""
    path: Path = ("metadata", "name")
    if kind == "Namespace":
        ok, message, limit = is_dns1123_label(name), DNS1123_LABEL_MSG, 63
    elif kind == "Service":
        ok, message, limit = is_dns1035_label(name), DNS1035_LABEL_MSG, 63
    else:
        ok, message, limit = is_dns1123_subdomain(name), DNS1123_SUBDOMAIN_MSG, 253
    if ok:
        return []
    if len(name) > limit:
        message = f"must be no more than {limit} characters"
    return [_invalid(path, name, message)]


def label_problems(labels: Mapping[str, Any], path: Path) -> list[Problem]:
    """Kubernetes label keys and values (``metadata.labels``, selectors)."""
    problems = []
    for key, value in labels.items():
        key_problem = label_key_problem(str(key))
        if key_problem is not None:
            problems.append(_invalid(path, str(key), key_problem))
        if isinstance(value, str) and not is_label_value(value):
            problems.append(_invalid(path, value, LABEL_VALUE_MSG))
    return problems


def metadata_problems(kind: str, doc: Mapping[str, Any]) -> list[Problem]:
    """Name, namespace and labels of any object."""
    metadata = doc.get("metadata")
    if not isinstance(metadata, dict):
        return []
    problems = []
    name = metadata.get("name")
    if isinstance(name, str):
        problems += name_problems(kind, name)
    namespace = metadata.get("namespace")
    if kind != "Namespace" and isinstance(namespace, str) and not is_dns1123_label(namespace):
        problems.append(_invalid(("metadata", "namespace"), namespace, DNS1123_LABEL_MSG))
    labels = metadata.get("labels")
    if isinstance(labels, dict):
        problems += label_problems(labels, ("metadata", "labels"))
    return problems


def _port_number_problem(path: Path, value: Any) -> Problem | None:
    if value is None:
        return _required(path)
    if isinstance(value, int) and not isinstance(value, bool) and not 1 <= value <= 65535:
        return _invalid(path, value, _PORT_RANGE)
    return None


def service_problems(spec: Mapping[str, Any]) -> list[Problem]:
    """Ports (present, numbered, named when several, unique names) and the selector's labels."""
    problems: list[Problem] = []
    service_type = spec.get("type", "ClusterIP")
    ports = spec.get("ports")
    if service_type == "ExternalName":
        if not spec.get("externalName"):
            problems.append(_required(("spec", "externalName")))
    elif not isinstance(ports, list) or not ports:
        problems.append(_required(("spec", "ports")))
    if isinstance(ports, list):
        seen: set[str] = set()
        for index, port in enumerate(ports):
            if not isinstance(port, dict):
                continue
            base: Path = ("spec", "ports", index)
            number_problem = _port_number_problem((*base, "port"), port.get("port"))
            if number_problem is not None:
                problems.append(number_problem)
            name = port.get("name")
            if not name and len(ports) > 1:
                problems.append(_required((*base, "name")))
            elif isinstance(name, str) and name:
                if not is_dns1123_label(name):
                    problems.append(_invalid((*base, "name"), name, DNS1123_LABEL_MSG))
                elif name in seen:
                    problems.append(_duplicate((*base, "name"), name))
                seen.add(name)
            problems += _target_port_problems((*base, "targetPort"), port.get("targetPort"))
    selector = spec.get("selector")
    if isinstance(selector, dict):
        problems += label_problems(selector, ("spec", "selector"))
    return problems


def _target_port_problems(path: Path, value: Any) -> list[Problem]:
    if value is None:
        return []
    if isinstance(value, int) and not isinstance(value, bool):
        return [] if 1 <= value <= 65535 else [_invalid(path, value, _PORT_RANGE)]
    if isinstance(value, str):
        # A named port (IANA_SVC_NAME): what a container port's name must look like.
        if len(value) > 15:
            return [_invalid(path, value, "must be no more than 15 characters")]
        if not all(c.islower() or c.isdigit() or c == "-" for c in value):
            return [_invalid(path, value, "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")]
        if not any(c.isalpha() for c in value):
            return [_invalid(path, value, "must contain at least one letter (a-z)")]
    return []


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Whether a LabelSelector (matchLabels and matchExpressions) selects ``labels``."""
    match_labels = selector.get("matchLabels") or {}
    if any(labels.get(str(k)) != str(v) for k, v in match_labels.items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        if not isinstance(expression, dict):
            continue
        key = str(expression.get("key", ""))
        values = [str(v) for v in expression.get("values") or []]
        operator = expression.get("operator")
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def _go_string_map(labels: Mapping[str, Any]) -> str:
    """Go's ``%#v`` of a map[string]string (keys sorted), as Kubernetes prints an invalid label map."""
    items = ", ".join(f"{json.dumps(str(k))}:{json.dumps(str(v))}" for k, v in sorted(labels.items()))
    return f"map[string]string{{{items}}}"


def deployment_problems(spec: Mapping[str, Any]) -> list[Problem]:
    """Replicas, the selector and whether it selects the template's labels, and the containers."""
    problems: list[Problem] = []
    replicas = spec.get("replicas")
    if isinstance(replicas, int) and not isinstance(replicas, bool) and replicas < 0:
        problems.append(_invalid(("spec", "replicas"), replicas, "must be greater than or equal to 0"))
    template = _mapping(spec.get("template"))
    template_labels = _mapping(_mapping(template.get("metadata")).get("labels"))
    if template_labels:
        problems += label_problems(template_labels, ("spec", "template", "metadata", "labels"))
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        problems.append(_required(("spec", "selector")))
    elif not selector.get("matchLabels") and not selector.get("matchExpressions"):
        problems.append(
            Problem(
                ("spec", "selector"),
                'spec.selector: Invalid value: "{}": empty selector is invalid for deployment',
            )
        )
    else:
        problems += _selector_problems(selector)
        if not selector_matches(selector, {str(k): str(v) for k, v in template_labels.items()}):
            problems.append(
                Problem(
                    ("spec", "template", "metadata", "labels"),
                    "spec.template.metadata.labels: Invalid value: "
                    f"{_go_string_map(template_labels)}: `selector` does not match template `labels`",
                )
            )
    pod_spec = _mapping(template.get("spec"))
    problems += _container_problems(pod_spec.get("containers"), ("spec", "template", "spec", "containers"))
    return problems


def _selector_problems(selector: Mapping[str, Any]) -> list[Problem]:
    problems = []
    match_labels = selector.get("matchLabels")
    if isinstance(match_labels, dict):
        problems += label_problems(match_labels, ("spec", "selector", "matchLabels"))
    for index, expression in enumerate(selector.get("matchExpressions") or []):
        if not isinstance(expression, dict):
            continue
        path: Path = ("spec", "selector", "matchExpressions", index, "values")
        operator, values = expression.get("operator"), expression.get("values")
        if operator in ("In", "NotIn") and not values:
            problems.append(_required(path, "must be specified when `operator` is 'In' or 'NotIn'"))
        if operator in ("Exists", "DoesNotExist") and values:
            problems.append(
                Problem(
                    path,
                    f"{format_path(path)}: Forbidden: may not be specified when `operator` is 'Exists' or "
                    "'DoesNotExist'",
                )
            )
    return problems


def _container_problems(containers: Any, path: Path) -> list[Problem]:
    if not isinstance(containers, list) or not containers:
        return [_required(path)]
    problems: list[Problem] = []
    names: set[str] = set()
    for index, container in enumerate(containers):
        if not isinstance(container, dict):
            continue
        base: Path = (*path, index)
        name = container.get("name")
        if not name:
            problems.append(_required((*base, "name")))
        elif isinstance(name, str):
            if not is_dns1123_label(name):
                problems.append(_invalid((*base, "name"), name, DNS1123_LABEL_MSG))
            elif name in names:
                problems.append(_duplicate((*base, "name"), name))
            names.add(name)
        if not container.get("image"):
            problems.append(_required((*base, "image")))
        for port_index, port in enumerate(container.get("ports") or []):
            if isinstance(port, dict):
                problem = _port_number_problem((*base, "ports", port_index, "containerPort"), port.get("containerPort"))
                if problem is not None:
                    problems.append(problem)
    return problems


def kube_problems(kind: str, doc: Mapping[str, Any]) -> list[Problem]:
    """Every API-server check for a Kubernetes object of ``kind`` (after the schema passed)."""
    problems = metadata_problems(kind, doc)
    spec = _mapping(doc.get("spec"))
    if kind == "Service":
        problems += service_problems(spec)
    elif kind == "Deployment":
        problems += deployment_problems(spec)
    return problems
