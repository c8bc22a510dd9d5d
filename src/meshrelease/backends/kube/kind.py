"""The kind cluster of a session: created through pytest-kubernetes, or adopted when it already runs.

Creation goes through pytest-kubernetes's kind manager (``select_provider_manager("kind")``, the class its
``k8s_manager("kind")`` fixture returns) and its public ``create(ClusterOptions(provider_config=…))``, the one
route by which a kind config with extraPortMappings reaches ``kind create`` (its ``--k8s-provider-config``
option is unusable). pyproject bounds pytest-kubernetes to the minor this was written against (0.9); the
manager is subclassed in two private places, checked by ``tests/contract/test_kube_kind_session.py``:

- ``_exec``/``_exec_path``: commands run as argument lists through
  :class:`~meshrelease.backends.kube.runner.CommandRunner` (its own ``_exec`` joins a ``shell=True`` string),
  with the kind binary found by :mod:`meshrelease.backends.kube.tools`;
- ``ready`` (public): polled with kubectl argument lists, bounded, and a timeout reports the last state; the
  pre-create probe is skipped (the cluster is known not to exist), so ownership cannot flip.

Ownership is decided *before* ``kind create`` runs: from then on the cluster is this session's, so a create
that is killed (its timeout, a pytest timeout, Ctrl-C), a readiness wait or an install that fails still ends
in ``kind delete cluster`` at close. A ``kind create`` that fails by itself has removed its nodes already (and
"node(s) already exist" means another owner), so it gives the cluster up. Deletion runs kind directly (an
argument list), never the manager.

A cluster with the same name that already runs is adopted (``kind get kubeconfig``) and never deleted.
``keep`` leaves a created cluster running for the next session, which then adopts it.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml
from pytest_kubernetes.options import ClusterOptions
from pytest_kubernetes.providers import select_provider_manager

from meshrelease.backends.kube.kubectl import Kubectl
from meshrelease.backends.kube.manifests import items_of
from meshrelease.backends.kube.runner import CommandResult, CommandRunner, CommandTimeout
from meshrelease.errors import CommandError, UserInputError


class KindCluster:
    """One kind cluster for a session (see the module docstring)."""

    def __init__(
        self,
        runner: CommandRunner,
        kind_binary: str,
        kubectl_binary: str,
        *,
        name: str,
        node_image: str,
        kubernetes_version: str,
        config_template: Path,
        workdir: Path,
        keep: bool = False,
        create_timeout: float = 600.0,
        ready_timeout: float = 180.0,
        poll_interval: float = 1.0,
    ) -> None:
        self.runner = runner
        self.kind_binary = kind_binary
        self.name = name
        self.node_image = node_image
        self.kubernetes_version = kubernetes_version
        self.config_template = config_template
        self.workdir = workdir
        self.keep = keep
        self.create_timeout = create_timeout
        self.ready_timeout = ready_timeout
        self.poll_interval = poll_interval
        self.kubeconfig = workdir / "kubeconfig"
        self.config_path = workdir / "kind-config.yaml"
        self.created = False  # this session ran (or started) ``kind create``: the cluster is its to delete
        self.up_done = False
        self.kubectl = Kubectl(runner, kubectl_binary, kubeconfig=str(self.kubeconfig), role="kind")

    # -- config ----------------------------------------------------------------------------------------

    def render_config(self) -> dict[str, Any]:
        """The kind config of this session: the template with ``name`` and every node's ``image`` set."""
        try:
            config = yaml.safe_load(self.config_template.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise UserInputError(f"cannot read the kind config: {exc}", path=str(self.config_template)) from None
        if not isinstance(config, dict) or config.get("kind") != "Cluster":
            raise UserInputError("not a kind Cluster config (kind: Cluster)", path=str(self.config_template))
        rendered = copy.deepcopy(config)
        rendered["name"] = self.name
        nodes = rendered.get("nodes") or [{"role": "control-plane"}]
        for node in nodes:
            node["image"] = self.node_image
        rendered["nodes"] = nodes
        return rendered

    def published_port(self, node_port: int) -> tuple[str, int]:
        """(host address, host port) where the control-plane node's ``node_port`` is published."""
        for node in self.render_config()["nodes"]:
            if node.get("role", "control-plane") != "control-plane":
                continue
            for mapping in node.get("extraPortMappings") or []:
                if int(mapping.get("containerPort", -1)) == node_port:
                    address = str(mapping.get("listenAddress") or "127.0.0.1")
                    return ("127.0.0.1" if address == "0.0.0.0" else address), int(mapping["hostPort"])  # noqa: S104
        raise UserInputError(
            f"the kind config publishes no port for the ingress gateway's NodePort {node_port}",
            path=str(self.config_template),
            field="nodes[0].extraPortMappings",
            hint=f"add a mapping with containerPort: {node_port} (and a hostPort), or pass --ingress-url",
        )

    # -- lifecycle ---------------------------------------------------------------------------------------

    def existing(self) -> list[str]:
        """``kind get clusters``."""
        result = self.runner.run([self.kind_binary, "get", "clusters"], timeout=60)
        return [line.strip() for line in result.stdout.splitlines() if line.strip()]

    def up(self) -> None:
        """Adopt the running cluster of that name, or create it; then wait until its API server serves."""
        if self.up_done:
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.name in self.existing():
            result = self.runner.run([self.kind_binary, "get", "kubeconfig", "--name", self.name], timeout=60)
            _write_private(self.kubeconfig, result.stdout)
            self.created = False
            self.kubectl.wait_ready(timeout=self.ready_timeout, interval=self.poll_interval)
        else:
            self.config_path.write_text(yaml.safe_dump(self.render_config(), sort_keys=False), encoding="utf-8")
            self.kubeconfig.unlink(missing_ok=True)  # kind writes it once the control plane is up
            manager = self._manager_class()(provider_config=str(self.config_path))
            self.created = True  # before kind runs: whatever happens next, close() deletes what it made
            try:
                manager.create(
                    ClusterOptions(
                        provider_config=self.config_path,
                        api_version=self.kubernetes_version,
                        kubeconfig_path=self.kubeconfig,
                        cluster_timeout=int(self.create_timeout),
                    ),
                    timeout=max(1, int(self.ready_timeout)),
                    options=["--wait", "120s"],
                )
            except CommandError as exc:
                if exc.argv[1:3] == ["create", "cluster"] and not isinstance(exc, CommandTimeout):
                    # kind failed and exited on its own: it removed the nodes it made, and "node(s) already
                    # exist" means the cluster is someone else's. Only a killed kind leaves nodes behind.
                    self.created = False
                raise
        self.up_done = True

    def down(self) -> str:
        """Delete the cluster if this session created it (or began to) and ``keep`` is off; returns what was done."""
        if not self.created:
            if not self.up_done:
                return f"kind cluster {self.name} was not started"
            return f"kind cluster {self.name} left running (this session did not create it)"
        if self.keep and self.up_done:
            return (
                f"kind cluster {self.name} kept (--keep-cluster); the next session with --kind-cluster-name "
                f"{self.name} reuses it; remove it with: kind delete cluster --name {self.name}"
            )
        self.runner.run([self.kind_binary, "delete", "cluster", "--name", self.name], timeout=300)
        self.created = False
        self.up_done = False
        return f"kind cluster {self.name} deleted"

    def load_image_archive(self, archive: Path, *, timeout: float) -> None:
        """``kind load image-archive <archive> --name <name>``: images saved on the host, into every node."""
        self.runner.run(
            [self.kind_binary, "load", "image-archive", str(archive), "--name", self.name],
            timeout=timeout,
            hint="kind load needs a node image built for this kind release (see meshrelease/data/kind-pins.json)",
        )

    def export_logs(self, dest: Path) -> Path:
        """``kind export logs <dest>/kind-<name> --name <name>``; returns that directory."""
        target = dest / f"kind-{self.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        self.runner.run([self.kind_binary, "export", "logs", str(target), "--name", self.name], timeout=300)
        return target

    def node_containers(self) -> list[str]:
        """Node names as Kubernetes reports them (for descriptions)."""
        return [str(n["metadata"]["name"]) for n in items_of(self.kubectl.get_json("nodes"))]

    # -- the pytest-kubernetes manager ----------------------------------------------------------------------

    def _manager_class(self) -> Any:
        base = select_provider_manager("kind")
        cluster = self

        class MeshreleaseKindManager(base):  # type: ignore[misc, valid-type]
            """pytest-kubernetes's kind manager with argument-list commands and our readiness wait."""

            @property
            def _exec_path(self) -> Path:
                return Path(cluster.kind_binary)

            def _exec(
                self,
                arguments: list[str],
                additional_env: dict[str, str] | None = None,
                timeout: int | None = None,
            ) -> CommandResult:
                limit = timeout or self._cluster_options.cluster_timeout
                return cluster.runner.run([cluster.kind_binary, *arguments], timeout=float(limit))

            def ready(self, timeout: int = 20) -> bool:
                if not cluster.kubeconfig.exists():
                    return False  # the pre-create probe: kind has not written the kubeconfig yet
                # pytest-kubernetes passes whole seconds; the session's own (float) timeout is the one meant
                cluster.kubectl.wait_ready(timeout=cluster.ready_timeout, interval=cluster.poll_interval)
                return True

        return MeshreleaseKindManager


def _write_private(path: Path, text: str) -> None:
    """Write a kubeconfig readable by its owner only (it holds credentials)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
