"""The CEL rules of Istio's CRDs (istio/istio 1.30.3 manifests/charts/base/files/crd-all.gen.yaml) that are not
duration rules, for the kinds the local backend runs: the API server runs them after the structural schema and
words a failure ``<field>: Invalid value: "object": <message>``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meshrelease.backends.local.validation.common import Problem
from meshrelease.k8s.objects import FieldPath as Path
from meshrelease.k8s.objects import format_path


def _invalid(path: Path, message: str, what: str = "object") -> Problem:
    return Problem(path, f'{format_path(path)}: Invalid value: "{what}": {message}')


def istio_cel_problems(kind: str, spec: Mapping[str, Any]) -> list[Problem]:
    if kind == "DestinationRule":
        return _workload_selector(spec.get("workloadSelector"), ("spec", "workloadSelector"))
    if kind == "Gateway":
        problems: list[Problem] = []
        servers = spec.get("servers")
        for index, server in enumerate(servers if isinstance(servers, list) else []):
            tls = server.get("tls") if isinstance(server, dict) else None
            if isinstance(tls, dict):
                problems += _server_tls(tls, ("spec", "servers", index, "tls"))
        return problems
    return []


def _workload_selector(selector: Any, path: Path) -> list[Problem]:
    labels = selector.get("matchLabels") if isinstance(selector, dict) else None
    if not isinstance(labels, dict):
        return []
    problems = []
    where = (*path, "matchLabels")
    if any("*" in str(key) for key in labels):
        problems.append(_invalid(where, "wildcard not allowed in label key match"))
    if any(str(key) == "" for key in labels):
        problems.append(_invalid(where, "key must not be empty"))
    for key, value in labels.items():
        if isinstance(value, str) and "*" in value:
            problems.append(_invalid((*where, str(key)), "wildcard not allowed in label value match", "string"))
    return problems


def _server_tls(tls: Mapping[str, Any], path: Path) -> list[Problem]:
    has = {key: key in tls and tls[key] is not None for key in ("credentialName", "credentialNames", "tlsCertificates")}
    problems = []
    if has["tlsCertificates"] and has["credentialNames"]:
        problems.append(_invalid(path, "only one of credentialNames or tlsCertificates can be set"))
    if has["credentialName"] and has["credentialNames"]:
        problems.append(_invalid(path, "only one of credentialName or credentialNames can be set"))
    return problems
