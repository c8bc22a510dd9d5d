"""The e2e-kind workflow is valid and takes its versions from the one table (a structural check; no runner needed).

The matrix and the kind/kubectl releases are outputs of the workflow's ``pins`` job, which runs
``.github/scripts/kind_pins.py`` on ``src/meshrelease/data/kind-pins.json``, the file the harness reads too:
nothing in the workflow repeats a version, and these tests run that script and check what it prints."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshrelease.backends.kube.versions import ISTIO_PINS, KIND_VERSION, KUBECTL_VERSION, PINS_FILE
from meshrelease.data import data_dir

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "e2e-kind.yml"
PINS_SCRIPT = REPO / ".github" / "scripts" / "kind_pins.py"
KNOWN_CONTEXTS = {"matrix", "env", "secrets", "github", "runner", "steps", "job", "needs", "fromJSON"}


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
    assert list(data["jobs"]) == ["pins", "e2e-kind"]


def pins_outputs() -> dict[str, str]:
    proc = subprocess.run([sys.executable, str(PINS_SCRIPT)], capture_output=True, text=True, check=True, timeout=30)
    return dict(line.split("=", 1) for line in proc.stdout.splitlines())


def test_the_matrix_and_the_kind_release_are_read_from_the_pin_table() -> None:
    assert (data_dir() / PINS_FILE).resolve() == (REPO / "src" / "meshrelease" / "data" / PINS_FILE).resolve()
    outputs = pins_outputs()
    assert json.loads(outputs["matrix"]) == {"istio": [pin.latest for pin in ISTIO_PINS.values()]}
    assert (outputs["kind"], outputs["kubectl"]) == (KIND_VERSION, KUBECTL_VERSION)
    assert len({pin.minor for pin in ISTIO_PINS.values()}) == 3
    jobs = load()["jobs"]
    pins = jobs["pins"]
    (step,) = [s for s in pins["steps"] if s.get("id") == "pins"]
    assert step["run"] == 'python3 .github/scripts/kind_pins.py >> "$GITHUB_OUTPUT"'
    assert set(pins["outputs"]) == set(outputs)
    assert all(v == f"${{{{ steps.pins.outputs.{k} }}}}" for k, v in pins["outputs"].items())
    job = jobs["e2e-kind"]
    assert job["needs"] == "pins"
    assert job["strategy"]["matrix"] == "${{ fromJSON(needs.pins.outputs.matrix) }}"
    assert job["strategy"]["fail-fast"] is False
    assert job["env"]["ISTIO_VERSION"] == "${{ matrix.istio }}"
    text = WORKFLOW.read_text(encoding="utf-8")
    for pin in ISTIO_PINS.values():  # no version is written into the workflow itself
        assert pin.latest not in text and pin.minor not in text
    assert KIND_VERSION not in text and KUBECTL_VERSION not in text


def test_kind_action_only_installs_and_the_harness_runs_with_timeouts() -> None:
    job = load()["jobs"]["e2e-kind"]
    assert isinstance(job["timeout-minutes"], int) and 0 < job["timeout-minutes"] <= 90
    (kind,) = steps_using(job, "helm/kind-action")
    assert kind["with"]["install_only"] is True
    assert kind["with"]["version"] == "${{ needs.pins.outputs.kind }}"
    assert kind["with"]["kubectl_version"] == "${{ needs.pins.outputs.kubectl }}"
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


# Majors whose runtime is Node 24 (Node 20 actions are deprecated on GitHub's runners); actionlint flags older ones.
CURRENT_MAJORS = {
    "actions/checkout": "v7",
    "actions/setup-python": "v7",
    "actions/upload-artifact": "v7",
    "docker/login-action": "v4",
    "helm/kind-action": "v1.14.0",
}


def test_every_action_is_pinned_to_a_current_major_and_every_expression_uses_a_known_context() -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    for job in load()["jobs"].values():
        for step in job["steps"]:
            assert "name" in step
            if "uses" in step:
                action, _, ref = step["uses"].partition("@")
                assert CURRENT_MAJORS.get(action) == ref, step["uses"]
    for expression in re.findall(r"\$\{\{\s*(.*?)\s*\}\}", text):
        root = re.match(r"[A-Za-z_]+", expression)
        assert root and root.group(0) in KNOWN_CONTEXTS | {"always"}, expression


def test_actionlint_finds_nothing() -> None:
    beside = Path(sys.executable).parent / "actionlint"
    actionlint = shutil.which("actionlint") or (str(beside) if beside.exists() else None)
    if actionlint is None:
        pytest.skip("actionlint is not installed (a release binary, or a PyPI package that ships one)")
    proc = subprocess.run([actionlint, str(WORKFLOW)], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
