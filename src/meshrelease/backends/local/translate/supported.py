"""Fields the local backend cannot render (yet): each becomes an explicit error naming the object and the
field path, instead of configuration that silently behaves differently from Istio.

DestinationRule ``tls.mode: ISTIO_MUTUAL`` / ``DISABLE`` is accepted with a warning: the local mesh is
plaintext, and mutual TLS does not change routing outcomes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from meshrelease.backends.local.model import StoredObject
from meshrelease.backends.local.translate.errors import unsupported
from meshrelease.backends.local.translate.gateway import HTTP_SERVER_PROTOCOLS
from meshrelease.backends.local.translate.routes import SUPPORTED_REDIRECT_CODES
from meshrelease.backends.local.translate.supported_gateway_api import scan_gateway_api
from meshrelease.backends.local.translate.values import as_dict, as_int, as_list, as_str
from meshrelease.k8s.objects import GATEWAY_API_GROUP, ISTIO_GROUP

_IGNORED_TLS_MODES = frozenset({"ISTIO_MUTUAL", "DISABLE"})
_UNSUPPORTED_POLICY_FIELDS = ("connectionPool", "outlierDetection", "tunnel", "proxyProtocol", "retryBudget")
_UNSUPPORTED_LB_FIELDS = ("localityLbSetting", "warmupDurationSecs", "warmup")
JWT_CLAIM_PREFIX = "@request.auth.claims"


def scan(objects: Sequence[StoredObject]) -> tuple[list[str], list[str]]:
    """(errors, warnings) for every object."""
    errors: list[str] = []
    warnings: list[str] = []
    for obj in objects:
        ref = obj.key.ref()
        if obj.key.group == ISTIO_GROUP and obj.key.kind == "VirtualService":
            errors += _virtual_service(ref, obj.spec)
        elif obj.key.group == ISTIO_GROUP and obj.key.kind == "DestinationRule":
            errors += _destination_rule(ref, obj.spec, warnings)
        elif obj.key.group == ISTIO_GROUP and obj.key.kind == "Gateway":
            errors += _gateway(ref, obj.spec)
        elif obj.key.group == "" and obj.key.kind == "Service":
            errors += _service(ref, obj)
        elif obj.key.group == GATEWAY_API_GROUP:
            errors += scan_gateway_api(obj.key.kind, ref, obj.spec)
    return errors, warnings


def _virtual_service(ref: str, spec: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for field in ("tcp", "tls"):
        if as_list(spec.get(field)):
            out.append(unsupported(ref, f"spec.{field}", why="the local mesh routes HTTP only"))
    for i, rule in enumerate(as_list(spec.get("http"))):
        rule = as_dict(rule)
        where = f"spec.http[{i}]"
        if rule.get("delegate") is not None:
            out.append(unsupported(ref, f"{where}.delegate"))
        if rule.get("corsPolicy") is not None:
            out.append(unsupported(ref, f"{where}.corsPolicy"))
        redirect = rule.get("redirect")
        if isinstance(redirect, dict):
            code = as_int(redirect.get("redirectCode"))
            if code not in SUPPORTED_REDIRECT_CODES:
                out.append(
                    f"{ref}: {where}.redirect.redirectCode {code} is not supported: istiod renders no action "
                    "for it and Envoy rejects the whole route configuration (use 301, 302, 303, 307 or 308)"
                )
        for j, match in enumerate(as_list(rule.get("match"))):
            match = as_dict(match)
            for field in ("headers", "withoutHeaders"):
                for key in as_dict(match.get(field)):
                    if str(key).startswith(JWT_CLAIM_PREFIX):
                        out.append(
                            unsupported(
                                ref,
                                f"{where}.match[{j}].{field}[{key}]",
                                why="JWT claim matching needs request authentication",
                            )
                        )
    return out


def _destination_rule(ref: str, spec: dict[str, Any], warnings: list[str]) -> list[str]:
    out: list[str] = []
    if spec.get("workloadSelector") is not None:
        out.append(unsupported(ref, "spec.workloadSelector"))
    policies: list[tuple[str, Any]] = [("spec.trafficPolicy", spec.get("trafficPolicy"))]
    for i, subset in enumerate(as_list(spec.get("subsets"))):
        policies.append((f"spec.subsets[{i}].trafficPolicy", as_dict(subset).get("trafficPolicy")))
    for path, policy in list(policies):
        for k, pls in enumerate(as_list(as_dict(policy).get("portLevelSettings"))):
            policies.append((f"{path}.portLevelSettings[{k}]", pls))
    for path, policy in policies:
        if isinstance(policy, dict):
            out += _traffic_policy(ref, path, policy, warnings)
    return out


def _traffic_policy(ref: str, path: str, policy: dict[str, Any], warnings: list[str]) -> list[str]:
    out: list[str] = []
    for field in _UNSUPPORTED_POLICY_FIELDS:
        if policy.get(field) is not None:
            out.append(unsupported(ref, f"{path}.{field}"))
    lb = as_dict(policy.get("loadBalancer"))
    if as_str(lb.get("simple")) == "PASSTHROUGH":
        out.append(
            unsupported(ref, f"{path}.loadBalancer.simple", "PASSTHROUGH", "there is no original destination locally")
        )
    for field in _UNSUPPORTED_LB_FIELDS:
        if lb.get(field) is not None:
            out.append(unsupported(ref, f"{path}.loadBalancer.{field}"))
    tls = policy.get("tls")
    if isinstance(tls, dict):
        mode = as_str(tls.get("mode")) or "DISABLE"  # Istio's default mode
        if mode in _IGNORED_TLS_MODES:
            warnings.append(
                f"{ref}: {path}.tls.mode {mode} is ignored by the local backend (its mesh is plaintext; "
                "routing is unaffected)"
            )
        else:
            out.append(unsupported(ref, f"{path}.tls.mode", mode, "the local mesh is plaintext"))
    return out


def _gateway(ref: str, spec: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for i, server in enumerate(as_list(spec.get("servers"))):
        server = as_dict(server)
        where = f"spec.servers[{i}]"
        port = as_dict(server.get("port"))
        protocol = as_str(port.get("protocol"))
        if protocol.upper() not in HTTP_SERVER_PROTOCOLS:
            out.append(
                unsupported(ref, f"{where}.port.protocol", protocol or "(unset)", "the local gateway serves HTTP only")
            )
        if port.get("targetPort") is not None:
            out.append(unsupported(ref, f"{where}.port.targetPort"))
        for field in ("tls", "bind", "defaultEndpoint"):
            if server.get(field) is not None:
                out.append(unsupported(ref, f"{where}.{field}"))
    return out


def _service(ref: str, obj: StoredObject) -> list[str]:
    out: list[str] = []
    if as_str(obj.spec.get("type")) == "ExternalName":
        out.append(unsupported(ref, "spec.type", "ExternalName"))
    annotations = as_dict(as_dict(obj.body.get("metadata")).get("annotations"))
    if "networking.istio.io/exportTo" in annotations:
        out.append(unsupported(ref, "metadata.annotations[networking.istio.io/exportTo]"))
    return out
