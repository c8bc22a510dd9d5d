"""From applied Deployments to the pods the local mesh runs.

A Deployment's container image picks the implementation: ``…examples-bookinfo-reviews-v2:1.20.3`` runs
meshrelease's own reviews v2 (see :mod:`meshrelease.bookinfo.workloads`), the image tag picks the
productpage UI (≤ 1.19 classic, ≥ 1.20 modern). Any other image must be mapped to a local command with
``--workload IMAGE=COMMAND`` (``{port}`` in COMMAND is replaced by the port the pod must listen on).

Pod names follow Kubernetes: ``<deployment>-<template hash>-<5 chars>``; they are deterministic (derived
from the namespace, the Deployment and its pod template) so a run is reproducible, and a template change
gives new pods, as a rollout does.

Two limits keep an applied manifest from reaching further than a pod would: a Deployment runs at most
:data:`MAX_LOCAL_REPLICAS` replicas (each is a workload and an Envoy on this machine), and a Deployment whose
image runs a ``--workload`` command — whose container ``env`` becomes that host process's environment — may not
set variables that change how the host loads, interprets or finds the program (:func:`host_env_problem`).
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

MAX_LOCAL_REPLICAS = 5
"""The most replicas of one Deployment the local backend runs: enough to see load spread over pods, few
enough that a typo (``replicas: 50``) does not start 50 more Envoys."""

HOST_ENV_REFUSED = frozenset(
    {
        "PATH", "IFS", "ENV", "BASH_ENV", "SHELLOPTS", "BASHOPTS", "PS4", "PROMPT_COMMAND", "GCONV_PATH",
        "PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME", "PYTHONINSPECT", "PYTHONUSERBASE", "PYTHONEXECUTABLE",
        "PERL5LIB", "PERL5OPT", "PERLLIB", "PERL5DB", "NODE_OPTIONS", "NODE_PATH", "RUBYOPT", "RUBYLIB",
        "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "CLASSPATH",
    }
)  # fmt: skip
"""Variables that change how the host runs a ``--workload`` command: shell start-up files and options, the
program search path, interpreter start-up code and module paths. Plus every ``LD_*`` and ``DYLD_*`` (the
dynamic loader's: ``LD_PRELOAD``, ``LD_LIBRARY_PATH``, ``LD_AUDIT``, …)."""
HOST_ENV_REFUSED_PREFIXES = ("LD_", "DYLD_")


def host_env_problem(name: str, value: str) -> str | None:
    """Why a manifest may not give a ``--workload`` command the variable ``name`` (None: it may)."""
    if name.upper() in HOST_ENV_REFUSED or name.upper().startswith(HOST_ENV_REFUSED_PREFIXES):
        return (
            f"it would change how this machine runs the --workload command (loader, shell, interpreter or "
            f"search path); the local backend refuses {name} from a manifest"
        )
    if "\0" in name or "\0" in value or "=" in name or not name:
        return "a variable name must be non-empty without '=' and neither name nor value may hold a NUL byte"
    return None


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
        container = containers[0]
        replicas = obj.spec.get("replicas", 1)
        if isinstance(replicas, int) and replicas > MAX_LOCAL_REPLICAS:
            errors.append(
                f"{obj.key.ref()}: spec.replicas is {replicas}; the local backend runs at most "
                f"{MAX_LOCAL_REPLICAS} replicas of a Deployment (each is a workload and an Envoy sidecar on this "
                "machine): lower it, or use the kind/cluster backend"
            )
        try:
            impl = resolve_image(str(container.get("image", "")), workloads=workloads, ui_override=ui_override)
        except UserInputError as exc:
            errors.append(f"{obj.key.ref()}: {exc}")
            continue
        if impl.kind == "command":
            errors += _host_env_errors(obj, container)
    return errors


def _host_env_errors(obj: StoredObject, container: Mapping[str, Any]) -> list[str]:
    errors = []
    for index, entry in enumerate(container.get("env") or []):
        if not isinstance(entry, dict) or "name" not in entry:
            continue
        name, value = str(entry["name"]), str(entry.get("value", ""))
        problem = host_env_problem(name, value)
        if problem is not None:
            errors.append(
                f"{obj.key.ref()}: container {container.get('name', '')!r}: "
                f"spec.template.spec.containers[0].env[{index}] {name}: {problem}"
            )
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
