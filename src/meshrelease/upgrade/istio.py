"""Upgrading Istio on a cluster, in place or by revision, with the istioctl of each release.

The procedures are Istio's own (docs/upgrade-check.md, "Istio's procedures").

**In place** (one minor at a time; the control plane was installed without a revision):

1. ``istioctl(TO) install -y -f <the FROM install's IstioOperator> --readiness-timeout=…`` — the same settings,
   so no customisation reverts to the default profile (``upgrade`` is only an alias of ``install``);
2. ``kubectl rollout status`` of ``istiod`` and ``istio-ingressgateway``; both must now run TO;
3. ``kubectl rollout restart deployment -n <ns>``, then ``rollout status`` of each of its deployments;
4. ``istioctl(TO) proxy-status -o json`` until every proxy of the namespace, and the gateway, reports TO
   (read by :mod:`meshrelease.backends.kube.proxy_status`: the proxy's ``ISTIO_VERSION`` and its istiod).

**By revision** (up to two minors; revision ``<TO with dashes>``, e.g. ``1-30-4``):

1. ``istioctl(TO) x precheck``;
2. ``istioctl(TO) install -y -f <same file> --readiness-timeout=… --set revision=<rev>`` (``istiod-<rev>`` next
   to the old ``istiod``; the gateway is upgraded in place to the new revision);
3. ``rollout status`` of ``istiod-<rev>`` and the gateway; both must run TO;
4. ``kubectl label namespace <ns> istio-injection- istio.io/rev=<rev> --overwrite``;
5. ``kubectl rollout restart deployment -n <ns>`` and ``rollout status`` of each deployment;
6. ``istioctl(TO) proxy-status -o json`` until every proxy of the namespace and the gateway reports TO,
   connected to ``istiod-<rev>``;
7. ``istioctl(TO) tag set default --revision <rev> --overwrite -y``: the default injector and the validating
   webhook of unlabelled Istio objects move to the new revision (uninstalling revision ``default`` without
   this prunes that webhook, and Istio objects are no longer validated);
8. ``istioctl(FROM) uninstall --revision default -y`` (the old control plane was installed without a
   revision: Istio labels it revision ``default``); the old release's istioctl removes its own release;
9. ``kubectl get deployments -n istio-system``: the old istiod is gone, ``istiod-<rev>`` and the gateway run TO.

A step that fails raises :class:`UpgradeFailed`: the step, the command (argv, exit code, stderr, from
:class:`~meshrelease.errors.CommandError`), what that step leaves the cluster in, what the cluster shows now
(best effort) and how to inspect or roll back.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meshrelease.backends.kube.istioctl import Istioctl
from meshrelease.backends.kube.kubectl import Kubectl
from meshrelease.backends.kube.proxy_status import ProxyStatusReport
from meshrelease.backends.kube.runner import CommandRunner
from meshrelease.backends.kube.tools import istioctl_client_version
from meshrelease.backends.kube.versions import ISTIO_PINS, image_tag, istio_minor
from meshrelease.errors import MeshReleaseError, ToolMissingError, UserInputError, WaitTimeout
from meshrelease.upgrade.check import PhaseFn

MODES = ("inplace", "revision")
DEFAULT_REVISION = "default"
ISTIO_NAMESPACE = "istio-system"
GATEWAY = "istio-ingressgateway"
INJECTION_LABEL = "istio-injection"
REVISION_LABEL = "istio.io/rev"

_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?$")


# -- versions -------------------------------------------------------------------------------------------------


def revision_name(version: str) -> str:
    """The revision an Istio release installs as: ``1.30.4`` -> ``1-30-4`` (dashes: a revision is a label)."""
    return re.sub(r"[^a-z0-9]+", "-", version.lower()).strip("-")


def _parts(version: str, field: str) -> tuple[int, int, int | None, str]:
    match = _VERSION.match(version.strip())
    if not match:
        raise UserInputError(
            f"{version!r} is not an Istio version", field=field, hint="give a release such as 1.30.4 (or 1.30)"
        )
    patch = int(match.group(3)) if match.group(3) is not None else None
    return int(match.group(1)), int(match.group(2)), patch, match.group(4) or ""


def check_upgrade_path(from_version: str, to_version: str, mode: str) -> None:
    """Refuse what Istio does not support: an in-place jump over more than one minor, a revision jump over
    more than two, or a TO that is not newer than FROM (docs/upgrade-check.md, "Istio's procedures")."""
    if mode not in MODES:
        raise UserInputError(f"unknown upgrade mode {mode!r}", field="--mode", hint="inplace or revision")
    fm, fn, fp, fpre = _parts(from_version, "--from")
    tm, tn, tp, tpre = _parts(to_version, "--to")
    # a release candidate sorts before its release (1.31.0-rc.0 < 1.31.0)
    if (tm, tn, tp or 0, not tpre, tpre) <= (fm, fn, fp or 0, not fpre, fpre):
        raise UserInputError(
            f"--to {to_version} is not newer than --from {from_version}",
            field="--to",
            hint="an upgrade check goes from an older Istio to a newer one",
        )
    jump = (tm - fm) * 1000 + (tn - fn)
    limit = 1 if mode == "inplace" else 2
    if jump > limit:
        raise UserInputError(
            f"Istio {from_version} -> {to_version} skips {jump - 1} minor release(s); "
            + (
                "an in-place upgrade supports one minor at a time"
                if mode == "inplace"
                else "a revision upgrade can jump two minors at most"
            ),
            field="--to",
            hint="upgrade through the intermediate minor, or use --mode revision (up to two minors)"
            if mode == "inplace"
            else "upgrade through an intermediate minor",
        )


def _download_version(version: str) -> str:
    """A version to put in a download command: the pinned latest patch for a minor-only version."""
    if version.count(".") == 1:
        pin = ISTIO_PINS.get(version)
        return pin.latest if pin else f"{version}.0"
    return version


# -- the two istioctl binaries ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IstioctlPair:
    """The istioctl of the release installed first (FROM) and of the release upgraded to (TO)."""

    from_path: str
    from_version: str
    to_path: str
    to_version: str


def _find(explicit: str | None, home: str | None, option: str, env: str) -> tuple[str, str]:
    """(path, "") or ("", why not)."""
    if explicit:
        candidate = Path(explicit).expanduser()
        if candidate.is_file() and candidate.stat().st_mode & 0o111:
            return str(candidate.resolve()), ""
        return "", f"{option} {explicit} is not an executable file"
    if home:
        candidate = Path(home).expanduser() / "bin" / "istioctl"
        if candidate.is_file() and candidate.stat().st_mode & 0o111:
            return str(candidate.resolve()), ""
        return "", f"{env}={home} has no bin/istioctl"
    return "", f"neither {option} nor {env} is set"


def locate_istioctl_pair(
    runner: CommandRunner,
    *,
    from_version: str,
    to_version: str,
    istioctl_from: str | None = None,
    istioctl_to: str | None = None,
    istio_home_from: str | None = None,
    istio_home_to: str | None = None,
) -> IstioctlPair:
    """Find both istioctl binaries (``--istioctl-from/-to``, else ``$ISTIO_HOME_FROM/TO/bin/istioctl``; never
    PATH, whose istioctl is one release at most) and check each is its release. ``X.Y`` accepts any patch of
    that minor; the pair then carries the exact versions. One ToolMissingError names every missing binary."""
    found: dict[str, str] = {}
    missing: list[str] = []
    for side, version, explicit, home in (
        ("from", from_version, istioctl_from, istio_home_from),
        ("to", to_version, istioctl_to, istio_home_to),
    ):
        option, env = f"--istioctl-{side}", f"ISTIO_HOME_{side.upper()}"
        path, why = _find(explicit, home, option, env)
        if path:
            found[side] = path
            continue
        get = _download_version(version)
        missing.append(
            f"  - istioctl {version} (--{side}): {why}; download it with "
            f"`curl -L https://istio.io/downloadIstio | ISTIO_VERSION={get} sh -`, then pass "
            f"{option} istio-{get}/bin/istioctl or set {env}=$PWD/istio-{get}"
        )
    if missing:
        raise ToolMissingError(
            "the upgrade check runs the istioctl of both Istio releases; missing:\n" + "\n".join(missing),
            hint="nothing was started",
        )
    versions: dict[str, str] = {}
    for side, wanted in (("from", from_version), ("to", to_version)):
        actual = istioctl_client_version(runner, found[side])
        if actual != wanted and not (wanted.count(".") == 1 and istio_minor(actual) == wanted):
            raise UserInputError(
                f"istioctl at {found[side]} is version {actual}, but --{side} is {wanted}",
                field=f"--istioctl-{side}",
                hint=f"point --istioctl-{side} (or ISTIO_HOME_{side.upper()}) at the istioctl of Istio {wanted}",
            )
        versions[side] = actual
    return IstioctlPair(found["from"], versions["from"], found["to"], versions["to"])


# -- the upgrade ------------------------------------------------------------------------------------------------


class UpgradeFailed(MeshReleaseError):
    """A step of the upgrade failed; the message says which, why, and what state that leaves the cluster in."""

    def __init__(self, message: str, *, step: str, cause: MeshReleaseError, state: str, hint: str) -> None:
        super().__init__(message, hint=hint)
        self.step = step
        self.cause = cause
        self.state = state


@dataclass(frozen=True)
class _Step:
    name: str
    action: Callable[[], None]
    leaves: str  # what the cluster is left in when this step fails


class IstioUpgrade:
    """One upgrade of the Istio on a cluster (see the module docstring for the exact commands)."""

    def __init__(
        self,
        runner: CommandRunner,
        kubectl: Kubectl,
        pair: IstioctlPair,
        mode: str,
        *,
        operator: Path,
        namespace: str,
        from_revision: str = DEFAULT_REVISION,
        install_timeout: float = 300.0,
        rollout_timeout: float = 300.0,
        proxy_timeout: float = 180.0,
        poll_interval: float = 2.0,
    ) -> None:
        check_upgrade_path(pair.from_version, pair.to_version, mode)
        self.kubectl = kubectl
        self.pair = pair
        self.mode = mode
        self.operator = operator
        self.namespace = namespace
        self.from_revision = from_revision
        self.install_timeout = install_timeout
        self.rollout_timeout = rollout_timeout
        self.proxy_timeout = proxy_timeout
        self.poll_interval = poll_interval
        self.from_istioctl = Istioctl(runner, pair.from_path, kubectl)
        self.to_istioctl = Istioctl(runner, pair.to_path, kubectl)
        self.revision = revision_name(pair.to_version) if mode == "revision" else ""
        self.istiod = f"istiod-{self.revision}" if self.revision else "istiod"
        self.old_istiod = "istiod" if from_revision == DEFAULT_REVISION else f"istiod-{from_revision}"
        self.deployments: list[str] = []  # of the namespace, as restarted

    # -- the sequence ------------------------------------------------------------------------------------------

    def steps(self) -> list[_Step]:
        """The steps of this mode, in order, each with the state a failure in it leaves."""
        f, t, ns, rev = self.pair.from_version, self.pair.to_version, self.namespace, self.revision
        if self.mode == "inplace":
            return [
                _Step(
                    f"install {t} in place",
                    self._install,
                    f"istioctl install stopped midway: istiod and the gateway may run {f}, {t} or a mix; the "
                    f"workloads' sidecars still run {f}",
                ),
                _Step(
                    "wait for the control plane",
                    self._wait_control_plane,
                    f"Istio {t} was installed in place but istiod or the gateway is not ready (or not on {t}); "
                    f"the workloads' sidecars still run {f}",
                ),
                _Step(
                    "restart the data plane",
                    self._restart_data_plane,
                    f"the control plane runs {t}; some workloads of namespace {ns} may run {t} sidecars, others "
                    f"still {f}",
                ),
                _Step(
                    "verify the proxies",
                    self._verify_proxies,
                    f"the control plane runs {t} and every deployment of {ns} was restarted, but not every proxy "
                    f"reports {t}",
                ),
            ]
        old = self.from_revision
        return [
            _Step("precheck", self._precheck, f"nothing was changed: the cluster still runs Istio {f}"),
            _Step(
                f"install revision {rev}",
                self._install,
                f"the revision {rev} control plane may be partly installed next to the {f} one (revision {old}); "
                f"the gateway may already run {t}; the workloads still use the {f} control plane",
            ),
            _Step(
                "wait for the control plane",
                self._wait_control_plane,
                f"{self.istiod} was installed next to the {f} control plane but it or the gateway is not ready "
                f"(or not on {t}); the workloads still use the {f} control plane",
            ),
            _Step(
                f"relabel namespace {ns}",
                self._relabel_namespace,
                f"both control planes run; namespace {ns} may still carry its old injection label; the "
                f"workloads still run {f} sidecars",
            ),
            _Step(
                "restart the data plane",
                self._restart_data_plane,
                f"both control planes run and namespace {ns} is labelled {REVISION_LABEL}={rev}; some workloads "
                f"may run {t} sidecars, others still {f}",
            ),
            _Step(
                "verify the proxies",
                self._verify_proxies,
                f"both control planes run; every deployment of {ns} was restarted, but not every proxy reports "
                f"{t} on {self.istiod}",
            ),
            _Step(
                f"move the default tag to revision {rev}",
                self._move_default_tag,
                f"the workloads run {t} on revision {rev}; both control planes run; the default injector and "
                f"the validating webhook may still point at the {f} control plane (revision {old})",
            ),
            _Step(
                f"remove the old control plane (revision {old})",
                self._remove_old,
                f"the workloads run {t} on revision {rev}; the old control plane (revision {old}) may be partly "
                "removed",
            ),
            _Step(
                "check the control plane",
                self._check_old_removed,
                f"the old control plane (revision {old}) was uninstalled, but istio-system does not look as expected",
            ),
        ]

    def run(self, on_phase: PhaseFn | None = None) -> list[str]:
        """Run every step (``on_phase(name)`` before each); returns the names of the steps done."""
        done: list[str] = []
        steps = self.steps()
        for number, step in enumerate(steps, 1):
            if on_phase is not None:
                on_phase(step.name)
            try:
                step.action()
            except MeshReleaseError as exc:
                raise self._failed(number, len(steps), step, exc) from exc
            done.append(step.name)
        return done

    # -- steps -------------------------------------------------------------------------------------------------

    def _precheck(self) -> None:
        self.to_istioctl.run(["x", "precheck"], timeout=120, hint="istioctl x precheck found a problem: fix it first")

    def _install(self) -> None:
        if not self.revision:
            # exactly the call that installed FROM (KindBackend), so the settings are the same
            self.to_istioctl.install(self.operator, readiness_timeout=self.install_timeout)
            return
        self.to_istioctl.run(
            [
                "install",
                "-y",
                "-f",
                str(self.operator),
                f"--readiness-timeout={int(self.install_timeout)}s",
                "--set",
                f"revision={self.revision}",
            ],
            timeout=self.install_timeout + 120,
            hint=f"see `kubectl get pods -n {ISTIO_NAMESPACE}`",
        )

    def _wait_control_plane(self) -> None:
        for name in (self.istiod, GATEWAY):
            self.kubectl.rollout_status(name, namespace=ISTIO_NAMESPACE, timeout=self.rollout_timeout)
        self._expect_control_plane(absent=())

    def _relabel_namespace(self) -> None:
        self.kubectl.run(
            [
                "label",
                "namespace",
                self.namespace,
                f"{INJECTION_LABEL}-",
                f"{REVISION_LABEL}={self.revision}",
                "--overwrite",
            ]
        )

    def _restart_data_plane(self) -> None:
        items = self.kubectl.list_items("deployments", namespace=self.namespace)
        self.deployments = [str((d.get("metadata") or {}).get("name")) for d in items]
        if not self.deployments:
            raise MeshReleaseError(f"namespace {self.namespace} has no deployments to restart")
        self.kubectl.run(["rollout", "restart", "deployment", "-n", self.namespace])
        for name in self.deployments:
            self.kubectl.rollout_status(name, namespace=self.namespace, timeout=self.rollout_timeout)

    def _verify_proxies(self) -> None:
        """Poll ``istioctl proxy-status`` until the namespace's proxies (one per deployment at least) and the
        gateway report TO (and, by revision, ``istiod-<rev>``); bounded, reporting the lines still wrong."""
        deadline = time.monotonic() + self.proxy_timeout
        last = "proxy-status not read yet"
        while True:
            try:
                problems = self._proxy_problems(self.to_istioctl.proxy_status())
            except MeshReleaseError as exc:
                problems = [f"istioctl proxy-status failed: {exc.message.splitlines()[-1]}"]
            if not problems:
                return
            last = "; ".join(problems)
            if time.monotonic() >= deadline:
                raise WaitTimeout(
                    f"every proxy of namespace {self.namespace} and the gateway to report Istio "
                    f"{self.pair.to_version}" + (f" on {self.istiod}" if self.revision else ""),
                    self.proxy_timeout,
                    last,
                    hint=f"istioctl proxy-status; kubectl get pods -n {self.namespace}",
                )
            time.sleep(self.poll_interval)

    def _proxy_problems(self, report: ProxyStatusReport) -> list[str]:
        to = self.pair.to_version
        problems: list[str] = []
        in_namespace = 0
        gateway = False
        for status in report.proxies:
            if status.namespace == self.namespace:
                in_namespace += 1
            elif status.namespace == ISTIO_NAMESPACE and status.pod.startswith(f"{GATEWAY}-"):
                gateway = True
            else:
                continue
            if status.version.split("-", 1)[0] != to:
                problems.append(f"{status.proxy} runs {status.version or 'an unknown version'}")
            elif self.revision and not status.istiod.startswith(f"{self.istiod}-"):
                problems.append(f"{status.proxy} is connected to {status.istiod or 'an unknown istiod'}")
        if in_namespace < len(self.deployments):
            problems.append(
                f"{in_namespace} proxies listed in {self.namespace} for {len(self.deployments)} deployments"
            )
        if not gateway:
            problems.append(f"no {GATEWAY} proxy listed")
        return problems

    def _move_default_tag(self) -> None:
        self.to_istioctl.set_default_tag(self.revision)

    def _remove_old(self) -> None:
        self.from_istioctl.run(["uninstall", "--revision", self.from_revision, "-y"], timeout=300)

    def _check_old_removed(self) -> None:
        self._expect_control_plane(absent=(self.old_istiod,))

    def _expect_control_plane(self, *, absent: tuple[str, ...]) -> None:
        running = self._control_plane_versions()
        to = self.pair.to_version
        wrong = [
            f"{name} runs {running.get(name) or 'nothing'}"
            for name in (self.istiod, GATEWAY)
            if running.get(name) != to
        ]
        wrong += [f"{name} is still there ({running[name]})" for name in absent if name in running]
        if wrong:
            raise MeshReleaseError(
                f"{ISTIO_NAMESPACE} does not run what Istio {to} should: {'; '.join(wrong)} "
                f"(deployments: {_describe(running)})"
            )

    # -- failure reports ---------------------------------------------------------------------------------------

    def _control_plane_versions(self) -> dict[str, str]:
        """Deployment name -> image tag of its first container, in istio-system."""
        out: dict[str, str] = {}
        for dep in self.kubectl.list_items("deployments", namespace=ISTIO_NAMESPACE):
            name = str((dep.get("metadata") or {}).get("name"))
            containers = ((((dep.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")) or []
            image = str(containers[0].get("image", "")) if containers and isinstance(containers[0], Mapping) else ""
            out[name] = image_tag(image)
        return out

    def observed_state(self) -> str:
        """What the cluster shows now (best effort: a failing cluster may not answer)."""
        parts: list[str] = []
        try:
            parts.append(f"{ISTIO_NAMESPACE} deployments: {_describe(self._control_plane_versions())}")
        except MeshReleaseError as exc:
            parts.append(f"{ISTIO_NAMESPACE} unreadable ({exc.message.splitlines()[0]})")
        try:
            ns: Any = self.kubectl.get_json("namespace", self.namespace, ignore_not_found=True)
            labels = ((ns or {}).get("metadata") or {}).get("labels") or {}
            shown = [f"{k}={labels[k]}" for k in (INJECTION_LABEL, REVISION_LABEL) if k in labels]
            parts.append(f"namespace {self.namespace} labels: {', '.join(shown) or 'no injection label'}")
        except MeshReleaseError as exc:
            parts.append(f"namespace {self.namespace} unreadable ({exc.message.splitlines()[0]})")
        return "; ".join(parts)

    def _failed(self, number: int, total: int, step: _Step, cause: MeshReleaseError) -> UpgradeFailed:
        f, t, ns = self.pair.from_version, self.pair.to_version, self.namespace
        kind = "in-place" if self.mode == "inplace" else "revision"
        observed = self.observed_state()
        message = (
            f"the {kind} upgrade of Istio {f} -> {t} failed at step {number}/{total} ({step.name}):\n"
            f"  {str(cause.message).replace(chr(10), chr(10) + '  ')}\n"
            f"what that leaves: {step.leaves}\n"
            f"what the cluster shows now: {observed}"
        )
        if self.mode == "inplace":
            hint = (
                f"inspect with `kubectl get pods -n {ISTIO_NAMESPACE}` and `istioctl proxy-status`; Istio rolls back "
                f"in place with the older istioctl: istioctl {f} install with the same -f {self.operator}, then "
                f"`kubectl rollout restart deployment -n {ns}`"
            )
        else:
            back = (
                f"{INJECTION_LABEL}=enabled"
                if self.from_revision == DEFAULT_REVISION
                else f"{REVISION_LABEL}={self.from_revision}"
            )
            hint = (
                f"inspect with `kubectl get pods -n {ISTIO_NAMESPACE}` and `istioctl proxy-status`; to roll back: "
                f"`kubectl label namespace {ns} {REVISION_LABEL}- {back} --overwrite`, "
                f"`kubectl rollout restart deployment -n {ns}`, reinstall the old gateway with istioctl {f}, then "
                f"`istioctl uninstall --revision {self.revision} -y`"
            )
        if cause.hint:
            hint = f"{cause.hint}; {hint}"
        return UpgradeFailed(message, step=step.name, cause=cause, state=step.leaves, hint=hint)


def _describe(running: Mapping[str, str]) -> str:
    return ", ".join(f"{name} {tag or '(no tag)'}" for name, tag in sorted(running.items())) or "none"
