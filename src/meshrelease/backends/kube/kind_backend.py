"""``KindBackend``: a kind cluster with Istio installed by istioctl at a pinned version, and Bookinfo.

Session start, in order (each step bounded; every command an argument list):

1. find docker, kind, kubectl and istioctl (one error listing everything missing, before anything runs);
   check istioctl's own version against ``--istio-version``;
2. adopt the running kind cluster of that name, or create it through pytest-kubernetes with the session's
   kind config (extraPortMappings to the ingress gateway's fixed NodePort; node image pinned per Istio minor);
   on a cluster it created, with ``--kind-image-pull host``, pull the Istio and Bookinfo images on the host
   and ``kind load`` them (see images.py: the node's own pulls are anonymous);
3. install Istio with ``istioctl install -f istio-install.yaml`` unless the cluster already runs that version;
   wait for istiod and the gateway; check the gateway Service publishes the NodePort kind maps;
4. label the namespace for injection, apply Bookinfo and its Gateway, wait for the rollouts (restarting any
   deployment whose pods predate the label), then warm up through the gateway at the mapped host port until
   reviews v1, v2 and v3 have all answered.

``close()`` deletes the cluster if this session created it, or began to (unless ``--keep-cluster``), also
after a start that failed or was interrupted; on a cluster it did not create (or keeps) it removes the objects
the run applied and restores what they replaced. It never deletes what it did not create.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from meshrelease.backends.base import BackendInfo
from meshrelease.backends.kube.images import HostImages
from meshrelease.backends.kube.istioctl import Istioctl
from meshrelease.backends.kube.kind import KindCluster
from meshrelease.backends.kube.kubectl import Kubectl
from meshrelease.backends.kube.manifests import deployment_images
from meshrelease.backends.kube.runner import CommandRunner
from meshrelease.backends.kube.session import MeshSession
from meshrelease.backends.kube.session_backend import SessionBackend
from meshrelease.backends.kube.tools import (
    KIND_TOOLS,
    Tools,
    check_istioctl_version,
    istioctl_client_version,
    locate_tools,
)
from meshrelease.backends.kube.versions import (
    GATEWAY_API_CRD,
    HTTP_ROUTE_CRD,
    ISTIO_PINS,
    bookinfo_registry_for,
    gateway_api_install_url,
    image_tag,
    istio_minor,
    node_image_kubernetes,
    pin_for,
)
from meshrelease.backends.kube.warmup import ClientFactory
from meshrelease.backends.settings import KindSettings
from meshrelease.data import data_dir
from meshrelease.errors import MeshReleaseError, UserInputError

log = logging.getLogger("meshrelease.backends.kube")

ISTIO_NAMESPACE = "istio-system"
GATEWAY_SERVICE = "istio-ingressgateway"


class KindBackend(SessionBackend):
    """The ``kind`` backend (see the module docstring)."""

    name = "kind"

    def __init__(
        self,
        settings: KindSettings | None = None,
        *,
        client_factory: ClientFactory | None = None,
        runner: CommandRunner | None = None,
    ) -> None:
        self.settings = settings or KindSettings()
        self.collect_logs_dir = self.settings.collect_logs
        self.runner = runner or CommandRunner()
        self._client_factory = client_factory
        self.cluster: KindCluster | None = None
        self.session: MeshSession | None = None
        self.tools: Tools | None = None
        self.istio_version = ""
        self.node_image = ""
        self.preloaded: list[str] = []  # images loaded into the node from the host
        self.warmup_counts: dict[str, int] = {}
        self.gateway_api_note = ""  # what start() did about the Gateway API CRDs
        self.close_message = ""
        self._ingress_url = ""
        self._started = False
        self._own_dir: Path | None = None  # the session directory, when this backend made it
        self._info: BackendInfo | None = None

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> None:
        """Bring up kind, Istio and Bookinfo (idempotent). Call :meth:`close` even if this raises."""
        if self._started:
            return
        s = self.settings
        tools = locate_tools(KIND_TOOLS, istioctl=s.istioctl, istio_home=s.istio_home, purpose="the kind backend")
        self.tools = tools
        version = istioctl_client_version(self.runner, tools.istioctl)
        check_istioctl_version(tools.istioctl, version, s.istio_version)
        self.istio_version = version
        pin = pin_for(version) if not s.node_image else None
        self.node_image = s.node_image or (pin.node_image if pin else "")
        data = s.data_dir or data_dir()
        operator = s.istio_operator or data / "istio-install.yaml"
        node_port = gateway_node_port(operator)
        session_dir = s.workdir or Path(tempfile.mkdtemp(prefix="meshrelease-kind-"))
        self._own_dir = None if s.workdir else session_dir
        cluster = KindCluster(
            self.runner,
            tools.kind,
            tools.kubectl,
            name=s.cluster_name,
            node_image=self.node_image,
            kubernetes_version=node_image_kubernetes(self.node_image) or (pin.kubernetes if pin else ""),
            config_template=s.kind_config or data / "kind.yaml",
            workdir=session_dir / "kind",
            keep=s.keep_cluster,
            create_timeout=s.create_timeout,
            ready_timeout=s.ready_timeout,
            poll_interval=s.poll_interval,
        )
        if s.ingress_url:
            self._ingress_url = s.ingress_url.rstrip("/")
        else:
            host, port = cluster.published_port(node_port)
            self._ingress_url = f"http://{host}:{port}"
        self.cluster = cluster
        cluster.up()
        kubectl = cluster.kubectl
        istioctl = Istioctl(self.runner, tools.istioctl, kubectl)
        registry = s.bookinfo_registry or bookinfo_registry_for(version)
        docs = MeshSession.bookinfo_manifests(data, s.bookinfo_tag, registry)
        if cluster.created and s.image_pull == "host":
            images = istioctl.manifest_images(operator)
            images += [i for d in docs if d.get("kind") == "Deployment" for i in deployment_images(d)]
            self._preload(cluster, tools, list(dict.fromkeys(images)), session_dir / "images")
        session = MeshSession(
            self.runner,
            workload=kubectl,
            mesh=kubectl,
            istioctl=istioctl,
            namespace=s.namespace,
            poll_interval=s.poll_interval,
            client_factory=self._client_factory,
            workdir=session_dir / "session",
        )
        self.session = session
        self._ensure_istio(istioctl, operator, node_port, check_node_port=not s.ingress_url)
        self._ensure_gateway_api(kubectl)
        if s.namespace != "default":
            session.apply_infrastructure(
                [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": s.namespace}}], "namespace"
            )
        session.label_namespace_for_injection()
        session.apply_infrastructure(docs, "bookinfo")
        deployments = [str(d["metadata"]["name"]) for d in docs if d.get("kind") == "Deployment"]
        session.roll_out(deployments, timeout=s.rollout_timeout)
        self.warmup_counts = session.warm_up(self._ingress_url, versions=("v1", "v2", "v3"), timeout=s.warmup_timeout)
        self._started = True

    def close(self) -> None:
        """Tear down what this session created, nothing else (see the module docstring)."""
        self.stop_port_forwards()
        cluster, session = self.cluster, self.session
        try:
            if session is not None and cluster is not None and (not cluster.created or cluster.keep):
                session.reset(routing_only=False)
        finally:
            if cluster is not None:
                self.close_message = cluster.down()
                log.info(self.close_message)
                shutil.rmtree(cluster.workdir, ignore_errors=True)  # the kubeconfig: credentials
            if session is not None:
                session.remove_workdir()
            if self._own_dir is not None:
                shutil.rmtree(self._own_dir, ignore_errors=True)
            self.session = None
            self._started = False

    # -- Backend protocol -----------------------------------------------------------------------------------

    def describe(self) -> BackendInfo:
        if self._info is None:
            session, cluster = self._session(), self.cluster
            assert cluster is not None
            self._info = BackendInfo(
                backend="kind",
                mesh=f"istio {self.istio_version}",
                kubernetes=session.workload.server_version(),
                bookinfo=session.bookinfo_tag() or self.settings.bookinfo_tag,
                extra={
                    "kind_cluster": cluster.name,
                    "kind_node_image": self.node_image,
                    "cluster": "created by this session" if cluster.created else "reused",
                    "istioctl": self.tools.istioctl if self.tools else "",
                },
            )
        return self._info

    def collect_logs(self, dest_dir: Path) -> Path | None:
        """``kind export logs`` into ``dest_dir``; None when no cluster was brought up."""
        if self.cluster is None or not self.cluster.up_done:
            return None
        return self.cluster.export_logs(dest_dir)

    # -- helpers ------------------------------------------------------------------------------------------

    def load_images(self, images: list[str]) -> None:
        """Pull ``images`` on the host and load them into the started cluster's node (e.g. the images of the
        Istio release an upgrade installs next); nothing with ``--kind-image-pull node``."""
        cluster, tools = self.cluster, self.tools
        if cluster is None or tools is None or not cluster.up_done:
            raise MeshReleaseError("the kind backend is not started", hint="call start() first")
        if self.settings.image_pull == "host":
            workdir = Path(tempfile.mkdtemp(prefix="meshrelease-images-", dir=self._own_dir or None))
            self._preload(cluster, tools, images, workdir)

    def _preload(self, cluster: KindCluster, tools: Tools, images: list[str], workdir: Path) -> None:
        """Pull ``images`` with the host's docker and load them into the node (see images.py)."""
        host = HostImages(self.runner, tools.docker, pull_timeout=self.settings.pull_timeout)
        try:
            platform = host.platform()
            host.pull(images, platform)
            archive = host.save(images, workdir / "images.tar", platform)
            cluster.load_image_archive(archive, timeout=self.settings.load_timeout)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)  # the archive: gigabytes
        self.preloaded += images

    def _ensure_gateway_api(self, kubectl: Kubectl) -> None:
        """Install the Gateway API CRDs (standard channel) at the release this Istio builds against, as istio.io's
        Gateway API tasks do, unless the cluster has them; wait until they are Established (bounded)."""
        crd = kubectl.get_json("crd", GATEWAY_API_CRD, ignore_not_found=True)
        if crd:
            annotations = (crd.get("metadata") or {}).get("annotations") or {}
            bundle = annotations.get("gateway.networking.k8s.io/bundle-version", "an unknown version")
            self.gateway_api_note = f"the cluster already had the Gateway API CRDs ({bundle}); left as they are"
            log.info(self.gateway_api_note)
            return
        pin = ISTIO_PINS.get(istio_minor(self.istio_version))
        if pin is None or not pin.gateway_api:
            self.gateway_api_note = (
                f"no Gateway API release is pinned for Istio {self.istio_version}: its CRDs were not installed, "
                "so scenarios with Gateway or HTTPRoute objects fail to apply"
            )
            log.warning(self.gateway_api_note)
            return
        url = gateway_api_install_url(pin.gateway_api)
        kubectl.run(
            ["apply", "--server-side", "-f", url],
            timeout=self.settings.install_timeout,
            hint=f"the Gateway API {pin.gateway_api} CRDs come from {url}: check that the cluster's host can fetch it",
        )
        kubectl.run(
            [
                "wait",
                "--for=condition=Established",
                f"--timeout={int(self.settings.install_timeout)}s",
                f"crd/{GATEWAY_API_CRD}",
                f"crd/{HTTP_ROUTE_CRD}",
            ],
            timeout=self.settings.install_timeout + 10,
        )
        self.gateway_api_note = f"installed the Gateway API {pin.gateway_api} CRDs (standard channel)"
        log.info(self.gateway_api_note)

    def _ensure_istio(self, istioctl: Istioctl, operator: Path, node_port: int, *, check_node_port: bool) -> None:
        kubectl = istioctl.cluster
        revision = self.settings.istio_revision
        control_plane = f"istiod-{revision}" if revision else "istiod"
        istiod = kubectl.get_json("deployment", control_plane, namespace=ISTIO_NAMESPACE, ignore_not_found=True)
        if istiod:
            images = deployment_images(istiod)
            running = image_tag(images[0]).split("-", 1)[0] if images else ""
            if running and running != self.istio_version:
                assert self.cluster is not None
                name = self.cluster.name
                raise UserInputError(
                    f"kind cluster {name} already runs Istio {running}, this session uses istioctl "
                    f"{self.istio_version}",
                    field="--istio-version",
                    hint=f"use another --kind-cluster-name, remove the cluster (kind delete cluster --name "
                    f"{name}), or run with --istio-version {running} and that istioctl",
                )
        elif revision:
            assert self.cluster is not None
            raise UserInputError(
                f"kind cluster {self.cluster.name} has no Istio control plane of revision {revision} "
                f"(no deployment {ISTIO_NAMESPACE}/{control_plane})",
                field="--istio-revision",
                hint="--istio-revision reuses a cluster a revision upgrade left running and never installs; see "
                f"`kubectl get deployments -n {ISTIO_NAMESPACE} -l app=istiod`, or drop the option",
            )
        else:
            istioctl.install(operator, readiness_timeout=self.settings.install_timeout)
        for name in (control_plane, GATEWAY_SERVICE):
            kubectl.rollout_status(name, namespace=ISTIO_NAMESPACE, timeout=self.settings.rollout_timeout)
        if check_node_port:
            service = kubectl.get_json("service", GATEWAY_SERVICE, namespace=ISTIO_NAMESPACE)
            ports = {int(p.get("nodePort", 0)) for p in (service.get("spec") or {}).get("ports") or []}
            if (service.get("spec") or {}).get("type") != "NodePort" or node_port not in ports:
                raise MeshReleaseError(
                    f"the {GATEWAY_SERVICE} Service is not a NodePort on {node_port}, so the port kind "
                    "publishes does not reach it",
                    hint="this cluster's Istio was installed differently: use another --kind-cluster-name, "
                    f"or pass --ingress-url; see {operator}",
                )


def gateway_node_port(operator: Path) -> int:
    """The http2 nodePort of the ingress gateway in an IstioOperator file."""
    try:
        spec = (yaml.safe_load(operator.read_text(encoding="utf-8")) or {}).get("spec") or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UserInputError(f"cannot read the IstioOperator file: {exc}", path=str(operator)) from None
    for gateway in (spec.get("components") or {}).get("ingressGateways") or []:
        service: dict[str, Any] = (gateway.get("k8s") or {}).get("service") or {}
        for port in service.get("ports") or []:
            if port.get("name") == "http2" and port.get("nodePort"):
                return int(port["nodePort"])
    raise UserInputError(
        "no ingress gateway port named http2 with a fixed nodePort",
        path=str(operator),
        field="spec.components.ingressGateways[].k8s.service.ports",
    )
