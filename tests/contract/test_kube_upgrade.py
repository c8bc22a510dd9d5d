"""The kind upgrade check against the fake tools, and the traffic monitor of the upgrade against live servers.

- the exact command sequences of an in-place and a revision upgrade (docs/upgrade-check.md), with two fake
  istioctl releases (``istio-<version>/bin/istioctl``, logged as ``istioctl-<version>``; the PATH istioctl is
  removed, so using it would fail), and the cluster they leave;
- a command failing mid-upgrade: the error names the step, argv, exit code, stderr and the cluster's state;
- the session's reuse check after an upgrade: legitimate with ``istio_revision``, still refusing otherwise;
- finding the two istioctl binaries;
- the disruption monitor against a local HTTP server that fails chosen requests (their x-request-ids must be
  exactly the ones reported) and against the local mesh (real Envoy) whose routing is broken mid-sampling;
- ``meshrelease upgrade-check`` end to end as a subprocess: kind (fakes) in both modes, and local.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kube_world import FAKES, FIXTURES, RotatingFetcher, World, enter_world, modern_page

from meshrelease.backends.kube.kind_backend import KindBackend
from meshrelease.backends.kube.runner import CommandRunner
from meshrelease.backends.settings import KindSettings
from meshrelease.errors import ToolMissingError, UserInputError, ValidationError
from meshrelease.upgrade.istio import IstioctlPair, IstioUpgrade, UpgradeFailed, locate_istioctl_pair

FROM, TO = "1.29.8", "1.30.5"
CLUSTER = "kind-meshrelease"
K = ["--kubeconfig", "<tmp>/session/kind/kubeconfig"]
OPERATOR = str(FIXTURES / "istio-install.yaml")
DEPLOYMENTS = ["details-v1", "productpage-v1", "ratings-v1", "reviews-v1", "reviews-v2", "reviews-v3"]


def istioctl_release(world: World, version: str) -> Path:
    """``<root>/istio-<version>/bin/istioctl``: the fake istioctl pretending to be that release."""
    home = world.root / f"istio-{version}"
    (home / "bin").mkdir(parents=True, exist_ok=True)
    wrapper = home / "bin" / "istioctl"
    wrapper.write_text(
        f"#!{sys.executable}\nimport os, sys\n"
        f"os.environ['MESHRELEASE_FAKE_ISTIOCTL_VERSION'] = {version!r}\n"
        f"os.environ['MESHRELEASE_FAKE_ISTIOCTL_NAME'] = 'istioctl-{version}'\n"
        f"sys.path.insert(0, {str(FAKES)!r})\nimport fake_istioctl as fake\nsys.exit(fake.main(sys.argv[1:]))\n",
        encoding="utf-8",
    )
    wrapper.chmod(0o755)
    return wrapper


def releases(world: World) -> IstioctlPair:
    (world.bin / "istioctl").unlink(missing_ok=True)  # only the two releases exist
    return IstioctlPair(str(istioctl_release(world, FROM)), FROM, str(istioctl_release(world, TO)), TO)


def kubectl(*args: str) -> list[str]:
    return ["kubectl", *K, *args]


def normalized(calls: list[list[str]]) -> list[list[str]]:
    return [[re.sub(r"-[0-9a-f]{10}-[0-9a-f]{5}", "-<hash>", a) for a in call] for call in calls]


def kind_backend(world: World, istioctl: str, version: str, **overrides: Any) -> KindBackend:
    values: dict[str, Any] = {
        "istio_version": version,
        "istioctl": istioctl,
        "data_dir": FIXTURES,
        "workdir": world.root / "session",
        "poll_interval": 0.01,
        "ingress_url": "http://127.0.0.1:9",
    }
    settings = KindSettings(**(values | overrides))
    return KindBackend(settings, client_factory=RotatingFetcher)


@pytest.fixture
def on_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[World, IstioctlPair, KindBackend]]:
    """A kind cluster (fakes) with Istio FROM installed by FROM's istioctl, Bookinfo injected by it."""
    world = enter_world(tmp_path, monkeypatch)
    pair = releases(world)
    backend = kind_backend(world, pair.from_path, FROM)
    try:
        backend.start()
        yield world, pair, backend
    finally:
        backend.close()


def upgrade_of(backend: KindBackend, pair: IstioctlPair, mode: str) -> IstioUpgrade:
    assert backend.cluster is not None
    return IstioUpgrade(
        backend.runner,
        backend.cluster.kubectl,
        pair,
        mode,
        operator=Path(OPERATOR),
        namespace="default",
        poll_interval=0.01,
        proxy_timeout=5,
    )


def pods(world: World, ns: str = "default") -> dict[str, dict[str, Any]]:
    return {k: p for k, p in world.objects(CLUSTER, "Pod").items() if k.startswith(f"{ns}/")}


def images(world: World, ns: str) -> dict[str, str]:
    deployments = world.objects(CLUSTER, "Deployment")
    return {
        k.split("/", 1)[1]: d["spec"]["template"]["spec"]["containers"][0]["image"]
        for k, d in deployments.items()
        if k.startswith(f"{ns}/")
    }


def sidecar_images(world: World) -> set[str]:
    return {c["image"] for p in pods(world).values() for c in p["spec"]["containers"] if c["name"] == "istio-proxy"}


# -- the command sequences ---------------------------------------------------------------------------------------


@pytest.mark.contract
def test_in_place_upgrade_runs_the_documented_sequence_with_the_same_settings(
    on_from: tuple[World, IstioctlPair, KindBackend],
) -> None:
    world, pair, backend = on_from
    from_install = next(c for c in world.calls() if c[:2] == [f"istioctl-{FROM}", "install"])
    assert sidecar_images(world) == {f"docker.io/istio/proxyv2:{FROM}"}
    before = set(pods(world))
    world.clear_calls()
    phases: list[str] = []
    upgrade_of(backend, pair, "inplace").run(phases.append)
    calls = normalized(world.calls())
    to_install = [f"istioctl-{TO}", "install", "-y", "-f", OPERATOR, "--readiness-timeout=300s", *K]
    assert calls == [
        to_install,
        kubectl("rollout", "status", "deployment/istiod", "-n", "istio-system", "--timeout=300s"),
        kubectl("rollout", "status", "deployment/istio-ingressgateway", "-n", "istio-system", "--timeout=300s"),
        kubectl("get", "deployments", "-n", "istio-system", "-o", "json"),
        kubectl("get", "deployments", "-n", "default", "-o", "json"),
        kubectl("rollout", "restart", "deployment", "-n", "default"),
        *[kubectl("rollout", "status", f"deployment/{d}", "-n", "default", "--timeout=300s") for d in DEPLOYMENTS],
        [f"istioctl-{TO}", "proxy-status", "-o", "json", "--verbosity=1", *K],
    ]
    # the same -f/--set settings as the install of FROM: only the binary differs
    assert to_install[1:] == from_install[1:]
    assert phases == [
        f"install {TO} in place",
        "wait for the control plane",
        "restart the data plane",
        "verify the proxies",
    ]
    assert images(world, "istio-system") == {
        "istiod": f"docker.io/istio/pilot:{TO}",
        "istio-ingressgateway": f"docker.io/istio/proxyv2:{TO}",
    }
    assert not before & set(pods(world)), "every pod was replaced"
    assert sidecar_images(world) == {f"docker.io/istio/proxyv2:{TO}"}


@pytest.mark.contract
def test_revision_upgrade_runs_the_documented_sequence_and_removes_the_old_control_plane(
    on_from: tuple[World, IstioctlPair, KindBackend],
) -> None:
    world, pair, backend = on_from
    world.clear_calls()
    phases: list[str] = []
    upgrade_of(backend, pair, "revision").run(phases.append)
    assert normalized(world.calls()) == [
        [f"istioctl-{TO}", "x", "precheck", *K],
        [
            f"istioctl-{TO}",
            "install",
            "-y",
            "-f",
            OPERATOR,
            "--readiness-timeout=300s",
            "--set",
            "revision=1-30-5",
            *K,
        ],
        kubectl("rollout", "status", "deployment/istiod-1-30-5", "-n", "istio-system", "--timeout=300s"),
        kubectl("rollout", "status", "deployment/istio-ingressgateway", "-n", "istio-system", "--timeout=300s"),
        kubectl("get", "deployments", "-n", "istio-system", "-o", "json"),
        kubectl("label", "namespace", "default", "istio-injection-", "istio.io/rev=1-30-5", "--overwrite"),
        kubectl("get", "deployments", "-n", "default", "-o", "json"),
        kubectl("rollout", "restart", "deployment", "-n", "default"),
        *[kubectl("rollout", "status", f"deployment/{d}", "-n", "default", "--timeout=300s") for d in DEPLOYMENTS],
        [f"istioctl-{TO}", "proxy-status", "-o", "json", "--verbosity=1", *K],
        [f"istioctl-{TO}", "tag", "set", "default", "--revision", "1-30-5", "--overwrite", "-y", *K],
        [f"istioctl-{FROM}", "uninstall", "--revision", "default", "-y", *K],
        kubectl("get", "deployments", "-n", "istio-system", "-o", "json"),
    ]
    assert phases == [
        "precheck",
        "install revision 1-30-5",
        "wait for the control plane",
        "relabel namespace default",
        "restart the data plane",
        "verify the proxies",
        "move the default tag to revision 1-30-5",
        "remove the old control plane (revision default)",
        "check the control plane",
    ]
    assert images(world, "istio-system") == {
        "istiod-1-30-5": f"docker.io/istio/pilot:{TO}",
        "istio-ingressgateway": f"docker.io/istio/proxyv2:{TO}",
    }
    labels = world.objects(CLUSTER, "Namespace")["/default"]["metadata"]["labels"]
    assert labels == {"istio.io/rev": "1-30-5"}
    assert sidecar_images(world) == {f"docker.io/istio/proxyv2:{TO}"}
    proxies = world.cluster(CLUSTER)["proxies"]
    assert {e["revision"] for k, e in proxies.items() if k.endswith(".default")} == {"1-30-5"}


@pytest.mark.contract
def test_after_a_revision_upgrade_unlabelled_istio_objects_are_still_validated(
    on_from: tuple[World, IstioctlPair, KindBackend],
) -> None:
    world, pair, backend = on_from
    upgrade_of(backend, pair, "revision").run()
    # the default tag moved to the new revision before revision "default" was uninstalled, so the webhook that
    # validates objects without an istio.io/rev label is still there
    assert world.cluster(CLUSTER)["default_tag"] == "1-30-5"
    invalid = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "reviews"},
        "spec": {"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews"}, "weight": -5}]}]},
    }
    with pytest.raises(ValidationError, match=re.escape('admission webhook "validation.istio.io" denied the request')):
        backend.apply([invalid], source="invalid.yaml")
    # and new pods of namespaces labelled istio-injection=enabled get the new revision's sidecar
    with world.edit() as state:
        import kubefakes_state as fk

        fk.put(
            state,
            state["clusters"][CLUSTER],
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": "other", "labels": {"istio-injection": "enabled"}},
            },
        )
        assert fk.injector(state["clusters"][CLUSTER], "other") == ("1-30-5", TO)


@pytest.mark.contract
def test_an_upgrade_to_a_release_printing_tables_is_verified_from_its_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 1.28.10 -> 1.29.8: istioctl 1.29 ignores -o json and prints its --verbosity 1 table
    world = enter_world(tmp_path, monkeypatch)
    (world.bin / "istioctl").unlink()
    pair = IstioctlPair(str(istioctl_release(world, "1.28.10")), "1.28.10", str(istioctl_release(world, FROM)), FROM)
    backend = kind_backend(world, pair.from_path, "1.28.10", node_image="kindest/node:v1.34.11")
    try:
        backend.start()
        world.clear_calls()
        upgrade_of(backend, pair, "revision").run()
        status_calls = [c for c in world.calls() if c[1:2] == ["proxy-status"]]
        assert status_calls == [[f"istioctl-{FROM}", "proxy-status", "-o", "json", "--verbosity=1", *K]]
        proxies = world.cluster(CLUSTER)["proxies"]
        assert {e["revision"] for k, e in proxies.items() if k.endswith(".default")} == {"1-29-8"}
    finally:
        backend.close()


@pytest.mark.contract
def test_verification_waits_for_the_proxies_and_times_out_naming_the_stale_ones(
    on_from: tuple[World, IstioctlPair, KindBackend],
) -> None:
    world, pair, backend = on_from
    # the restart "does not happen": the fake answers rollout restart without replacing any pod
    world.fail("kubectl", ["rollout", "restart"], exit=0, stderr="")
    with pytest.raises(UpgradeFailed) as err:
        upgrade_of(backend, pair, "inplace").run()
    message = str(err.value)
    assert "failed at step 4/4 (verify the proxies)" in message
    assert f"timed out after 5 s waiting for every proxy of namespace default and the gateway to report Istio {TO}" in (
        message
    )
    productpage = world.pod(CLUSTER, "productpage-v1-")
    assert f"{productpage}.default runs {FROM}" in message
    assert f"but not every proxy reports {TO}" in message


# -- failures mid-upgrade ------------------------------------------------------------------------------------------


@pytest.mark.contract
def test_a_command_failing_mid_revision_upgrade_names_argv_exit_stderr_and_the_cluster_state(
    on_from: tuple[World, IstioctlPair, KindBackend],
) -> None:
    world, pair, backend = on_from
    world.fail(
        "kubectl",
        ["rollout", "restart"],
        exit=1,
        stderr='error: failed to patch: deployments.apps "details-v1" is forbidden: exceeded quota\n',
    )
    world.clear_calls()
    with pytest.raises(UpgradeFailed) as err:
        upgrade_of(backend, pair, "revision").run()
    message = str(err.value)
    assert f"the revision upgrade of Istio {FROM} -> {TO} failed at step 5/9 (restart the data plane)" in message
    assert re.search(
        r"command failed \(exit 1\): \S*kubectl --kubeconfig \S+ rollout restart deployment -n default", message
    )
    assert 'deployments.apps "details-v1" is forbidden: exceeded quota' in message
    assert (
        "what that leaves: both control planes run and namespace default is labelled istio.io/rev=1-30-5; some "
        f"workloads may run {TO} sidecars, others still {FROM}"
    ) in message
    assert (
        f"what the cluster shows now: istio-system deployments: istio-ingressgateway {TO}, istiod {FROM}, "
        f"istiod-1-30-5 {TO}; namespace default labels: istio.io/rev=1-30-5"
    ) in message
    assert "kubectl label namespace default istio.io/rev- istio-injection=enabled --overwrite" in message
    assert err.value.step == "restart the data plane"
    # nothing after the failed step ran: the old control plane is still there
    assert not [c for c in world.calls() if "uninstall" in c]
    assert "istiod" in images(world, "istio-system")


@pytest.mark.contract
def test_a_failing_in_place_install_says_the_control_plane_may_be_mixed(
    on_from: tuple[World, IstioctlPair, KindBackend],
) -> None:
    world, pair, backend = on_from
    world.fail(f"istioctl-{TO}", ["install"], exit=1, stderr="Error: failed to install manifests: context deadline\n")
    with pytest.raises(UpgradeFailed) as err:
        upgrade_of(backend, pair, "inplace").run()
    message = str(err.value)
    assert "failed at step 1/4 (install 1.30.5 in place)" in message
    assert "(exit 1)" in message and "failed to install manifests: context deadline" in message
    assert f"istiod and the gateway may run {FROM}, {TO} or a mix; the workloads' sidecars still run {FROM}" in message
    assert f"istio-system deployments: istio-ingressgateway {FROM}, istiod {FROM}" in message
    assert f"istioctl {FROM} install with the same -f {OPERATOR}" in message


# -- the session's reuse check after an upgrade ------------------------------------------------------------------


@pytest.mark.contract
@pytest.mark.slow
def test_after_a_revision_upgrade_only_a_session_told_the_revision_reuses_the_cluster(
    on_from: tuple[World, IstioctlPair, KindBackend],
) -> None:
    world, pair, first = on_from
    upgrade_of(first, pair, "revision").run()
    world.clear_calls()
    told = kind_backend(world, pair.to_path, TO, istio_revision="1-30-5", workdir=world.root / "second")
    try:
        told.start()
    finally:
        told.close()
    verbs = [c[:3] for c in world.calls()]
    assert [c for c in verbs if c[1:2] == ["install"]] == []
    assert any("deployment/istiod-1-30-5" in c for c in world.calls())
    # the same revision with the older istioctl is still refused: the version check is intact
    old = kind_backend(world, pair.from_path, FROM, istio_revision="1-30-5", workdir=world.root / "third")
    with pytest.raises(UserInputError, match=f"already runs Istio {TO}, this session uses istioctl {FROM}"):
        old.start()
    old.close()
    # a revision that is not there is refused, never installed
    missing = kind_backend(world, pair.to_path, TO, istio_revision="1-31-0", workdir=world.root / "fourth")
    with pytest.raises(UserInputError, match="has no Istio control plane of revision 1-31-0"):
        missing.start()
    missing.close()
    assert not [c for c in world.calls() if c[1:2] == ["install"]]


@pytest.mark.contract
@pytest.mark.slow
def test_after_an_in_place_upgrade_the_old_istioctl_is_still_refused(
    on_from: tuple[World, IstioctlPair, KindBackend],
) -> None:
    world, pair, first = on_from
    upgrade_of(first, pair, "inplace").run()
    again = kind_backend(world, pair.from_path, FROM, workdir=world.root / "second")
    with pytest.raises(UserInputError, match=f"already runs Istio {TO}, this session uses istioctl {FROM}"):
        again.start()
    again.close()
    to = kind_backend(world, pair.to_path, TO, workdir=world.root / "third")
    try:
        to.start()
        assert to.describe().mesh == f"istio {TO}"
    finally:
        to.close()


# -- finding the istioctl of each release ------------------------------------------------------------------------


@pytest.mark.contract
def test_both_missing_istioctl_binaries_are_named_with_download_commands(fake_world: World) -> None:
    with pytest.raises(ToolMissingError) as err:
        locate_istioctl_pair(
            CommandRunner(), from_version=FROM, to_version="1.30", istio_home_to=str(fake_world.root / "nowhere")
        )
    message = str(err.value)
    assert "neither --istioctl-from nor ISTIO_HOME_FROM is set" in message
    assert f"ISTIO_HOME_TO={fake_world.root / 'nowhere'} has no bin/istioctl" in message
    assert f"ISTIO_VERSION={FROM} sh -" in message and "--istioctl-from istio-1.29.8/bin/istioctl" in message
    assert "ISTIO_VERSION=1.30.5 sh -" in message  # a minor asks for its pinned latest patch


@pytest.mark.contract
def test_istioctl_homes_and_versions(fake_world: World) -> None:
    pair = releases(fake_world)
    runner = CommandRunner()
    found = locate_istioctl_pair(
        runner,
        from_version="1.29",  # a minor accepts any patch: the pair carries the exact one
        to_version=TO,
        istio_home_from=str(fake_world.root / f"istio-{FROM}"),
        istioctl_to=pair.to_path,
    )
    assert found == pair
    with pytest.raises(UserInputError, match=f"istioctl at .*istio-{FROM}/bin/istioctl is version {FROM}, but --to"):
        locate_istioctl_pair(
            runner, from_version=FROM, to_version=TO, istioctl_from=pair.from_path, istioctl_to=pair.from_path
        )


# -- the disruption monitor against live servers ---------------------------------------------------------------


class FlakyGateway:
    """productpage answering ``version`` pages, except the next requests after :meth:`fail_next`, which get
    the listed answers (an HTTP status, or a page of another version); records their x-request-ids."""

    def __init__(self, httpserver: Any, version: str = "v2") -> None:
        from werkzeug import Request, Response

        self.pages = {v: modern_page(v) for v in ("v1", "v2", "v3")}
        self.version = version
        self.pending: list[int | str] = []
        self.failed: dict[str, int | str] = {}
        self.done = threading.Event()
        self.lock = threading.Lock()

        def handler(request: Request) -> Response:
            with self.lock:
                answer = self.pending.pop(0) if self.pending else None
                if answer is not None:
                    self.failed[request.headers.get("x-request-id", "")] = answer
                    if not self.pending:
                        self.done.set()
            if isinstance(answer, int):
                return Response("upstream connect error", status=answer)
            page = self.pages[answer if isinstance(answer, str) else self.version]
            return Response(page, content_type="text/html; charset=utf-8")

        httpserver.expect_request("/productpage").respond_with_handler(handler)
        self.url = f"http://127.0.0.1:{httpserver.port}"

    def fail_next(self, *answers: int | str) -> None:
        with self.lock:
            self.done.clear()
            self.pending = list(answers)


def expectation(reviews: str) -> Any:
    from meshrelease.scenario.model import Expectation, ReviewsExpectation

    return Expectation(line=1, reviews=ReviewsExpectation("version", version=reviews))


@pytest.mark.contract
def test_monitor_reports_exactly_the_requests_that_failed_during_the_upgrade(httpserver: Any) -> None:
    from meshrelease.upgrade.disruption import BEFORE_UPGRADE, DisruptionMonitor, DisruptionOptions

    gateway = FlakyGateway(httpserver)
    options = DisruptionOptions(concurrency=2, steady_window=5, fetch_timeout=5)
    monitor = DisruptionMonitor(gateway.url, [expectation("v2")], options=options, scenario="s", step="canary")
    with monitor:
        monitor.wait_steady(20, what="steady before")
        monitor.phase("restart the data plane")
        gateway.fail_next(503, 503, "v1")
        assert gateway.done.wait(20), "the gateway never got the requests to fail"
        monitor.phase("after the upgrade")
        assert monitor.recover(20)
    report = monitor.stop()
    assert {f.request_id: f.label for f in report.failures} == {
        rid: ("v1" if answer == "v1" else "status 503") for rid, answer in gateway.failed.items()
    }
    assert {f.status for f in report.failures} == {503, 200}
    assert {f.phase for f in report.failures} <= {BEFORE_UPGRADE, "restart the data plane"}
    assert {f.user for f in report.failures} == {"anonymous"}
    assert report.recovered and not report.passed
    assert report.requests >= 3 + options.steady_window
    assert [p["name"] for p in report.phases] == ["restart the data plane", "after the upgrade"]
    text = report.render_text()
    assert all(f"x-request-id {rid}" in text for rid in gateway.failed)


@pytest.mark.contract
def test_monitor_without_failures_passes_and_one_that_never_recovers_says_what_it_saw(httpserver: Any) -> None:
    from meshrelease.upgrade.disruption import DisruptionMonitor, DisruptionOptions

    gateway = FlakyGateway(httpserver)
    options = DisruptionOptions(concurrency=2, steady_window=5, fetch_timeout=5)
    with DisruptionMonitor(gateway.url, [expectation("v2")], options=options, step="x") as monitor:
        monitor.wait_steady(20, what="steady before")
        monitor.phase("upgrade")
        assert monitor.recover(20)
    clean = monitor.stop()
    assert clean.passed and clean.requests > 0 and clean.failures == []

    with DisruptionMonitor(gateway.url, [expectation("v2")], options=options, step="x") as monitor:
        monitor.wait_steady(20, what="steady before")
        gateway.version = "v3"  # routing broken for good
        assert not monitor.recover(1)
    broken = monitor.stop()
    assert not broken.recovered and not broken.passed
    assert "the mesh to serve the step steadily after the upgrade" in broken.notes[0]
    assert "v3" in broken.notes[0] and "allowed: v2" in broken.notes[0]
    assert broken.failures and {f.label for f in broken.failures} == {"v3"}


@pytest.mark.envoy
@pytest.mark.slow
def test_monitor_on_the_local_mesh_reports_requests_failed_by_broken_routing() -> None:
    from meshrelease.backends.local.mesh import LocalMesh
    from meshrelease.backends.local.options import LocalMeshOptions
    from meshrelease.k8s.manifest import load_manifests
    from meshrelease.scenario.model import Expectation, ReviewsExpectation
    from meshrelease.upgrade.disruption import BEFORE_UPGRADE, DisruptionMonitor, DisruptionOptions

    def reviews_to(subset: str) -> list[dict[str, Any]]:
        route = [{"destination": {"host": "reviews", "subset": subset}}]
        spec = {"hosts": ["reviews"], "http": [{"route": route}]}
        meta = {"name": "reviews", "namespace": "default"}
        return [{"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": meta, "spec": spec}]

    exps = [
        Expectation(line=1, reviews=ReviewsExpectation("version", version="v2")),
        Expectation(line=2, user="jason", reviews=ReviewsExpectation("version", version="v2")),
    ]
    options = DisruptionOptions(concurrency=1, steady_window=5, fetch_timeout=10)
    with LocalMesh(LocalMeshOptions()) as mesh:
        mesh.apply(load_manifests(FIXTURES / "destination-rule-all.yaml"))
        mesh.apply(reviews_to("v2"))
        mesh.wait_synced(30)
        with DisruptionMonitor(mesh.ingress_url, exps, options=options, step="v2") as monitor:
            monitor.wait_steady(60, what="steady before")
            monitor.phase("routing broken")
            mesh.apply(reviews_to("v9"))  # no such subset: reviews unavailable on the page
            mesh.wait_synced(30)
            assert monitor.wait_failures(2, 60), "no user saw the broken routing"
            monitor.phase("routing restored")
            mesh.apply(reviews_to("v2"))
            mesh.wait_synced(30)
            assert monitor.recover(60)
        report = monitor.stop()
        some = report.failures[0]
        assert some.request_id and mesh.access_log_lines(some.request_id), "the id is a request the mesh served"
    assert {f.user for f in report.failures} == {"anonymous", "jason"}
    assert {f.label for f in report.failures} == {"unavailable"}
    assert {f.phase for f in report.failures} <= {BEFORE_UPGRADE, "routing broken", "routing restored"}
    assert report.recovered and not report.passed
    assert [e["failed"] for e in report.expectations] == [
        sum(f.user == u for f in report.failures) for u in ("anonymous", "jason")
    ]


# -- meshrelease upgrade-check end to end ----------------------------------------------------------------------

UPGRADE_SCENARIO = """\
name: upgrade-mini
steps:
  - name: destination-rules
    description: Subsets only; reviews spreads over v1, v2 and v3.
    apply: [dr.yaml]
    upgrade_traffic: true
    expect:
      - reviews: [v1, v2, v3]
"""


def mini_scenario(root: Path) -> Path:
    folder = root / "scenarios" / "upgrade-mini"
    folder.mkdir(parents=True)
    (folder / "dr.yaml").write_text((FIXTURES / "destination-rule-all.yaml").read_text(encoding="utf-8"))
    (folder / "scenario.yaml").write_text(UPGRADE_SCENARIO, encoding="utf-8")
    return folder


class UpgradeAwareGateway:
    """productpage answering v1, v2, v3, v1, …; once the fakes' call log shows the data plane being restarted
    (``kubectl … rollout restart deployment -n default``), the next ``fail`` requests get 503 (ids recorded)."""

    def __init__(self, httpserver: Any, log_path: Path, fail: int) -> None:
        from werkzeug import Request, Response

        pages = [modern_page(v) for v in ("v1", "v2", "v3")]
        self.failed: list[str] = []
        self.restarted = False
        lock = threading.Lock()
        counter = iter(range(10**9))

        def handler(request: Request) -> Response:
            with lock:
                if not self.restarted and fail:
                    self.restarted = '"restart", "deployment", "-n", "default"' in log_path.read_text(encoding="utf-8")
                if self.restarted and len(self.failed) < fail:
                    self.failed.append(request.headers.get("x-request-id", ""))
                    return Response("upstream connect error or disconnect/reset before headers", status=503)
                page = pages[next(counter) % 3]
            return Response(page, content_type="text/html; charset=utf-8")

        httpserver.expect_request("/productpage").respond_with_handler(handler)
        self.url = f"http://127.0.0.1:{httpserver.port}"


def upgrade_check(world: World, pair: IstioctlPair, mode: str, gateway_url: str) -> subprocess.CompletedProcess[str]:
    scenario = mini_scenario(world.root)
    argv = [
        sys.executable,
        "-m",
        "meshrelease.cli.main",
        "upgrade-check",
        str(scenario),
        "--backend",
        "kind",
        "--from",
        FROM,
        "--to",
        TO,
        "--mode",
        mode,
        "--istioctl-from",
        pair.from_path,
        "--istioctl-to",
        pair.to_path,
        "--report-dir",
        str(world.root / "reports"),
        "--ingress-url",
        gateway_url,
        "-p",
        "no:cacheprovider",
    ]
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=280, cwd=world.root, env=dict(os.environ), check=False
    )


def tool_calls(world: World) -> list[list[str]]:
    return [c for c in world.calls() if c[0] != "docker"]


def first(calls: list[list[str]], *parts: str) -> int:
    return next(i for i, c in enumerate(calls) if all(p in c for p in parts))


@pytest.mark.contract
@pytest.mark.slow
def test_upgrade_check_by_revision_end_to_end_with_the_fakes(fake_world: World, httpserver: Any) -> None:
    pair = releases(fake_world)
    gateway = UpgradeAwareGateway(httpserver, fake_world.log_path, fail=0)
    proc = upgrade_check(fake_world, pair, "revision", gateway.url)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert f"upgrade check on kind: {FROM} -> {TO} (revision): PASSED" in proc.stdout
    reports = fake_world.root / "reports"
    before = json.loads((reports / FROM / "results.json").read_text())
    after = json.loads((reports / TO / "results.json").read_text())
    assert (before["backend"]["mesh"], after["backend"]["mesh"]) == (f"istio {FROM}", f"istio {TO}")
    assert before["summary"]["passed"] == after["summary"]["passed"] == 1
    summary = json.loads((reports / "upgrade.json").read_text())
    assert summary["passed"] and summary["regressions"] == 0 and summary["mode"] == "revision"
    disruption = json.loads((reports / "disruption.json").read_text())
    assert disruption["step"] == "destination-rules" and disruption["requests"] > 0 and disruption["failed"] == 0
    assert (reports / "compare.md").is_file()
    everything = fake_world.calls()
    # TO's images were pulled on the host and loaded into the node before the upgrade began
    pulled = [c[-1] for c in everything if c[:2] == ["docker", "pull"]]
    assert f"docker.io/istio/pilot:{TO}" in pulled and f"docker.io/istio/proxyv2:{TO}" in pulled
    loads = [i for i, c in enumerate(everything) if c[:3] == ["kind", "load", "image-archive"]]
    assert len(loads) == 2 and loads[1] < first(everything, f"istioctl-{TO}", "precheck")
    calls = tool_calls(fake_world)
    # the FROM run, the upgrade, then the TO run, in that order
    precheck = first(calls, f"istioctl-{TO}", "precheck")
    uninstall = first(calls, f"istioctl-{FROM}", "uninstall")
    assert first(calls, f"istioctl-{FROM}", "install") < precheck < uninstall
    assert [c[1:3] for c in calls[precheck:uninstall] if c[0].startswith("istioctl")] == [
        ["x", "precheck"],
        ["install", "-y"],
        ["proxy-status", "-o"],
        ["tag", "set"],
    ]
    to_session = [c for c in calls[uninstall:] if c[0] == f"istioctl-{TO}" and "--remote=false" in c]
    assert to_session, "the run on TO started after the upgrade"
    assert any("istiod-1-30-5" in " ".join(c) for c in calls[uninstall:] if c[0] == "kubectl")
    assert not [c for c in calls[uninstall:] if c[0].startswith("istioctl") and "install" in c]
    # the check created the cluster, so it deleted it at the end; the runs only adopted it
    assert [c[:3] for c in calls if c[0] == "kind" and "delete" in c] == [["kind", "delete", "cluster"]]
    assert fake_world.state()["kind_clusters"] == {}
    assert "kind cluster meshrelease deleted" in proc.stdout


@pytest.mark.contract
@pytest.mark.slow
def test_upgrade_check_in_place_reports_every_request_failed_during_the_upgrade(
    fake_world: World, httpserver: Any
) -> None:
    pair = releases(fake_world)
    gateway = UpgradeAwareGateway(httpserver, fake_world.log_path, fail=3)
    proc = upgrade_check(fake_world, pair, "inplace", gateway.url)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert f"upgrade check on kind: {FROM} -> {TO} (inplace): FAILED" in proc.stdout
    assert "3 failed request(s)" in proc.stdout
    reports = fake_world.root / "reports"
    disruption = json.loads((reports / "disruption.json").read_text())
    assert sorted(f["request_id"] for f in disruption["failures"]) == sorted(gateway.failed)
    assert {f["status"] for f in disruption["failures"]} == {503}
    # A failure is attributed to the phase its request was *sent* in: a request sent just before the restart
    # began and answered after it counts in the phase before.
    phases = {"wait for the control plane", "restart the data plane", "verify the proxies"}
    assert {f["phase"] for f in disruption["failures"]} <= phases
    assert disruption["recovered"] is True
    summary = json.loads((reports / "upgrade.json").read_text())
    assert summary["regressions"] == 0 and summary["passed"] is False and summary["error"] is None
    assert all(rid in (reports / "disruption.md").read_text() for rid in gateway.failed)
    calls = tool_calls(fake_world)
    assert not [c for c in calls if "uninstall" in c or "precheck" in c]
    [to_install] = [c for c in calls if c[0] == f"istioctl-{TO}" and "install" in c]
    assert to_install[1:-1] == ["install", "-y", "-f", OPERATOR, "--readiness-timeout=300s", "--kubeconfig"]


@pytest.mark.envoy
@pytest.mark.slow
def test_local_upgrade_check_runs_the_suite_on_each_envoy_version(tmp_path: Path) -> None:
    from meshrelease.backends.local.dataplane.envoy_binary import find_envoy

    envoy = find_envoy().path
    cache = tmp_path / "cache"
    for version in ("1.39.0", "1.40.0"):  # both are the installed binary: the flow is under test, not Envoy
        (cache / "envoy" / version).mkdir(parents=True)
        (cache / "envoy" / version / "envoy").symlink_to(envoy)
    scenario = tmp_path / "scenarios" / "mini"
    scenario.mkdir(parents=True)
    (scenario / "dr.yaml").write_text((FIXTURES / "destination-rule-all.yaml").read_text(encoding="utf-8"))
    (scenario / "v1.yaml").write_text(
        textwrap.dedent(
            """\
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: reviews}
            spec:
              hosts: [reviews]
              http:
                - route:
                    - destination: {host: reviews, subset: v1}
            """
        )
    )
    (scenario / "scenario.yaml").write_text(
        "name: mini\nsteps:\n  - name: all-v1\n    apply: [dr.yaml, v1.yaml]\n    upgrade_traffic: true\n"
        "    expect:\n      - reviews: v1\n"
    )
    reports = tmp_path / "reports"
    env = dict(os.environ, MESHRELEASE_CACHE=str(cache), MESHRELEASE_HOME=str(tmp_path / "home"))
    argv = ["upgrade-check", "--backend", "local", "--from", "1.39.0", "--to", "1.40.0", str(scenario)]
    proc = subprocess.run(
        [sys.executable, "-m", "meshrelease.cli.main", *argv, "--report-dir", str(reports), "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        timeout=280,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "upgrade check on local: 1.39.0 -> 1.40.0: PASSED" in proc.stdout
    for version in ("1.39.0", "1.40.0"):
        results = json.loads((reports / version / "results.json").read_text())
        assert results["summary"]["passed"] == 1
        assert results["backend"]["extra"]["envoy_path"] == str(cache / "envoy" / version / "envoy")
    summary = json.loads((reports / "upgrade.json").read_text())
    assert summary["passed"] and summary["disruption"]["step"] is None
    assert "applies to kind" in (reports / "disruption.md").read_text()
