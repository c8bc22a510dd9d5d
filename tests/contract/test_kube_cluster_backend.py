"""ClusterBackend against the fake tools: an existing mesh whose Istio objects live on a separate API server
(a managed mesh such as ASM keeps them on the mesh instance; the pods run in the data-plane cluster)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from kube_world import FIXTURES, RotatingFetcher, World

from meshrelease.backends.kube.cluster_backend import ClusterBackend
from meshrelease.backends.settings import ClusterSettings
from meshrelease.errors import MeshReleaseError

pytestmark = pytest.mark.contract

WORKLOAD_CONTEXT = "data plane 'prod'"
MESH_CONTEXT = 'asm "mesh" instance'
DEPLOYMENTS = ["details-v1", "ratings-v1", "reviews-v1", "reviews-v2", "reviews-v3", "productpage-v1"]


def seed_asm(world: World, *, label_namespace: bool = True, mesh_crds: bool = True) -> tuple[Path, Path]:
    """A data-plane cluster "dp" with an ingress gateway, no istiod; a mesh instance "asm" with the CRDs."""
    import fake_istioctl
    import kubefakes_state as fk

    with world.edit() as state:
        asm = fk.new_cluster(state, "asm")
        asm["crds"] = mesh_crds
        dp = fk.new_cluster(state, "dp", kubernetes="1.33.4")
        dp["config_from"] = "asm"
        fake_istioctl.install(state, dp, {"-y": "true"})
        dp["crds"] = False  # Istio objects are served by the mesh instance only
        dp["istiod_reachable"] = False
        fk.remove(dp, "apps|Deployment|istio-system|istiod")
        if label_namespace:
            dp["objects"]["|Namespace||default"]["metadata"]["labels"] = {"istio-injection": "enabled"}
    directory = world.root / "kube configs 'here'"
    directory.mkdir()
    workload = world.write_kubeconfig(directory / "data plane.yaml", "dp", WORKLOAD_CONTEXT)
    mesh = world.write_kubeconfig(directory / 'mesh "instance".yaml', "asm", MESH_CONTEXT)
    return workload, mesh


def make_backend(world: World, workload: Path, mesh: Path, **overrides: Any) -> ClusterBackend:
    values: dict[str, Any] = {
        "kubeconfig": str(workload),
        "context": WORKLOAD_CONTEXT,
        "mesh_kubeconfig": str(mesh),
        "mesh_context": MESH_CONTEXT,
        "ingress_url": "http://192.0.2.10/",
        "data_dir": FIXTURES,
        "workdir": world.root / "session",
        "poll_interval": 0.01,
    }
    return ClusterBackend(ClusterSettings(**(values | overrides)), client_factory=RotatingFetcher)


W = ["--kubeconfig", "<tmp>/kube configs 'here'/data plane.yaml", "--context", WORKLOAD_CONTEXT]
M = ["--kubeconfig", "<tmp>/kube configs 'here'/mesh \"instance\".yaml", "--context", MESH_CONTEXT]


def normalized(calls: list[list[str]]) -> list[list[str]]:
    out = []
    for call in calls:
        call = [re.sub(r"-[0-9a-f]{10}-[0-9a-f]{5}", "-<hash>", a) for a in call]
        out.append([re.sub(r"manifests/\d{4}-", "manifests/N-", a) for a in call])
    return out


def f(label: str) -> str:
    return f"<tmp>/session/manifests/N-{label}.yaml"


def test_start_deploys_bookinfo_split_over_both_api_servers(fake_world: World) -> None:
    workload, mesh = seed_asm(fake_world)
    backend = make_backend(fake_world, workload, mesh)
    try:
        backend.start()
        assert normalized(fake_world.calls()) == [
            ["istioctl", "version", "--remote=false", "-o", "json"],
            ["kubectl", *W, "get", "namespace", "default", "-o", "json"],
            ["kubectl", *M, "get", "namespace", "default", "-o", "json", "--ignore-not-found"],
            ["kubectl", *M, "get", "virtualservices.networking.istio.io", "-n", "default", "-o", "json"],
            ["kubectl", *W, "get", "-f", f("bookinfo-present-workloads"), "-o", "json", "--ignore-not-found"],
            ["kubectl", *M, "get", "-f", f("bookinfo-present-mesh"), "-o", "json", "--ignore-not-found"],
            ["kubectl", *W, "apply", "-f", f("bookinfo-workloads")],
            ["kubectl", *M, "apply", "-f", f("bookinfo-mesh")],
            *[
                ["kubectl", *W, "rollout", "status", f"deployment/{d}", "-n", "default", "--timeout=300s"]
                for d in DEPLOYMENTS
            ],
            ["kubectl", *W, "get", "pods", "-n", "default", "-l", "app", "-o", "json"],
            ["kubectl", *M, "get", "virtualservices.networking.istio.io", "-n", "default", "-o", "json"],
        ]
        assert backend.ingress_url == "http://192.0.2.10"
        images = {
            c["image"]
            for d in fake_world.objects("dp", "Deployment").values()
            for c in d["spec"]["template"]["spec"]["containers"]
            if "bookinfo" in c["image"]
        }  # istioctl 1.30.5: the registry of Istio 1.30's own Bookinfo sample
        assert images == {f"registry.istio.io/release/examples-bookinfo-{d}:1.20.3" for d in DEPLOYMENTS}
        assert sorted(fake_world.objects("asm", "Gateway")) == ["default/bookinfo-gateway"]
        assert sorted(fake_world.objects("asm", "VirtualService")) == ["default/bookinfo"]
        assert sorted(fake_world.objects("dp", "Deployment")) == sorted(
            ["istio-system/istio-ingressgateway", *[f"default/{d}" for d in DEPLOYMENTS]]
        )
        assert fake_world.objects("asm", "Deployment") == {}
    finally:
        fake_world.clear_calls()
        backend.close()
    # close: the Bookinfo it deployed goes again, Istio objects from the mesh first; the gateway stays
    assert normalized(fake_world.calls()) == [
        ["kubectl", *M, "delete", "-f", f("undeploy-mesh"), "--ignore-not-found=true", "--wait=false"],
        ["kubectl", *W, "delete", "-f", f("undeploy-workloads"), "--ignore-not-found=true", "--wait=false"],
    ]
    assert fake_world.objects("asm", "VirtualService") == {}
    assert sorted(fake_world.objects("dp", "Deployment")) == ["istio-system/istio-ingressgateway"]


@pytest.mark.slow
def test_a_step_sends_istio_objects_to_the_mesh_and_reads_proxies_on_the_data_plane(
    fake_world: World,
) -> None:
    workload, mesh = seed_asm(fake_world)
    backend = make_backend(fake_world, workload, mesh)
    try:
        backend.start()
        fake_world.clear_calls()
        docs = [
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "reviews-v4"}},
            {
                "apiVersion": "networking.istio.io/v1alpha3",
                "kind": "DestinationRule",
                "metadata": {"name": "reviews"},
                "spec": {
                    "host": "reviews",
                    "subsets": [{"name": v, "labels": {"version": v}} for v in ("v1", "v2")],
                },
            },
            {
                "apiVersion": "networking.istio.io/v1alpha3",
                "kind": "VirtualService",
                "metadata": {"name": "reviews"},
                "spec": {
                    "hosts": ["reviews"],
                    "http": [{"route": [{"destination": {"host": "reviews", "subset": "v2"}}]}],
                },
            },
        ]
        result = backend.apply(docs, source="step.yaml")
        assert result.lines == [
            "serviceaccount/reviews-v4 created",
            "destinationrule.networking.istio.io/reviews created",
            "virtualservice.networking.istio.io/reviews created",
        ]
        backend.wait_synced(10)
        assert normalized(fake_world.calls()) == [
            ["kubectl", *W, "get", "-f", f("prior-workloads"), "-o", "json", "--ignore-not-found"],
            ["kubectl", *M, "get", "-f", f("prior-mesh"), "-o", "json", "--ignore-not-found"],
            ["kubectl", *W, "apply", "--dry-run=server", "-f", f("apply-workloads")],
            ["kubectl", *M, "apply", "--dry-run=server", "-f", f("apply-mesh")],
            ["kubectl", *W, "apply", "-f", f("apply-workloads")],
            ["kubectl", *M, "apply", "-f", f("apply-mesh")],
            ["kubectl", *M, "get", "virtualservices.networking.istio.io", "-A", "-o", "json"],
            ["kubectl", *M, "get", "destinationrules.networking.istio.io", "-A", "-o", "json"],
            ["kubectl", *W, "get", "pods", "-n", "default", "-l", "app=productpage", "-o", "json"],
            ["istioctl", "proxy-config", "routes", "productpage-v1-<hash>.default", "-o", "json", *W],
            ["istioctl", "proxy-config", "clusters", "productpage-v1-<hash>.default", "-o", "json", *W],
            # no istiod in the data plane: answered with an error, then dropped
            ["istioctl", "proxy-status", "-o", "json", "--verbosity=1", *W],
        ]
        assert "default/reviews" in fake_world.objects("asm", "VirtualService")
        assert "default/reviews" not in fake_world.objects("dp", "VirtualService")
        assert "default/reviews-v4" in fake_world.objects("dp", "ServiceAccount")
        assert "istioctl proxy-status is not available here" in backend.diagnostics()["notes"]
        fake_world.clear_calls()
        backend.reset_routing()
        assert normalized(fake_world.calls()) == [
            [
                "kubectl",
                *M,
                "delete",
                "-f",
                f("reset-delete-mesh"),
                "--ignore-not-found=true",
                "--wait=false",
            ],
        ]
        assert "default/reviews" not in fake_world.objects("asm", "VirtualService")
        assert "default/reviews-v4" in fake_world.objects("dp", "ServiceAccount")  # not routing: kept until close
    finally:
        backend.close()
    assert "default/reviews-v4" not in fake_world.objects("dp", "ServiceAccount")


def test_a_namespace_missing_on_the_mesh_instance_says_how_to_create_and_label_it_there(fake_world: World) -> None:
    workload, mesh = seed_asm(fake_world)
    with fake_world.edit() as state:  # the data plane has "shop"; the ASM instance does not
        import kubefakes_state as fk

        fk.put(state, state["clusters"]["dp"], {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    backend = make_backend(fake_world, workload, mesh, namespace="shop", bookinfo_registry="docker.io/istio")
    with pytest.raises(MeshReleaseError) as err:
        backend.start()
    backend.close()
    message = str(err.value)
    assert "namespace shop does not exist on the mesh's API server" in message
    mesh_args = f"--kubeconfig {mesh} --context {MESH_CONTEXT}"
    assert f"kubectl {mesh_args} create namespace shop" in message
    assert f"kubectl {mesh_args} label namespace shop istio-injection=enabled" in message
    assert not [c for c in fake_world.calls("kubectl") if "apply" in c]  # stopped before the first apply


def test_bookinfo_that_was_already_there_is_neither_redeployed_nor_removed(fake_world: World) -> None:
    workload, mesh = seed_asm(fake_world)
    first = make_backend(fake_world, workload, mesh, keep=True)  # leaves its Bookinfo behind
    first.start()
    first.close()
    deployments = fake_world.objects("dp", "Deployment")
    fake_world.clear_calls()
    second = make_backend(fake_world, workload, mesh)
    try:
        second.start()
        assert [c for c in fake_world.calls("kubectl") if "apply" in c] == []
    finally:
        fake_world.clear_calls()
        second.close()
    assert fake_world.calls() == []
    assert fake_world.objects("dp", "Deployment").keys() == deployments.keys()
    assert sorted(fake_world.objects("asm", "VirtualService")) == ["default/bookinfo"]


def test_the_ingress_url_defaults_to_the_gateway_load_balancer(fake_world: World) -> None:
    workload, mesh = seed_asm(fake_world)
    with fake_world.edit() as state:
        service = state["clusters"]["dp"]["objects"]["|Service|istio-system|istio-ingressgateway"]
        service["status"] = {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}
    backend = make_backend(fake_world, workload, mesh, ingress_url=None)
    try:
        backend.start()
        assert backend.ingress_url == "http://203.0.113.7"
    finally:
        backend.close()


def test_no_ingress_address_is_a_clear_error(fake_world: World) -> None:
    workload, mesh = seed_asm(fake_world)
    backend = make_backend(fake_world, workload, mesh, ingress_url=None)
    with pytest.raises(MeshReleaseError) as err:
        backend.start()
    backend.close()
    assert "no address for the ingress gateway: service istio-system/istio-ingressgateway" in str(err.value)
    assert "pass --ingress-url" in str(err.value)


def test_a_mesh_api_server_without_istio_says_to_pass_the_mesh_kubeconfig(fake_world: World) -> None:
    workload, mesh = seed_asm(fake_world, mesh_crds=False)
    backend = make_backend(fake_world, workload, mesh)
    with pytest.raises(MeshReleaseError) as err:
        backend.start()
    backend.close()
    assert "the mesh's API server has no Istio VirtualServices API" in str(err.value)
    assert "--mesh-kubeconfig/--mesh-context" in str(err.value)
    assert [c for c in fake_world.calls("kubectl") if "apply" in c] == []


def test_workloads_without_sidecars_are_reported_not_restarted(fake_world: World) -> None:
    workload, mesh = seed_asm(fake_world, label_namespace=False)
    backend = make_backend(fake_world, workload, mesh)
    with pytest.raises(MeshReleaseError) as err:
        backend.start()
    backend.close()
    message = str(err.value)
    assert f"pods of {', '.join(DEPLOYMENTS)} in namespace default run without the Istio sidecar" in message
    assert "kubectl label namespace default istio-injection=enabled" in message
    assert not [c for c in fake_world.calls("kubectl") if "restart" in c]


def test_without_a_mesh_kubeconfig_everything_goes_to_one_api_server(fake_world: World) -> None:
    workload, _ = seed_asm(fake_world)
    with fake_world.edit() as state:  # a plain Istio cluster: CRDs and config on the workloads' API server
        state["clusters"]["dp"]["crds"] = True
        state["clusters"]["dp"]["config_from"] = "dp"
    backend = make_backend(fake_world, workload, Path("unused"), mesh_kubeconfig=None, mesh_context=None)
    try:
        backend.start()
        backend.apply(
            [
                {
                    "apiVersion": "networking.istio.io/v1",
                    "kind": "VirtualService",
                    "metadata": {"name": "reviews"},
                    "spec": {
                        "hosts": ["reviews"],
                        "http": [{"route": [{"destination": {"host": "reviews", "subset": "v1"}}]}],
                    },
                }
            ]
        )
        backend.wait_synced(10)
        assert {tuple(c[1:5]) for c in fake_world.calls("kubectl")} == {tuple(W)}
        assert "default/reviews" in fake_world.objects("dp", "VirtualService")
        assert "default/bookinfo" in fake_world.objects("dp", "VirtualService")
    finally:
        backend.close()
    assert fake_world.objects("dp", "VirtualService") == {}


class OnlyV1:
    """A mesh whose reviews are pinned to v1 by someone else's VirtualService."""

    def __init__(self, base_url: str) -> None:
        self.fetched = 0

    def fetch_page(self, path: str = "/productpage") -> Any:
        from types import SimpleNamespace

        self.fetched += 1
        return SimpleNamespace(version="v1", error=None)

    def close(self) -> None:
        pass


def test_a_reviews_virtual_service_that_was_there_lets_the_warm_up_settle_for_one_good_page(
    fake_world: World,
) -> None:
    import kubefakes_state as fk

    workload, mesh = seed_asm(fake_world)
    theirs = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "reviews-pin", "namespace": "default"},
        "spec": {"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews", "subset": "v1"}}]}]},
    }
    with fake_world.edit() as state:
        fk.put(state, state["clusters"]["asm"], theirs)
    values: dict[str, Any] = {
        "kubeconfig": str(workload),
        "context": WORKLOAD_CONTEXT,
        "mesh_kubeconfig": str(mesh),
        "mesh_context": MESH_CONTEXT,
        "ingress_url": "http://192.0.2.10",
        "data_dir": FIXTURES,
        "workdir": fake_world.root / "session",
        "poll_interval": 0.01,
        "warmup_timeout": 5,
    }
    backend = ClusterBackend(ClusterSettings(**values), client_factory=OnlyV1)
    try:
        backend.start()
        assert backend.warmup_counts == {"v1": 1}
    finally:
        backend.close()
    assert "default/reviews-pin" in fake_world.objects("asm", "VirtualService")  # theirs: left alone
