"""The kubectl habits of `meshrelease apply/delete/get` that need no running mesh: argument forms, -f folders,
-n against an object's own namespace, and the printed forms."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshrelease.cli import kubectl_output
from meshrelease.cli.main import ArgumentParser
from meshrelease.cli.objects import manifest_files, named_resources, parse_intermixed
from meshrelease.errors import MeshReleaseError
from meshrelease.k8s.manifest import load_manifest_text, namespace_conflict, with_default_namespace


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], ("", [])),
        (["vs"], ("vs", [])),
        (["vs", "reviews", "ratings"], ("vs", ["reviews", "ratings"])),
        (["vs/reviews", "vs/ratings"], ("vs", ["reviews", "ratings"])),
    ],
)
def test_named_resources(args: list[str], expected: tuple[str, list[str]]) -> None:
    assert named_resources(args, "get") == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["vs", "dr/reviews"], "no need to specify a resource type as a separate argument"),
        (["vs/reviews", "dr/reviews"], "name objects of one kind per command"),
    ],
)
def test_named_resources_mistakes(args: list[str], message: str) -> None:
    with pytest.raises(MeshReleaseError, match=message):
        named_resources(args, "get")


def test_options_anywhere_on_the_line() -> None:
    args = parse_intermixed("get", ["vs", "-n", "bookinfo", "reviews", "-o", "json"], ArgumentParser)
    assert (args.resources, args.namespace, args.output, args.command) == (["vs", "reviews"], "bookinfo", "json", "get")
    args = parse_intermixed("delete", ["dr", "-n", "x", "reviews", "--ignore-not-found"], ArgumentParser)
    assert (args.resources, args.namespace, args.ignore_not_found) == (["dr", "reviews"], "x", True)


def test_folders_give_their_manifests_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("b.yaml", "a.yml", "c.json", "notes.txt", "sub/d.yaml"):
        (tmp_path / name).write_text("{}")
    assert manifest_files([str(tmp_path)], recursive=False) == [
        str(tmp_path / n) for n in ("a.yml", "b.yaml", "c.json")
    ]
    assert manifest_files([str(tmp_path)], recursive=True)[-1] == str(tmp_path / "sub" / "d.yaml")
    assert manifest_files(["-"], recursive=False) == ["-"]
    with pytest.raises(MeshReleaseError, match='the path "nope" does not exist'):
        manifest_files(["nope"], recursive=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MeshReleaseError, match=r"no \.yaml, \.yml or \.json files"):
        manifest_files([str(empty)], recursive=False)


DOCS = """apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: shop
spec: {hosts: [reviews]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec: {host: reviews}
"""


def test_namespace_from_the_command_line() -> None:
    ns, vs, dr = load_manifest_text(DOCS, "release.yaml")
    assert namespace_conflict(ns, "default") is None  # cluster-scoped
    assert namespace_conflict(vs, "shop") is None and namespace_conflict(dr, "shop") is None
    conflict = namespace_conflict(vs, "default")
    assert conflict is not None and conflict.startswith("release.yaml:9: the namespace from the provided object")
    assert "You must pass '--namespace=shop'" in conflict
    filled = with_default_namespace(dr, "shop")
    assert filled["metadata"] == {"name": "reviews", "namespace": "shop"} and filled.origin.source == "release.yaml"
    assert with_default_namespace(ns, "shop") is ns and with_default_namespace(vs, "other") is vs


def test_printed_forms() -> None:
    entry = {
        "kind": "VirtualService",
        "namespace": "default",
        "name": "reviews",
        "display": "virtualservice.networking.istio.io/reviews",
        "age": "5m",
        "object": {"kind": "VirtualService", "spec": {"hosts": ["reviews"], "gateways": ["mesh"]}},
    }
    assert kubectl_output.render([entry], "name", single=False) == "virtualservice.networking.istio.io/reviews"
    assert kubectl_output.as_document([entry], single=True) == entry["object"]
    assert kubectl_output.as_document([entry], single=False)["kind"] == "List"
    assert kubectl_output.as_document([], single=True)["items"] == []
    lines = kubectl_output.kind_table([entry], "VirtualService", all_namespaces=True, wide=False).splitlines()
    assert lines == [
        "NAMESPACE   NAME      GATEWAYS   HOSTS         AGE",
        'default     reviews   ["mesh"]   ["reviews"]   5m',
    ]
