"""From applied Deployments to the pods the local mesh runs.

A Deployment's container image picks the implementation: ``…examples-bookinfo-reviews-v2:1.20.3`` runs
meshrelease's own reviews v2 (see :mod:`meshrelease.bookinfo.workloads`), the image tag picks the
productpage UI (≤ 1.19 classic, ≥ 1.20 modern). Any other image must be mapped to a local command with
``--workload IMAGE=COMMAND`` (``{port}`` in COMMAND is replaced by the port the pod must listen on).

Pod names follow Kubernetes: ``<deployment>-<template hash>-<5 chars>``; they are deterministic (derived
from the namespace, the Deployment and its pod template) so a run is reproducible, and a template change
gives new pods, as a rollout does.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from meshrelease.backends.local.model import StoredObject
from meshrelease.errors import UserInputError

BOOKINFO_IMAGE_RE = re.compile(
    r"(?:^|/)examples-bookinfo-(?P<service>productpage|details|reviews|ratings)-(?P<version>v[\w-]+?)"
    r"(?::(?P<tag>[\w.\-]+))?(?:@sha256:[0-9a-f]+)?$"
)
# What meshrelease's own workloads implement (details v2 needs googleapis.com, ratings v2 a database).
SUPPORTED_BOOKINFO = {
    ("productpage", "v1"),
    ("details", "v1"),
    ("reviews", "v1"),
    ("reviews", "v2"),
    ("reviews", "v3"),
    ("ratings", "v1"),
}
# Kubernetes' pod-name alphabet (no vowels, no ambiguous characters).
POD_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

UiName = Literal["classic", "modern"]


@dataclass(frozen=True)
class Implementation:
    """How to run a pod: a built-in Bookinfo service, or a user command."""

    kind: Literal["bookinfo", "command"]
    service: str = ""  # bookinfo service name
    version: str = ""  # bookinfo version (v1/v2/v3)
    tag: str = ""
    ui: UiName = "modern"
    command: tuple[str, ...] = ()  # argv template for kind == "command" ({port} placeholders)


@dataclass(frozen=True)
class PodPlan:
    name: str
    namespace: str
    deployment: str
    labels: dict[str, str]
    service_account: str
    image: str
    impl: Implementation
    env: dict[str, str] = field(default_factory=dict)
    container_ports: tuple[int, ...] = ()


def _hash_text(data: str, length: int) -> str:
    digest = hashlib.sha256(data.encode()).digest()
    return "".join(POD_NAME_ALPHABET[b % len(POD_NAME_ALPHABET)] for b in digest[:length])


def template_hash(namespace: str, deployment: str, template: Mapping[str, Any]) -> str:
    return _hash_text(f"{namespace}/{deployment}/{json.dumps(template, sort_keys=True)}", 10)


def ui_for_tag(tag: str) -> UiName:
    """Image tag ≤ 1.19 renders the classic (glyphicon) UI, ≥ 1.20 (and non-numeric tags) the modern one."""
    match = re.match(r"^v?(\d+)\.(\d+)", tag)
    if not match:
        return "modern"
    return "classic" if (int(match.group(1)), int(match.group(2))) <= (1, 19) else "modern"


def parse_workload_mappings(items: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """``IMAGE=COMMAND`` strings (from ``--workload``) to image -> argv template."""
    out: dict[str, tuple[str, ...]] = {}
    for item in items:
        image, sep, command = item.partition("=")
        if not sep or not image.strip() or not command.strip():
            raise UserInputError(
                f"--workload {item!r} is not IMAGE=COMMAND",
                hint="e.g. --workload 'example.com/echo:1.0=python3 -m http.server {port} --bind 127.0.0.1'",
            )
        argv = tuple(shlex.split(command))
        if not any("{port}" in a for a in argv):
            raise UserInputError(
                f"--workload {item!r}: COMMAND has no {{port}} placeholder",
                hint="the local mesh tells the process where to listen by replacing {port}",
            )
        out[image.strip()] = argv
    return out


def resolve_image(
    image: str, *, workloads: Mapping[str, tuple[str, ...]], ui_override: UiName | None = None
) -> Implementation:
    """The implementation for ``image``; raises UserInputError with the mapping hint when there is none."""
    if image in workloads:
        return Implementation(kind="command", command=workloads[image])
    match = BOOKINFO_IMAGE_RE.search(image)
    if match and (match.group("service"), match.group("version")) in SUPPORTED_BOOKINFO:
        tag = match.group("tag") or "latest"
        return Implementation(
            kind="bookinfo",
            service=match.group("service"),
            version=match.group("version"),
            tag=tag,
            ui=ui_override or ui_for_tag(tag),
        )
    raise UserInputError(
        f"image {image} cannot run on the local backend (meshrelease runs Bookinfo's productpage v1, details v1, "
        "reviews v1/v2/v3 and ratings v1 itself)",
        hint=f"map it to a local command: --workload '{image}=COMMAND' with {{port}} where the process must "
        "listen (it gets HOSTNAME and HTTP_PROXY like a pod with a sidecar), or use the kind/cluster backend",
    )


def _containers(obj: StoredObject) -> list[dict[str, Any]]:
    template = obj.spec.get("template") or {}
    containers = (template.get("spec") or {}).get("containers") or []
    return [c for c in containers if isinstance(c, dict)]


def check_deployments(
    objects: Sequence[StoredObject],
    *,
    workloads: Mapping[str, tuple[str, ...]],
    ui_override: UiName | None = None,
) -> list[str]:
    """Apply-time check: every Deployment's image must be runnable locally (one message per problem)."""
    errors: list[str] = []
    for obj in objects:
        if obj.key.kind != "Deployment":
            continue
        containers = _containers(obj)
        if len(containers) != 1:
            errors.append(
                f"{obj.key.ref()}: spec.template.spec.containers has {len(containers)} containers; the local "
                "backend runs exactly one application container per pod (the sidecar is added by the mesh)"
            )
            continue
        try:
            resolve_image(str(containers[0].get("image", "")), workloads=workloads, ui_override=ui_override)
        except UserInputError as exc:
            errors.append(f"{obj.key.ref()}: {exc}")
    return errors


def plan_pods(
    objects: Sequence[StoredObject],
    *,
    workloads: Mapping[str, tuple[str, ...]],
    ui_override: UiName | None = None,
) -> list[PodPlan]:
    """Every pod the applied Deployments ask for, in a stable order."""
    pods: list[PodPlan] = []
    for obj in sorted(objects, key=lambda o: o.key):
        if obj.key.kind != "Deployment":
            continue
        spec = obj.spec
        template = spec.get("template") or {}
        tmeta = template.get("metadata") or {}
        tspec = template.get("spec") or {}
        container = _containers(obj)[0]
        image = str(container.get("image", ""))
        impl = resolve_image(image, workloads=workloads, ui_override=ui_override)
        replicas = spec.get("replicas", 1)
        replicas = 1 if replicas is None else int(replicas)
        thash = template_hash(obj.key.namespace, obj.key.name, template)
        labels = {str(k): str(v) for k, v in (tmeta.get("labels") or {}).items()}
        labels["pod-template-hash"] = thash
        env = {
            str(e["name"]): str(e.get("value", ""))
            for e in container.get("env") or []
            if isinstance(e, dict) and "name" in e and "valueFrom" not in e
        }
        ports = tuple(
            int(p["containerPort"])
            for p in container.get("ports") or []
            if isinstance(p, dict) and "containerPort" in p
        )
        if impl.kind == "bookinfo" and not ports:
            ports = (9080,)
        for index in range(replicas):
            suffix = _hash_text(f"{thash}/{index}", 5)
            pods.append(
                PodPlan(
                    name=f"{obj.key.name}-{thash}-{suffix}",
                    namespace=obj.key.namespace,
                    deployment=obj.key.name,
                    labels=dict(labels),
                    service_account=str(tspec.get("serviceAccountName") or "default"),
                    image=image,
                    impl=impl,
                    env=env,
                    container_ports=ports,
                )
            )
    return pods
