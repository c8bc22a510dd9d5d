"""The kind backend's part of the upgrade check: one kind cluster for both runs, upgraded in between.

The driver owns the cluster. :meth:`KindUpgradeDriver.start` brings it up with its own
:class:`~meshrelease.backends.kube.kind_backend.KindBackend` on Istio FROM (the FROM istioctl installs it, exactly as a
``--backend kind`` run would), so the two suite runs — separate pytest sessions with ``--backend kind`` —
*adopt* the running cluster and never delete it. Their options are the user's (``--kind-cluster-name``,
``--namespace``, ``--ingress-url``, …, read here the way the pytest plugin reads them) plus, per run:

- before the upgrade: ``--istioctl <FROM istioctl> --istio-version FROM``;
- after it: ``--istioctl <TO istioctl> --istio-version TO``, and after a revision upgrade
  ``--istio-revision <rev>``, which tells the session the namespace is served by ``istiod-<rev>`` (the only
  way a session accepts a cluster without the default ``istiod``; it never installs then). Without that
  option a session still refuses a cluster that runs another Istio version than its istioctl.

Before the upgrade, the images TO's istioctl installs are pulled on the host and loaded into the node, as
the session did for FROM's (``--kind-image-pull host``).

:meth:`KindUpgradeDriver.close` deletes the cluster if the driver created it (unless ``--keep-cluster``),
after ``kind export logs`` when ``--collect-logs`` is given and the check failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from meshrelease.backends.base import Backend
from meshrelease.backends.kube.istioctl import Istioctl
from meshrelease.backends.kube.kind_backend import KindBackend
from meshrelease.backends.kube.runner import CommandRunner
from meshrelease.backends.kube.tools import KIND_TOOLS, locate_tools
from meshrelease.backends.kube.warmup import ClientFactory
from meshrelease.backends.settings import KindSettings, add_options, build_settings, options_in
from meshrelease.data import data_dir
from meshrelease.errors import MeshReleaseError, UserInputError
from meshrelease.upgrade.check import PhaseFn, UpgradePlan
from meshrelease.upgrade.istio import (
    MODES,
    IstioctlPair,
    IstioUpgrade,
    check_upgrade_path,
    locate_istioctl_pair,
    revision_name,
)


def kind_settings_from_pytest_args(
    pytest_args: Sequence[str], environ: Mapping[str, str] | None = None
) -> KindSettings:
    """KindSettings as a ``--backend kind`` pytest session with these arguments would build them (the option
    table of :mod:`meshrelease.backends.settings`, each option falling back to its environment variable)."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    add_options(parser, options_in("kube"))
    values, _ = parser.parse_known_args(list(pytest_args))
    return build_settings(vars(values), environ).kind


class KindUpgradeDriver:
    """:class:`~meshrelease.upgrade.check.UpgradeDriver` for kind (see the module docstring)."""

    backend = "kind"

    def __init__(
        self,
        plan: UpgradePlan,
        *,
        pytest_args: Sequence[str] = (),
        istioctl_from: str | None = None,
        istioctl_to: str | None = None,
        environ: Mapping[str, str] | None = None,
        settings: KindSettings | None = None,
        runner: CommandRunner | None = None,
        client_factory: ClientFactory | None = None,
    ) -> None:
        self.plan = plan
        self.pytest_args = list(pytest_args)
        self.istioctl_from = istioctl_from
        self.istioctl_to = istioctl_to
        self.environ = dict(os.environ if environ is None else environ)
        self._settings = settings
        self.runner = runner or CommandRunner()
        self._client_factory = client_factory
        self.pair: IstioctlPair | None = None
        self.kind: KindBackend | None = None
        self.revision = ""

    def prepare(self) -> UpgradePlan:
        """Both istioctl binaries at their versions, a supported upgrade path, docker/kind/kubectl present."""
        mode = self.plan.mode
        if mode is None:
            raise UserInputError(
                "the kind upgrade check needs --mode inplace or --mode revision",
                field="--mode",
                hint="revision is the way Istio recommends (up to two minors); inplace goes one minor at a time",
            )
        if mode not in MODES:
            raise UserInputError(f"unknown --mode {mode!r}", field="--mode", hint="inplace or revision")
        if self.environ.get("MESHRELEASE_ISTIO_REVISION"):
            raise UserInputError(
                "MESHRELEASE_ISTIO_REVISION is set; the upgrade check decides the revision of each run itself",
                field="MESHRELEASE_ISTIO_REVISION",
                hint="unset it",
            )
        pair = locate_istioctl_pair(
            self.runner,
            from_version=self.plan.from_version,
            to_version=self.plan.to_version,
            istioctl_from=self.istioctl_from,
            istioctl_to=self.istioctl_to,
            istio_home_from=self.environ.get("ISTIO_HOME_FROM") or None,
            istio_home_to=self.environ.get("ISTIO_HOME_TO") or None,
        )
        check_upgrade_path(pair.from_version, pair.to_version, mode)
        locate_tools(KIND_TOOLS, istioctl=pair.from_path, purpose="the kind upgrade check")
        self.pair = pair
        self.revision = revision_name(pair.to_version) if mode == "revision" else ""
        if self._settings is None:
            self._settings = kind_settings_from_pytest_args(self.pytest_args, self.environ)
        return UpgradePlan(pair.from_version, pair.to_version, mode)

    def start(self) -> Backend:
        """The kind cluster with Istio FROM and Bookinfo, as a ``--backend kind`` session brings it up."""
        pair, settings = self._prepared()
        self.kind = KindBackend(
            dataclasses.replace(
                settings, istioctl=pair.from_path, istio_version=pair.from_version, istio_revision=None
            ),
            runner=self.runner,
            client_factory=self._client_factory,
        )
        self.kind.start()
        return self.kind

    def suite_args(self, *, upgraded: bool) -> list[str]:
        pair, _ = self._prepared()
        if not upgraded:
            return ["--istioctl", pair.from_path, "--istio-version", pair.from_version]
        args = ["--istioctl", pair.to_path, "--istio-version", pair.to_version]
        return args + (["--istio-revision", self.revision] if self.revision else [])

    def upgrade(self, on_phase: PhaseFn) -> None:
        """Upgrade the started cluster (:class:`~meshrelease.upgrade.istio.IstioUpgrade`)."""
        pair, settings = self._prepared()
        kind = self.kind
        if kind is None or kind.cluster is None:
            raise MeshReleaseError("the kind cluster is not started", hint="call start() first")
        operator = settings.istio_operator or (settings.data_dir or data_dir()) / "istio-install.yaml"
        # TO's istiod and proxy images, pulled on the host like FROM's (the node's own pulls are anonymous)
        kind.load_images(Istioctl(self.runner, pair.to_path, kind.cluster.kubectl).manifest_images(Path(operator)))
        upgrade = IstioUpgrade(
            self.runner,
            kind.cluster.kubectl,
            pair,
            str(self.plan.mode),
            operator=Path(operator),
            namespace=settings.namespace,
            install_timeout=settings.install_timeout,
            rollout_timeout=settings.rollout_timeout,
            poll_interval=settings.poll_interval,
        )
        upgrade.run(on_phase)

    def close(self, *, failed: bool) -> str:
        """Delete the cluster if this check created it (unless --keep-cluster); logs first on a failure with
        --collect-logs."""
        kind, self.kind = self.kind, None
        if kind is None:
            return ""
        kind.finish(failed=failed)
        return kind.close_message

    def _prepared(self) -> tuple[IstioctlPair, KindSettings]:
        if self.pair is None or self._settings is None:
            raise MeshReleaseError("the kind upgrade driver is not prepared", hint="call prepare() first")
        return self.pair, self._settings
