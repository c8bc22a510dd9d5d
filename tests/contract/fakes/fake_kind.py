#!/usr/bin/env python3
"""Fake ``kind`` for the contract tests (see kubefakes_state.py).

``load image-archive <tar> --name N`` reads the archive the fake docker saved (a JSON list of image
references standing in for the tar) and makes those images present in the node.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

import kubefakes_state as fk
import yaml


def _flag(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def create(state: dict[str, Any], argv: list[str]) -> str:
    config: dict[str, Any] = {}
    if _flag(argv, "--config"):
        with open(_flag(argv, "--config") or "", encoding="utf-8") as handle:
            config = yaml.safe_load(handle) or {}
    name = _flag(argv, "--name") or config.get("name") or "kind"
    if name in state["kind_clusters"]:
        raise fk.ToolExit(
            1, f'ERROR: failed to create cluster: node(s) already exist for a cluster with the name "{name}"'
        )
    nodes = config.get("nodes") or [{"role": "control-plane"}]
    image = _flag(argv, "--image") or nodes[0].get("image") or "kindest/node:v1.35.0"
    match = re.search(r":v(\d+\.\d+\.\d+)", image)
    state["kind_clusters"][name] = {"image": image, "config": config, "argv": argv}
    fk.new_cluster(state, f"kind-{name}", kubernetes=match.group(1) if match else "1.35.0", kind=True)
    kubeconfig = _flag(argv, "--kubeconfig")
    if kubeconfig:
        with open(kubeconfig, "w", encoding="utf-8") as handle:
            handle.write(fk.kubeconfig_text(f"kind-{name}", f"kind-{name}"))
    sys.stderr.write(f'Creating cluster "{name}" ...\n ✓ Ensuring node image ({image})\n ✓ Preparing nodes\n')
    return ""


def handle(state: dict[str, Any], argv: list[str]) -> str:
    if argv[:2] == ["create", "cluster"]:
        return create(state, argv)
    if argv[:2] == ["get", "clusters"]:
        if not state["kind_clusters"]:
            sys.stderr.write("No kind clusters found.\n")
        return "\n".join(sorted(state["kind_clusters"]))
    if argv[:2] == ["get", "kubeconfig"]:
        name = _flag(argv, "--name") or "kind"
        if name not in state["kind_clusters"]:
            raise fk.ToolExit(1, f"ERROR: could not locate any control plane nodes for cluster named '{name}'")
        return fk.kubeconfig_text(f"kind-{name}", f"kind-{name}")
    if argv[:2] == ["delete", "cluster"]:
        name = _flag(argv, "--name") or "kind"
        sys.stderr.write(f'Deleting cluster "{name}" ...\n')
        if state["kind_clusters"].pop(name, None) is not None:
            state["clusters"].pop(f"kind-{name}", None)
        return ""
    if argv[:1] == ["version"]:
        return f"kind {state.get('kind_version', 'v0.33.0')} go1.25.4 linux/amd64"
    if argv[:2] == ["load", "image-archive"]:
        name = _flag(argv, "--name") or "kind"
        if name not in state["kind_clusters"]:
            raise fk.ToolExit(1, f'ERROR: no nodes found for cluster "{name}"')
        try:
            with open(argv[2], encoding="utf-8") as handle:
                archive = json.load(handle)
        except (OSError, ValueError) as exc:
            raise fk.ToolExit(1, f"ERROR: failed to load image: {exc}") from None
        cluster = state["clusters"][f"kind-{name}"]
        cluster["node_images"] = sorted(set(cluster["node_images"]) | set(archive["images"]))
        return ""
    if argv[:2] == ["export", "logs"]:
        name = _flag(argv, "--name") or "kind"
        if name not in state["kind_clusters"]:
            raise fk.ToolExit(1, f'ERROR: unknown cluster "{name}"')
        target = argv[2]
        os.makedirs(os.path.join(target, f"{name}-control-plane"), exist_ok=True)
        with open(os.path.join(target, "kind-version.txt"), "w", encoding="utf-8") as handle:
            handle.write("kind v0.33.0 (fake)\n")
        return f'Exporting logs for cluster "{name}" to:\n{target}'
    raise fk.ToolExit(1, f"ERROR: unknown command {argv!r}")


def main(argv: list[str]) -> int:
    return fk.run_tool("kind", handle, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
