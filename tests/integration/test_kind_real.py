"""The kind backend on a real kind cluster with a real Istio (marker ``kind``), and the kubectl command
lines checked by a real kubectl.

Skipped, with the table of ``meshrelease doctor --backend kind`` as the reason, unless it finds everything
(a running Docker engine, kind, kubectl and istioctl at fitting versions, free disk).
Each run creates its own cluster (``meshrelease-it-<pid>``, so a developer's kept cluster is never touched)
and deletes it at the end; the fixture checks that it is gone. Expect several minutes: images are pulled.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from meshrelease.backends.kube.kind_backend import KindBackend
from meshrelease.backends.settings import KindSettings
from meshrelease.data import data_dir


def _istioctl() -> str | None:
    explicit = os.environ.get("MESHRELEASE_ISTIOCTL")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    home = os.environ.get("ISTIO_HOME")
    if home:
        candidate = Path(home) / "bin" / "istioctl"
        return str(candidate) if os.access(candidate, os.X_OK) else None
    return shutil.which("istioctl")


def _why_not() -> str | None:
    from meshrelease.backends.kube.doctor import run_doctor
    from meshrelease.backends.settings import build_settings

    values = {"backend": "kind", "istioctl": _istioctl(), "istio_version": os.environ.get("MESHRELEASE_ISTIO_VERSION")}
    report = run_doctor(build_settings(values))
    if report.ok:
        return None
    return "meshrelease doctor --backend kind: " + "; ".join(f"{f.check}: {f.found}" for f in report.problems)


def _kind_clusters() -> list[str]:
    out = subprocess.run(["kind", "get", "clusters"], capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.split()


@pytest.fixture(scope="module")
def backend() -> Iterator[KindBackend]:
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    name = f"meshrelease-it-{os.getpid()}"
    assert name not in _kind_clusters()
    kind = KindBackend(
        KindSettings(
            istio_version=os.environ.get("MESHRELEASE_ISTIO_VERSION"),
            istioctl=_istioctl(),
            cluster_name=name,
        )
    )
    try:
        kind.start()
        yield kind
    finally:
        kind.close()
    assert name not in _kind_clusters(), "the session's cluster was not deleted"


def _load(name: str) -> list[dict[str, object]]:
    return [d for d in yaml.safe_load_all((data_dir() / name).read_text(encoding="utf-8")) if d]


def _reviews_vs(*routes: tuple[str, int]) -> dict[str, object]:
    destinations = [{"destination": {"host": "reviews", "subset": s}, "weight": w} for s, w in routes]
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "reviews"},
        "spec": {"hosts": ["reviews"], "http": [{"route": destinations}]},
    }


def _versions(backend: KindBackend, pages: int) -> Counter[str]:
    from meshrelease.bookinfo.client import BookinfoClient

    seen: Counter[str] = Counter()
    with BookinfoClient(backend.ingress_url) as client:
        for _ in range(pages):
            page = client.fetch_page()
            seen[page.version or f"error: {page.error}"] += 1
    return seen


@pytest.mark.kind
@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_start_brought_up_istio_and_bookinfo_reachable_at_the_mapped_port(backend: KindBackend) -> None:
    assert backend.ingress_url == "http://127.0.0.1:30080"
    assert set(backend.warmup_counts) >= {"v1", "v2", "v3"}
    info = backend.describe()
    assert info.mesh == f"istio {backend.istio_version}"
    assert info.kubernetes.startswith("v1.")
    assert info.bookinfo == "1.20.3"


@pytest.mark.kind
@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_blue_green_weighted_canary_and_clean_up_on_real_proxies(backend: KindBackend) -> None:
    backend.apply(_load("destination-rule-all.yaml"), source="destination-rule-all.yaml")
    backend.wait_synced(120)
    backend.apply([_reviews_vs(("v2", 100))], source="blue-green")
    backend.wait_synced(120)
    assert _versions(backend, 30) == Counter({"v2": 30})
    backend.apply([_reviews_vs(("v2", 50), ("v3", 50))], source="canary")
    backend.wait_synced(120)
    split = _versions(backend, 200)
    assert set(split) == {"v2", "v3"}
    assert 60 <= split["v2"] <= 140  # 50 % of 200, far beyond 5 standard deviations (7.1 each)
    backend.reset_routing()
    backend.wait_synced(120)
    assert set(_versions(backend, 60)) == {"v1", "v2", "v3"}
    # the real istioctl's proxy-status, read as the sync check reads it: every proxy SYNCED per xDS type
    assert backend.session is not None
    report = backend.session.istioctl.proxy_status()
    proxies = report.in_namespace("default")
    assert len(proxies) >= 6 and all(p.sync_known and not p.out_of_sync() for p in proxies), report
    assert all(p.version == backend.istio_version for p in proxies), report


@pytest.mark.kind
@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_diagnostics_and_logs_of_a_real_cluster(backend: KindBackend, tmp_path: Path) -> None:
    diagnostics = backend.diagnostics()
    routes = next(v for k, v in diagnostics.items() if k.startswith("productpage routes"))
    assert "reviews.default.svc.cluster.local:9080" in routes
    assert "SYNCED" in diagnostics["istioctl proxy-status"]
    exported = backend.collect_logs(tmp_path)
    assert exported is not None and any(exported.rglob("*.log"))


def test_every_kubectl_command_line_parses_with_a_real_kubectl(tmp_path: Path) -> None:
    """The wrapper's argument lists, given to a real kubectl against an API server that refuses connections:
    each must fail on the connection, never on its flags or arguments (needs only the kubectl binary)."""
    from meshrelease.backends.kube.kubectl import Kubectl
    from meshrelease.backends.kube.runner import CommandRunner
    from meshrelease.errors import CommandError

    binary = shutil.which("kubectl")
    if binary is None:
        pytest.skip("needs kubectl on PATH")
    config = tmp_path / "kube config 'x'"
    config.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "contexts": [{"name": "ctx 'with' \"quotes\"", "context": {"cluster": "c", "user": "u"}}],
                "users": [{"name": "u", "user": {"token": "x"}}],
                "current-context": "other",
            }
        ),
        encoding="utf-8",
    )
    manifest = tmp_path / "objects with spaces.yaml"
    manifest.write_text("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: x, namespace: default}\n")
    kubectl = Kubectl(CommandRunner(), binary, kubeconfig=str(config), context="ctx 'with' \"quotes\"", timeout=60)
    calls = [
        lambda: kubectl.run(["get", "--raw", "/readyz"]),
        lambda: kubectl.run(["get", "serviceaccount", "default", "-n", "default", "-o", "name"]),
        lambda: kubectl.get_json("deployment", "istiod", namespace="istio-system", ignore_not_found=True),
        lambda: kubectl.get_json("virtualservices.networking.istio.io", namespace="*"),
        lambda: kubectl.pods("default", "app=productpage"),
        lambda: kubectl.get_file_json(manifest),
        lambda: kubectl.apply_file(manifest, dry_run=True),
        lambda: kubectl.apply_file(manifest),
        lambda: kubectl.delete_file(manifest, dry_run=True),
        lambda: kubectl.delete_file(manifest, ignore_not_found=True),
        lambda: kubectl.label("namespace", "default", {"istio-injection": "enabled"}),
        lambda: kubectl.rollout_status("productpage-v1", namespace="default", timeout=30),
        lambda: kubectl.rollout_restart(["reviews-v1", "reviews-v2"], namespace="default"),
        lambda: kubectl.logs("productpage-v1-abc", namespace="default", container="istio-proxy", tail=20),
        lambda: kubectl.server_version(),
        lambda: kubectl.run(["version", "-o", "json", "--request-timeout=5s"]),  # meshrelease doctor
        lambda: kubectl.run(
            ["get", "crd", "virtualservices.networking.istio.io", "-o", "name", "--request-timeout=5s"]
        ),
    ]
    for call in calls:
        with pytest.raises(CommandError) as err:
            call()
        stderr = err.value.stderr
        assert "127.0.0.1:1" in stderr, (err.value.argv, stderr)
        for bad in ("unknown flag", "unknown command", "unknown shorthand", "accepts", "required flag", "Usage:"):
            assert bad not in stderr, (err.value.argv, stderr)
    client = kubectl.runner.run([binary, "version", "--client", "-o", "json"], timeout=30)  # needs no server
    assert "clientVersion" in json.loads(client.stdout)
