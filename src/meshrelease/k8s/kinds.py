"""The kinds the local backend runs: API group, accepted versions, kubectl names, scope."""

from __future__ import annotations

from dataclasses import dataclass

from meshrelease.errors import UserInputError
from meshrelease.k8s.objects import GATEWAY_API_GROUP, GATEWAY_API_VERSIONS, ISTIO_GROUP, ISTIO_VERSIONS


@dataclass(frozen=True)
class KindInfo:
    """One kind: ``group`` is "" for the core group; ``api_versions`` are the accepted apiVersion values."""

    group: str
    kind: str
    api_versions: tuple[str, ...]
    plural: str
    short_names: tuple[str, ...]
    namespaced: bool = True

    @property
    def resource(self) -> str:
        """kubectl's resource name, e.g. ``virtualservices.networking.istio.io`` or ``services``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def is_istio(self) -> bool:
        """Whether Istio's webhook validates this kind."""
        return self.group == ISTIO_GROUP

    @property
    def is_gateway_api(self) -> bool:
        """A Kubernetes Gateway API kind (``gateway.networking.k8s.io``)."""
        return self.group == GATEWAY_API_GROUP

    def names(self) -> set[str]:
        """Every name kubectl accepts for this kind (lower case)."""
        singular = self.kind.lower()
        names = {singular, self.plural, *self.short_names}
        if self.group:
            names |= {f"{singular}.{self.group}", f"{self.plural}.{self.group}"}
            for api_version in self.api_versions:
                version = api_version.split("/", 1)[1]
                names |= {f"{singular}.{version}.{self.group}", f"{self.plural}.{version}.{self.group}"}
        return names


_ISTIO_API_VERSIONS = tuple(f"{ISTIO_GROUP}/{v}" for v in ISTIO_VERSIONS)
_GATEWAY_API_VERSIONS = tuple(f"{GATEWAY_API_GROUP}/{v}" for v in GATEWAY_API_VERSIONS)

KINDS: tuple[KindInfo, ...] = (
    KindInfo("", "Namespace", ("v1",), "namespaces", ("ns",), namespaced=False),
    KindInfo("", "Service", ("v1",), "services", ("svc",)),
    KindInfo("", "ServiceAccount", ("v1",), "serviceaccounts", ("sa",)),
    KindInfo("apps", "Deployment", ("apps/v1",), "deployments", ("deploy",)),
    KindInfo(ISTIO_GROUP, "VirtualService", _ISTIO_API_VERSIONS, "virtualservices", ("vs",)),
    KindInfo(ISTIO_GROUP, "DestinationRule", _ISTIO_API_VERSIONS, "destinationrules", ("dr",)),
    KindInfo(ISTIO_GROUP, "Gateway", _ISTIO_API_VERSIONS, "gateways", ("gw",)),
    # Gateway API kinds: "gateway" alone stays Istio's Gateway; "gtw" (Istio's docs) names this one.
    KindInfo(GATEWAY_API_GROUP, "Gateway", _GATEWAY_API_VERSIONS, "gateways", ("gtw",)),
    KindInfo(GATEWAY_API_GROUP, "HTTPRoute", _GATEWAY_API_VERSIONS, "httproutes", ()),
)

_BY_KIND: dict[str, list[KindInfo]] = {}
for _info in KINDS:
    _BY_KIND.setdefault(_info.kind, []).append(_info)
_BY_NAME: dict[str, KindInfo] = {}
for _info in KINDS:
    for _name in _info.names():
        _BY_NAME.setdefault(_name, _info)  # a name two kinds share goes to the first (Istio's Gateway)

SUPPORTED_TEXT = (
    "Service, ServiceAccount, Namespace (v1), Deployment (apps/v1), VirtualService, DestinationRule, "
    "Gateway (networking.istio.io v1, v1beta1, v1alpha3) and Gateway, HTTPRoute "
    "(gateway.networking.k8s.io v1, v1beta1)"
)


def api_group(api_version: str) -> str:
    """The group of an apiVersion: ``networking.istio.io/v1`` -> ``networking.istio.io``, ``v1`` -> ``""``."""
    return api_version.rpartition("/")[0]


def kind_info(kind: str, api_version: str | None = None) -> KindInfo | None:
    """The kind by its exact ``kind:`` value (``VirtualService``), or None if the local backend lacks it.

    Two groups have a ``Gateway``: ``api_version`` picks one by its group (an unknown group gets the first,
    so the error lists the versions that kind is served at); without it Istio's Gateway is meant."""
    infos = _BY_KIND.get(kind)
    if not infos:
        return None
    if api_version is not None:
        group = api_group(api_version)
        for info in infos:
            if info.group == group:
                return info
    return infos[0]


def kind_for_key(group: str, kind: str) -> KindInfo | None:
    """The kind of a stored object's key (group and kind)."""
    return next((i for i in _BY_KIND.get(kind, []) if i.group == group), None)


def kind_by_name(name: str) -> KindInfo | None:
    """The kind by any name kubectl accepts (``vs``, ``virtualservices.networking.istio.io``, ``svc``...)."""
    return _BY_NAME.get(name.strip().lower())


def require_kind(name: str, *, hint: str) -> KindInfo:
    """The kind by any name kubectl accepts; an unknown name is kubectl's error, with ``hint``."""
    info = kind_by_name(name)
    if info is None:
        raise UserInputError(f'the server doesn\'t have a resource type "{name}"', hint=hint)
    return info


def unsupported_kind_message(kind: str, api_version: str) -> str:
    """The error for a kind the local backend does not run."""
    return (
        f'the local backend does not run kind "{kind}" (apiVersion "{api_version}"): it runs '
        f"{SUPPORTED_TEXT}; the kind and cluster backends apply every kind to a real cluster"
    )


def unknown_version_message(info: KindInfo, api_version: str) -> str:
    """The error for a known kind under an apiVersion it is not served at (kubectl's wording first)."""
    accepted = ", ".join(info.api_versions)
    return f'no matches for kind "{info.kind}" in version "{api_version}" (use one of: {accepted})'
