"""Identity of Kubernetes objects, and the API groups and domain the harness knows."""

from __future__ import annotations

from dataclasses import dataclass

ISTIO_GROUP = "networking.istio.io"
ISTIO_VERSIONS = ("v1", "v1beta1", "v1alpha3")
GATEWAY_API_GROUP = "gateway.networking.k8s.io"
GATEWAY_API_VERSIONS = ("v1", "v1beta1")  # Gateway and HTTPRoute are served at both (standard channel)
CLUSTER_DOMAIN = "svc.cluster.local"


@dataclass(frozen=True, order=True)
class ObjectKey:
    """Identity of an object: API group (not version: v1/v1beta1/v1alpha3 are one object), kind, namespace, name.

    ``group`` is "" for the core group (Service, Namespace, ServiceAccount). Namespace is "" for
    cluster-scoped kinds (Namespace)."""

    group: str
    kind: str
    namespace: str
    name: str

    def display(self) -> str:
        """kubectl-style name, e.g. ``virtualservice.networking.istio.io/reviews`` or ``service/reviews``."""
        kind = self.kind.lower()
        return f"{kind}.{self.group}/{self.name}" if self.group else f"{kind}/{self.name}"

    def ref(self) -> str:
        """``Kind namespace/name`` as used in error messages."""
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


FieldPath = tuple[str | int, ...]
"""A field's path in an object: ``("spec", "http", 0, "route")``."""


def format_path(path: FieldPath) -> str:
    """Kubernetes field path: ``("spec", "http", 0, "rout")`` -> ``spec.http[0].rout``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out
