"""Finding the tools before anything starts, and the pinned versions."""

from __future__ import annotations

from pathlib import Path

import pytest
from kube_world import FIXTURES, World

from meshrelease.backends.kube.cluster_backend import ClusterBackend
from meshrelease.backends.kube.kind_backend import KindBackend
from meshrelease.backends.kube.tools import check_istioctl_version, locate_tools
from meshrelease.backends.kube.versions import (
    ISTIO_PINS,
    KIND_VERSION,
    bookinfo_registry_for,
    image_tag,
    istio_minor,
    node_image_kubernetes,
    pin_for,
)
from meshrelease.backends.settings import ClusterSettings, KindSettings
from meshrelease.errors import ToolMissingError, UserInputError


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    path.chmod(0o755)
    return path


@pytest.mark.contract
def test_missing_tools_are_all_listed_with_install_hints_before_anything_runs(fake_world: World) -> None:
    for tool in ("docker", "kind", "istioctl"):
        (fake_world.bin / tool).unlink()
    backend = KindBackend(KindSettings(data_dir=FIXTURES, workdir=fake_world.root / "session"))
    with pytest.raises(ToolMissingError) as err:
        backend.start()
    backend.close()
    message = str(err.value)
    assert message.startswith(
        "the kind backend needs docker, kind, kubectl, istioctl; missing: docker, kind, istioctl\n"
    )
    assert "  - docker (not on PATH): install Docker Engine" in message
    assert f"  - kind (not on PATH): install kind {KIND_VERSION}, a Go binary (not on PyPI)" in message
    assert "  - istioctl (not given by --istioctl or ISTIO_HOME, and not on PATH): download Istio" in message
    assert "- kubectl" not in message
    assert "nothing was started" in message
    assert fake_world.calls() == []


@pytest.mark.contract
def test_the_cluster_backend_needs_only_kubectl_and_istioctl(fake_world: World) -> None:
    for tool in ("docker", "kind", "kubectl"):
        (fake_world.bin / tool).unlink()
    backend = ClusterBackend(ClusterSettings(data_dir=FIXTURES))
    with pytest.raises(ToolMissingError) as err:
        backend.start()
    assert "the cluster backend needs kubectl, istioctl; missing: kubectl\n" in str(err.value)
    assert fake_world.calls() == []


@pytest.mark.contract
def test_an_istioctl_of_another_version_is_refused_with_the_download_command(fake_world: World) -> None:
    with fake_world.edit() as state:
        state["istioctl_version"] = "1.29.6"
    backend = KindBackend(KindSettings(istio_version="1.30.4", data_dir=FIXTURES, workdir=fake_world.root / "s"))
    with pytest.raises(UserInputError) as err:
        backend.start()
    backend.close()
    message = str(err.value)
    assert (
        f"istioctl at {fake_world.bin / 'istioctl'} is version 1.29.6, but --istio-version asks for 1.30.4" in message
    )
    assert "curl -L https://istio.io/downloadIstio | ISTIO_VERSION=1.30.4 sh -" in message
    assert fake_world.calls() == [["istioctl", "version", "--remote=false", "-o", "json"]]


def test_istioctl_is_taken_from_the_option_then_istio_home_then_path(tmp_path: Path) -> None:
    explicit = executable(tmp_path / "explicit dir" / "istioctl")
    home = tmp_path / "istio-1.30.4"
    executable(home / "bin" / "istioctl")
    on_path = executable(tmp_path / "path" / "istioctl")
    executable(tmp_path / "path" / "kubectl")
    search = str(tmp_path / "path")
    assert locate_tools(["istioctl"], istioctl=str(explicit), istio_home=str(home), search_path=search).istioctl == str(
        explicit
    )
    assert locate_tools(["istioctl"], istio_home=str(home), search_path=search).istioctl == str(
        home / "bin" / "istioctl"
    )
    assert locate_tools(["istioctl", "kubectl"], search_path=search).istioctl == str(on_path)
    with pytest.raises(ToolMissingError, match=r"istioctl \(--istioctl /nope/istioctl is not an executable file\)"):
        locate_tools(["istioctl"], istioctl="/nope/istioctl", search_path=search)
    with pytest.raises(ToolMissingError, match=r"istioctl \(ISTIO_HOME=/nope has no bin/istioctl\)"):
        locate_tools(["istioctl"], istio_home="/nope", search_path=search)


def test_version_checks_and_pins() -> None:
    check_istioctl_version("istioctl", "1.30.4", "1.30.4")  # any release, pinned or not
    check_istioctl_version("istioctl", "1.30.4", "1.30")  # a minor accepts any patch
    check_istioctl_version("istioctl", "1.30.4", None)
    with pytest.raises(UserInputError):
        check_istioctl_version("istioctl", "1.30.4", "1.29")
    assert sorted(ISTIO_PINS) == ["1.29", "1.30", "1.31"]
    assert [p.latest for p in ISTIO_PINS.values()] == ["1.29.8", "1.30.5", "1.31.1"]
    assert KIND_VERSION == "v0.33.0"
    for pin in ISTIO_PINS.values():
        assert pin.node_image.startswith(f"kindest/node:v{pin.kubernetes}@sha256:")
        assert node_image_kubernetes(pin.node_image) == pin.kubernetes
        # every node image runs a Kubernetes its Istio minor supports, and every value says where it comes from
        assert pin.supports_kubernetes(pin.kubernetes), pin
        assert set(pin.sources) == {"latest", "kubernetes", "node_image", "bookinfo_registry", "gateway_api"}
    # the Gateway API release each Istio minor builds against (its go.mod), whose CRDs kind gets
    assert {m: p.gateway_api for m, p in ISTIO_PINS.items()} == {"1.29": "v1.4.1", "1.30": "v1.5.1", "1.31": "v1.6.0"}
    assert pin_for("1.29.8") is ISTIO_PINS["1.29"]
    assert pin_for("1.31.1") is ISTIO_PINS["1.31"]
    assert istio_minor("v1.30.4") == "1.30"
    assert ISTIO_PINS["1.29"].supports_kubernetes("v1.31.0") and not ISTIO_PINS["1.29"].supports_kubernetes("1.36.4")
    assert bookinfo_registry_for("1.29.8") == "docker.io/istio"
    assert bookinfo_registry_for("1.30.5") == bookinfo_registry_for("1.31.1") == "registry.istio.io/release"
    assert bookinfo_registry_for("1.27.3") == "docker.io/istio"  # meshrelease's own manifests
    with pytest.raises(
        UserInputError, match=r"(?s)no kind node image is pinned for Istio 1\.28 .*pass --kind-node-image"
    ):
        pin_for("1.28.10")  # end of life: not in the table any more
    with pytest.raises(UserInputError, match="is not an Istio version"):
        pin_for("latest")
    assert image_tag("docker.io/istio/pilot:1.30.4") == "1.30.4"
    assert image_tag("registry:5000/istio/pilot:1.30.4-distroless@sha256:abc") == "1.30.4-distroless"
    assert image_tag("istio/pilot") == ""
