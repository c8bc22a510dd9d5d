"""From Deployments to pods: image mapping, UI generation by tag, names, replicas, --workload."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from meshrelease.backends.local.dataplane.pods import (
    check_deployments,
    parse_workload_mappings,
    plan_pods,
    resolve_image,
    ui_for_tag,
)
from meshrelease.backends.local.model import StoredObject
from meshrelease.errors import UserInputError
from meshrelease.k8s.objects import ObjectKey


def deployment(
    name: str, image: str, *, replicas: int | None = 1, labels: dict[str, str] | None = None
) -> StoredObject:
    labels = labels or {"app": name.split("-")[0], "version": "v1"}
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": "bookinfo-x",
                    "containers": [
                        {
                            "name": "c",
                            "image": image,
                            "ports": [{"containerPort": 9080}],
                            "env": [{"name": "A", "value": "1"}],
                        }
                    ],
                },
            },
        },
    }
    if replicas is not None:
        body["spec"]["replicas"] = replicas
    return StoredObject(
        key=ObjectKey("apps", "Deployment", "default", name),
        api_version="apps/v1",
        body=body,
        generation=1,
        created=datetime(2026, 1, 1, tzinfo=UTC),
        seq=1,
        resource_version=1,
    )


@pytest.mark.parametrize(
    ("image", "service", "version", "ui"),
    [
        ("docker.io/istio/examples-bookinfo-reviews-v2:1.20.3", "reviews", "v2", "modern"),
        ("istio/examples-bookinfo-productpage-v1:1.19.1", "productpage", "v1", "classic"),
        ("registry.istio.io/release/examples-bookinfo-ratings-v1:1.20.3", "ratings", "v1", "modern"),
        ("examples-bookinfo-details-v1:1.16.2", "details", "v1", "classic"),
        ("examples-bookinfo-reviews-v3", "reviews", "v3", "modern"),
    ],
)
def test_bookinfo_images_map_to_built_in_workloads(image: str, service: str, version: str, ui: str) -> None:
    impl = resolve_image(image, workloads={})
    assert (impl.kind, impl.service, impl.version, impl.ui) == ("bookinfo", service, version, ui)


def test_ui_by_tag_and_override() -> None:
    assert ui_for_tag("1.19.1") == "classic"
    assert ui_for_tag("1.20.0") == "modern"
    assert ui_for_tag("latest") == "modern"
    impl = resolve_image("istio/examples-bookinfo-productpage-v1:1.20.3", workloads={}, ui_override="classic")
    assert impl.ui == "classic"


@pytest.mark.parametrize(
    "image",
    ["istio/examples-bookinfo-ratings-v2:1.20.3", "istio/examples-bookinfo-details-v2:1.20.3", "nginx:1.27"],
)
def test_images_the_local_backend_cannot_run_say_how_to_map_them(image: str) -> None:
    with pytest.raises(UserInputError) as err:
        resolve_image(image, workloads={})
    text = str(err.value)
    assert f"image {image} cannot run on the local backend" in text
    assert f"--workload '{image}=COMMAND'" in text and "{port}" in text


def test_workload_mapping() -> None:
    mapping = parse_workload_mappings(["example.com/echo:1=python3 -m http.server {port} --bind 127.0.0.1"])
    assert mapping == {"example.com/echo:1": ("python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1")}
    impl = resolve_image("example.com/echo:1", workloads=mapping)
    assert impl.kind == "command" and impl.command[0] == "python3"
    for bad in ["no-equals", "img=python3 -m http.server 80", "=cmd {port}"]:
        with pytest.raises(UserInputError):
            parse_workload_mappings([bad])


def test_pod_names_replicas_and_labels() -> None:
    objs = [deployment("reviews-v2", "istio/examples-bookinfo-reviews-v2:1.20.3", replicas=3)]
    pods = plan_pods(objs, workloads={})
    assert len(pods) == 3
    for pod in pods:
        assert re.fullmatch(r"reviews-v2-[bcdfghjklmnpqrstvwxz2456789]{10}-[bcdfghjklmnpqrstvwxz2456789]{5}", pod.name)
        assert pod.labels["app"] == "reviews" and pod.labels["pod-template-hash"] in pod.name
        assert pod.env == {"A": "1"} and pod.container_ports == (9080,)
        assert pod.service_account == "bookinfo-x"
    assert len({p.name for p in pods}) == 3
    assert [p.name for p in plan_pods(objs, workloads={})] == [p.name for p in pods]  # deterministic
    # A template change is a rollout: new pod names.
    changed = [deployment("reviews-v2", "istio/examples-bookinfo-reviews-v2:1.20.2", replicas=3)]
    assert not {p.name for p in plan_pods(changed, workloads={})} & {p.name for p in pods}
    assert plan_pods([deployment("x-v1", "istio/examples-bookinfo-ratings-v1:1", replicas=0)], workloads={}) == []
    assert (
        len(plan_pods([deployment("y-v1", "istio/examples-bookinfo-ratings-v1:1", replicas=None)], workloads={})) == 1
    )


def test_check_deployments_collects_every_problem() -> None:
    objs = [
        deployment("a-v1", "nginx:1"),
        deployment("b-v1", "istio/examples-bookinfo-ratings-v1:1.20.3"),
        deployment("c-v1", "busybox"),
    ]
    errors = check_deployments(objs, workloads={})
    assert len(errors) == 2
    assert errors[0].startswith("Deployment default/a-v1: image nginx:1 cannot run")
    assert errors[1].startswith("Deployment default/c-v1: image busybox cannot run")
