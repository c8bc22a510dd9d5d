"""The kind/cluster pytest options, their environment fallbacks, and building a backend from them."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

import pytest
from _pytest.config.argparsing import Parser

from meshrelease.backend import Backend
from meshrelease.errors import MeshReleaseError, UserInputError
from meshrelease.kube.cluster_backend import ClusterBackend
from meshrelease.kube.kind_backend import KindBackend
from meshrelease.kube.options import GROUP, add_pytest_options, backend_from_pytest_config, finish_session

FLAGS = [
    "--istio-version",
    "--istioctl",
    "--istio-revision",
    "--kind-node-image",
    "--keep-cluster",
    "--kind-cluster-name",
    "--collect-logs",
    "--kubeconfig",
    "--context",
    "--mesh-kubeconfig",
    "--mesh-context",
    "--namespace",
    "--ingress-url",
    "--bookinfo-tag",
]
ENV = [
    "MESHRELEASE_ISTIO_VERSION",
    "MESHRELEASE_ISTIOCTL",
    "MESHRELEASE_ISTIO_REVISION",
    "MESHRELEASE_KIND_NODE_IMAGE",
    "MESHRELEASE_KEEP_CLUSTER",
    "MESHRELEASE_KIND_CLUSTER_NAME",
    "MESHRELEASE_COLLECT_LOGS",
    "KUBECONFIG",
    "MESHRELEASE_CONTEXT",
    "MESHRELEASE_MESH_KUBECONFIG",
    "MESHRELEASE_MESH_CONTEXT",
    "MESHRELEASE_NAMESPACE",
    "MESHRELEASE_INGRESS_URL",
    "MESHRELEASE_BOOKINFO_TAG",
    "ISTIO_HOME",
    "PYTEST_XDIST_WORKER",
]


class ParsedConfig:
    """What backend_from_pytest_config reads from a pytest.Config: getoption(dest)."""

    def __init__(self, namespace: argparse.Namespace) -> None:
        self.namespace = namespace

    def getoption(self, name: str) -> Any:
        return getattr(self.namespace, name)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def parse(args: list[str]) -> Any:
    parser = Parser(_ispytest=True)
    add_pytest_options(parser)
    return ParsedConfig(parser.parse_known_args(args))


def test_every_option_is_registered_in_its_group_and_nothing_the_scenario_plugin_owns() -> None:
    parser = Parser(_ispytest=True)
    add_pytest_options(parser)
    names = [name for option in parser.getgroup(GROUP).options for name in option.names()]
    assert names == FLAGS
    for owned in ("--backend", "--alpha", "--beta", "--delta", "--report-dir"):
        assert owned not in names


def test_kind_backend_from_options_and_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MESHRELEASE_ISTIO_VERSION", "1.29.6")  # overridden on the command line below
    monkeypatch.setenv("MESHRELEASE_KEEP_CLUSTER", "true")
    monkeypatch.setenv("ISTIO_HOME", str(tmp_path / "istio-1.30.4"))
    monkeypatch.setenv("MESHRELEASE_COLLECT_LOGS", str(tmp_path / "logs"))
    config = parse(["--istio-version", "1.30.4", "--kind-cluster-name", "ci-1", "--bookinfo-tag", "1.20.2"])
    backend = backend_from_pytest_config("kind", config)
    assert isinstance(backend, KindBackend)
    assert isinstance(backend, Backend)
    s = backend.settings
    assert (s.istio_version, s.cluster_name, s.bookinfo_tag, s.keep_cluster) == (
        "1.30.4",
        "ci-1",
        "1.20.2",
        True,
    )
    assert s.istio_home == str(tmp_path / "istio-1.30.4")
    assert backend.collect_logs_dir == tmp_path / "logs"
    assert (s.namespace, s.node_image, s.ingress_url) == ("default", None, None)


def test_cluster_backend_from_options_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", "/home/me/.kube/data-plane")
    monkeypatch.setenv("MESHRELEASE_MESH_KUBECONFIG", "/home/me/.kube/asm")
    config = parse(
        [
            "--context",
            "dp",
            "--mesh-context",
            "asm",
            "--namespace",
            "shop",
            "--ingress-url",
            "http://10.0.0.7",
        ]
    )
    backend = backend_from_pytest_config("cluster", config)
    assert isinstance(backend, ClusterBackend)
    assert isinstance(backend, Backend)
    s = backend.settings
    assert (s.kubeconfig, s.context, s.mesh_kubeconfig, s.mesh_context) == (
        "/home/me/.kube/data-plane",
        "dp",
        "/home/me/.kube/asm",
        "asm",
    )
    assert (s.namespace, s.ingress_url, s.keep) == ("shop", "http://10.0.0.7", False)


def test_a_kubeconfig_list_is_left_to_kubectl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join(["/a/config", "/b/config"]))
    backend = backend_from_pytest_config("cluster", parse([]))
    assert isinstance(backend, ClusterBackend)
    assert backend.settings.kubeconfig is None


@pytest.mark.parametrize(
    ("name", "args", "env", "message"),
    [
        ("minikube", [], {}, "unknown backend 'minikube'"),
        ("cluster", ["--namespace", "Team A"], {}, "'Team A' is not a namespace name"),
        ("cluster", ["--ingress-url", "10.0.0.7"], {}, "'10.0.0.7' is not an http(s) URL"),
        ("kind", ["--kind-cluster-name", "my_cluster"], {}, "'my_cluster' is not a valid kind cluster name"),
        ("kind", [], {"PYTEST_XDIST_WORKER": "gw1"}, "cannot be split over xdist workers"),
    ],
)
def test_bad_options_are_user_errors(
    monkeypatch: pytest.MonkeyPatch, name: str, args: list[str], env: dict[str, str], message: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(UserInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        backend_from_pytest_config(name, parse(args))


class RecordingBackend:
    def __init__(self, logs: Path | None, fail_collect: bool = False) -> None:
        self.collect_logs_dir = logs
        self.fail_collect = fail_collect
        self.events: list[str] = []

    def collect_logs(self, dest: Path) -> Path | None:
        self.events.append(f"collect {dest.name}")
        if self.fail_collect:
            raise MeshReleaseError("kind export logs failed")
        return dest / "kind-x"

    def close(self) -> None:
        self.events.append("close")


def test_finish_session_collects_logs_only_for_a_failed_session_and_always_closes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    failed = RecordingBackend(tmp_path / "logs")
    assert finish_session(failed, failed=True) == tmp_path / "logs" / "kind-x"  # type: ignore[arg-type]
    assert failed.events == ["collect logs", "close"]
    passed = RecordingBackend(tmp_path / "logs")
    assert finish_session(passed, failed=False) is None  # type: ignore[arg-type]
    assert passed.events == ["close"]
    no_dir = RecordingBackend(None)
    assert finish_session(no_dir, failed=True) is None  # type: ignore[arg-type]
    assert no_dir.events == ["close"]
    broken = RecordingBackend(tmp_path / "logs", fail_collect=True)
    with caplog.at_level(logging.WARNING, logger="meshrelease.kube"):
        assert finish_session(broken, failed=True) is None  # type: ignore[arg-type]
    assert broken.events == ["collect logs", "close"]
    assert "could not collect logs" in caplog.text and "kind export logs failed" in caplog.text
