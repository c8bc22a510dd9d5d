"""Host names as istiod treats them: short-name expansion, wildcards, gateway references, visibility.

Semantics from reference/istio-routing.md §1.1 and istio-to-envoy.md §1.2 and §5.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Sequence

MESH_GATEWAY = "mesh"


def resolve_host(name: str, namespace: str, cluster_domain: str) -> str:
    """Expand a short host name (no dot) to ``<name>.<namespace>.svc.<cluster_domain>``.

    A name with a dot (``reviews.default``), ``*`` and IP addresses are taken literally."""
    if not name or name == "*" or "." in name or _is_ip(name):
        return name
    return f"{name}.{namespace}.svc.{cluster_domain}"


@functools.lru_cache(maxsize=4096)
def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def resolve_gateway_ref(ref: str, namespace: str) -> str:
    """A VirtualService ``gateways`` entry as ``<ns>/<name>`` (``mesh`` stays ``mesh``).

    ``name`` and ``./name`` mean the VirtualService's namespace; ``ns/name`` is kept; the legacy
    ``name.ns.svc.cluster.local`` form becomes ``ns/name``."""
    if ref == MESH_GATEWAY:
        return ref
    if "/" in ref:
        ns, _, name = ref.partition("/")
        return f"{namespace}/{name}" if ns == "." else ref
    if "." not in ref:
        return f"{namespace}/{ref}"
    name, _, rest = ref.partition(".")
    return f"{rest.split('.', 1)[0]}/{name}"


def resolve_gateway_refs(refs: Iterable[str], namespace: str) -> list[str]:
    """Resolve every entry; an empty list means the sidecars only (``mesh``)."""
    out = [resolve_gateway_ref(r, namespace) for r in refs if isinstance(r, str) and r]
    return out or [MESH_GATEWAY]


def host_matches(name: str, pattern: str) -> bool:
    """True when ``name`` is covered by ``pattern`` (``*``, ``*.suffix`` or an exact name; case-insensitive).

    A wildcard ``name`` is covered by a wildcard ``pattern`` with a shorter or equal suffix."""
    name, pattern = name.lower(), pattern.lower()
    if pattern == "*":
        return True
    if not pattern.startswith("*"):
        return name == pattern
    if name == "*":
        return False
    suffix = pattern[1:]  # ".example.com"
    if name.startswith("*"):
        return name[1:].endswith(suffix)
    return name.endswith(suffix)


def intersect_hosts(server_hosts: Sequence[str], vs_hosts: Sequence[str]) -> list[str]:
    """Gateway server hosts x VirtualService hosts: for each pair the more specific name, deduplicated."""
    out: list[str] = []
    for vs_host in vs_hosts:
        for server_host in server_hosts:
            if host_matches(vs_host, server_host):
                picked = vs_host
            elif host_matches(server_host, vs_host):
                picked = server_host
            else:
                continue
            if picked.lower() not in (h.lower() for h in out):
                out.append(picked)
    return out


def server_hosts_for_namespace(hosts: Iterable[str], gateway_namespace: str, vs_namespace: str) -> list[str]:
    """Gateway server ``hosts`` usable by a VirtualService in ``vs_namespace``.

    ``ns/host`` entries apply to that namespace only (``.`` is the Gateway's own, ``*`` any); a bare
    ``host`` means ``*/host``."""
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


def exported_to(export_to: Sequence[str], own_namespace: str, client_namespace: str) -> bool:
    """Istio ``exportTo``: empty or ``*`` means everywhere, ``.`` the own namespace, ``~`` nowhere,
    other entries name namespaces."""
    if not export_to:
        return True
    for entry in export_to:
        if entry == "*":
            return True
        if entry == "." and own_namespace == client_namespace:
            return True
        if entry == client_namespace:
            return True
    return False


def service_domains(name: str, namespace: str, fqdn: str, client_namespace: str) -> list[str]:
    """Virtual host domains istiod generates for a Kubernetes service (no VIP exists locally).

    Same namespace: FQDN, FQDN., name, name.ns.svc, name.ns. Other namespace: FQDN, FQDN., name.ns,
    name.ns.svc (istio-to-envoy.md §1.2)."""
    if client_namespace == namespace:
        return [fqdn, f"{fqdn}.", name, f"{name}.{namespace}.svc", f"{name}.{namespace}"]
    return [fqdn, f"{fqdn}.", f"{name}.{namespace}", f"{name}.{namespace}.svc"]
