"""Pinned versions for the kind backend: Istio minor -> kind node image, the kind release, Bookinfo's tag.

This is the one table the harness, the Makefile and the CI matrix follow (docs/real-clusters.md, "Pinned
versions"). Node images
are the kindest/node builds published with kind v0.31.0, digest-pinned, each inside its Istio minor's
supported Kubernetes range (1.28: 1.30-1.34; 1.29: 1.30-1.35; 1.30: 1.32-1.36).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from meshrelease.errors import UserInputError

KIND_VERSION = "v0.31.0"

_NODE_1_34 = "kindest/node:v1.34.3@sha256:08497ee19eace7b4b5348db5c6a1591d7752b164530a36f855cb0f2bdcbadd48"
_NODE_1_35 = "kindest/node:v1.35.0@sha256:452d707d4862f52530247495d180205e029056831160e22870e37e3f6c1ac31f"


@dataclass(frozen=True)
class IstioPin:
    """One Istio minor as the harness runs it on kind."""

    minor: str  # "1.30"
    latest: str  # latest patch known to the table, e.g. "1.30.4"
    node_image: str  # kindest/node image (digest-pinned)
    kubernetes: str  # the node image's Kubernetes version, e.g. "1.35.0"


ISTIO_PINS: dict[str, IstioPin] = {
    "1.28": IstioPin("1.28", "1.28.10", _NODE_1_34, "1.34.3"),
    "1.29": IstioPin("1.29", "1.29.6", _NODE_1_35, "1.35.0"),
    "1.30": IstioPin("1.30", "1.30.4", _NODE_1_35, "1.35.0"),
}
"""The last three Istio minors (the CI matrix runs each ``latest``)."""

_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+][\w.]+)?$")


def istio_minor(version: str) -> str:
    """``"1.30.4"`` -> ``"1.30"``; raises UserInputError for anything that is not an Istio version."""
    match = _VERSION_RE.match(version.strip())
    if not match:
        raise UserInputError(
            f"{version!r} is not an Istio version",
            field="--istio-version",
            hint="give a release such as 1.30.4 (see https://github.com/istio/istio/releases)",
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
            f"{minor} supports, or add the minor to meshrelease.backends.kube.versions.ISTIO_PINS",
        )
    return pin


def node_image_kubernetes(image: str) -> str:
    """The Kubernetes version of a ``kindest/node:vX.Y.Z[@sha256:…]`` image; "" if the tag does not say."""
    match = re.search(r":v(\d+\.\d+\.\d+)", image)
    return match.group(1) if match else ""


def image_tag(image: str) -> str:
    """The tag of an image reference (``repo/name:tag[@digest]``), or "" when it has none."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else ""
