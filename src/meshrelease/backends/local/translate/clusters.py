"""Outbound clusters, named and shaped as istiod names and shapes them (istio/istio 1.30.3
pilot/pkg/networking/core/cluster_builder.go; docs/istio-semantics.md).

There is no EDS server in the local mesh, so every cluster is ``type: STATIC`` with an inline
``load_assignment``: the service's endpoints (pods selected by the service, on 127.0.0.1 at the loopback
port serving the target port), filtered by the subset's labels for a subset cluster. A subset that selects
no pod still exists with zero endpoints, so Envoy answers 503 UH as on a cluster. Everything else is
istiod's: ``connect_timeout: 10s``, ``lb_policy`` from the DestinationRule (LEAST_REQUEST by default), the
default circuit breaker thresholds and ``common_lb_config: {}``.

``PassthroughCluster`` is ORIGINAL_DST in Istio; locally there is no original destination, so it is a
STATIC cluster without endpoints: a request for a host the mesh does not know answers 503 UH locally
(Istio would forward it to the IP the client dialled).
"""

from __future__ import annotations

from meshrelease.backends.local.model import ProxySpec
from meshrelease.backends.local.translate.policy import PolicyResolver, cluster_lb_fields
from meshrelease.backends.local.translate.registry import AUTO, Endpoint, MeshIndex, ServiceInfo, ServicePort
from meshrelease.backends.local.translate.sidecar import PASSTHROUGH_CLUSTER
from meshrelease.backends.local.translate.values import JsonDict, as_str, labels_match, string_map
from meshrelease.k8s.istio_routes import cluster_name

CLUSTER_TYPE = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
CONNECT_TIMEOUT = "10s"
MAX_THRESHOLD = 4294967295
_HTTP_OPTIONS_KEY = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
_HTTP_OPTIONS_TYPE = "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
_H2_PROTOCOLS = frozenset({"HTTP2", "GRPC", "GRPC-Web"})


def default_circuit_breakers() -> JsonDict:
    """istiod's thresholds when no DestinationRule sets a connection pool (no track_remaining since 1.29)."""
    return {
        "thresholds": [
            {
                "max_connections": MAX_THRESHOLD,
                "max_pending_requests": MAX_THRESHOLD,
                "max_requests": MAX_THRESHOLD,
                "max_retries": MAX_THRESHOLD,
            }
        ]
    }


def static_cluster(name: str, endpoints: list[Endpoint], lb_fields: JsonDict) -> JsonDict:
    """A STATIC cluster with istiod's defaults and an inline load assignment on 127.0.0.1."""
    cluster: JsonDict = {
        "@type": CLUSTER_TYPE,
        "name": name,
        "type": "STATIC",
        "connect_timeout": CONNECT_TIMEOUT,
        **lb_fields,
        "circuit_breakers": default_circuit_breakers(),
        "common_lb_config": {},
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": e.port}}}}
                        for e in endpoints
                    ]
                }
            ]
            if endpoints
            else [],
        },
    }
    return cluster


def _protocol_options(port: ServicePort) -> JsonDict:
    if port.protocol in _H2_PROTOCOLS:
        config: JsonDict = {"explicit_http_config": {"http2_protocol_options": {}}}
    elif port.protocol == AUTO:
        config = {"use_downstream_protocol_config": {"http_protocol_options": {}, "http2_protocol_options": {}}}
    else:
        return {}
    return {"typed_extension_protocol_options": {_HTTP_OPTIONS_KEY: {"@type": _HTTP_OPTIONS_TYPE, **config}}}


def passthrough_cluster() -> JsonDict:
    """The catch-all's target: no endpoints locally (unknown hosts answer 503 UH)."""
    return {
        "@type": CLUSTER_TYPE,
        "name": PASSTHROUGH_CLUSTER,
        "type": "STATIC",
        "connect_timeout": CONNECT_TIMEOUT,
        "load_assignment": {"cluster_name": PASSTHROUGH_CLUSTER, "endpoints": []},
    }


def proxy_clusters(proxy: ProxySpec, index: MeshIndex, policies: PolicyResolver) -> list[JsonDict]:
    """Every port of every service: ``outbound|port||fqdn`` plus one cluster per subset of the
    DestinationRule this proxy sees for the host; then PassthroughCluster."""
    out: list[JsonDict] = []
    for fqdn, svc in sorted(index.services.items()):
        rule = policies.rule_for(proxy.namespace, fqdn)
        for port in svc.ports:
            endpoints = index.endpoints(svc, port)
            out.append(_cluster(svc, port, None, endpoints, proxy, policies))
            for subset in rule.subsets if rule else []:
                selector = string_map(subset.get("labels"))
                selected = [e for e in endpoints if labels_match(selector, e.pod.labels)]
                out.append(_cluster(svc, port, as_str(subset.get("name")), selected, proxy, policies))
    out.append(passthrough_cluster())
    return out


def _cluster(
    svc: ServiceInfo,
    port: ServicePort,
    subset: str | None,
    endpoints: list[Endpoint],
    proxy: ProxySpec,
    policies: PolicyResolver,
) -> JsonDict:
    policy = policies.policy(proxy.namespace, svc.fqdn, port.port, subset)
    cluster = static_cluster(cluster_name(port.port, subset or "", svc.fqdn), endpoints, cluster_lb_fields(policy))
    cluster.update(_protocol_options(port))
    return cluster
