"""The local mesh under faults: a configuration Envoy refuses is rolled back at once and the mesh keeps accepting
changes; a dead Envoy, workload host or gateway is named within seconds instead of waiting out the sync timeout.

The refused configuration is one Istio lets through too: an HTTPRoute header value with an un-escaped ``%``
(the Gateway API CRD's pattern allows it, istiod's conversion checks only control characters, and the generated
VirtualService is not validated by the webhook), which Envoy's header parser refuses.
"""

from __future__ import annotations

import os
import signal
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from meshrelease.backends.local.dataplane.envoy import ConfigRejected, ProcessDied
from meshrelease.backends.local.mesh import LocalMesh
from meshrelease.backends.local.options import LocalMeshOptions
from meshrelease.data import data_file
from meshrelease.errors import ValidationError
from meshrelease.k8s.manifest import load_manifests

pytestmark = [pytest.mark.envoy]


def reviews_route(header_value: str, backend: str = "reviews-v2") -> dict[str, object]:
    return yaml.safe_load(
        textwrap.dedent(
            f"""\
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {{name: reviews}}
            spec:
              parentRefs: [{{group: "", kind: Service, name: reviews, port: 9080}}]
              rules:
                - filters:
                    - type: RequestHeaderModifier
                      requestHeaderModifier: {{set: [{{name: x-release, value: "{header_value}"}}]}}
                  backendRefs: [{{name: {backend}, port: 9080}}]
            """
        )
    )


@pytest.fixture
def mesh() -> Iterator[LocalMesh]:
    with LocalMesh(LocalMeshOptions()) as m:
        m.apply(load_manifests(data_file("bookinfo-versions.yaml")))
        m.wait_synced(30)
        yield m


def test_a_configuration_envoy_refuses_is_rolled_back_at_once_and_the_next_apply_works(mesh: LocalMesh) -> None:
    mesh.apply([reviews_route("canary")])
    mesh.wait_synced(30)
    before = mesh.store.list("httproute")[0].body
    mesh.apply([reviews_route("abc%oops", backend="reviews-v3")])
    started = time.monotonic()
    with pytest.raises(ConfigRejected) as err:
        mesh.wait_synced(30)
    assert time.monotonic() - started < 2.0
    message = str(err.value)
    assert "rejected the rds/9080 update" in message, message
    assert "%" in message or "header" in message.lower(), message  # Envoy's own reason, from its log
    assert "the change was rolled back (HTTPRoute default/reviews)" in message
    # the store is back to what the mesh ran, and the mesh runs it
    assert mesh.store.list("httproute")[0].body == before
    page = requests.get(f"{mesh.ingress_url}/productpage", timeout=10)
    assert page.status_code == 200 and "reviews-v2" in page.text
    # the next, unrelated apply syncs normally
    mesh.apply([reviews_route("second", backend="reviews-v1")])
    assert mesh.wait_synced(30) < 5
    assert "reviews-v1" in requests.get(f"{mesh.ingress_url}/productpage", timeout=10).text


def test_an_istio_header_value_envoy_would_refuse_is_refused_by_the_webhook(mesh: LocalMesh) -> None:
    vs = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "reviews"},
        "spec": {
            "hosts": ["reviews"],
            "http": [
                {
                    "headers": {"request": {"set": {"x-t": "%START_TIME%%"}}},
                    "route": [{"destination": {"host": "reviews"}}],
                }
            ],
        },
    }
    with pytest.raises(ValidationError) as err:
        mesh.apply([vs])
    assert "header value configuration: invalid header configuration. Un-escaped %" in str(err.value)
    assert [o.key.name for o in mesh.store.list("vs")] == ["bookinfo"]  # the gateway's, from the start


def wait_until_gone(mesh: LocalMesh, victim: str, timeout: float = 5.0) -> None:
    """Until the killed process has exited (SIGKILL is delivered asynchronously), bounded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            mesh.check_alive()
        except ProcessDied:
            return
        time.sleep(0.01)
    raise AssertionError(f"the killed {victim} still runs after {timeout} s")


@pytest.mark.parametrize("victim", ["sidecar", "gateway", "host"])
def test_a_dead_process_is_named_within_seconds(mesh: LocalMesh, victim: str) -> None:
    if victim == "sidecar":
        proc = next(p for p in mesh._runtime.pods.values() if p.plan.deployment == "productpage-v1").sidecar
        pid, name = proc.pid, proc.proxy.id
    elif victim == "gateway":
        assert mesh._runtime.gateway is not None
        pid, name = mesh._runtime.gateway.pid, mesh._runtime.gateway.proxy.id
    else:
        assert mesh._runtime.host is not None
        pid, name = mesh._runtime.host.pid, "the workload host"
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_until_gone(mesh, victim)
    mesh.apply([reviews_route("after-kill")])
    started = time.monotonic()
    with pytest.raises(ProcessDied) as err:
        mesh.wait_synced(60)
    assert time.monotonic() - started < 10
    message = str(err.value)
    assert name in message and f"pid {pid}" in message, message
    if victim != "host":
        assert "killed by signal 9" in message


@pytest.mark.parametrize("victim", ["sidecar", "gateway"])
def test_after_a_process_died_the_next_step_runs_on_a_restarted_mesh(tmp_path: Path, victim: str) -> None:
    from meshrelease.backends.base import LazyBackend
    from meshrelease.engine.runner import RunnerOptions, StepRunner
    from meshrelease.scenario.loader import load_scenario

    (tmp_path / "scenario.yaml").write_text(
        textwrap.dedent(
            """\
            name: survive
            steps:
              - name: rules
                apply: ["meshrelease:destination-rule-all.yaml"]
                expect: [{reviews: [v1, v2, v3]}]
              - name: killed
                expect: [{reviews: [v1, v2, v3]}]
              - name: after
                expect: [{reviews: [v1, v2, v3]}]
            """
        )
    )
    scenario = load_scenario(tmp_path)
    backend = LazyBackend(lambda: LocalMesh(LocalMeshOptions()))
    runner = StepRunner(backend, RunnerOptions(converge_timeout=10))
    try:
        assert runner.run(scenario, scenario.step("rules")).passed
        mesh = backend.started
        assert isinstance(mesh, LocalMesh)
        if victim == "sidecar":
            proxy = next(p for p in mesh._runtime.pods.values() if p.plan.deployment == "productpage-v1").sidecar
        else:
            assert mesh._runtime.gateway is not None
            proxy = mesh._runtime.gateway
        assert proxy.pid is not None
        os.kill(proxy.pid, signal.SIGKILL)
        wait_until_gone(mesh, victim)
        started = time.monotonic()
        killed = runner.run(scenario, scenario.step("killed"))
        assert time.monotonic() - started < 10
        assert not killed.passed and killed.error is not None
        assert proxy.proxy.id in killed.error and "the next step runs on a restarted mesh" in killed.error
        after = runner.run(scenario, scenario.step("after"))
        assert after.passed, after.error
        assert after.replayed == ["rules", "killed"] and backend.restarts == 1
        assert backend.started is not mesh
    finally:
        runner.close()
        backend.close()


class HostDiesAfterSync(LocalMesh):
    """A mesh whose workload host is killed right after the first wait_synced that follows an apply: the step's
    pages are then sampled from a mesh that has just lost every pod."""

    killed = False

    def wait_synced(self, timeout: float = 30.0) -> float:
        waited = super().wait_synced(timeout)
        if self._started and not HostDiesAfterSync.killed and self._runtime.host is not None:
            HostDiesAfterSync.killed = True
            os.kill(self._runtime.host.pid, signal.SIGKILL)
            wait_until_gone(self, "host")
        return waited


def test_a_host_that_dies_while_pages_are_sampled_fails_the_step_naming_it(tmp_path: Path) -> None:
    from meshrelease.backends.base import LazyBackend
    from meshrelease.engine.runner import RunnerOptions, StepRunner
    from meshrelease.scenario.loader import load_scenario

    (tmp_path / "scenario.yaml").write_text(
        "name: host-dies\nsteps:\n"
        "  - name: sampled\n    expect: [{reviews: [v1, v2, v3]}]\n"
        "  - name: after\n    expect: [{reviews: [v1, v2, v3]}]\n"
    )
    scenario = load_scenario(tmp_path)
    HostDiesAfterSync.killed = False
    backend = LazyBackend(lambda: HostDiesAfterSync(LocalMeshOptions()))
    runner = StepRunner(backend, RunnerOptions(converge_timeout=30))
    try:
        started = time.monotonic()
        sampled = runner.run(scenario, scenario.step("sampled"))
        assert HostDiesAfterSync.killed
        assert time.monotonic() - started < 10  # not the 30 s convergence timeout
        assert not sampled.passed and sampled.error is not None
        assert "the workload host" in sampled.error and "killed by signal 9" in sampled.error, sampled.error
        after = runner.run(scenario, scenario.step("after"))
        assert after.passed, after.error
        assert backend.restarts == 1
    finally:
        runner.close()
        backend.close()
