#!/usr/bin/env python3
"""Fake ``istioctl`` for the contract tests (see kubefakes_state.py and kubefakes_envoy.py).

One fake serves several istioctl releases: a wrapper may set ``MESHRELEASE_FAKE_ISTIOCTL_VERSION`` (the
release it pretends to be; default: the world's ``istioctl_version``) and ``MESHRELEASE_FAKE_ISTIOCTL_NAME``
(the tool name its calls are logged under; default ``istioctl``). Installs with a revision
(``--set revision=R`` / ``--revision R``) add ``istiod-R`` next to the default control plane and upgrade the
gateway in place; ``uninstall --revision R`` removes that revision's control plane ("default": the one
installed without a revision) and prunes the validating webhook of unlabelled objects if that revision
served it; ``tag set default --revision R`` moves the default injector and that webhook to R (with ``-y``;
without it, istioctl asks on stdin and, reading no "y", applies nothing).

``proxy-status`` answers in the form of the release the fake pretends to be (istioctl_formats.py): JSON for
``-o json`` from 1.30 on, otherwise the default or ``--verbosity 1`` table.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import istioctl_formats as formats
import kubefakes_envoy as envoy
import kubefakes_state as fk
import yaml


def split(argv: list[str]) -> tuple[list[str], dict[str, str]]:
    words: list[str] = []
    flags: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--") and "=" in arg:
            k, v = arg.split("=", 1)
            flags[k] = v
        elif arg in (
            "--kubeconfig",
            "--context",
            "-o",
            "--output",
            "-f",
            "--filename",
            "-i",
            "--istioNamespace",
            "--set",
            "-s",
            "--revision",
            "-r",
            "-v",
            "--verbosity",
        ):
            flags[arg] = argv[i + 1]
            i += 1
        elif arg.startswith("-"):
            flags[arg] = "true"
        else:
            words.append(arg)
        i += 1
    return words, flags


def my_version(state: dict[str, Any]) -> str:
    return os.environ.get("MESHRELEASE_FAKE_ISTIOCTL_VERSION") or state["istioctl_version"]


def set_values(argv: list[str]) -> dict[str, str]:
    """Every ``--set k=v`` / ``-s k=v`` / ``--set=k=v`` of the command line."""
    out: dict[str, str] = {}
    for i, arg in enumerate(argv):
        value = None
        if arg in ("--set", "-s") and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--set="):
            value = arg.split("=", 1)[1]
        if value and "=" in value:
            k, v = value.split("=", 1)
            out[k] = v
    return out


def read_spec(flags: dict[str, str]) -> dict[str, Any]:
    path = flags.get("-f") or flags.get("--filename")
    if not path:
        return {}
    with open(path, encoding="utf-8") as handle:
        return (yaml.safe_load(handle) or {}).get("spec") or {}


def confirm(flags: dict[str, str], verb: str) -> None:
    if flags.get("-y") != "true" and flags.get("--skip-confirmation") != "true":
        raise fk.ToolExit(1, f"Error: {verb} needs confirmation (-y) when not on a terminal")


def install(
    state: dict[str, Any], cluster: dict[str, Any], flags: dict[str, str], argv: list[str] | None = None
) -> str:
    confirm(flags, "install")
    spec = read_spec(flags)
    sets = set_values(argv or [])
    revision = flags.get("--revision") or flags.get("-r") or sets.get("revision") or spec.get("revision")
    revision = "" if revision in (None, "default") else str(revision)
    version = my_version(state)
    cluster["crds"] = True
    if revision:
        cluster.setdefault("revisions", {})[revision] = {"version": version, "spec": spec}
    else:
        cluster["istio"] = {"version": version, "spec": spec}
        if cluster.get("validator") == "default":
            cluster["validating"] = True
    fk.put(state, cluster, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}})
    gateway = ((spec.get("components") or {}).get("ingressGateways") or [{}])[0]
    service = (gateway.get("k8s") or {}).get("service") or {}
    fk.put(
        state,
        cluster,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "istio-ingressgateway",
                "namespace": "istio-system",
                "labels": {"istio": "ingressgateway"},
            },
            "spec": {
                "type": service.get("type", "LoadBalancer"),
                "ports": service.get("ports") or [{"name": "http2", "port": 80, "targetPort": 8080}],
                "selector": {"istio": "ingressgateway"},
            },
        },
    )
    pilot_labels = {"app": "istiod", "istio": "pilot", **({"istio.io/rev": revision} if revision else {})}
    for name, image, labels in (
        (f"istiod-{revision}" if revision else "istiod", f"docker.io/istio/pilot:{version}", pilot_labels),
        (  # with a revision, the gateway is upgraded in place to it (docs/upgrade-check.md)
            "istio-ingressgateway",
            f"docker.io/istio/proxyv2:{version}",
            {"app": "istio-ingressgateway", "istio": "ingressgateway"},
        ),
    ):
        fk.put(
            state,
            cluster,
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name, "namespace": "istio-system", "labels": labels},
                "spec": {
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "containers": [{"name": "discovery" if "istiod" in name else "istio-proxy", "image": image}]
                        },
                    }
                },
                "_revision": revision or "default",
            },
        )
    sys.stderr.write(
        "✔ Istio core installed\n✔ Istiod installed\n✔ Ingress gateways installed\n✔ Installation complete\n"
    )
    return ""


def proxy(state: dict[str, Any], cluster: dict[str, Any], proxy_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    pod_name, _, ns = proxy_id.rpartition(".")
    pod = cluster["objects"].get(f"|Pod|{ns}|{pod_name}")
    if pod is None:
        raise fk.ToolExit(1, f'Error: failed to get config dump: pods "{pod_name}" not found')
    entry = cluster["proxies"].get(proxy_id)
    if entry is None:
        raise fk.ToolExit(1, f"Error: {proxy_id} has no istio-proxy container")
    source = state["clusters"][cluster["config_from"]]
    if entry["generation"] < source["generation"]:
        entry["polls"] += 1
        lag = cluster["push_lag"]
        if lag >= 0 and entry["polls"] > lag:
            entry.update(snapshot=fk.istio_objects(source), generation=source["generation"], polls=0)
            # the proxy got the push; it acknowledges it only after ``ack_lag`` proxy-status reads (-1: never)
            entry["unacked"] = cluster.get("ack_lag", 0)
    return pod, entry


def uninstall(cluster: dict[str, Any], flags: dict[str, str]) -> str:
    confirm(flags, "uninstall")
    if flags.get("--purge") == "true":
        for key in [k for k, o in cluster["objects"].items() if o["metadata"].get("namespace") == "istio-system"]:
            fk.remove(cluster, key)
        cluster["crds"], cluster["istio"], cluster["revisions"] = False, None, {}
        cluster["validator"], cluster["validating"], cluster["default_tag"] = "default", False, None
        return "✔ Uninstall complete"
    revision = flags.get("--revision") or flags.get("-r") or str(read_spec(flags).get("revision") or "")
    if not revision and not (flags.get("-f") or flags.get("--filename")):
        raise fk.ToolExit(1, "Error: at least one of the --revision or --filename flags must be set")
    revision = revision or "default"
    for key in [
        k
        for k, o in cluster["objects"].items()
        if o["kind"] == "Deployment"
        and o["metadata"].get("namespace") == "istio-system"
        and o.get("_revision", "default") == revision
    ]:
        fk.remove(cluster, key)
    if revision == "default":
        cluster["istio"] = None
    else:
        (cluster.get("revisions") or {}).pop(revision, None)
    if cluster.get("validator") == revision:
        cluster["validating"] = False  # its ValidatingWebhookConfiguration is pruned with it
    return "✔ Uninstall complete"


def tag_set(cluster: dict[str, Any], words: list[str], flags: dict[str, str]) -> str:
    revision = flags.get("--revision") or flags.get("-r")
    if not revision:
        raise fk.ToolExit(1, 'Error: required flag(s) "revision" not set')
    if words[2:3] != ["default"]:
        raise fk.ToolExit(1, "Error: the fake only knows the default tag")
    if revision not in (cluster.get("revisions") or {}):
        raise fk.ToolExit(1, f"Error: cannot find MutatingWebhookConfiguration with revision {revision!r}")
    if cluster.get("istio") and flags.get("-y") != "true" and flags.get("--skip-confirmation") != "true":
        sys.stderr.write(
            "Error [IST0139] (MutatingWebhookConfiguration istio-revision-tag-default) Webhook overlaps with others: "
            "[istio-sidecar-injector/namespace.sidecar-injector.istio.io]. This may cause injection to occur twice.\n"
        )
        return "Apply anyways? [y/N]"
    cluster["default_tag"] = revision
    cluster["validator"], cluster["validating"] = revision, True
    return (
        f'Revision tag "default" created, referencing control plane revision "{revision}". To enable injection using '
        "this\nrevision tag, use 'kubectl label namespace <NAMESPACE> istio.io/rev=default'"
    )


def manifest_generate(state: dict[str, Any], flags: dict[str, str]) -> str:
    """The Deployments ``istioctl manifest generate -f`` renders (istiod and the gateway), in the fake's hub."""
    version = my_version(state)
    read_spec(flags)  # the file must exist
    docs = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": "istio-system"},
            "spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}},
        }
        for name, container, image in (
            ("istiod", "discovery", f"docker.io/istio/pilot:{version}"),
            ("istio-ingressgateway", "istio-proxy", f"docker.io/istio/proxyv2:{version}"),
        )
    ]
    docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "istio", "namespace": "istio-system"}})
    return yaml.safe_dump_all(docs, sort_keys=False)


def istiod_pods(cluster: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """istiod pod name -> {"revision", "version"} of every control plane running."""
    out: dict[str, dict[str, Any]] = {}
    for pod in cluster["objects"].values():
        labels = (pod.get("metadata") or {}).get("labels") or {}
        if pod["kind"] != "Pod" or labels.get("app") != "istiod":
            continue
        image = pod["spec"]["containers"][0]["image"]
        out[pod["metadata"]["name"]] = {
            "revision": labels.get("istio.io/rev", "default"),
            "version": fk.image_version(image),
        }
    return out


def proxy_rows(state: dict[str, Any], cluster: dict[str, Any]) -> list[dict[str, Any]]:
    source = state["clusters"][cluster["config_from"]]
    istiods = istiod_pods(cluster)
    by_revision = {info["revision"]: name for name, info in sorted(istiods.items())}
    rows = []
    for proxy_id, entry in sorted(cluster["proxies"].items()):
        unacked = entry.get("unacked", 0)
        if unacked > 0:
            entry["unacked"] = unacked - 1
        behind = entry["generation"] < source["generation"] or unacked != 0
        revision = entry.get("revision") or "default"
        types = {t: "SYNCED" for t in formats.SIDECAR_TYPES}
        if behind:  # routes and clusters sent, not acknowledged yet
            types["RDS"] = types["CDS"] = "STALE"
        rows.append(
            {
                "id": proxy_id,
                "cluster": "Kubernetes",
                "istiod": by_revision.get(revision) or f"istiod-{revision}-unknown",
                "version": entry.get("version") or state["istioctl_version"],
                "types": types,
                "age": "2m5s",
            }
        )
    return rows


def proxy_status(state: dict[str, Any], cluster: dict[str, Any], flags: dict[str, str]) -> str:
    if not cluster["istiod_reachable"]:
        raise fk.ToolExit(1, "Error: unable to find any Istiod instances")
    rows = proxy_rows(state, cluster)
    output = flags.get("-o") or flags.get("--output") or "table"
    if output not in ("table", "json", "yaml"):
        raise fk.ToolExit(1, f'Error: output format "{output}" not supported')
    version = my_version(state)
    if output == "json" and formats.prints_json(version):
        istiods = {name: {"version": info["version"]} for name, info in istiod_pods(cluster).items()}
        return formats.syncz_json(istiods, rows, fk.now(state))
    verbosity = int(flags.get("--verbosity") or flags.get("-v") or "0")
    return formats.verbose_table(rows) if verbosity > 0 else formats.table(rows)


def mesh_versions(cluster: dict[str, Any]) -> list[dict[str, Any]]:
    planes = ([cluster["istio"]] if cluster["istio"] else []) + list((cluster.get("revisions") or {}).values())
    return [{"Component": "pilot", "Info": {"version": p["version"]}} for p in planes]


def handle(state: dict[str, Any], argv: list[str]) -> str:
    words, flags = split(argv)
    if words[:1] == ["version"] and flags.get("--remote") == "false":
        return json.dumps({"clientVersion": {"version": my_version(state), "revision": "fake", "status": "Clean"}})
    if words[:2] == ["manifest", "generate"]:
        return manifest_generate(state, flags)
    _, cluster = fk.resolve_cluster(state, flags.get("--kubeconfig"), flags.get("--context"))
    if words[:1] == ["version"]:
        return json.dumps({"clientVersion": {"version": my_version(state)}, "meshVersion": mesh_versions(cluster)})
    if words[:2] == ["x", "precheck"]:
        return "✔ No issues found when checking the cluster. Istio is safe to install or upgrade!"
    if words[:1] == ["install"]:
        return install(state, cluster, flags, argv)
    if words[:1] == ["uninstall"]:
        return uninstall(cluster, flags)
    if words[:1] in (["proxy-config"], ["pc"]):
        pod, entry = proxy(state, cluster, words[2])
        labels = pod["metadata"].get("labels") or {}
        gateway = labels.get("istio") == "ingressgateway"
        gateway_api = labels.get("gateway.networking.k8s.io/gateway-name")
        if words[1] == "routes":
            if gateway_api:
                data = envoy.gateway_api_routes(entry["snapshot"], pod["metadata"]["namespace"], gateway_api)
            elif gateway:
                data = envoy.gateway_routes(cluster, entry["snapshot"])
            else:
                data = envoy.sidecar_routes(cluster, entry["snapshot"], pod["metadata"]["namespace"])
        elif words[1] == "clusters":
            data = envoy.clusters(cluster, entry["snapshot"])
        else:
            raise fk.ToolExit(1, f"Error: unknown proxy-config type {words[1]}")
        return json.dumps(data, indent=2)
    if words[:1] in (["proxy-status"], ["ps"]):
        return proxy_status(state, cluster, flags)
    if words[:2] == ["tag", "set"]:
        return tag_set(cluster, words, flags)
    raise fk.ToolExit(1, f"Error: unknown command {words!r}")


def main(argv: list[str]) -> int:
    return fk.run_tool(os.environ.get("MESHRELEASE_FAKE_ISTIOCTL_NAME", "istioctl"), handle, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
