"""Timeouts around a cold kind start, through the pytest plugin and the real pytest-timeout, in a subprocess.

- A start interrupted by a test's own ``timeout`` marker (pytest-timeout's ``Failed``, raised by its SIGALRM
  handler in the middle of ``istioctl install``) is recorded once: the next test fails at once with that
  reason, no second cluster is created or adopted, and the half-built cluster is deleted at the end.
- Without a marker of their own, tests that use the backend on kind run without the ``--timeout`` of the
  command line: a start slower than it still completes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from kube_world import World

pytestmark = [pytest.mark.contract, pytest.mark.slow]


def run_pytest(world: World, gateway: Any, test_module: str, *extra: str) -> subprocess.CompletedProcess[str]:
    project = world.root / "project"
    project.mkdir(exist_ok=True)
    (project / "test_start.py").write_text(textwrap.dedent(test_module), encoding="utf-8")
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        "-rA",
        "--backend",
        "kind",
        "--istio-version",
        "1.30.5",
        "--ingress-url",
        f"http://127.0.0.1:{gateway.port}",
        "--report-dir",
        str(world.root / "reports"),
        *extra,
        "test_start.py",
    ]
    env = dict(os.environ) | {"TMPDIR": str(world.root)}
    return subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=240, check=False)


def test_a_start_interrupted_by_a_pytest_timeout_is_recorded_once_and_its_cluster_deleted(
    fake_world: World, bookinfo_gateway: Any
) -> None:
    fake_world.fail("istioctl", ["install"], exit=-1, hang=30)  # a cold install, longer than the test's timeout
    proc = run_pytest(
        fake_world,
        bookinfo_gateway,
        """
        import pytest

        @pytest.mark.timeout(3)
        def test_first_use_starts_the_cluster(meshrelease_backend):
            meshrelease_backend.start()

        def test_a_later_step(meshrelease_backend):
            meshrelease_backend.start()
        """,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "2 failed" in output, output
    assert "Failed: Timeout" in output and ">3.0s" in output
    later = output[output.index("test_a_later_step") :]
    assert "the mesh could not be started: starting was interrupted: Failed: Timeout" in later, output
    calls = fake_world.calls()
    assert [c[:3] for c in calls if c[0] == "kind" and c[1] in ("create", "delete")] == [
        ["kind", "create", "cluster"],
        ["kind", "delete", "cluster"],
    ]
    assert len([c for c in calls if c[:2] == ["istioctl", "install"]]) == 1
    assert fake_world.state()["kind_clusters"] == {}


def test_the_command_line_timeout_does_not_cut_a_slow_kind_start(fake_world: World, bookinfo_gateway: Any) -> None:
    fake_world.fail("istioctl", ["install"], exit=-1, hang=2)
    proc = run_pytest(
        fake_world,
        bookinfo_gateway,
        """
        def test_first_use_starts_the_cluster(meshrelease_backend):
            meshrelease_backend.start()
            assert meshrelease_backend.describe().mesh == "istio 1.30.5"
        """,
        "--timeout",
        "1",
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "1 passed" in output
    assert fake_world.state()["kind_clusters"] == {}  # created by the session, deleted at its end


def test_tests_that_do_not_use_the_backend_keep_their_timeout(fake_world: World, bookinfo_gateway: Any) -> None:
    proc = run_pytest(
        fake_world,
        bookinfo_gateway,
        """
        import time

        def test_slow_without_the_backend():
            time.sleep(5)
        """,
        "--timeout",
        "1",
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "Timeout" in output, output
    assert not Path(fake_world.log_path).read_text().strip()  # no tool was run
