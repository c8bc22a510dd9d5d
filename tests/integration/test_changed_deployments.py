"""Changed Deployments applied by a scenario step, through ``meshrelease run``: another image registry and tag for
the same workload, a changed pod template, replicas up and then down. Each is served afterwards (the pods the
apply started keep running) and the mesh routes to them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from meshrelease.data import data_dir
from tests.cli_runs import meshrelease_run

pytestmark = [pytest.mark.envoy]


def _deployment(name: str) -> dict[str, object]:
    docs = yaml.safe_load_all((data_dir() / "bookinfo.yaml").read_text(encoding="utf-8"))
    return next(d for d in docs if d and d.get("kind") == "Deployment" and d["metadata"]["name"] == name)


def test_changed_deployments_are_served_after_the_step(tmp_path: Path) -> None:
    folder = tmp_path / "changed"
    folder.mkdir()
    v3 = _deployment("reviews-v3")
    container = v3["spec"]["template"]["spec"]["containers"][0]  # type: ignore[index]
    image = str(container["image"])
    other_registry = "docker.io/istio/" + image.rsplit("/", 1)[1].rsplit(":", 1)[0] + ":1.20.2"
    retagged = yaml.safe_load(yaml.safe_dump(v3))
    retagged["spec"]["template"]["spec"]["containers"][0]["image"] = other_registry
    retemplated = yaml.safe_load(yaml.safe_dump(retagged))
    retemplated["spec"]["template"]["metadata"]["annotations"] = {"release": "second"}
    retemplated["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "RELEASE", "value": "second"}]
    scaled_up = yaml.safe_load(yaml.safe_dump(retemplated))
    scaled_up["spec"]["replicas"] = 3
    for name, doc in (
        ("retagged", retagged),
        ("retemplated", retemplated),
        ("scaled-up", scaled_up),
        ("scaled-down", retemplated),
    ):
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(doc))
    expect = "    expect:\n      - reviews: [v1, v2, v3]\n        ratings: shown\n"
    steps = "".join(
        f"  - name: {name}\n    apply: [{name}.yaml]\n{expect}"
        for name in ("retagged", "retemplated", "scaled-up", "scaled-down")
    )
    (folder / "scenario.yaml").write_text("name: changed\nsteps:\n" + steps)
    run = meshrelease_run(tmp_path, str(folder), "--report-dir", str(tmp_path / "report"), timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "4 passed" in run.stdout
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    applied = [step["applied"] for step in results["steps"]]
    assert applied == [["deployment.apps/reviews-v3 configured"]] * 4, applied
