"""Helpers of the kube contract tests: the fakes' world seen from a test, and small stand-ins.

Imported by the tests as ``kube_world`` (a name no other test directory uses) and by this directory's conftest.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshrelease.data import data_dir

FAKES = Path(__file__).parent / "fakes"
if str(FAKES) not in sys.path:
    sys.path.insert(0, str(FAKES))

import kubefakes_state as fk  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
FIXTURES = data_dir()
TOOLS = {"kind": "fake_kind", "kubectl": "fake_kubectl", "istioctl": "fake_istioctl", "docker": "fake_docker"}


class World:
    """The fakes' shared world, seen from a test."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "bin"
        self.state_path = root / "world.json"
        self.log_path = root / "calls.jsonl"

    def install(self, tools: list[str]) -> None:
        self.bin.mkdir(exist_ok=True)
        for tool in tools:
            wrapper = self.bin / tool
            wrapper.write_text(
                f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(FAKES)!r})\n"
                f"import {TOOLS[tool]} as fake\nsys.exit(fake.main(sys.argv[1:]))\n",
                encoding="utf-8",
            )
            wrapper.chmod(0o755)

    @contextlib.contextmanager
    def edit(self) -> Iterator[dict[str, Any]]:
        old = os.environ.get("MESHRELEASE_FAKE_STATE")
        os.environ["MESHRELEASE_FAKE_STATE"] = str(self.state_path)
        try:
            with fk.world() as state:
                yield state
        finally:
            if old is None:
                os.environ.pop("MESHRELEASE_FAKE_STATE", None)
            else:
                os.environ["MESHRELEASE_FAKE_STATE"] = old

    def state(self) -> dict[str, Any]:
        if not self.state_path.exists():
            return fk.empty_world()
        return json.loads(self.state_path.read_text(encoding="utf-8"))

    def calls(self, tool: str | None = None) -> list[list[str]]:
        """Every recorded call as [tool, *argv], paths under the test's tmp dir shown as <tmp>."""
        if not self.log_path.exists():
            return []
        out = []
        for line in self.log_path.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            if tool is None or entry["tool"] == tool:
                out.append([entry["tool"], *[a.replace(str(self.root), "<tmp>") for a in entry["argv"]]])
        return out

    def clear_calls(self) -> None:
        self.log_path.write_text("", encoding="utf-8")

    def fail(
        self,
        tool: str,
        contains: list[str],
        *,
        exit: int = 1,
        stderr: str = "boom\n",
        times: int = 1,
        excludes: tuple[str, ...] = (),
        hang: float = 0.0,
    ) -> None:
        """Make the next ``times`` calls of ``tool`` whose argv holds every part of ``contains`` exit with
        ``exit``/``stderr`` (``exit=-1``: then run normally), after hanging ``hang`` seconds first."""
        with self.edit() as state:
            state["failures"].append(
                {
                    "tool": tool,
                    "argv_contains": contains,
                    "argv_excludes": list(excludes),
                    "exit": exit,
                    "stderr": stderr,
                    "times": times,
                    "hang": hang,
                }
            )

    def cluster(self, name: str) -> dict[str, Any]:
        return self.state()["clusters"][name]

    def objects(self, cluster: str, kind: str) -> dict[str, dict[str, Any]]:
        return {
            f"{o['metadata'].get('namespace', '')}/{o['metadata']['name']}": o
            for o in self.cluster(cluster)["objects"].values()
            if o["kind"] == kind
        }

    def pod(self, cluster: str, prefix: str, namespace: str = "default") -> str:
        names = [n.split("/", 1)[1] for n in self.objects(cluster, "Pod") if n.startswith(f"{namespace}/{prefix}")]
        assert len(names) == 1, names
        return names[0]

    def write_kubeconfig(self, path: Path, cluster: str, context: str) -> Path:
        path.write_text(fk.kubeconfig_text(cluster, context), encoding="utf-8")
        return path


def enter_world(root: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    """Install the fakes under ``root`` and point the environment at them (PATH holds nothing else)."""
    world = World(root)
    world.install(list(TOOLS))
    monkeypatch.setenv("PATH", str(world.bin))
    monkeypatch.setenv("HOME", str(root / "home"))
    monkeypatch.setenv("MESHRELEASE_FAKE_STATE", str(world.state_path))
    monkeypatch.setenv("MESHRELEASE_FAKE_LOG", str(world.log_path))
    for name in ("KUBECONFIG", "ISTIO_HOME", "PYTEST_XDIST_WORKER"):
        monkeypatch.delenv(name, raising=False)
    world.log_path.write_text("", encoding="utf-8")
    return world


class RotatingFetcher:
    """Stands in for the page client where the warm-up is not under test: answers v1, v2, v3, v1, …"""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.versions = itertools.cycle(["v1", "v2", "v3"])
        self.closed = False

    def fetch_page(self, path: str = "/productpage") -> Any:
        from types import SimpleNamespace

        return SimpleNamespace(version=next(self.versions), error=None)

    def close(self) -> None:
        self.closed = True


def modern_page(version: str) -> str:
    """A productpage as meshrelease's Bookinfo workload renders it (modern UI) for a reviews version."""
    from meshrelease.bookinfo.workloads import catalog
    from meshrelease.bookinfo.workloads.render import render_product_page

    rating = {"v2": {"stars": 5, "color": "black"}, "v3": {"stars": 5, "color": "red"}}.get(version)
    review = {"reviewer": "Reviewer1", "text": "An extremely entertaining play by Shakespeare."}
    if rating:
        review["rating"] = rating
    reviews = {
        "id": "0",
        "podname": f"reviews-{version}-5b9c7d4f8-x2k4q",
        "clustername": "null",
        "reviews": [review],
    }
    return render_product_page("modern", user=None, details=catalog.book_details(0), reviews=reviews)


def kind_config(path: Path, host_port: int) -> Path:
    """A kind config like fixtures/kubernetes/kind.yaml, publishing NodePort 30080 on ``host_port``."""
    config = yaml.safe_load((FIXTURES / "kind.yaml").read_text(encoding="utf-8"))
    config["nodes"][0]["extraPortMappings"][0]["hostPort"] = host_port
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path
