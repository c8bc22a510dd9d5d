"""The one option table: declared the same for pytest and argparse, environment fallbacks, typed settings,
errors naming the flag, and building a backend from settings."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import pytest
from _pytest.config.argparsing import Parser

from meshrelease.backends.base import Backend
from meshrelease.backends.factory import make_backend
from meshrelease.backends.kube.cluster_backend import ClusterBackend
from meshrelease.backends.kube.kind_backend import KindBackend
from meshrelease.backends.kube.session_backend import SessionBackend
from meshrelease.backends.settings import (
    GROUP_TITLES,
    OPTIONS,
    Settings,
    add_options,
    build_settings,
    option,
    options_in,
    to_argv,
)
from meshrelease.errors import MeshReleaseError, UserInputError
from meshrelease.verdict import DEFAULT_ALPHA, DEFAULT_BETA, DEFAULT_DELTA


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for opt in OPTIONS:
        if opt.env:
            monkeypatch.delenv(opt.env, raising=False)
    for name in ("ISTIO_HOME", "PYTEST_XDIST_WORKER"):
        monkeypatch.delenv(name, raising=False)


def parse(args: list[str]) -> Settings:
    """Settings as a pytest session with these arguments builds them."""
    parser = Parser(_ispytest=True)
    for group, title in GROUP_TITLES.items():
        add_options(parser.getgroup(f"meshrelease-{group}", title), options_in(group))
    return build_settings(vars(parser.parse_known_args(args)))


def argparse_settings(args: list[str]) -> Settings:
    """The same through argparse (``meshrelease run``)."""
    parser = argparse.ArgumentParser()
    add_options(parser, OPTIONS)
    return build_settings(vars(parser.parse_args(args)))


def test_every_option_has_a_flag_help_and_group_and_is_declared_once() -> None:
    flags = [o.flag for o in OPTIONS]
    assert len(flags) == len(set(flags))
    for opt in OPTIONS:
        assert opt.flag.startswith("--") and opt.help and opt.group in GROUP_TITLES
        assert "[env" not in opt.help  # help_text() adds it, once
    assert "[env MESHRELEASE_ALPHA]" in option("--alpha").help_text()


def test_defaults_are_the_verdicts_and_the_documented_ones() -> None:
    s = parse([])
    assert (s.verdict.alpha, s.verdict.beta, s.verdict.delta) == (DEFAULT_ALPHA, DEFAULT_BETA, DEFAULT_DELTA)
    assert (s.backend, str(s.report_dir), s.concurrency, s.converge_timeout) == ("local", "reports/latest", 8, 60.0)
    assert s.local.port is None and s.local.workloads == () and not s.local.keep_run_dir
    assert (s.kind.cluster_name, s.kind.namespace, s.kind.bookinfo_tag) == ("meshrelease", "default", "1.20.3")


def test_pytest_and_argparse_build_the_same_settings() -> None:
    args = ["--backend", "cluster", "--alpha", "1e-5", "--workload", "a:1=cmd {port}", "--keep-run-dir"]
    args += ["--namespace", "shop", "--keep-cluster", "--propagation-delay", "10ms..0.2"]
    assert parse(args) == argparse_settings(args)
    s = parse(args)
    assert s.local.propagation_delay == pytest.approx((0.01, 0.2))
    assert s.local.run_dir == Path("reports/latest/runs")


def test_environment_is_the_fallback_and_the_command_line_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESHRELEASE_ISTIO_VERSION", "1.29.6")
    monkeypatch.setenv("MESHRELEASE_KEEP_CLUSTER", "true")
    monkeypatch.setenv("MESHRELEASE_DELTA", "0.05")
    monkeypatch.setenv("MESHRELEASE_CONCURRENCY", "3")
    s = parse(["--istio-version", "1.30.4"])
    assert (s.kind.istio_version, s.kind.keep_cluster, s.cluster.keep) == ("1.30.4", True, True)
    assert (s.verdict.delta, s.concurrency) == (0.05, 3)


def test_kind_settings_from_options_and_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ISTIO_HOME", str(tmp_path / "istio-1.30.4"))
    monkeypatch.setenv("MESHRELEASE_COLLECT_LOGS", str(tmp_path / "logs"))
    s = parse(["--backend", "kind", "--kind-cluster-name", "ci-1", "--bookinfo-tag", "1.20.2"])
    backend = make_backend(s)
    assert isinstance(backend, KindBackend) and isinstance(backend, Backend)
    assert (backend.settings.cluster_name, backend.settings.bookinfo_tag) == ("ci-1", "1.20.2")
    assert backend.settings.istio_home == str(tmp_path / "istio-1.30.4")
    assert backend.collect_logs_dir == tmp_path / "logs"


def test_cluster_settings_from_options_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", "/home/me/.kube/data-plane")
    monkeypatch.setenv("MESHRELEASE_MESH_KUBECONFIG", "/home/me/.kube/asm")
    s = parse(["--backend", "cluster", "--context", "dp", "--mesh-context", "asm", "--namespace", "shop"])
    backend = make_backend(s)
    assert isinstance(backend, ClusterBackend)
    c = backend.settings
    assert (c.kubeconfig, c.context, c.mesh_kubeconfig, c.mesh_context, c.namespace) == (
        "/home/me/.kube/data-plane",
        "dp",
        "/home/me/.kube/asm",
        "asm",
        "shop",
    )


def test_a_kubeconfig_list_is_left_to_kubectl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join(["/a/config", "/b/config"]))
    assert parse([]).cluster.kubeconfig is None


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--namespace", "Team A"], {}, "--namespace: 'Team A' is not a namespace name"),
        (["--ingress-url", "10.0.0.7"], {}, "--ingress-url: '10.0.0.7' is not an http(s) URL"),
        (["--kind-cluster-name", "my_cluster"], {}, "'my_cluster' is not a valid kind cluster name"),
        (["--alpha", "0.7"], {}, "--alpha: 0.7 must be between 0 and 0.5"),
        (["--delta", "nan"], {}, "--delta: 'nan' is not a finite number"),
        (["--port", "70000"], {}, "--port: 70000 is not a TCP port"),
        (["--concurrency", "0"], {}, "--concurrency: must be at least 1"),
        ([], {"MESHRELEASE_CONCURRENCY": "many"}, "MESHRELEASE_CONCURRENCY: 'many' is not a whole number"),
        ([], {"MESHRELEASE_BACKEND": "minikube"}, "MESHRELEASE_BACKEND: 'minikube' is not one of local, kind"),
        ([], {"MESHRELEASE_KEEP_CLUSTER": "perhaps"}, "MESHRELEASE_KEEP_CLUSTER: 'perhaps' is not a yes/no"),
        (["--propagation-delay", "inf"], {}, "must be finite"),
    ],
)
def test_bad_values_are_user_errors_naming_the_flag(
    monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str], message: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(UserInputError) as err:
        parse(args)
    assert message in str(err.value)


def test_kind_refuses_xdist_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    with pytest.raises(UserInputError, match="cannot be split over xdist workers"):
        make_backend(parse(["--backend", "kind"]))


def test_to_argv_gives_the_values_back() -> None:
    values = {"backend": "kind", "keep_cluster": True, "workload": ["a=b {port}", "c=d {port}"], "port": None}
    argv = to_argv(values)
    assert argv == ["--backend", "kind", "--keep-cluster", "--workload", "a=b {port}", "--workload", "c=d {port}"]
    s = argparse_settings(argv)
    assert (s.backend, s.kind.keep_cluster, s.local.workloads) == ("kind", True, ("a=b {port}", "c=d {port}"))


class RecordingBackend(SessionBackend):
    name = "recording"

    def __init__(self, logs: Path | None, fail_collect: bool = False) -> None:
        self.collect_logs_dir = logs
        self.fail_collect = fail_collect
        self.events: list[str] = []

    def collect_logs(self, dest_dir: Path) -> Path | None:
        self.events.append(f"collect {dest_dir.name}")
        if self.fail_collect:
            raise MeshReleaseError("kind export logs failed")
        return dest_dir / "kind-x"

    def close(self) -> None:
        self.events.append("close")


def test_finish_collects_logs_only_for_a_failed_session_and_always_closes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    failed = RecordingBackend(tmp_path / "logs")
    assert failed.finish(failed=True) == tmp_path / "logs" / "kind-x"
    assert failed.events == ["collect logs", "close"]
    passed = RecordingBackend(tmp_path / "logs")
    assert passed.finish(failed=False) is None
    assert passed.events == ["close"]
    no_dir = RecordingBackend(None)
    assert no_dir.finish(failed=True) is None
    assert no_dir.events == ["close"]
    broken = RecordingBackend(tmp_path / "logs", fail_collect=True)
    with caplog.at_level(logging.WARNING, logger="meshrelease.backends.kube"):
        assert broken.finish(failed=True) is None
    assert broken.events == ["collect logs", "close"]
    assert "could not collect logs" in caplog.text and "kind export logs failed" in caplog.text
