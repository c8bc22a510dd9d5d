"""Pinned versions for the kind backend: Istio minor -> latest patch, kind node image, supported Kubernetes
range and the registry of its Bookinfo sample; the kind and kubectl releases.

The table is ``meshrelease/data/kind-pins.json``, with the source of every value. The harness reads it
here; the e2e-kind workflow builds its matrix from the same file (``.github/scripts/kind_pins.py``), so the
two cannot disagree. Node images are the kindest/node builds published with the pinned kind release,
digest-pinned, each inside its Istio minor's supported Kubernetes range.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from meshrelease.data import data_dir
from meshrelease.errors import UserInputError

PINS_FILE = "kind-pins.json"


@dataclass(frozen=True)
class IstioPin:
    """One Istio minor as the harness runs it on kind."""

    minor: str  # "1.30"
    latest: str  # latest patch known to the table, e.g. "1.30.5"
    node_image: str  # kindest/node image (digest-pinned)
    kubernetes: str  # the node image's Kubernetes version, e.g. "1.36.4"
    kubernetes_min: str  # oldest Kubernetes minor this Istio minor supports, e.g. "1.32"
    kubernetes_max: str  # newest, e.g. "1.36"
    bookinfo_registry: str  # where this release's Bookinfo sample pulls from, e.g. "registry.istio.io/release"
    gateway_api: str = ""  # the Gateway API release its istiod builds against (go.mod), e.g. "v1.5.1"
    sources: dict[str, str] = field(default_factory=dict, compare=False)

    def supports_kubernetes(self, version: str) -> bool:
        """Whether ``version`` (``1.35.8``, ``v1.35``) is inside this minor's supported Kubernetes range."""
        wanted, lo, hi = _minor_tuple(version), _minor_tuple(self.kubernetes_min), _minor_tuple(self.kubernetes_max)
        if wanted is None or lo is None or hi is None:
            return False
        return lo <= wanted <= hi

    @property
    def kubernetes_range(self) -> str:
        return f"{self.kubernetes_min}-{self.kubernetes_max}"


def load_table() -> dict[str, Any]:
    """The raw table (``kind-pins.json``)."""
    data: dict[str, Any] = json.loads((data_dir() / PINS_FILE).read_text(encoding="utf-8"))
    return data


def _pins(table: dict[str, Any]) -> dict[str, IstioPin]:
    out: dict[str, IstioPin] = {}
    for row in table["istio"]:
        image = str(row["node_image"])
        out[str(row["minor"])] = IstioPin(
            minor=str(row["minor"]),
            latest=str(row["latest"]),
            node_image=image,
            kubernetes=node_image_kubernetes(image),
            kubernetes_min=str(row["kubernetes_min"]),
            kubernetes_max=str(row["kubernetes_max"]),
            bookinfo_registry=str(row["bookinfo_registry"]),
            gateway_api=str(row.get("gateway_api", "")),
            sources={str(k): str(v) for k, v in (row.get("sources") or {}).items()},
        )
    return out


def node_image_kubernetes(image: str) -> str:
    """The Kubernetes version of a ``kindest/node:vX.Y.Z[@sha256:…]`` image; "" if the tag does not say."""
    match = re.search(r":v(\d+\.\d+\.\d+)", image)
    return match.group(1) if match else ""


_TABLE = load_table()
KIND_VERSION: str = str(_TABLE["kind"]["version"])
KUBECTL_VERSION: str = str(_TABLE["kubectl"]["version"])
ISTIO_PINS: dict[str, IstioPin] = _pins(_TABLE)
"""The last three supported Istio minors (the CI matrix runs each ``latest``)."""

DEFAULT_BOOKINFO_REGISTRY = "docker.io/istio"  # the registry of meshrelease's own bookinfo.yaml

_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+][\w.]+)?$")


def _minor_tuple(version: str) -> tuple[int, int] | None:
    match = _VERSION_RE.match(version.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def istio_minor(version: str) -> str:
    """``"1.30.4"`` -> ``"1.30"``; raises UserInputError for anything that is not an Istio version."""
    match = _VERSION_RE.match(version.strip())
    if not match:
        raise UserInputError(
            f"{version!r} is not an Istio version",
            field="--istio-version",
            hint="give a release such as 1.30.5 (see https://github.com/istio/istio/releases)",
        )
    return f"{match.group(1)}.{match.group(2)}"


def pin_for(version: str) -> IstioPin:
    """The pinned kind setup for an Istio release; unknown minors are an error that says how to proceed."""
    minor = istio_minor(version)
    pin = ISTIO_PINS.get(minor)
    if pin is None:
        known = ", ".join(sorted(ISTIO_PINS))
        raise UserInputError(
            f"Istio {version}: no kind node image is pinned for Istio {minor} (pinned minors: {known})",
            field="--istio-version",
            hint="pass --kind-node-image kindest/node:vX.Y.Z with a Kubernetes version that Istio "
            f"{minor} supports (https://istio.io/latest/docs/releases/supported-releases/), or add the minor "
            f"to meshrelease/data/{PINS_FILE}",
        )
    return pin


def bookinfo_registry_for(istio_version: str) -> str:
    """Where the Bookinfo sample of that Istio release pulls its images from (docker.io/istio when unknown)."""
    try:
        minor = istio_minor(istio_version)
    except UserInputError:
        return DEFAULT_BOOKINFO_REGISTRY
    pin = ISTIO_PINS.get(minor)
    return pin.bookinfo_registry if pin else DEFAULT_BOOKINFO_REGISTRY


def image_tag(image: str) -> str:
    """The tag of an image reference (``repo/name:tag[@digest]``), or "" when it has none."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else ""


GATEWAY_API_CRD = "gateways.gateway.networking.k8s.io"
HTTP_ROUTE_CRD = "httproutes.gateway.networking.k8s.io"


def gateway_api_install_url(version: str) -> str:
    """The standard-channel CRDs of a Gateway API release, as istio.io's Gateway API tasks install them."""
    return f"https://github.com/kubernetes-sigs/gateway-api/releases/download/{version}/standard-install.yaml"
