"""``meshrelease doctor`` and the doctor ``meshrelease run --backend kind`` runs first: against an empty PATH
(this machine has no kind, no istioctl and no Docker engine) and against the fake tools."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from kube_world import World

from meshrelease.backends.kube.doctor import DoctorReport, run_doctor
from meshrelease.backends.settings import build_settings

pytestmark = pytest.mark.contract


def meshrelease(*args: str, cwd: Path, path: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ) | {"PATH": path}
    for name in ("ISTIO_HOME", "KUBECONFIG", "MESHRELEASE_BACKEND"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "meshrelease", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def doctor(backend: str, **options: Any) -> DoctorReport:
    return run_doctor(build_settings({"backend": backend, **options}))


def status(report: DoctorReport) -> dict[str, str]:
    return {f.check: f.status for f in report.findings}


def test_doctor_on_a_machine_without_the_tools_names_each_missing_piece(tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    proc = meshrelease("doctor", "--backend", "kind", "--istio-version", "1.30.5", cwd=tmp_path, path=str(empty))
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:4] == ["check", "status", "found", "to"]
    failed = {line.split()[0] for line in lines if " FAIL " in line}
    assert failed == {"docker", "kind", "kubectl", "istioctl"}
    out = proc.stdout
    assert "install Docker Engine" in out and "install kind v0.33.0" in out and "install kubectl" in out
    assert "curl -L https://istio.io/downloadIstio | ISTIO_VERSION=1.30.5 sh -" in out
    assert "docker engine                skip    not checked: the docker CLI is missing" in out
    assert "Istio 1.30: kindest/node:v1.36.4" in out  # what can be known without the tools still is
    assert "4 problem(s); nothing was created" in out


def test_run_on_kind_stops_with_the_doctors_table_before_pytest_starts(tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    (tmp_path / "scenarios").mkdir()
    proc = meshrelease("run", "--backend", "kind", "--report-dir", "reports", cwd=tmp_path, path=str(empty))
    assert proc.returncode == 1
    assert "kind                         FAIL    not on PATH" in proc.stdout
    assert "nothing was created" in proc.stdout
    assert not (tmp_path / "reports").exists()  # pytest never ran


def test_doctor_with_every_tool_present_and_right_passes(fake_world: World) -> None:
    report = doctor("kind", istio_version="1.30.5")
    assert report.ok, report.render()
    found = {f.check: f.found for f in report.findings}
    assert found["docker engine"] == "Docker Engine 29.1.3 (linux/amd64)"
    assert found["kind version"] == "v0.33.0 (pinned v0.33.0)"
    assert found["kubectl version"] == "v1.36.4 (cluster 1.36.4)"
    assert found["istioctl version"] == "1.30.5"
    assert found["Kubernetes of the kind node"] == "1.36.4, inside Istio 1.30's 1.32-1.36"
    assert found["kind cluster"] == "meshrelease does not exist yet: created, then deleted at the end"
    assert [c[:2] for c in fake_world.calls()] == [
        ["docker", "version"],
        ["kind", "version"],
        ["istioctl", "version"],
        ["kubectl", "version"],
        ["docker", "info"],
        ["kind", "get"],
    ]  # read-only: nothing was created


def test_doctor_finds_a_stopped_engine_an_old_kind_a_wrong_istioctl_and_a_node_outside_istios_range(
    fake_world: World,
) -> None:
    with fake_world.edit() as state:
        state["docker"]["daemon"] = False
        state["kind_version"] = "v0.31.0"
    report = doctor("kind", istio_version="1.31.1", kind_node_image="kindest/node:v1.30.13")
    problems = {f.check: f for f in report.problems}
    assert set(problems) == {
        "docker engine",
        "kind version",
        "istioctl version",
        "kubectl version",
        "Kubernetes of the kind node",
    }
    assert "Cannot connect to the Docker daemon" in problems["docker engine"].found
    assert "older kind cannot `kind load`" in problems["kind version"].fix
    assert problems["istioctl version"].found == "1.30.5, but --istio-version is 1.31.1"
    assert "ISTIO_VERSION=1.31.1" in problems["istioctl version"].fix
    assert problems["Kubernetes of the kind node"].found == "1.30.13, outside Istio 1.31's supported 1.32-1.36"
    assert problems["kubectl version"].found == "v1.36.4, cluster 1.30.13: more than one minor apart"
    assert "kind cluster" not in status(report)  # not asked while the engine is down


def test_doctor_of_a_cluster_with_a_separate_mesh_api_server(fake_world: World, bookinfo_gateway: Any) -> None:
    import kubefakes_state as fk

    with fake_world.edit() as state:
        dp = fk.new_cluster(state, "dp", kubernetes="1.35.2")
        dp["objects"]["|Namespace||default"]["metadata"]["labels"] = {"istio-injection": "enabled"}
        asm = fk.new_cluster(state, "asm")
        asm["crds"] = True
    workload = fake_world.write_kubeconfig(fake_world.root / "dp.yaml", "dp", "dp")
    mesh = fake_world.write_kubeconfig(fake_world.root / "asm.yaml", "asm", "asm")
    options = {
        "kubeconfig": str(workload),
        "mesh_kubeconfig": str(mesh),
        "ingress_url": f"http://127.0.0.1:{bookinfo_gateway.port}",
    }
    report = doctor("cluster", **options)
    assert report.ok, report.render()
    found = {f.check: f.found for f in report.findings}
    assert found["Kubernetes of the workloads' cluster"] == "1.35.2, inside Istio 1.30's 1.32-1.36"
    assert found["Istio CRDs"] == "virtualservices.networking.istio.io on the mesh API server"
    assert found["namespace default (workloads' cluster)"] == "exists, injection enabled"
    assert found["ingress URL"] == f"http://127.0.0.1:{bookinfo_gateway.port}/productpage answers (HTTP 200)"
    # the mesh instance lost its CRDs and the namespace: both named, with what to do
    with fake_world.edit() as state:
        state["clusters"]["asm"]["crds"] = False
        fk.remove(state["clusters"]["asm"], "|Namespace||default")
    problems = {f.check: f for f in doctor("cluster", **options).problems}
    assert set(problems) == {"Istio CRDs", "namespace default (mesh API server)"}
    assert (
        f"kubectl --kubeconfig {mesh} create namespace default" in problems["namespace default (mesh API server)"].fix
    )


def test_doctor_of_a_cluster_reports_the_gateway_api_crds(fake_world: World, bookinfo_gateway: Any) -> None:
    """Absent Gateway API CRDs are a warning (scenarios without Gateway/HTTPRoute run) with istio.io's install
    command at the release Istio 1.30 builds against; present ones show their bundle version and channel."""
    import kubefakes_state as fk

    with fake_world.edit() as state:
        cluster = fk.new_cluster(state, "c", kubernetes="1.35.2")
        cluster["crds"] = True
    config = fake_world.write_kubeconfig(fake_world.root / "c.yaml", "c", "c")
    options = {"kubeconfig": str(config), "ingress_url": f"http://127.0.0.1:{bookinfo_gateway.port}"}
    report = doctor("cluster", **options)
    (finding,) = [f for f in report.findings if f.check == "Gateway API CRDs"]
    assert (finding.status, finding.found) == (
        "warn",
        "absent: scenarios that apply Gateway or HTTPRoute objects cannot run",
    )
    assert finding.fix == (
        f"kubectl --kubeconfig {config} apply --server-side -f "
        "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.5.1/standard-install.yaml"
    )
    assert finding not in report.problems and "warn" in report.render()
    with fake_world.edit() as state:
        state["clusters"]["c"]["gateway_api"] = "v1.4.0"
    (finding,) = [f for f in doctor("cluster", **options).findings if f.check == "Gateway API CRDs"]
    assert (finding.status, finding.found) == ("ok", "gateways.gateway.networking.k8s.io (v1.4.0, standard)")
