"""Host names on the local mesh: Istio's host rules (written once in :mod:`meshrelease.k8s.hosts`, and
re-exported here under the names the translator's tests use) and what only the translator needs: a
case-insensitive SubsetOf and the virtual host domains of a service.
"""

from __future__ import annotations

from meshrelease.k8s.hosts import (
    MESH_GATEWAY,
    exported_to,
    intersect_hosts,
    resolve_gateway_ref,
    resolve_gateway_refs,
    server_hosts_for_namespace,
    subset_of,
)
from meshrelease.k8s.hosts import fqdn as resolve_host

__all__ = [
    "MESH_GATEWAY",
    "exported_to",
    "host_matches",
    "intersect_hosts",
    "resolve_gateway_ref",
    "resolve_gateway_refs",
    "resolve_host",
    "server_hosts_for_namespace",
    "service_domains",
]


def host_matches(name: str, pattern: str) -> bool:
    """SubsetOf (``name`` covered by ``pattern``) on lowercased names: DNS names are case-insensitive and
    Kubernetes service names lowercase, so a DestinationRule host differing only in case still applies."""
    return subset_of(name.lower(), pattern.lower())


def service_domains(name: str, namespace: str, fqdn: str, client_namespace: str) -> list[str]:
    """Virtual host domains istiod generates for a Kubernetes service (no VIP exists locally;
    istio/istio 1.30.3 pilot/pkg/networking/core/httproute.go generateVirtualHostDomains).

    Same namespace: FQDN, FQDN., name, name.ns.svc, name.ns. Other namespace: FQDN, FQDN., name.ns,
    name.ns.svc."""
    if client_namespace == namespace:
        return [fqdn, f"{fqdn}.", name, f"{name}.{namespace}.svc", f"{name}.{namespace}"]
    return [fqdn, f"{fqdn}.", f"{name}.{namespace}", f"{name}.{namespace}.svc"]
