#!/usr/bin/env python3
"""Shared state of the fake kind, kubectl, istioctl and docker used by the contract tests.

Each fake is a separate process: it appends its argv (JSON, one line per call) to ``$MESHRELEASE_FAKE_LOG``
and reads/writes the world in ``$MESHRELEASE_FAKE_STATE`` (JSON) under an exclusive lock. The world holds
kind clusters, and per API server ("cluster") its objects, whether Istio's CRDs are installed, which
cluster holds the Istio config its proxies receive (ASM: the mesh instance), and per proxy the snapshot of
Istio objects it was last pushed. Pushes lag by ``push_lag`` proxy-config reads (-1: never), so the
harness's polling is exercised. Failures can be injected per tool and argv fragment, and a call can be made to
hang first (``hang`` seconds: a stand-in for a slow install that a timeout interrupts).

Pulls: a kind node has only what ``kind load`` put into it (``node_images``); with
``dockerhub_refuses_anonymous`` set, a pod of a kind cluster whose image is on docker.io and not in the node
stays ``ErrImagePull`` (Docker Hub's anonymous rate limit) and its rollout never completes. The host's docker
(``docker``) pulls with the host's login and so is never refused.

Written for meshrelease's tests from the tools' documented behaviour; the answers mimic the real tools'
output shapes and messages closely enough for the harness, nothing more.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

ISTIO_GROUP = "networking.istio.io"
GATEWAY_API_GROUP = "gateway.networking.k8s.io"
CONFIG_GROUPS = (ISTIO_GROUP, GATEWAY_API_GROUP)  # objects whose change istiod pushes to the proxies
CLUSTER_SCOPED = {"Namespace", "Node"}
RESOURCES = {
    # name -> (group, kind)
    **dict.fromkeys(["pods", "pod", "po"], ("", "Pod")),
    **dict.fromkeys(
        ["deployments", "deployment", "deploy", "deployments.apps", "deployment.apps"], ("apps", "Deployment")
    ),
    **dict.fromkeys(["services", "service", "svc"], ("", "Service")),
    **dict.fromkeys(["namespaces", "namespace", "ns"], ("", "Namespace")),
    **dict.fromkeys(["serviceaccounts", "serviceaccount", "sa"], ("", "ServiceAccount")),
    **dict.fromkeys(["nodes", "node", "no"], ("", "Node")),
    **dict.fromkeys(
        ["virtualservices", "virtualservice", "vs", "virtualservices.networking.istio.io"],
        (ISTIO_GROUP, "VirtualService"),
    ),
    **dict.fromkeys(
        ["destinationrules", "destinationrule", "dr", "destinationrules.networking.istio.io"],
        (ISTIO_GROUP, "DestinationRule"),
    ),
    **dict.fromkeys(["gateways", "gateway", "gw", "gateways.networking.istio.io"], (ISTIO_GROUP, "Gateway")),
    **dict.fromkeys(["gtw", "gateways.gateway.networking.k8s.io"], (GATEWAY_API_GROUP, "Gateway")),
    **dict.fromkeys(
        ["httproutes", "httproute", "httproutes.gateway.networking.k8s.io"], (GATEWAY_API_GROUP, "HTTPRoute")
    ),
}
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class ToolExit(Exception):
    """Ends a fake tool: exit code and stderr (stdout already written)."""

    def __init__(self, code: int, stderr: str) -> None:
        super().__init__(stderr)
        self.code = code
        self.stderr = stderr


# -- state file ------------------------------------------------------------------------------------------


def empty_world() -> dict[str, Any]:
    return {
        "kind_clusters": {},
        "clusters": {},
        "failures": [],
        "istioctl_version": "1.30.5",
        "clock": 0,
        "dockerhub_refuses_anonymous": False,
        "docker": {"daemon": True, "images": [], "os": "linux", "arch": "amd64", "version": "29.1.3"},
    }


@contextlib.contextmanager
def world() -> Iterator[dict[str, Any]]:
    """The world, locked; saved on normal exit (also when a ToolExit ends the tool)."""
    path = os.environ["MESHRELEASE_FAKE_STATE"]
    with open(path + ".lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(path, encoding="utf-8") as handle:
                state = json.load(handle)
        except FileNotFoundError:
            state = empty_world()
        try:
            yield state
        finally:
            tmp = path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump(state, handle, indent=1, sort_keys=True)
            os.replace(tmp, path)


def record(tool: str, argv: list[str]) -> None:
    with open(os.environ["MESHRELEASE_FAKE_LOG"], "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"tool": tool, "argv": argv}) + "\n")


def injected_failure(state: dict[str, Any], tool: str, argv: list[str]) -> tuple[int, str, float] | None:
    for rule in state["failures"]:
        if rule["tool"] != tool or not all(part in argv for part in rule["argv_contains"]):
            continue
        if any(part in argv for part in rule.get("argv_excludes", [])):
            continue
        if rule["times"] == 0:
            continue
        if rule["times"] > 0:
            rule["times"] -= 1
        return rule["exit"], rule["stderr"], float(rule.get("hang", 0))
    return None


def run_tool(tool: str, handler: Any, argv: list[str]) -> int:
    """Record, apply injected failures, run ``handler(state, argv)``; print stdout/stderr like a tool."""
    record(tool, argv)
    with world() as state:
        failure = injected_failure(state, tool, argv)
    if failure and failure[2] > 0:
        time.sleep(failure[2])  # outside the lock: the harness's timeout is what ends this
    with world() as state:
        if failure and failure[0] >= 0:
            sys.stderr.write(failure[1])
            return failure[0]
        try:
            out = handler(state, argv)
        except ToolExit as exc:
            sys.stderr.write(exc.stderr if exc.stderr.endswith("\n") else exc.stderr + "\n")
            return exc.code
    if out:
        sys.stdout.write(out if out.endswith("\n") else out + "\n")
    return 0


def now(state: dict[str, Any]) -> str:
    state["clock"] += 1
    return (EPOCH + timedelta(seconds=state["clock"])).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- clusters --------------------------------------------------------------------------------------------


def new_cluster(state: dict[str, Any], name: str, *, kubernetes: str = "1.35.0", kind: bool = False) -> dict[str, Any]:
    cluster: dict[str, Any] = {
        "objects": {},
        "crds": False,
        "gateway_api": None,  # the bundle version of the installed Gateway API CRDs (None: not installed)
        "istio": None,
        "istiod_reachable": True,
        "generation": 0,
        "config_from": name,
        "push_lag": 0,
        "proxies": {},
        "logs": {},
        "kubernetes": kubernetes,
        "revisions": {},
        "kind": kind,
        "node_images": [],
        "validator": "default",  # the revision whose webhook validates unlabelled Istio objects
        "validating": True,  # False once that webhook was pruned (uninstalling its revision)
        "default_tag": None,  # the revision the default tag points at (None: the default revision)
    }
    state["clusters"][name] = cluster
    for ns in ("default", "kube-system"):
        put(state, cluster, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    put(
        state,
        cluster,
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": "default"},
        },
    )
    return cluster


def kubeconfig_text(cluster: str, context: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": cluster, "cluster": {"server": "https://127.0.0.1:6443"}}],
            "contexts": [{"name": context, "context": {"cluster": cluster, "user": cluster}}],
            "users": [{"name": cluster, "user": {"token": "fake-token-not-secret"}}],
            "current-context": context,
        }
    )


def resolve_cluster(state: dict[str, Any], kubeconfig: str | None, context: str | None) -> tuple[str, dict[str, Any]]:
    path = kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    try:
        with open(path, encoding="utf-8") as handle:
            config = yaml.safe_load(handle) or {}
    except FileNotFoundError:
        raise ToolExit(1, f"error: stat {path}: no such file or directory") from None
    ctx_name = context or config.get("current-context")
    ctx = next((c for c in config.get("contexts") or [] if c.get("name") == ctx_name), None)
    if ctx is None:
        raise ToolExit(1, f'error: context "{ctx_name}" does not exist')
    name = ctx["context"]["cluster"]
    if name not in state["clusters"]:
        raise ToolExit(
            1,
            "The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?",
        )
    return name, state["clusters"][name]


def group_of(api_version: str) -> str:
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def key_of(doc: dict[str, Any]) -> str:
    meta = doc.get("metadata") or {}
    ns = "" if doc["kind"] in CLUSTER_SCOPED else meta.get("namespace") or "default"
    return "|".join([group_of(doc["apiVersion"]), doc["kind"], ns, meta["name"]])


def display(doc: dict[str, Any]) -> str:
    group = group_of(doc["apiVersion"])
    kind = doc["kind"].lower()
    return f"{kind}.{group}/{doc['metadata']['name']}" if group else f"{kind}/{doc['metadata']['name']}"


def plural(doc: dict[str, Any]) -> str:
    group = group_of(doc["apiVersion"])
    kind = doc["kind"].lower() + "s"
    return f"{kind}.{group}" if group else kind


def put(state: dict[str, Any], cluster: dict[str, Any], doc: dict[str, Any]) -> str:
    """Create or replace (kubectl apply semantics, simplified); returns created/configured/unchanged."""
    doc = copy.deepcopy(doc)
    meta = doc.setdefault("metadata", {})
    if doc["kind"] not in CLUSTER_SCOPED:
        meta.setdefault("namespace", "default")
    key = key_of(doc)
    old = cluster["objects"].get(key)
    if old is not None:
        comparable = {k: v for k, v in old.items() if k not in ("metadata", "status")}
        new_comparable = {k: v for k, v in doc.items() if k not in ("metadata", "status")}
        old_labels = (old.get("metadata") or {}).get("labels")
        if comparable == new_comparable and old_labels == meta.get("labels"):
            return "unchanged"
        meta["creationTimestamp"] = old["metadata"]["creationTimestamp"]
        meta["uid"] = old["metadata"]["uid"]
        meta["generation"] = old["metadata"].get("generation", 1) + 1
        result = "configured"
    else:
        meta["creationTimestamp"] = now(state)
        meta["uid"] = hashlib.sha1(key.encode()).hexdigest()[:12]
        meta["generation"] = 1
        result = "created"
    meta["resourceVersion"] = str(state["clock"])
    cluster["objects"][key] = doc
    if group_of(doc["apiVersion"]) in CONFIG_GROUPS:
        cluster["generation"] += 1
    if doc["kind"] == "Gateway" and group_of(doc["apiVersion"]) == GATEWAY_API_GROUP and old is None:
        deploy_gateway(state, cluster, doc)
    if doc["kind"] == "Deployment":
        template_changed = old is None or (old.get("spec") or {}).get("template") != (doc.get("spec") or {}).get(
            "template"
        )
        if template_changed:
            make_pod(state, cluster, doc)
    return result


def deploy_gateway(state: dict[str, Any], cluster: dict[str, Any], gateway: dict[str, Any]) -> None:
    """What istiod's deployment controller does for a Gateway of class istio: a Deployment and a LoadBalancer
    Service ``<name>-istio`` (its pods labelled gateway.networking.k8s.io/gateway-name, running a proxy)."""
    if (gateway.get("spec") or {}).get("gatewayClassName") != "istio":
        return
    name, ns = gateway["metadata"]["name"], gateway["metadata"]["namespace"]
    labels = {"gateway.networking.k8s.io/gateway-name": name}
    version = str((cluster.get("istio") or {}).get("version", ""))
    listeners = (gateway.get("spec") or {}).get("listeners") or []
    ports = [{"name": item["name"], "port": item["port"]} for item in listeners]
    put(
        state,
        cluster,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": f"{name}-istio", "namespace": ns, "labels": labels},
            "spec": {"type": "LoadBalancer", "selector": labels, "ports": ports},
        },
    )
    put(
        state,
        cluster,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": f"{name}-istio", "namespace": ns, "labels": labels},
            "spec": {
                "template": {
                    "metadata": {"labels": {**labels, "istio": "gateway-api"}},
                    "spec": {"containers": [{"name": "istio-proxy", "image": f"docker.io/istio/proxyv2:{version}"}]},
                }
            },
        },
    )


def remove(cluster: dict[str, Any], key: str) -> dict[str, Any] | None:
    doc = cluster["objects"].pop(key, None)
    if doc is None:
        return None
    if group_of(doc["apiVersion"]) in CONFIG_GROUPS:
        cluster["generation"] += 1
    if doc["kind"] == "Deployment":
        for pod_key in [k for k, o in cluster["objects"].items() if o["kind"] == "Pod" and o.get("_owner") == key]:
            pod = cluster["objects"].pop(pod_key)
            cluster["proxies"].pop(f"{pod['metadata']['name']}.{pod['metadata']['namespace']}", None)
    return doc


def namespace_labels(cluster: dict[str, Any], ns: str) -> dict[str, str]:
    doc = cluster["objects"].get(f"|Namespace||{ns}")
    return ((doc or {}).get("metadata") or {}).get("labels") or {}


def injector(cluster: dict[str, Any], ns: str) -> tuple[str, str] | None:
    """(revision, Istio version) of the control plane whose webhook injects new pods of ``ns``; None: none does.

    ``istio-injection=enabled`` takes precedence over ``istio.io/rev`` (istio.io's sidecar injection docs); a
    revision label injects only when that revision's control plane is installed; ``istioctl tag set default``
    moves ``istio-injection=enabled`` to its revision."""
    labels = namespace_labels(cluster, ns)
    default = cluster.get("istio") or {}
    revisions = cluster.get("revisions") or {}
    rev = "default" if labels.get("istio-injection") == "enabled" else labels.get("istio.io/rev")
    if rev == "default" and cluster.get("default_tag") in revisions:  # `istioctl tag set default` moved it
        rev = cluster["default_tag"]
    if rev and rev in revisions:
        return rev, str(revisions[rev]["version"])
    if rev == "default" and default:
        return "default", str(default.get("version") or "")
    return None


def image_version(image: str) -> str:
    last = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else ""


def make_pod(state: dict[str, Any], cluster: dict[str, Any], deployment: dict[str, Any]) -> None:
    """Replace the deployment's pod; inject a sidecar if the namespace is labelled (at creation, like k8s)."""
    dep_key = key_of(deployment)
    for pod_key in [k for k, o in cluster["objects"].items() if o["kind"] == "Pod" and o.get("_owner") == dep_key]:
        old = cluster["objects"].pop(pod_key)
        cluster["proxies"].pop(f"{old['metadata']['name']}.{old['metadata']['namespace']}", None)
    ns = deployment["metadata"]["namespace"]
    name = deployment["metadata"]["name"]
    state["clock"] += 1
    digest = hashlib.sha1(f"{name}{state['clock']}".encode()).hexdigest()
    pod_name = f"{name}-{digest[:10]}-{digest[10:15]}"
    template = (deployment.get("spec") or {}).get("template") or {}
    containers = copy.deepcopy((template.get("spec") or {}).get("containers") or [])
    labels = dict((template.get("metadata") or {}).get("labels") or {})
    injected_by = injector(cluster, ns)
    gateway = labels.get("istio") in ("ingressgateway", "gateway-api")
    inject = injected_by is not None or gateway
    revision, version = injected_by or ("", "")
    if gateway:  # the gateway's own container is the proxy, of the version its Deployment names
        proxy_image = next((c.get("image", "") for c in containers if c.get("name") == "istio-proxy"), "")
        revision, version = deployment.get("_revision", "default"), image_version(proxy_image)
    if inject and not any(c.get("name") == "istio-proxy" for c in containers):
        image = f"docker.io/istio/proxyv2:{version}" if version else "docker.io/istio/proxyv2"
        containers.append({"name": "istio-proxy", "image": image})
    refused = [c["image"] for c in containers if not can_pull(state, cluster, c.get("image", ""))]
    status: dict[str, Any] = {"phase": "Running"}
    if refused:
        status = {
            "phase": "Pending",
            "containerStatuses": [
                {
                    "name": c["name"],
                    "image": c["image"],
                    "ready": False,
                    "state": {
                        "waiting": {
                            "reason": "ErrImagePull",
                            "message": f'failed to pull and unpack image "{c["image"]}": 429 Too Many Requests - '
                            "toomanyrequests: You have reached your unauthenticated pull rate limit. "
                            "https://www.docker.com/increase-rate-limit",
                        }
                    },
                }
                for c in containers
                if c["image"] in refused
            ],
        }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name,
            "namespace": ns,
            "labels": labels,
            "creationTimestamp": now(state),
        },
        "spec": {"containers": containers},
        "status": status,
        "_owner": dep_key,
    }
    cluster["objects"][f"|Pod|{ns}|{pod_name}"] = pod
    if not refused and any(c.get("name") == "istio-proxy" for c in containers):
        source = state["clusters"].get(cluster["config_from"], cluster)
        cluster["proxies"][f"{pod_name}.{ns}"] = {
            "snapshot": istio_objects(source),
            "generation": source["generation"],
            "polls": 0,
            "version": version,
            "revision": revision,
        }


def on_docker_hub(image: str) -> bool:
    first = image.split("/", 1)[0]
    return "/" not in image or first in ("docker.io", "index.docker.io") or ("." not in first and ":" not in first)


def can_pull(state: dict[str, Any], cluster: dict[str, Any], image: str) -> bool:
    """Whether the node gets ``image``: loaded into it, or pulled (Docker Hub may refuse anonymous pulls)."""
    if not cluster.get("kind") or image in cluster.get("node_images", []):
        return True
    return not (state.get("dockerhub_refuses_anonymous") and on_docker_hub(image))


def istio_objects(cluster: dict[str, Any]) -> list[dict[str, Any]]:
    """What istiod pushes from: the Istio objects and the Gateway API objects it converts."""
    return [copy.deepcopy(o) for o in cluster["objects"].values() if group_of(o["apiVersion"]) in CONFIG_GROUPS]


def public(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if not k.startswith("_")}


def matches_selector(doc: dict[str, Any], selector: str | None) -> bool:
    if not selector:
        return True
    labels = (doc.get("metadata") or {}).get("labels") or {}
    for term in selector.split(","):
        if "=" in term:
            k, v = term.split("=", 1)
            if labels.get(k) != v:
                return False
        elif term not in labels:
            return False
    return True
