"""``meshrelease serve`` and the commands that talk to it (``apply``, ``delete``, ``get``, ``status``), run as
subprocesses the way a developer runs them in two terminals. Each test has its own ``MESHRELEASE_HOME``
(where serve records its state file); one serve on ``--port 0`` is shared by the tests that only need a
running mesh, and every object a test applies is deleted again. The signal tests check that a stopped serve
leaves no process, port, state file or run directory behind.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from meshrelease.backends.local.control import TOKEN_HEADER
from meshrelease.bookinfo.client import BookinfoClient
from meshrelease.data import data_dir

pytestmark = pytest.mark.envoy

DATA = Path(__file__).resolve().parent.parent / "data" / "mesh"
DR_ALL = data_dir() / "destination-rule-all.yaml"
PRODUCTPAGE_LINE = re.compile(r"^productpage: (http://127\.0\.0\.1:(\d+))/productpage$")
START_TIMEOUT = 90.0
COMMAND_TIMEOUT = 120.0


def cli_env(home: Path) -> dict[str, str]:
    return {**os.environ, "MESHRELEASE_HOME": str(home), "PYTHONUNBUFFERED": "1"}


def meshrelease(home: Path, *args: str | Path, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run one ``meshrelease`` command to completion (bounded) with ``MESHRELEASE_HOME=home``."""
    return subprocess.run(
        [sys.executable, "-m", "meshrelease.cli.main", *map(str, args)],
        env=cli_env(home),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def show(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


class Serve:
    """A running ``meshrelease serve``: its output is collected line by line; :meth:`close` always reaps it."""

    def __init__(self, home: Path, *args: str) -> None:
        self.home = home
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "meshrelease.cli.main", "serve", *args],
            env=cli_env(home),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="serve-output", daemon=True)
        self._reader.start()
        self.url = ""

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def wait_ready(self, timeout: float = START_TIMEOUT) -> str:
        """Wait for the ``productpage: URL`` line; returns the gateway URL. Fails with the output so far."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines:
                    match = PRODUCTPAGE_LINE.match(line)
                    if match:
                        self.url = match.group(1)
                        return self.url
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    pytest.fail(f"serve printed no productpage URL (exit code {self.proc.poll()}):\n{self.output}")
                self._changed.wait(timeout=min(remaining, 0.5))

    def state(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.home / "serve.json").read_text(encoding="utf-8"))
        return data

    def mesh_status(self) -> dict[str, Any]:
        """The mesh's status() as the control endpoint returns it (with the admin ports the CLI omits)."""
        state = self.state()
        resp = requests.get(state["control_url"] + "/status", headers={TOKEN_HEADER: state["token"]}, timeout=30)
        resp.raise_for_status()
        data: dict[str, Any] = resp.json()
        return data

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait(timeout=60)
        self._reader.join(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    running = Serve(tmp_path_factory.mktemp("home"), "--port", "0")
    try:
        running.wait_ready()
        yield running
    finally:
        running.close()


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def page_versions(url: str, count: int = 3) -> list[str | None]:
    with BookinfoClient(url) as client:
        return [client.fetch_page().version for _ in range(count)]


def table(text: str, header: str) -> list[list[str]]:
    """The rows (cells split on 2+ spaces) of the table whose first cell is ``header``, up to a blank line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == [header])
    rows = []
    for line in lines[start:]:
        if not line.strip():
            break
        rows.append(re.split(r"\s{2,}", line.strip()))
    return rows


def bookinfo_deployments() -> list[str]:
    docs = yaml.safe_load_all((data_dir() / "bookinfo.yaml").read_text(encoding="utf-8"))
    return sorted(d["metadata"]["name"] for d in docs if d and d.get("kind") == "Deployment")


def clean_up(home: Path, *paths: Path) -> None:
    """Delete what a test applied (each file on its own: some may already be gone)."""
    for path in paths:
        meshrelease(home, "delete", "-f", path)


# -- the shared serve ----------------------------------------------------------------------------------------
def test_serve_prints_the_productpage_url_and_serves_it(serve: Serve) -> None:
    assert int(serve.url.rsplit(":", 1)[1]) != 0  # --port 0 means "any free port", and the real one is shown
    with BookinfoClient(serve.url) as client:
        page = client.fetch_page()
    assert (page.status, page.error) == (200, None)
    assert page.version in ("v1", "v2", "v3")
    state = serve.state()
    assert state["pid"] == serve.proc.pid and state["ingress_url"] == serve.url
    assert (serve.home / "serve.json").stat().st_mode & 0o777 == 0o600  # it holds the control token


def test_apply_prints_created_unchanged_configured_and_delete_prints_deleted(serve: Serve) -> None:
    v1, v2 = DATA / "reviews-v1.yaml", DATA / "reviews-v2.yaml"
    try:
        dr = meshrelease(serve.home, "apply", "-f", DR_ALL)
        assert dr.returncode == 0, show(dr)
        assert dr.stdout.splitlines() == [
            f"destinationrule.networking.istio.io/{name} created"
            for name in ("productpage", "reviews", "ratings", "details")
        ]

        outputs = []
        for path in (v1, v1, v2):
            result = meshrelease(serve.home, "apply", "-f", path)
            assert result.returncode == 0, show(result)
            outputs.append(result.stdout)
            # apply returns once every proxy runs the change: the next pages follow it, without settling
            assert page_versions(serve.url) == [path.stem.rsplit("-", 1)[1]] * 3
        assert outputs == [
            "virtualservice.networking.istio.io/reviews created\n",
            "virtualservice.networking.istio.io/reviews unchanged\n",
            "virtualservice.networking.istio.io/reviews configured\n",
        ]

        deleted = meshrelease(serve.home, "delete", "-f", v2)
        assert (deleted.returncode, deleted.stdout) == (0, 'virtualservice.networking.istio.io "reviews" deleted\n')
        gone = meshrelease(serve.home, "get", "vs", "reviews")
        not_found = 'Error from server (NotFound): virtualservices.networking.istio.io "reviews" not found'
        assert gone.returncode == 1 and not_found in gone.stderr, show(gone)
    finally:
        clean_up(serve.home, v2, DR_ALL)


def test_a_rejected_file_prints_istios_message_exits_1_and_changes_nothing(serve: Serve) -> None:
    v1, invalid, unmapped = (
        DATA / "reviews-v1.yaml",
        DATA / "invalid-negative-weight.yaml",
        DATA / "unsupported-image.yaml",
    )
    try:
        for path in (DR_ALL, v1):
            applied = meshrelease(serve.home, "apply", "-f", path)
            assert applied.returncode == 0, show(applied)
        before = meshrelease(serve.home, "get", "vs", "reviews", "-o", "yaml")
        assert yaml.safe_load(before.stdout)["metadata"]["generation"] == 1, show(before)

        rejected = meshrelease(serve.home, "apply", "-f", invalid)

        assert rejected.returncode == 1 and rejected.stdout == "", show(rejected)
        assert f'error when applying "{invalid}"; nothing was changed' in rejected.stderr
        assert (
            'admission webhook "validation.istio.io" denied the request: configuration is invalid: weight -10 < 0'
            in rejected.stderr
        )
        assert "Traceback" not in rejected.stderr
        after = meshrelease(serve.home, "get", "vs", "reviews", "-o", "yaml")
        assert after.stdout == before.stdout  # same generation, same spec (subset v1)
        assert page_versions(serve.url) == ["v1"] * 3

        unsupported = meshrelease(serve.home, "apply", "-f", unmapped)

        assert unsupported.returncode == 1 and unsupported.stdout == "", show(unsupported)
        assert f'error when applying "{unmapped}"' in unsupported.stderr
        image = "registry.example.com/meshrelease-tests/unmapped-echo:1.0"
        assert f"image {image} cannot run on the local backend" in unsupported.stderr
        assert f"--workload '{image}=COMMAND'" in unsupported.stderr
        missing = meshrelease(serve.home, "get", "deploy", "echo-v1")
        assert missing.returncode == 1 and "not found" in missing.stderr, show(missing)
    finally:
        clean_up(serve.home, v1, DR_ALL)


def test_get_and_status_list_objects_proxies_and_workloads(serve: Serve) -> None:
    listed = meshrelease(serve.home, "get")
    assert listed.returncode == 0, show(listed)
    rows = table(listed.stdout, "KIND")
    assert rows[0] == ["KIND", "NAMESPACE", "NAME", "GENERATION", "AGE"]
    objects = {(r[0], r[1], r[2]) for r in rows[1:]}
    expected = {("VirtualService", "default", "bookinfo"), ("Gateway", "default", "bookinfo-gateway")}
    expected |= {("Deployment", "default", name) for name in bookinfo_deployments()}
    expected |= {("Service", "default", name) for name in ("productpage", "details", "reviews", "ratings")}
    assert expected <= objects, listed.stdout

    as_yaml = meshrelease(serve.home, "get", "vs", "-o", "yaml")
    assert as_yaml.returncode == 0, show(as_yaml)
    listing = yaml.safe_load(as_yaml.stdout)  # a listing is kubectl's List
    assert (listing["kind"], listing["apiVersion"]) == ("List", "v1")
    [bookinfo] = [d for d in listing["items"] if d["metadata"]["name"] == "bookinfo"]
    assert (bookinfo["kind"], bookinfo["spec"]["gateways"]) == ("VirtualService", ["bookinfo-gateway"])
    names = meshrelease(serve.home, "get", "gw", "-o", "name")
    assert names.stdout == "gateway.networking.istio.io/bookinfo-gateway\n", show(names)

    status = meshrelease(serve.home, "status")

    assert status.returncode == 0, show(status)
    assert status.stdout.splitlines()[0].startswith(f"productpage: {serve.url}/productpage")
    proxies = table(status.stdout, "PROXY")
    assert proxies[0] == ["PROXY", "KIND", "PID", "LISTENERS", "CONFIG", "SYNCED"]
    assert sorted(r[1] for r in proxies[1:]) == ["gateway"] + ["sidecar"] * len(bookinfo_deployments())
    assert all(r[5] == "yes" for r in proxies[1:]), status.stdout
    assert {int(r[2]) for r in proxies[1:]} == {p["pid"] for p in serve.mesh_status()["proxies"]}
    pods = table(status.stdout, "POD")
    assert pods[0] == ["POD", "NAMESPACE", "PORT", "IMPLEMENTATION"]
    assert sorted(r[0].rsplit("-", 2)[0] for r in pods[1:]) == bookinfo_deployments()
    assert all(r[3].startswith("bookinfo ") for r in pods[1:]), status.stdout


def test_kubectl_forms_of_apply_and_delete(serve: Serve, tmp_path: Path) -> None:
    folder = tmp_path / "release"
    (folder / "routes").mkdir(parents=True)
    (folder / "destination-rules.yaml").write_text(DR_ALL.read_text())
    (folder / "routes" / "reviews-v2.yaml").write_text((DATA / "reviews-v2.yaml").read_text())
    (folder / "notes.txt").write_text("not a manifest")
    dr_names = ("productpage", "reviews", "ratings", "details")
    try:
        # -f FOLDER: its manifests (not its subfolders); options after the file; -o name
        top = meshrelease(serve.home, "apply", "-f", folder, "-o", "name")
        assert top.returncode == 0, show(top)
        assert top.stdout.splitlines() == [f"destinationrule.networking.istio.io/{n}" for n in dr_names]
        # -R: the subfolders too; -n fills in the namespace of objects that name none
        recursive = meshrelease(serve.home, "apply", "-R", "-f", folder, "-n", "default")
        assert recursive.returncode == 0, show(recursive)
        assert "virtualservice.networking.istio.io/reviews created" in recursive.stdout.splitlines()
        assert page_versions(serve.url) == ["v2"] * 3

        # -n that contradicts the object's own namespace: kubectl's refusal, nothing applied
        other = tmp_path / "other.yaml"
        other.write_text(
            (DATA / "reviews-v1.yaml").read_text().replace("name: reviews", "name: reviews\n  namespace: x")
        )
        refused = meshrelease(serve.home, "apply", "-f", other, "-n", "default")
        assert refused.returncode == 1, show(refused)
        assert 'the namespace from the provided object "x" does not match the namespace "default"' in refused.stderr
        assert "You must pass '--namespace=x' to perform this operation." in refused.stderr
        assert page_versions(serve.url) == ["v2"] * 3

        # delete KIND NAME, and KIND/NAME with -n after it
        by_name = meshrelease(serve.home, "delete", "vs", "reviews", "-n", "default")
        assert (by_name.returncode, by_name.stdout) == (0, 'virtualservice.networking.istio.io "reviews" deleted\n')
        missing = meshrelease(serve.home, "delete", "dr/reviews", "dr/nope")
        assert missing.returncode == 1, show(missing)
        assert 'destinationrules.networking.istio.io "nope" not found' in missing.stderr
        assert "nothing was changed" in missing.stderr  # all-or-nothing: reviews is still there
        still = meshrelease(serve.home, "get", "dr", "reviews", "-o", "name")
        assert still.stdout == "destinationrule.networking.istio.io/reviews\n", show(still)
        ignored = meshrelease(serve.home, "delete", "dr", "reviews", "nope", "--ignore-not-found", "-o", "name")
        assert (ignored.returncode, ignored.stdout) == (0, "destinationrule.networking.istio.io/reviews\n"), show(
            ignored
        )

        # usage mistakes, as kubectl words them
        for args, message in (
            (("delete",), "You must provide one or more resources by argument or filename."),
            (("delete", "vs"), "resource(s) were provided, but no name was specified"),
            (("delete", "vs", "reviews", "-f", folder), "you may not specify resource arguments as well"),
            (("apply", "-f", tmp_path / "nope"), f'the path "{tmp_path / "nope"}" does not exist'),
            (("get", "widgets"), 'the server doesn\'t have a resource type "widgets"'),
            (("delete", "pods", "x"), "does not delete single pods"),
        ):
            wrong = meshrelease(serve.home, *args)
            assert wrong.returncode == 1 and message in wrong.stderr, show(wrong)
            assert "Traceback" not in wrong.stderr
    finally:
        meshrelease(serve.home, "delete", "-R", "-f", folder, "--ignore-not-found")
    assert meshrelease(serve.home, "get", "dr", "-o", "name").stdout == ""


def test_pods_started_by_an_apply_keep_running_after_it_returns(serve: Serve, tmp_path: Path) -> None:
    # serve handles each request in its own thread; a pod started there must outlive that thread.
    [v3] = [
        d
        for d in yaml.safe_load_all((data_dir() / "bookinfo.yaml").read_text(encoding="utf-8"))
        if d and d.get("kind") == "Deployment" and d["metadata"]["name"] == "reviews-v3"
    ]
    original, scaled = tmp_path / "reviews-v3.yaml", tmp_path / "reviews-v3-x2.yaml"
    original.write_text(yaml.safe_dump(v3))
    scaled.write_text(yaml.safe_dump({**v3, "spec": {**v3["spec"], "replicas": 2}}))
    try:
        applied = meshrelease(serve.home, "apply", "-f", scaled)
        assert applied.returncode == 0, show(applied)
        assert applied.stdout == "deployment.apps/reviews-v3 configured\n"
        pods = table(meshrelease(serve.home, "get", "pods").stdout, "NAME")
        v3_pods = [r for r in pods[1:] if r[0].startswith("reviews-v3-")]
        assert len(v3_pods) == 2 and all(r[1:3] == ["2/2", "Running"] for r in pods[1:]), pods
        assert all(p["alive"] for p in serve.mesh_status()["proxies"])
        with BookinfoClient(serve.url) as client:
            pages = [client.fetch_page() for _ in range(60)]
        assert [(p.status, p.ratings_error, p.reviews_error, p.details_error) for p in pages] == [
            (200, False, False, False)
        ] * 60
        # a later apply still reaches every proxy
        again = meshrelease(serve.home, "apply", "-f", original)
        assert again.returncode == 0 and again.stdout == "deployment.apps/reviews-v3 configured\n", show(again)
    finally:
        meshrelease(serve.home, "apply", "-f", original)


def test_kubectl_forms_of_get(serve: Serve) -> None:
    deployments = bookinfo_deployments()
    pods = meshrelease(serve.home, "get", "pods")
    assert pods.returncode == 0, show(pods)
    rows = table(pods.stdout, "NAME")
    assert rows[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert sorted(r[0].rsplit("-", 2)[0] for r in rows[1:]) == deployments
    assert all(r[1:4] == ["2/2", "Running", "0"] for r in rows[1:]), pods.stdout
    wide = table(meshrelease(serve.home, "get", "po", "-o", "wide").stdout, "NAME")
    assert wide[0][-2:] == ["IP", "NODE"] and {r[-2] for r in wide[1:]} == {"127.0.0.1"}

    deploys = table(meshrelease(serve.home, "get", "deployments").stdout, "NAME")
    assert deploys[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert [r[:4] for r in deploys[1:]] == [[d, "1/1", "1", "1"] for d in deployments]

    # -o json: one object for one name, a List otherwise; flags before the names
    one = meshrelease(serve.home, "get", "-o", "json", "vs", "bookinfo")
    assert one.returncode == 0, show(one)
    vs = json.loads(one.stdout)
    assert (vs["kind"], vs["metadata"]["name"], vs["spec"]["gateways"]) == (
        "VirtualService",
        "bookinfo",
        ["bookinfo-gateway"],
    )
    pod_list = json.loads(meshrelease(serve.home, "get", "pods", "-n", "default", "-o", "json").stdout)
    assert pod_list["kind"] == "List" and len(pod_list["items"]) == len(deployments)
    assert {p["status"]["podIP"] for p in pod_list["items"]} == {"127.0.0.1"}
    pod_yaml = yaml.safe_load(meshrelease(serve.home, "get", "pods", "-o", "yaml").stdout)
    assert [p["metadata"]["name"] for p in pod_yaml["items"]] == [p["metadata"]["name"] for p in pod_list["items"]]

    # -n with names, -A, KIND/NAME, and kubectl's messages for nothing found
    gw = meshrelease(serve.home, "get", "gw/bookinfo-gateway", "-o", "name")
    assert gw.stdout == "gateway.networking.istio.io/bookinfo-gateway\n", show(gw)
    elsewhere = meshrelease(serve.home, "get", "vs", "bookinfo", "-n", "istio-system")
    assert elsewhere.returncode == 1, show(elsewhere)
    assert 'Error from server (NotFound): virtualservices.networking.istio.io "bookinfo" not found' in elsewhere.stderr
    everywhere = table(meshrelease(serve.home, "get", "vs", "-A").stdout, "NAMESPACE")
    assert everywhere[0] == ["NAMESPACE", "NAME", "GATEWAYS", "HOSTS", "AGE"]
    assert everywhere[1][:4] == ["default", "bookinfo", '["bookinfo-gateway"]', '["*"]']
    empty = meshrelease(serve.home, "get", "dr", "-n", "istio-system")
    assert (empty.returncode, empty.stdout) == (0, ""), show(empty)
    assert "No resources found in istio-system namespace." in empty.stderr


def test_a_second_serve_with_the_same_home_fails_while_the_first_runs(serve: Serve) -> None:
    second = meshrelease(serve.home, "serve", "--port", "0", timeout=60)

    assert second.returncode == 1, show(second)
    assert f"meshrelease serve is already running (pid {serve.proc.pid}" in second.stderr
    assert "MESHRELEASE_HOME" in second.stderr and "Traceback" not in second.stderr
    assert "starting the local mesh" not in second.stdout  # refused before starting anything
    assert serve.proc.poll() is None and serve.state()["pid"] == serve.proc.pid
    assert page_versions(serve.url, 1)[0] in ("v1", "v2", "v3")


# -- failures without a running serve ----------------------------------------------------------------------
def test_serve_on_a_busy_port_fails_clearly(tmp_path: Path, busy_port: int) -> None:
    result = meshrelease(tmp_path, "serve", "--port", str(busy_port), timeout=60)

    assert result.returncode == 1, show(result)
    assert f"port {busy_port} on 127.0.0.1 (for the ingress gateway) is already in use" in result.stderr
    assert "--port" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "serve.json").exists()


def test_commands_without_a_running_serve_fail_clearly(tmp_path: Path) -> None:
    # A state file left by a serve that is gone (its pid no longer exists) counts as no serve.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=30)
    (tmp_path / "serve.json").write_text(json.dumps({"pid": dead.pid, "control_url": "http://127.0.0.1:9"}))

    for args in (["status"], ["get", "vs"], ["apply", "-f", str(DATA / "reviews-v1.yaml")]):
        result = meshrelease(tmp_path, *args)
        assert result.returncode == 1, show(result)
        assert "no local mesh is running" in result.stderr and "meshrelease serve" in result.stderr, show(result)


# -- stopping ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_serve_and_leaves_nothing_behind(tmp_path: Path, signum: int, leak_probe: Any) -> None:
    running = Serve(tmp_path, "--port", "0")
    try:
        running.wait_ready()
        status = running.mesh_status()
        procs = leak_probe.children_of(running.proc.pid)
        # the Envoys, the workload host and the lifeline's reaper are serve's children
        assert {p["pid"] for p in status["proxies"]} <= set(procs) and len(procs) == len(status["proxies"]) + 2
        ports = leak_probe.ports_from_status(status) | {int(running.state()["control_url"].rsplit(":", 1)[1])}
        run_dir = Path(status["run_dir"])
        assert run_dir.is_dir()

        running.proc.send_signal(signum)
        code = running.proc.wait(timeout=60)
    finally:
        running.close()

    assert code == 0, running.output
    assert "stopping" in running.output
    assert not (tmp_path / "serve.json").exists()
    assert leak_probe.still_present(procs.values()) == []
    assert sorted(p for p in ports if leak_probe.port_is_bound(p)) == []
    assert not run_dir.exists()
