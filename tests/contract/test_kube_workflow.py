"""The e2e-kind workflow is valid and follows the pinned versions (a structural check; no runner needed)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from meshrelease.backends.kube.versions import ISTIO_PINS, KIND_VERSION

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "e2e-kind.yml"
KNOWN_CONTEXTS = {"matrix", "env", "secrets", "github", "runner", "steps", "job"}


def load() -> dict[str, Any]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if str(s.get("uses", "")).split("@")[0] == action]


def test_triggers_permissions_and_one_job() -> None:
    data = load()
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads the bare key `on` as true
    assert {"pull_request", "workflow_dispatch"} <= set(triggers)
    assert data["permissions"] == {"contents": "read"}
    assert data["concurrency"]["cancel-in-progress"] is True
    assert list(data["jobs"]) == ["e2e-kind"]


def test_the_matrix_is_the_last_three_istio_minors_of_the_pin_table() -> None:
    job = load()["jobs"]["e2e-kind"]
    matrix = job["strategy"]["matrix"]["istio"]
    assert matrix == [pin.latest for pin in ISTIO_PINS.values()]
    assert len({v.rsplit(".", 1)[0] for v in matrix}) == 3
    assert job["strategy"]["fail-fast"] is False
    assert job["env"]["ISTIO_VERSION"] == "${{ matrix.istio }}"


def test_kind_action_only_installs_and_the_harness_runs_with_timeouts() -> None:
    job = load()["jobs"]["e2e-kind"]
    assert isinstance(job["timeout-minutes"], int) and 0 < job["timeout-minutes"] <= 90
    (kind,) = steps_using(job, "helm/kind-action")
    assert kind["with"]["install_only"] is True
    assert kind["with"]["version"] == KIND_VERSION
    (run,) = [s for s in job["steps"] if "make e2e-kind" in str(s.get("run", ""))]
    assert isinstance(run["timeout-minutes"], int) and run["timeout-minutes"] < job["timeout-minutes"]
    command = run["run"]
    assert 'ISTIO_VERSION="$ISTIO_VERSION"' in command
    assert "--junitxml=$REPORT_DIR/junit.xml" in command
    assert "--collect-logs $REPORT_DIR/kind-logs" in command
    download = next(s for s in job["steps"] if "downloadIstio" in str(s.get("run", "")))
    assert "ISTIO_HOME=" in download["run"] and "timeout-minutes" in download


def test_junit_report_and_kind_logs_are_uploaded_even_on_failure() -> None:
    job = load()["jobs"]["e2e-kind"]
    uploads = steps_using(job, "actions/upload-artifact")
    assert len(uploads) == 3
    assert all(u["if"] == "always()" for u in uploads)
    paths = "\n".join(u["with"]["path"] for u in uploads)
    assert "${{ env.REPORT_DIR }}/junit.xml" in paths
    assert "${{ env.REPORT_DIR }}/kind-logs" in paths
    names = [u["with"]["name"] for u in uploads]
    assert len(set(names)) == 3 and all("${{ matrix.istio }}" in n for n in names)  # unique per matrix entry


def test_every_action_is_pinned_and_every_expression_uses_a_known_context() -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    job = load()["jobs"]["e2e-kind"]
    for step in job["steps"]:
        assert "name" in step
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+(\.\d+)*", step["uses"]), step["uses"]
    for expression in re.findall(r"\$\{\{\s*(.*?)\s*\}\}", text):
        root = re.match(r"[a-z_]+", expression)
        assert root and root.group(0) in KNOWN_CONTEXTS | {"always"}, expression
