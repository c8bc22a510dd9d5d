"""KindBackend against the fake tools: session start, teardown, keep-cluster, reuse of a running cluster, images
pulled on the host and loaded into the node, and the proxy-status forms of each pinned istioctl release."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_world import FIXTURES, World, kind_config

from meshrelease.backends.kube.kind_backend import KindBackend
from meshrelease.backends.kube.versions import ISTIO_PINS
from meshrelease.backends.settings import KindSettings
from meshrelease.errors import CommandError, UserInputError, WaitTimeout

pytestmark = pytest.mark.contract

K = ["--kubeconfig", "<tmp>/session/kind/kubeconfig"]
DEPLOYMENTS = ["details-v1", "ratings-v1", "reviews-v1", "reviews-v2", "reviews-v3", "productpage-v1"]
VERSION = "1.30.5"
ISTIO_IMAGES = [f"docker.io/istio/pilot:{VERSION}", f"docker.io/istio/proxyv2:{VERSION}"]


def bookinfo_images(registry: str = "registry.istio.io/release", tag: str = "1.20.3") -> list[str]:
    return [f"{registry}/examples-bookinfo-{d}:{tag}" for d in DEPLOYMENTS]


def preload_calls(images: list[str], missing: list[str] | None = None) -> list[list[str]]:
    """What pulling ``images`` on the host and loading them into the node runs (``missing``: not on the host)."""
    calls: list[list[str]] = [["docker", "version", "--format", "{{json .}}"]]
    for image in images:
        calls.append(["docker", "image", "inspect", "--format", "{{.Id}}", image])
        if missing is None or image in missing:
            calls.append(["docker", "pull", "--platform", "linux/amd64", image])
    archive = "<tmp>/session/images/images.tar"
    calls.append(["docker", "save", "--platform", "linux/amd64", "-o", archive, *images])
    calls.append(["kind", "load", "image-archive", archive, "--name", "meshrelease"])
    return calls


def make_backend(world: World, gateway: Any, **overrides: Any) -> KindBackend:
    values: dict[str, Any] = {
        "istio_version": VERSION,
        "data_dir": FIXTURES,
        "kind_config": kind_config(world.root / "kind-template.yaml", gateway.port),
        "workdir": world.root / "session",
        "poll_interval": 0.01,
        "warmup_timeout": 20,
    }
    return KindBackend(KindSettings(**(values | overrides)))


def normalized(calls: list[list[str]]) -> list[list[str]]:
    return [[re.sub(r"-[0-9a-f]{10}-[0-9a-f]{5}", "-<hash>", a) for a in call] for call in calls]


def kubectl(*args: str) -> list[str]:
    return ["kubectl", *K, *args]


GATEWAY_API_URL = "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.5.1/standard-install.yaml"


def gateway_api_install() -> list[list[str]]:
    """Istio 1.30 builds against Gateway API v1.5.1: its standard CRDs, installed as istio.io's tasks do."""
    return [
        kubectl("get", "crd", "gateways.gateway.networking.k8s.io", "-o", "json", "--ignore-not-found"),
        kubectl("apply", "--server-side", "-f", GATEWAY_API_URL),
        kubectl(
            "wait",
            "--for=condition=Established",
            "--timeout=300s",
            "crd/gateways.gateway.networking.k8s.io",
            "crd/httproutes.gateway.networking.k8s.io",
        ),
    ]


def bookinfo_tail() -> list[list[str]]:
    return [
        kubectl("get", "namespace", "default", "-o", "json"),
        kubectl("label", "namespace", "default", "istio-injection=enabled", "--overwrite"),
        kubectl("apply", "-f", "<tmp>/session/session/manifests/0001-bookinfo-kind.yaml"),
        *[kubectl("rollout", "status", f"deployment/{d}", "-n", "default", "--timeout=300s") for d in DEPLOYMENTS],
        kubectl("get", "pods", "-n", "default", "-l", "app", "-o", "json"),
    ]


def test_session_start_runs_the_documented_sequence_and_reaches_the_gateway_on_the_mapped_port(
    fake_world: World, bookinfo_gateway: Any
) -> None:
    backend = make_backend(fake_world, bookinfo_gateway)
    try:
        backend.start()
        assert normalized(fake_world.calls()) == [
            ["istioctl", "version", "--remote=false", "-o", "json"],
            ["kind", "get", "clusters"],
            [
                "kind",
                "create",
                "cluster",
                "--wait",
                "120s",
                "--config",
                "<tmp>/session/kind/kind-config.yaml",
                *K,
            ],
            kubectl("get", "--raw", "/readyz"),
            kubectl("get", "serviceaccount", "default", "-n", "default", "-o", "name"),
            ["istioctl", "manifest", "generate", "-f", str(FIXTURES / "istio-install.yaml")],
            *preload_calls([*ISTIO_IMAGES, *bookinfo_images()]),
            kubectl("get", "deployment", "istiod", "-n", "istio-system", "-o", "json", "--ignore-not-found"),
            [
                "istioctl",
                "install",
                "-y",
                "-f",
                str(FIXTURES / "istio-install.yaml"),
                "--readiness-timeout=300s",
                *K,
            ],
            kubectl("rollout", "status", "deployment/istiod", "-n", "istio-system", "--timeout=300s"),
            kubectl("rollout", "status", "deployment/istio-ingressgateway", "-n", "istio-system", "--timeout=300s"),
            kubectl("get", "service", "istio-ingressgateway", "-n", "istio-system", "-o", "json"),
            *gateway_api_install(),
            *bookinfo_tail(),
        ]
        assert fake_world.cluster("kind-meshrelease")["gateway_api"] == "v1.5.1"
        assert backend.gateway_api_note == "installed the Gateway API v1.5.1 CRDs (standard channel)"
        assert backend.ingress_url == f"http://127.0.0.1:{bookinfo_gateway.port}"
        assert backend.warmup_counts == {"v1": 1, "v2": 1, "v3": 1}
        # the kind config kind got: the session's name, the node image pinned for Istio 1.30, the port mapping
        rendered = yaml.safe_load((fake_world.root / "session/kind/kind-config.yaml").read_text())
        assert rendered["name"] == "meshrelease"
        assert rendered["nodes"][0]["image"] == ISTIO_PINS["1.30"].node_image
        assert rendered["nodes"][0]["extraPortMappings"][0]["containerPort"] == 30080
        # what the cluster runs: Bookinfo at the pinned tag, every pod with a sidecar, the gateway on 30080
        deployments = fake_world.objects("kind-meshrelease", "Deployment")
        images = [c["image"] for d in deployments.values() for c in d["spec"]["template"]["spec"]["containers"]]
        # Istio 1.30's own sample pulls Bookinfo from registry.istio.io; everything was loaded from the host
        assert sorted(i for i in images if "bookinfo" in i) == sorted(bookinfo_images())
        assert fake_world.cluster("kind-meshrelease")["node_images"] == sorted([*ISTIO_IMAGES, *bookinfo_images()])
        assert backend.preloaded == [*ISTIO_IMAGES, *bookinfo_images()]
        assert not (fake_world.root / "session/images").exists()  # the archive is removed once loaded
        pods = {k: p for k, p in fake_world.objects("kind-meshrelease", "Pod").items() if k.startswith("default/")}
        assert len(pods) == len(DEPLOYMENTS)
        assert all(any(c["name"] == "istio-proxy" for c in p["spec"]["containers"]) for p in pods.values())
        service = fake_world.objects("kind-meshrelease", "Service")["istio-system/istio-ingressgateway"]
        assert {p["name"]: p.get("nodePort") for p in service["spec"]["ports"]}["http2"] == 30080
        info = backend.describe()
        assert (info.backend, info.mesh, info.kubernetes, info.bookinfo) == (
            "kind",
            f"istio {VERSION}",
            "v1.36.4",
            "1.20.3",
        )
        assert info.extra["cluster"] == "created by this session"
    finally:
        backend.close()


def test_close_deletes_the_cluster_it_created_and_nothing_else(fake_world: World, bookinfo_gateway: Any) -> None:
    backend = make_backend(fake_world, bookinfo_gateway)
    backend.start()
    fake_world.clear_calls()
    backend.close()
    assert fake_world.calls() == [["kind", "delete", "cluster", "--name", "meshrelease"]]
    assert fake_world.state()["kind_clusters"] == {}
    assert backend.close_message == "kind cluster meshrelease deleted"
    assert not (fake_world.root / "session/session").exists()
    assert not (fake_world.root / "session/kind").exists()  # the kubeconfig (credentials) went with it


@pytest.mark.slow
def test_keep_cluster_then_reuse_adopts_it_without_create_install_or_delete(
    fake_world: World, bookinfo_gateway: Any
) -> None:
    first = make_backend(fake_world, bookinfo_gateway, keep_cluster=True)
    first.start()
    first.apply([_vs("reviews", "v2")], source="step")  # a routing object of the first session
    fake_world.clear_calls()
    first.close()
    # kept: the run's routing object is removed (and nothing else), the cluster stays
    assert [c for c in fake_world.calls() if c[3] in ("delete", "apply")] == [
        kubectl(
            "delete",
            "-f",
            "<tmp>/session/session/manifests/0004-reset-delete-kind.yaml",
            "--ignore-not-found=true",
            "--wait=false",
        )
    ]
    assert "kind" not in {c[0] for c in fake_world.calls()}
    assert "default/reviews" not in fake_world.objects("kind-meshrelease", "VirtualService")
    assert list(fake_world.state()["kind_clusters"]) == ["meshrelease"]
    assert "kept (--keep-cluster)" in first.close_message
    assert "kind delete cluster --name meshrelease" in first.close_message

    fake_world.clear_calls()
    second = make_backend(fake_world, bookinfo_gateway)
    try:
        second.start()
        assert normalized(fake_world.calls()) == [
            ["istioctl", "version", "--remote=false", "-o", "json"],
            ["kind", "get", "clusters"],
            ["kind", "get", "kubeconfig", "--name", "meshrelease"],
            kubectl("get", "--raw", "/readyz"),
            kubectl("get", "serviceaccount", "default", "-n", "default", "-o", "name"),
            kubectl("get", "deployment", "istiod", "-n", "istio-system", "-o", "json", "--ignore-not-found"),
            kubectl("rollout", "status", "deployment/istiod", "-n", "istio-system", "--timeout=300s"),
            kubectl("rollout", "status", "deployment/istio-ingressgateway", "-n", "istio-system", "--timeout=300s"),
            kubectl("get", "service", "istio-ingressgateway", "-n", "istio-system", "-o", "json"),
            # the Gateway API CRDs the first session installed are found and left alone
            kubectl("get", "crd", "gateways.gateway.networking.k8s.io", "-o", "json", "--ignore-not-found"),
            # already labelled: no label call
            kubectl("get", "namespace", "default", "-o", "json"),
            kubectl("apply", "-f", "<tmp>/session/session/manifests/0001-bookinfo-kind.yaml"),
            *[kubectl("rollout", "status", f"deployment/{d}", "-n", "default", "--timeout=300s") for d in DEPLOYMENTS],
            kubectl("get", "pods", "-n", "default", "-l", "app", "-o", "json"),
        ]
        assert second.describe().extra["cluster"] == "reused"
        assert second.gateway_api_note == "the cluster already had the Gateway API CRDs (v1.5.1); left as they are"
        second.apply([_vs("reviews", "v3")], source="step")
    finally:
        fake_world.clear_calls()
        second.close()
    # adopted, so never deleted, even without --keep-cluster; its own routing object is gone
    assert "kind" not in {c[0] for c in fake_world.calls()}
    assert list(fake_world.state()["kind_clusters"]) == ["meshrelease"]
    assert "did not create" in second.close_message
    assert "default/reviews" not in fake_world.objects("kind-meshrelease", "VirtualService")


@pytest.mark.slow
def test_reuse_refuses_a_cluster_running_another_istio_version(fake_world: World, bookinfo_gateway: Any) -> None:
    first = make_backend(fake_world, bookinfo_gateway, keep_cluster=True)
    first.start()
    first.close()
    with fake_world.edit() as state:
        state["istioctl_version"] = "1.29.8"
    fake_world.clear_calls()
    second = make_backend(fake_world, bookinfo_gateway, istio_version="1.29.8")
    with pytest.raises(UserInputError) as err:
        second.start()
    second.close()
    message = str(err.value)
    assert "kind cluster meshrelease already runs Istio 1.30.5, this session uses istioctl 1.29.8" in message
    assert "kind delete cluster --name meshrelease" in message
    tools_and_verbs = [(c[0], c[1]) for c in fake_world.calls()]
    assert ("istioctl", "install") not in tools_and_verbs
    assert ("kind", "delete") not in tools_and_verbs
    assert list(fake_world.state()["kind_clusters"]) == ["meshrelease"]


@pytest.mark.slow
def test_pods_created_before_the_injection_label_are_restarted_once(fake_world: World, bookinfo_gateway: Any) -> None:
    first = make_backend(fake_world, bookinfo_gateway, keep_cluster=True)
    first.start()
    first.close()
    with fake_world.edit() as state:  # reviews-v1's pod predates the label: no sidecar
        objects = state["clusters"]["kind-meshrelease"]["objects"]
        pod = next(
            o for o in objects.values() if o["kind"] == "Pod" and o["metadata"]["name"].startswith("reviews-v1-")
        )
        pod["spec"]["containers"] = [c for c in pod["spec"]["containers"] if c["name"] != "istio-proxy"]
    old_pod = fake_world.pod("kind-meshrelease", "reviews-v1-")
    fake_world.clear_calls()
    second = make_backend(fake_world, bookinfo_gateway)
    try:
        second.start()
        calls = normalized(fake_world.calls())
        restart = kubectl("rollout", "restart", "deployment/reviews-v1", "-n", "default")
        assert calls.count(restart) == 1
        after = calls[calls.index(restart) + 1 :]
        assert after[:2] == [
            kubectl("rollout", "status", "deployment/reviews-v1", "-n", "default", "--timeout=300s"),
            kubectl("get", "pods", "-n", "default", "-l", "app", "-o", "json"),
        ]
        assert fake_world.pod("kind-meshrelease", "reviews-v1-") != old_pod
    finally:
        second.close()


def test_node_image_and_bookinfo_tag_overrides(fake_world: World, bookinfo_gateway: Any) -> None:
    backend = make_backend(
        fake_world,
        bookinfo_gateway,
        node_image="kindest/node:v1.33.7",
        bookinfo_tag="1.20.2",
        cluster_name="other",
    )
    try:
        backend.start()
        assert fake_world.state()["kind_clusters"]["other"]["image"] == "kindest/node:v1.33.7"
        assert backend.describe().kubernetes == "v1.33.7"
        deployments = fake_world.objects("kind-other", "Deployment")
        assert deployments["default/productpage-v1"]["spec"]["template"]["spec"]["containers"][0]["image"].endswith(
            "examples-bookinfo-productpage-v1:1.20.2"
        )
        assert backend.describe().bookinfo == "1.20.2"
    finally:
        backend.close()
    assert fake_world.state()["kind_clusters"] == {}


def test_a_failing_kind_create_reports_argv_exit_code_and_stderr_and_deletes_nothing(
    fake_world: World, bookinfo_gateway: Any
) -> None:
    fake_world.fail("kind", ["create"], exit=1, stderr="ERROR: failed to create cluster: docker daemon not running\n")
    backend = make_backend(fake_world, bookinfo_gateway)
    with pytest.raises(CommandError) as err:
        backend.start()
    backend.close()
    exc = err.value
    assert exc.argv[0] == str(fake_world.bin / "kind")
    assert exc.argv[1:4] == ["create", "cluster", "--wait"]
    assert exc.returncode == 1
    assert exc.stderr == "ERROR: failed to create cluster: docker daemon not running\n"
    assert "command failed (exit 1):" in str(exc) and "docker daemon not running" in str(exc)
    assert ["kind", "delete", "cluster", "--name", "meshrelease"] not in fake_world.calls()


def test_a_failure_after_creating_the_cluster_still_deletes_it_on_close(
    fake_world: World, bookinfo_gateway: Any
) -> None:
    fake_world.fail("istioctl", ["install"], exit=1, stderr="Error: failed to install manifests: timed out\n")
    backend = make_backend(fake_world, bookinfo_gateway)
    with pytest.raises(CommandError, match="failed to install manifests"):
        backend.start()
    fake_world.clear_calls()
    backend.close()
    assert fake_world.calls() == [["kind", "delete", "cluster", "--name", "meshrelease"]]
    assert fake_world.state()["kind_clusters"] == {}


def test_an_api_server_that_never_gets_ready_times_out_and_the_created_cluster_is_still_deleted(
    fake_world: World, bookinfo_gateway: Any
) -> None:
    fake_world.fail("kubectl", ["get", "--raw", "/readyz"], stderr="Error from server: etcd not ready\n", times=-1)
    backend = make_backend(fake_world, bookinfo_gateway, ready_timeout=0.2)
    with pytest.raises(WaitTimeout, match=r"timed out after 0\.2 s waiting for the kind API server to be ready"):
        backend.start()
    fake_world.clear_calls()
    backend.close()
    assert fake_world.calls() == [["kind", "delete", "cluster", "--name", "meshrelease"]]
    assert fake_world.state()["kind_clusters"] == {}


@pytest.mark.slow
def test_warm_up_timeout_reports_the_counts_it_saw(fake_world: World, httpserver: Any) -> None:
    from kube_world import modern_page

    httpserver.expect_request("/productpage").respond_with_data(modern_page("v1"), content_type="text/html")
    backend = make_backend(fake_world, httpserver, warmup_timeout=0.5)
    try:
        with pytest.raises(WaitTimeout) as err:
            backend.start()
    finally:
        backend.close()
    message = str(err.value)
    assert f"every reviews version (v1, v2, v3) to answer through http://127.0.0.1:{httpserver.port}" in message
    counts = re.search(r"v1: (\d+), v2: 0, v3: 0", message)
    assert counts and int(counts.group(1)) > 0


@pytest.mark.slow
def test_collect_logs_runs_kind_export_logs(fake_world: World, bookinfo_gateway: Any, tmp_path: Path) -> None:
    backend = make_backend(fake_world, bookinfo_gateway)
    assert backend.collect_logs(tmp_path / "logs") is None  # nothing started, nothing to export
    try:
        backend.start()
        fake_world.clear_calls()
        path = backend.collect_logs(tmp_path / "logs")
        assert path == tmp_path / "logs" / "kind-meshrelease"
        assert fake_world.calls() == [
            ["kind", "export", "logs", "<tmp>/logs/kind-meshrelease", "--name", "meshrelease"]
        ]
        assert (path / "kind-version.txt").is_file()
    finally:
        backend.close()


def _vs(host: str, subset: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": host},
        "spec": {"hosts": [host], "http": [{"route": [{"destination": {"host": host, "subset": subset}}]}]},
    }


def test_the_pytest_kubernetes_internals_the_kind_manager_overrides_are_those_of_the_pinned_minor() -> None:
    """kind.py subclasses two private names of pytest-kubernetes; pyproject bounds it to 0.9.x, and this test
    fails before a release that moves them can break the session start."""
    import inspect
    from importlib.metadata import version

    from pytest_kubernetes.providers import select_provider_manager

    assert version("pytest-kubernetes").split(".")[:2] == ["0", "9"]
    manager = select_provider_manager("kind")
    assert list(inspect.signature(manager._exec).parameters) == ["self", "arguments", "additional_env", "timeout"]
    assert isinstance(inspect.getattr_static(manager, "_exec_path"), property)
    assert "cluster_timeout" in {f.name for f in __import__("dataclasses").fields(manager._cluster_options)}
    # the public route kind.py relies on: create() probes ready(), runs kind create, then waits on ready()
    source = inspect.getsource(manager.create)
    assert (
        source.index("self.ready(timeout=2)") < source.index("self._on_create(") < source.index("self.ready(timeout)")
    )


def test_images_stay_with_the_node_when_docker_hub_refuses_anonymous_pulls(
    fake_world: World, bookinfo_gateway: Any
) -> None:
    with fake_world.edit() as state:
        state["dockerhub_refuses_anonymous"] = True  # the node's containerd pulls anonymously
        state["docker"]["images"] = [ISTIO_IMAGES[0]]  # the host already has one of them: not pulled again
    backend = make_backend(fake_world, bookinfo_gateway, bookinfo_registry="docker.io/istio")
    try:
        backend.start()
        pulls = [c[-1] for c in fake_world.calls("docker") if c[1] == "pull"]
        assert pulls == [ISTIO_IMAGES[1], *bookinfo_images("docker.io/istio")]
    finally:
        backend.close()
    # the same cluster pulling in the node: the first rollout that needs docker.io never completes
    node = make_backend(fake_world, bookinfo_gateway, bookinfo_registry="docker.io/istio", image_pull="node")
    try:
        with pytest.raises(WaitTimeout) as err:
            node.start()
    finally:
        node.close()
    assert "deployment istio-system/istiod to roll out on the kind cluster" in str(err.value)
    assert "exceeded its progress deadline" in str(err.value)
    assert not [c for c in fake_world.calls("kind") if c[1] == "load"][1:]  # only the first session loaded
    assert fake_world.state()["kind_clusters"] == {}
