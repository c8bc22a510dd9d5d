"""What a pytest-xdist worker sends the controller, and how workers share the machine
(meshrelease/worker_reports.py, the port share of backends/local/dataplane/ports.py)."""

from __future__ import annotations

import pickle
from types import SimpleNamespace

import pytest

from meshrelease.backends.base import BackendInfo
from meshrelease.backends.local.dataplane.ports import PortAllocator
from meshrelease.engine.results import BrowserView, ExpectationResult, StepRecord
from meshrelease.errors import MeshReleaseError
from meshrelease.worker_reports import (
    WorkerPayload,
    record_of_nodeid,
    worker_share,
    workers_in_args,
    workers_refusal,
)


@pytest.mark.parametrize(
    ("workerinput", "share"),
    [
        ({"workerid": "gw0", "workercount": 2}, (0, 2)),
        ({"workerid": "gw1", "workercount": 2}, (1, 2)),
        ({"workerid": "gw11", "workercount": 12}, (11, 12)),
        ({"workerid": "gw3"}, (3, 4)),  # no count: at least enough parts for this worker
        ({}, (0, 1)),
    ],
)
def test_worker_share(workerinput: dict[str, object], share: tuple[int, int]) -> None:
    assert worker_share(workerinput) == share


@pytest.mark.parametrize(
    ("args", "workers"),
    [
        (["-n", "2"], "2"),
        (["-x", "-n4", "-q"], "4"),
        (["--numprocesses=auto"], "auto"),
        (["--numprocesses", "3"], "3"),
        (["-n", "0"], None),
        (["-x", "--lf"], None),
        (["--no-header"], None),
    ],
)
def test_workers_in_args(args: list[str], workers: str | None) -> None:
    assert workers_in_args(args) == workers


def test_only_the_local_backend_runs_on_workers() -> None:
    assert workers_refusal("local", 2) is None
    for backend in ("kind", "cluster"):
        reason = workers_refusal(backend, "auto")
        assert reason is not None and f"the {backend} backend runs one cluster per session" in reason


def test_worker_port_shares_do_not_overlap() -> None:
    a, b = PortAllocator(share=(0, 2)), PortAllocator(share=(1, 2))
    ports_a = {a.allocate() for _ in range(50)}
    ports_b = {b.allocate() for _ in range(50)}
    assert ports_a.isdisjoint(ports_b)
    assert max(ports_a) < min(ports_b)
    with pytest.raises(ValueError, match="port share 2 of 2"):
        PortAllocator(share=(2, 2))


def test_a_step_record_survives_the_trip_from_worker_to_controller() -> None:
    exp = ExpectationResult(
        description="anonymous: reviews v2:50/v3:50",
        user=None,
        kind="split",
        expected={"v2": 0.5, "v3": 0.5},
        decision="pass",
        counts={"v2": 140, "v3": 142},
        requests=282,
        latency={"p50": 0.004},
    )
    view = BrowserView(user="jason", url="http://127.0.0.1:1/productpage", label="v2", png=b"\x89PNG fake")
    record = StepRecord(
        nodeid="s/x/scenario.yaml::x::canary",
        scenario="x",
        step="canary",
        passed=True,
        outcome="passed",
        expectations=[exp],
        views=[view],
    )
    info = BackendInfo(backend="local", mesh="envoy 1.40.0", extra={"python": "3.11"})
    report = SimpleNamespace(nodeid=record.nodeid)
    WorkerPayload(record=record, lines=["x::canary anonymous: ... -> pass"], backend=info).attach(report)
    # xdist sends a report's attributes as plain data: they must pickle (execnet's own format is stricter).
    sent = pickle.loads(pickle.dumps(vars(report)))
    received = WorkerPayload.of_report(SimpleNamespace(**sent))
    assert received is not None
    assert received.record == record and received.record.views[0].png == b"\x89PNG fake"
    assert received.lines == ["x::canary anonymous: ... -> pass"]
    assert received.backend == info
    assert WorkerPayload.of_report(SimpleNamespace(nodeid="a")) is None


def test_a_garbled_payload_is_an_error_naming_the_step() -> None:
    report = SimpleNamespace(nodeid="s/x/scenario.yaml::x::canary", meshrelease_step={"scenario": 3})
    with pytest.raises(MeshReleaseError, match=r"x::canary"):
        WorkerPayload.of_report(report)


def test_a_step_known_only_by_its_node_id() -> None:
    record = record_of_nodeid("scenarios/x/scenario.yaml::x::canary")
    assert (record.scenario, record.step, record.outcome) == ("x", "canary", "skipped")
