"""Istio's host-name rules, written once for every backend: short names to FQDNs, wildcard matching,
Gateway server hosts, gateway references and ``exportTo`` visibility.

Each function reproduces one piece of istio/istio 1.30.3, named in its docstring; docs/istio-semantics.md
describes the rules as the local mesh applies them. Names are compared as written (Go's string
comparison): callers lowercase where istiod does.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Sequence

__all__ = [
    "DEFAULT_DOMAIN",
    "MESH_GATEWAY",
    "analyzer_fqdn",
    "exported_to",
    "fqdn",
    "intersect_hosts",
    "is_ip",
    "is_wildcard",
    "matches",
    "more_specific",
    "most_specific",
    "resolve_gateway_ref",
    "resolve_gateway_refs",
    "server_hosts_for_namespace",
    "subset_of",
]

MESH_GATEWAY = "mesh"
"""The reserved gateway name of every sidecar; a VirtualService without ``gateways`` binds to it alone."""
DEFAULT_DOMAIN = "cluster.local"
"""The Kubernetes cluster domain: services are ``<name>.<namespace>.svc.<domain>``."""


# ------------------------------------------------------------------------------------------ names
@functools.lru_cache(maxsize=4096)
def is_ip(text: str) -> bool:
    """Whether the text is an IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def fqdn(host: str, namespace: str, domain: str = DEFAULT_DOMAIN) -> str:
    """istiod's short-name rule (pilot/pkg/model/config.go ResolveShortnameToFQDN).

    A name without a dot becomes ``<name>.<namespace>.svc.<domain>``; ``*``, IP addresses, the empty name
    and every name with a dot (``reviews.default``, ``*.example.com``) are kept as written."""
    if not host or host == "*" or "." in host or is_ip(host):
        return host
    return f"{host}.{namespace}.svc.{domain}"


def analyzer_fqdn(host: str, namespace: str, domain: str = DEFAULT_DOMAIN) -> str:
    """``istioctl analyze``'s own short-name rule (pkg/config/analysis/analyzers/util/hosts.go
    ConvertHostToFQDN), which its messages print: like :func:`fqdn`, except that every name starting with
    ``*`` is kept and IP addresses and the empty name are expanded."""
    if host.startswith("*") or "." in host:
        return host
    return f"{host}.{namespace}.svc.{domain}"


def is_wildcard(host: str) -> bool:
    """pkg/config/host/name.go IsWildCarded: the name starts with ``*``."""
    return host.startswith("*")


def matches(a: str, b: str) -> bool:
    """pkg/config/host/name.go Matches: the names overlap (equal, or one wildcard covers the other)."""
    if is_wildcard(a):
        if is_wildcard(b):
            return b[1:].endswith(a[1:]) if len(a) < len(b) else a[1:].endswith(b[1:])
        return b.endswith(a[1:])
    if is_wildcard(b):
        return a.endswith(b[1:])
    return a == b


def subset_of(name: str, pattern: str) -> bool:
    """pkg/config/host/name.go SubsetOf: ``name`` is covered by ``pattern`` (Matches in one direction)."""
    if is_wildcard(name):
        return is_wildcard(pattern) and len(name) >= len(pattern) and name[1:].endswith(pattern[1:])
    if is_wildcard(pattern):
        return name.endswith(pattern[1:])
    return name == pattern


def more_specific(a: str, b: str) -> bool:
    """pkg/config/host/names.go MoreSpecific: non-wildcards first, then longer names, then alphabetical."""
    if not a and not b:
        return True
    if is_wildcard(a) != is_wildcard(b):
        return not is_wildcard(a)
    if len(a) == len(b):
        return a < b
    return len(a) > len(b)


def most_specific(host: str, patterns: Iterable[str]) -> str | None:
    """pilot/pkg/model/config.go MostSpecificHostMatch: ``host`` itself when listed, else the most specific
    wildcard covering it; None when nothing covers it."""
    candidates = list(dict.fromkeys(patterns))
    if host in candidates:
        return host
    needle = host[1:] if is_wildcard(host) else host
    best: str | None = None
    for pattern in candidates:
        if is_wildcard(pattern) and needle.endswith(pattern[1:]) and (best is None or more_specific(pattern, best)):
            best = pattern
    return best


# ------------------------------------------------------------------------------------------ gateways
def resolve_gateway_ref(ref: str, namespace: str) -> str:
    """A VirtualService ``gateways`` entry as ``<ns>/<name>`` (pilot/pkg/model/config.go resolveGatewayName).

    ``mesh`` stays ``mesh``; ``name`` and ``./name`` mean the VirtualService's namespace; ``ns/name`` is
    kept; the legacy ``name.ns.svc.cluster.local`` (or ``name.ns``) form becomes ``ns/name``."""
    if ref == MESH_GATEWAY:
        return ref
    if "/" in ref:
        ns, _, name = ref.partition("/")
        return f"{namespace}/{name}" if ns == "." else ref
    if "." not in ref:
        return f"{namespace}/{ref}"
    name, _, rest = ref.partition(".")
    return f"{rest.split('.', 1)[0]}/{name}"


def resolve_gateway_refs(refs: Iterable[object], namespace: str) -> list[str]:
    """Every ``gateways`` entry resolved; an empty list means the sidecars only (``mesh``)."""
    out = [resolve_gateway_ref(r, namespace) for r in refs if isinstance(r, str) and r]
    return out or [MESH_GATEWAY]


def server_hosts_for_namespace(hosts: Iterable[object], gateway_namespace: str, vs_namespace: str) -> list[str]:
    """Gateway server ``hosts`` a VirtualService in ``vs_namespace`` may bind to (pilot/pkg/model/gateway.go
    sanitizeServerHostNamespace, then pkg/config/host/names.go NamesForNamespace).

    ``ns/host`` applies to that namespace only (``.`` is the Gateway's own, ``*`` any); a bare ``host``
    means ``*/host``."""
    out: list[str] = []
    for entry in hosts:
        if not isinstance(entry, str) or not entry:
            continue
        ns, sep, host = entry.partition("/")
        if not sep:
            out.append(entry)
            continue
        if ns == ".":
            ns = gateway_namespace
        if ns in ("*", vs_namespace):
            out.append(host)
    return out


def intersect_hosts(server_hosts: Sequence[str], vs_hosts: Sequence[str]) -> list[str]:
    """The gateway virtual hosts of one VirtualService on one server: for each overlapping pair the more
    specific name (pkg/config/host/names.go Intersection), lowercased and deduplicated as
    pilot/pkg/networking/core/gateway.go names the virtual hosts.

    Names are compared lowercased: ``Bookinfo.Example.com`` meets ``*.example.com`` here, where istiod's
    case-sensitive SubsetOf would leave the pair out (the local mesh keeps DNS's case-insensitivity).

    ``intersect_hosts(["*.example.com"], ["a.example.com", "*"]) == ["a.example.com", "*.example.com"]``"""
    out: list[str] = []
    for server_host in (h.lower() for h in server_hosts):
        for vs_host in (h.lower() for h in vs_hosts):
            if subset_of(server_host, vs_host):
                picked = server_host
            elif subset_of(vs_host, server_host):
                picked = vs_host
            else:
                continue
            if picked not in out:
                out.append(picked)
    return out


# ------------------------------------------------------------------------------------------ visibility
def exported_to(export_to: Sequence[str], own_namespace: str, client_namespace: str) -> bool:
    """Whether an object with this ``exportTo`` is visible to clients in ``client_namespace``
    (pilot/pkg/model/push_context.go initVirtualServices / initDestinationRules).

    Empty or ``*``: everywhere; ``~`` (without ``*``): nowhere, whatever else is listed; ``.`` the own
    namespace; other entries name namespaces."""
    if not export_to or "*" in export_to:
        return True
    if "~" in export_to:
        return False
    return client_namespace in export_to or ("." in export_to and own_namespace == client_namespace)
