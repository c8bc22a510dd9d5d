"""Running scenarios on pytest-xdist workers: which worker runs what, and what a worker sends the controller.

* The steps of one scenario continue from each other's state, so they must run on one worker, in order. The
  plugin makes xdist schedule by scope (``--dist loadscope``): a step's node id is ``FILE::SCENARIO::STEP``, so
  its scope is the scenario.
* Each worker starts its own local mesh; its ports come from its own share of the port range.
* A worker's terminal output is not shown, and only the controller writes the report set. So every step's
  test report carries, as extra attributes (pytest sends a report's attributes to the controller), the step's
  record (as results.json writes it), its per-expectation lines, the screenshots and the backend's versions.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from meshrelease.backends.base import BackendInfo
from meshrelease.engine.results import StepRecord, backend_info_from_dict, step_from_dict

# Schedulers that keep each scenario on one worker; "load" (what -n picks) and "worksteal" would not.
SCENARIO_SAFE_DIST = ("loadscope", "loadfile", "loadgroup", "no")
SPLITTING_DIST = ("load", "worksteal")

# One cluster per session: these backends cannot be split over workers.
SINGLE_SESSION_BACKENDS = ("kind", "cluster")

STEP_ATTR = "meshrelease_step"
LINES_ATTR = "meshrelease_lines"
PNGS_ATTR = "meshrelease_pngs"
BACKEND_ATTR = "meshrelease_backend"


def workers_refusal(backend: str, workers: object) -> str | None:
    """Why ``-n workers`` cannot run on ``backend`` (None: it can)."""
    if backend in SINGLE_SESSION_BACKENDS:
        return (
            f"-n {workers}: the {backend} backend runs one cluster per session and cannot be split over "
            "pytest-xdist workers; run it without -n"
        )
    return None


def workers_in_args(args: list[str]) -> str | None:
    """The value of ``-n``/``--numprocesses`` among pytest arguments (None: absent or 0)."""
    value: str | None = None
    for i, arg in enumerate(args):
        if arg in ("-n", "--numprocesses") and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith("--numprocesses="):
            value = arg.split("=", 1)[1]
        elif arg.startswith("-n") and len(arg) > 2 and not arg.startswith("--"):
            value = arg[2:]
    return None if value in (None, "0") else value


def worker_share(workerinput: dict[str, Any]) -> tuple[int, int]:
    """``(index, count)`` of an xdist worker, from its ``workerinput`` (``workerid`` is ``gw0``, ``gw1``, …)."""
    workerid = str(workerinput.get("workerid", "gw0"))
    index = int(workerid[2:]) if workerid.startswith("gw") and workerid[2:].isdigit() else 0
    count = int(workerinput.get("workercount", index + 1))
    return index, max(count, index + 1)


@dataclass
class WorkerPayload:
    """What one step's final report carries from a worker to the controller."""

    record: StepRecord
    lines: list[str] = field(default_factory=list)
    backend: BackendInfo | None = None

    def attach(self, report: Any) -> None:
        data = self.record.to_dict()
        setattr(report, STEP_ATTR, data)
        setattr(report, LINES_ATTR, list(self.lines))
        pngs = [base64.b64encode(v.png).decode("ascii") if v.png else "" for v in self.record.views]
        setattr(report, PNGS_ATTR, pngs)
        if self.backend is not None:
            info = self.backend
            setattr(
                report,
                BACKEND_ATTR,
                {
                    "backend": info.backend,
                    "mesh": info.mesh,
                    "kubernetes": info.kubernetes,
                    "bookinfo": info.bookinfo,
                    "extra": dict(info.extra),
                },
            )

    @classmethod
    def of_report(cls, report: Any) -> WorkerPayload | None:
        """The payload a worker attached to ``report``, or None (not a step's final report)."""
        data = getattr(report, STEP_ATTR, None)
        if data is None:
            return None
        where = f"the report of {getattr(report, 'nodeid', '?')} from a pytest-xdist worker"
        record = step_from_dict(data, source=where)
        pngs = getattr(report, PNGS_ATTR, None) or []
        for view, png in zip(record.views, pngs, strict=False):
            view.png = base64.b64decode(png) if png else None
        backend_data = getattr(report, BACKEND_ATTR, None)
        backend = backend_info_from_dict(backend_data, source=where) if backend_data is not None else None
        return cls(record=record, lines=[str(x) for x in getattr(report, LINES_ATTR, None) or []], backend=backend)


def record_of_nodeid(nodeid: str) -> StepRecord:
    """A placeholder record for a step the controller learned of only by its node id (not run yet)."""
    parts = nodeid.split("::")
    scenario, step = (parts[-2], parts[-1]) if len(parts) >= 3 else ("", parts[-1])
    return StepRecord(nodeid=nodeid, scenario=scenario, step=step, passed=False)
