"""Istio's own Gateway API samples, unchanged, on the local backend, with the outcomes istio.io documents.

The files are read from an Istio source tree named by ``MESHRELEASE_ISTIO_SRC``: a checkout (its work tree) or a
git directory (bare or ``.git``), at ``MESHRELEASE_ISTIO_REF`` (default ``HEAD``) for a git directory. Without
it the test skips: the samples are not copied into this repository. ``platform/kube/bookinfo-versions.yaml`` and
every ``samples/bookinfo/gateway-api/*.yaml`` of that tree are applied with the local mesh's own Bookinfo:

- ``bookinfo-gateway.yaml``: productpage through the Gateway (``bookinfo-gateway-istio``);
- ``route-all-v1.yaml`` and ``route-reviews-v1.yaml``: reviews v1 only (no stars);
- ``route-reviews-90-10.yaml``: v1 90 %, v2 10 %;
- ``route-reviews-50-v3.yaml``: v1 and v3 half each;
- ``route-reviews-v3.yaml``: v3 only (red stars).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshrelease.backends.local.mesh import LocalMesh
from meshrelease.backends.local.options import LocalMeshOptions
from meshrelease.engine.runner import RunnerOptions, StepRunner
from meshrelease.report.failure import failure_message
from meshrelease.scenario.loader import load_scenario

pytestmark = [pytest.mark.envoy]

SAMPLES = "samples/bookinfo/gateway-api"
VERSIONS = "samples/bookinfo/platform/kube/bookinfo-versions.yaml"
# What each route file gives, as istio.io's request-routing and traffic-shifting tasks (Gateway API) describe it.
OUTCOMES = {
    "route-all-v1.yaml": ["reviews: v1\n        stars: none", "user: jason\n        reviews: v1"],
    "route-reviews-v1.yaml": ["reviews: v1\n        stars: none"],
    "route-reviews-90-10.yaml": ["reviews: {v1: 90, v2: 10}"],
    "route-reviews-50-v3.yaml": ["reviews: {v1: 50, v3: 50}"],
    "route-reviews-v3.yaml": ["reviews: v3\n        stars: red", "user: jason\n        reviews: v3"],
}


class IstioTree:
    def __init__(self, root: Path, ref: str) -> None:
        self.root, self.ref = root, ref
        self.git_dir = root if (root / "HEAD").is_file() and (root / "objects").is_dir() else None

    def files(self, folder: str) -> list[str]:
        if self.git_dir is None:
            return sorted(f"{folder}/{p.name}" for p in (self.root / folder).glob("*.yaml"))
        out = subprocess.run(
            ["git", "--git-dir", str(self.git_dir), "ls-tree", "--name-only", f"{self.ref}:{folder}"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        return sorted(f"{folder}/{name}" for name in out.split() if name.endswith(".yaml"))

    def read(self, path: str) -> str:
        if self.git_dir is None:
            return (self.root / path).read_text(encoding="utf-8")
        return subprocess.run(
            ["git", "--git-dir", str(self.git_dir), "show", f"{self.ref}:{path}"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout


@pytest.fixture(scope="module")
def istio() -> IstioTree:
    src = os.environ.get("MESHRELEASE_ISTIO_SRC")
    if not src:
        pytest.skip("set MESHRELEASE_ISTIO_SRC to an Istio checkout or git directory to run its Gateway API samples")
    return IstioTree(Path(src), os.environ.get("MESHRELEASE_ISTIO_REF", "HEAD"))


@pytest.fixture(scope="module")
def mesh() -> Iterator[LocalMesh]:
    with LocalMesh(LocalMeshOptions()) as m:
        yield m


def test_every_upstream_gateway_api_sample_is_accepted_and_routes_as_documented(
    istio: IstioTree, mesh: LocalMesh, tmp_path: Path
) -> None:
    folder = tmp_path / "upstream"
    folder.mkdir()
    samples = istio.files(SAMPLES)
    assert f"{SAMPLES}/bookinfo-gateway.yaml" in samples, samples
    for path in [VERSIONS, *samples]:
        (folder / Path(path).name).write_text(istio.read(path))
    routes = [Path(p).name for p in samples if Path(p).name != "bookinfo-gateway.yaml"]
    unknown = sorted(set(routes) - set(OUTCOMES))
    assert not unknown, f"new upstream samples without a documented outcome here: {unknown}"
    steps = [
        "  - name: gateway\n    apply: [bookinfo-versions.yaml, bookinfo-gateway.yaml]\n"
        "    expect:\n      - reviews: [v1, v2, v3]\n"
    ]
    for name in routes:
        expect = "".join(f"      - {line}\n" for line in OUTCOMES[name])
        steps.append(f"  - name: {name.removesuffix('.yaml')}\n    apply: [{name}]\n    expect:\n{expect}")
    (folder / "scenario.yaml").write_text(
        "name: upstream-gateway-api\ningress: {gateway: bookinfo-gateway}\nsteps:\n" + "".join(steps)
    )
    scenario = load_scenario(folder)
    mesh.reset_routing()
    runner = StepRunner(mesh, RunnerOptions(converge_timeout=20))
    try:
        for step in scenario.steps:
            # Each route file stands alone on the gateway, as in the task that applies it.
            result = runner.run(scenario, step)
            assert result.passed, failure_message(result)
    finally:
        runner.close()
