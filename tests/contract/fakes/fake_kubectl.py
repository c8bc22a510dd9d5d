#!/usr/bin/env python3
"""Fake ``kubectl`` for the contract tests (see kubefakes_state.py)."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from typing import Any

import kubefakes_state as fk
import yaml

VALUE_FLAGS = {
    "--kubeconfig",
    "--context",
    "-n",
    "--namespace",
    "-o",
    "--output",
    "-l",
    "--selector",
    "-f",
    "--filename",
    "-c",
    "--container",
    "--raw",
    "--request-timeout",
}


def parse(argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """Positional words and flags (``--flag value`` and ``--flag=value`` alike; bare flags get "true")."""
    words: list[str] = []
    flags: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("-") and arg != "-":
            if "=" in arg and arg.startswith("--"):
                name, value = arg.split("=", 1)
                flags[name] = value
            elif arg in VALUE_FLAGS:
                flags[arg] = argv[i + 1]
                i += 1
            else:
                flags[arg] = "true"
        else:
            words.append(arg)
        i += 1
    for short, long in (
        ("-n", "--namespace"),
        ("-o", "--output"),
        ("-l", "--selector"),
        ("-f", "--filename"),
        ("-c", "--container"),
    ):
        if short in flags:
            flags[long] = flags.pop(short)
    return words, flags


def load_docs(path: str) -> list[dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as handle:
            return [d for d in yaml.safe_load_all(handle) if d]
    except FileNotFoundError:
        raise fk.ToolExit(1, f'error: the path "{path}" does not exist') from None


def resource(name: str, cluster: dict[str, Any]) -> tuple[str, str]:
    if name not in fk.RESOURCES:
        raise fk.ToolExit(1, f'error: the server doesn\'t have a resource type "{name}"')
    group, kind = fk.RESOURCES[name]
    if (group == fk.ISTIO_GROUP and not cluster["crds"]) or (
        group == fk.GATEWAY_API_GROUP and not cluster.get("gateway_api")
    ):
        raise fk.ToolExit(1, f'error: the server doesn\'t have a resource type "{name}"')
    return group, kind


def as_json(items: list[dict[str, Any]], single: bool) -> str:
    if single:
        return json.dumps(fk.public(items[0]), indent=2)
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": [fk.public(i) for i in items]}, indent=2)


def webhook_errors(doc: dict[str, Any]) -> list[str]:
    if doc.get("kind") != "VirtualService":
        return []
    errors = []
    for rule in (doc.get("spec") or {}).get("http") or []:
        for dest in rule.get("route") or []:
            weight = dest.get("weight", 0)
            if weight < 0:
                errors.append(f"weight {weight} < 0")
    return errors


def cmd_get(state: dict[str, Any], cluster: dict[str, Any], words: list[str], flags: dict[str, str]) -> str:
    if "--raw" in flags:
        return "ok" if flags["--raw"] == "/readyz" else "{}"
    ignore = flags.get("--ignore-not-found") in ("true", "")
    if "--filename" in flags:
        found = []
        for doc in load_docs(flags["--filename"]):
            obj = cluster["objects"].get(fk.key_of(doc))
            if obj is not None:
                found.append(obj)
            elif not ignore:
                raise fk.ToolExit(
                    1, f'Error from server (NotFound): {fk.plural(doc)} "{doc["metadata"]["name"]}" not found'
                )
        if not found:
            return ""
        return as_json(found, single=len(found) == 1)
    if words[1] in ("crd", "crds", "customresourcedefinition", "customresourcedefinitions"):
        name = words[2] if len(words) > 2 else ""
        istio = cluster["crds"] and name.endswith(".networking.istio.io")
        gateway_api = cluster.get("gateway_api") and name.endswith(".gateway.networking.k8s.io")
        if not (istio or gateway_api):
            if ignore:
                return ""
            raise fk.ToolExit(
                1, f'Error from server (NotFound): customresourcedefinitions.apiextensions.k8s.io "{name}" not found'
            )
        if flags.get("--output") == "json":
            annotations = (
                {
                    "gateway.networking.k8s.io/bundle-version": cluster["gateway_api"],
                    "gateway.networking.k8s.io/channel": "standard",
                }
                if gateway_api
                else {}
            )
            return json.dumps(
                {
                    "apiVersion": "apiextensions.k8s.io/v1",
                    "kind": "CustomResourceDefinition",
                    "metadata": {"name": name, "annotations": annotations},
                },
                indent=2,
            )
        return f"customresourcedefinition.apiextensions.k8s.io/{name}"
    types = words[1].split(",")
    name = words[2] if len(words) > 2 else None
    all_ns = "-A" in flags or "--all-namespaces" in flags
    ns = flags.get("--namespace", "default")
    items: list[dict[str, Any]] = []
    for type_name in types:
        group, kind = resource(type_name, cluster)
        for obj in cluster["objects"].values():
            if obj["kind"] != kind or fk.group_of(obj["apiVersion"]) != group:
                continue
            if kind not in fk.CLUSTER_SCOPED and not all_ns and obj["metadata"].get("namespace") != ns:
                continue
            if name and obj["metadata"]["name"] != name:
                continue
            if not fk.matches_selector(obj, flags.get("--selector")):
                continue
            items.append(obj)
    if name and not items:
        if ignore:
            return ""
        group, kind = resource(types[0], cluster)
        plural = kind.lower() + "s" + (f".{group}" if group else "")
        raise fk.ToolExit(1, f'Error from server (NotFound): {plural} "{name}" not found')
    items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
    if flags.get("--output") == "name":
        return "\n".join(fk.display(o) for o in items)
    return as_json(items, single=bool(name))


GATEWAY_API_RELEASE = re.compile(
    r"^https://github\.com/kubernetes-sigs/gateway-api/releases/download/(v[0-9.]+)/standard-install\.yaml$"
)
GATEWAY_API_KINDS = (
    "backendtlspolicies",
    "gatewayclasses",
    "gateways",
    "grpcroutes",
    "httproutes",
    "listenersets",
    "referencegrants",
    "tlsroutes",
)


def cmd_apply_url(state: dict[str, Any], cluster: dict[str, Any], url: str, flags: dict[str, str]) -> str:
    """``kubectl apply --server-side -f <a Gateway API release's standard-install.yaml>``: installs its CRDs."""
    release = GATEWAY_API_RELEASE.match(url)
    if release is None or flags.get("--server-side") != "true":
        raise fk.ToolExit(1, f'error: unable to read URL "{url}" (this fake serves Gateway API releases server-side)')
    state.setdefault("fetched", []).append(url)
    cluster["gateway_api"] = release.group(1)
    return "\n".join(
        f"customresourcedefinition.apiextensions.k8s.io/{kind}.gateway.networking.k8s.io serverside-applied"
        for kind in GATEWAY_API_KINDS
    )


def cmd_wait(cluster: dict[str, Any], words: list[str], flags: dict[str, str]) -> str:
    """``kubectl wait --for=condition=Established crd/NAME...``: met at once for installed CRDs."""
    if flags.get("--for") != "condition=Established":
        raise fk.ToolExit(1, f"error: this fake waits only for CRDs to be Established, not {flags.get('--for')}")
    out = []
    for target in words[1:]:
        name = target.split("/", 1)[1]
        installed = (cluster["crds"] and name.endswith(".networking.istio.io")) or (
            cluster.get("gateway_api") and name.endswith(".gateway.networking.k8s.io")
        )
        if not installed:
            raise fk.ToolExit(
                1, f'Error from server (NotFound): customresourcedefinitions.apiextensions.k8s.io "{name}" not found'
            )
        out.append(f"customresourcedefinition.apiextensions.k8s.io/{name} condition met")
    return "\n".join(out)


def cmd_port_forward(cluster: dict[str, Any], words: list[str], flags: dict[str, str]) -> str:
    """``kubectl port-forward -n NS service/NAME :PORT``: kubectl's two lines; :func:`main` then serves until the
    process is terminated (bounded to 10 minutes). It forwards nothing: the tests check the command and its
    lifetime."""
    target, ports = words[1], words[2]
    name = target.split("/", 1)[1]
    ns = flags.get("--namespace", "default")
    if f"|Service|{ns}|{name}" not in cluster["objects"]:
        raise fk.ToolExit(1, f'Error from server (NotFound): services "{name}" not found')
    remote = ports.split(":")[-1]
    local = 30000 + os.getpid() % 20000
    return f"Forwarding from 127.0.0.1:{local} -> {remote}\nForwarding from [::1]:{local} -> {remote}"


def cmd_apply(state: dict[str, Any], cluster: dict[str, Any], flags: dict[str, str]) -> str:
    path = flags["--filename"]
    if path.startswith("https://"):
        return cmd_apply_url(state, cluster, path, flags)
    dry = flags.get("--dry-run") == "server"
    out, errors = [], []
    for doc in load_docs(path):
        group = fk.group_of(doc["apiVersion"])
        name = doc["metadata"]["name"]
        ns = doc["metadata"].get("namespace", "default")
        if (group == fk.ISTIO_GROUP and not cluster["crds"]) or (
            group == fk.GATEWAY_API_GROUP and not cluster.get("gateway_api")
        ):
            errors.append(
                f'error: resource mapping not found for name: "{name}" namespace: "{ns}" from "{path}": '
                f'no matches for kind "{doc["kind"]}" in version "{doc["apiVersion"]}"\n'
                "ensure CRDs are installed first"
            )
            continue
        if doc["kind"] not in fk.CLUSTER_SCOPED and f"|Namespace||{ns}" not in cluster["objects"]:
            errors.append(f'Error from server (NotFound): error when creating "{path}": namespaces "{ns}" not found')
            continue
        problems = webhook_errors(doc) if cluster.get("validating", True) else []
        if problems:
            errors.append(
                f'Error from server: error when creating "{path}": '
                'admission webhook "validation.istio.io" denied '
                f"the request: configuration is invalid: {', '.join(problems)}"
            )
            continue
        if dry:
            exists = fk.key_of(doc) in cluster["objects"]
            out.append(f"{fk.display(doc)} {'configured' if exists else 'created'} (server dry run)")
        else:
            out.append(f"{fk.display(doc)} {fk.put(state, cluster, doc)}")
    if errors:
        sys.stdout.write("\n".join(out) + ("\n" if out else ""))
        raise fk.ToolExit(1, "\n".join(errors))
    return "\n".join(out)


def cmd_delete(state: dict[str, Any], cluster: dict[str, Any], flags: dict[str, str]) -> str:
    path = flags["--filename"]
    dry = flags.get("--dry-run") == "server"
    ignore = flags.get("--ignore-not-found") == "true"
    out, errors = [], []
    for doc in load_docs(path):
        key = fk.key_of(doc)
        if key not in cluster["objects"]:
            if not ignore:
                errors.append(
                    f'Error from server (NotFound): error when deleting "{path}": {fk.plural(doc)} '
                    f'"{doc["metadata"]["name"]}" not found'
                )
            continue
        if not dry:
            fk.remove(cluster, key)
        kind_group, obj_name = fk.display(doc).split("/", 1)
        out.append(f'{kind_group} "{obj_name}" deleted' + (" (server dry run)" if dry else ""))
    if errors:
        sys.stdout.write("\n".join(out) + ("\n" if out else ""))
        raise fk.ToolExit(1, "\n".join(errors))
    return "\n".join(out)


def cmd_label(state: dict[str, Any], cluster: dict[str, Any], words: list[str], flags: dict[str, str]) -> str:
    group, kind = resource(words[1], cluster)
    ns = "" if kind in fk.CLUSTER_SCOPED else flags.get("--namespace", "default")
    key = f"{group}|{kind}|{ns}|{words[2]}"
    obj = cluster["objects"].get(key)
    if obj is None:
        raise fk.ToolExit(1, f'Error from server (NotFound): {kind.lower()}s "{words[2]}" not found')
    labels = obj["metadata"].setdefault("labels", {})
    for term in words[3:]:
        if "=" not in term and term.endswith("-"):  # `key-` removes the label
            labels.pop(term[:-1], None)
            continue
        k, v = term.split("=", 1)
        if k in labels and labels[k] != v and flags.get("--overwrite") != "true":
            raise fk.ToolExit(1, f"error: '{k}' already has a value ({labels[k]}), and --overwrite is false")
        labels[k] = v
    return f"{kind.lower()}/{words[2]} labeled"


def cmd_rollout(state: dict[str, Any], cluster: dict[str, Any], words: list[str], flags: dict[str, str]) -> str:
    ns = flags.get("--namespace", "default")
    out = []
    targets = words[2:]
    if targets in (["deployment"], ["deployments"]):  # every deployment of the namespace
        targets = sorted(
            f"deployment/{o['metadata']['name']}"
            for o in cluster["objects"].values()
            if o["kind"] == "Deployment" and o["metadata"].get("namespace") == ns
        )
    for target in targets:
        name = target.split("/", 1)[1]
        dep = cluster["objects"].get(f"apps|Deployment|{ns}|{name}")
        if dep is None:
            raise fk.ToolExit(1, f'Error from server (NotFound): deployments.apps "{name}" not found')
        if words[1] == "status":
            stuck = [
                p
                for p in cluster["objects"].values()
                if p["kind"] == "Pod"
                and p.get("_owner") == f"apps|Deployment|{ns}|{name}"
                and (p.get("status") or {}).get("phase") != "Running"
            ]
            if stuck:
                sys.stdout.write(
                    f'Waiting for deployment "{name}" rollout to finish: 0 of 1 updated replicas are available...\n'
                )
                raise fk.ToolExit(1, f'error: deployment "{name}" exceeded its progress deadline')
            out.append(f'deployment "{name}" successfully rolled out')
        elif words[1] == "restart":
            fk.make_pod(state, cluster, dep)
            out.append(f"deployment.apps/{name} restarted")
    return "\n".join(out)


def cmd_logs(cluster: dict[str, Any], words: list[str], flags: dict[str, str]) -> str:
    ns = flags.get("--namespace", "default")
    pod = words[1]
    if f"|Pod|{ns}|{pod}" not in cluster["objects"]:
        raise fk.ToolExit(1, f'Error from server (NotFound): pods "{pod}" not found')
    lines = cluster["logs"].get(f"{ns}/{pod}/{flags.get('--container', '')}", [])
    tail = int(flags.get("--tail", "-1"))
    return "\n".join(lines[-tail:] if tail >= 0 else lines)


def handle(state: dict[str, Any], argv: list[str]) -> str:
    words, flags = parse(argv)
    if not words:
        raise fk.ToolExit(1, "error: no command given")
    client = {"major": "1", "minor": "36", "gitVersion": "v1.36.4", "platform": "linux/amd64"}
    if words[0] == "version" and flags.get("--client") == "true":
        return json.dumps({"clientVersion": client, "kustomizeVersion": "v5.7.1"}, indent=2)
    _, cluster = fk.resolve_cluster(state, flags.get("--kubeconfig"), flags.get("--context"))
    verb = words[0]
    if verb == "version":
        v = cluster["kubernetes"]
        return json.dumps(
            {
                "clientVersion": client,
                "kustomizeVersion": "v5.7.1",
                "serverVersion": {"gitVersion": f"v{v}", "major": "1", "minor": v.split(".")[1]},
            },
            indent=2,
        )
    if verb == "get":
        return cmd_get(state, cluster, words, flags)
    if verb == "apply":
        return cmd_apply(state, cluster, flags)
    if verb == "delete":
        return cmd_delete(state, cluster, flags)
    if verb == "label":
        return cmd_label(state, cluster, words, flags)
    if verb == "rollout":
        return cmd_rollout(state, cluster, words, flags)
    if verb == "logs":
        return cmd_logs(cluster, words, flags)
    if verb == "wait":
        return cmd_wait(cluster, words, flags)
    if verb == "port-forward":
        return cmd_port_forward(cluster, words, flags)
    raise fk.ToolExit(1, f'error: unknown command "{verb}" for "kubectl"')


def main(argv: list[str]) -> int:
    code = fk.run_tool("kubectl", handle, argv)
    if code == 0 and "port-forward" in argv:
        sys.stdout.flush()
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        time.sleep(600)  # outside the world's lock: other fake tools keep working while this one "forwards"
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
