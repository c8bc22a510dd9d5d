"""Manifests on their way to kubectl: identities, namespaces, restorable copies, files (no tools needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from meshrelease.backends.kube.manifests import (
    ManifestWriter,
    items_of,
    kubectl_name,
    object_key,
    restorable,
    set_bookinfo_tag,
    with_namespace,
)
from meshrelease.errors import UserInputError
from meshrelease.k8s.objects import ObjectKey


def test_identities_and_namespaces() -> None:
    vs = {"apiVersion": "networking.istio.io/v1alpha3", "kind": "VirtualService", "metadata": {"name": "reviews"}}
    assert object_key(vs, "shop") == ObjectKey("networking.istio.io", "VirtualService", "shop", "reviews")
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    assert object_key(ns, "default") == ObjectKey("", "Namespace", "", "shop")
    assert with_namespace(vs, "shop")["metadata"] == {"name": "reviews", "namespace": "shop"}
    assert "namespace" not in vs["metadata"]  # a copy: the caller's document is left as it was
    assert with_namespace(ns, "shop")["metadata"] == {"name": "shop"}
    with pytest.raises(UserInputError, match=r"every object needs apiVersion, kind and metadata\.name"):
        object_key({"apiVersion": "v1", "kind": "Service", "metadata": {}}, "default")


def test_kubectl_resource_names() -> None:
    def name(group: str, kind: str) -> str:
        return kubectl_name(ObjectKey(group, kind, "default", "x"))

    assert name("networking.istio.io", "VirtualService") == "virtualservices.networking.istio.io"
    assert name("networking.istio.io", "ServiceEntry") == "serviceentries.networking.istio.io"
    assert name("networking.istio.io", "Gateway") == "gateways.networking.istio.io"
    assert name("", "Service") == "services"
    assert name("", "Ingress") == "ingresses"
    assert name("apps", "Deployment") == "deployments.apps"


def test_live_objects_become_restorable_and_lists_become_items() -> None:
    live = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {
            "name": "ratings",
            "namespace": "default",
            "uid": "u",
            "resourceVersion": "7",
            "generation": 2,
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "managedFields": [{}],
            "labels": {"team": "a"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
        },
        "spec": {"hosts": ["ratings"]},
        "status": {"observedGeneration": 2},
    }
    assert restorable(live) == {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "ratings", "namespace": "default", "labels": {"team": "a"}},
        "spec": {"hosts": ["ratings"]},
    }
    assert items_of({"kind": "List", "items": [live]}) == [live]
    assert items_of(live) == [live]
    assert items_of(None) == []


def test_bookinfo_tag_and_written_files(tmp_path: Path) -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "reviews-v2"},
        "spec": {
            "template": {"spec": {"containers": [{"image": "docker.io/istio/examples-bookinfo-reviews-v2:1.20.3"}]}}
        },
    }
    tagged = set_bookinfo_tag([deployment], "1.19.1")
    assert tagged[0]["spec"]["template"]["spec"]["containers"][0]["image"].endswith("reviews-v2:1.19.1")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.20.3")
    writer = ManifestWriter(tmp_path / "dir with 'quotes'")
    first = writer.write([deployment], "Apply: Workloads")
    second = writer.write([{"kind": "x", "value": 'o\'brien "q"'}], "")
    assert first.name == "0001-apply-workloads.yaml" and second.name == "0002-objects.yaml"
    assert list(yaml.safe_load_all(second.read_text(encoding="utf-8"))) == [{"kind": "x", "value": 'o\'brien "q"'}]
