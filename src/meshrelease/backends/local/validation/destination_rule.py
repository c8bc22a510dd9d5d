"""Istio's webhook rules for DestinationRule (istio/istio 1.30.3 pkg/config/validation/validation.go
ValidateDestinationRule; docs/istio-semantics.md §11, §14)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meshrelease.backends.local.validation.common import (
    fqdn_problem,
    go_quote,
    parse_duration_ns,
    port_problem,
    wildcard_domain_problem,
)
from meshrelease.backends.local.validation.istio_common import (
    WebhookResult,
    as_dict,
    as_list,
    check_export_to,
    duration_problem,
    percent_problem,
    subset_name_problem,
    tag_problems,
)
from meshrelease.k8s.hosts import is_ip
from meshrelease.k8s.objects import FieldPath as Path


def validate_destination_rule(spec: Mapping[str, Any], namespace: str) -> WebhookResult:
    """The webhook's DestinationRule rules."""
    result = WebhookResult()
    result.err(("spec", "host"), wildcard_domain_problem(str(spec.get("host", ""))))
    if "trafficPolicy" in spec:
        _check_traffic_policy(result, as_dict(spec["trafficPolicy"]), ("spec", "trafficPolicy"))
    names: set[str] = set()
    for index, subset in enumerate(as_list(spec.get("subsets"))):
        here = ("spec", "subsets", index)
        if subset is None:
            result.err(here, "subset may not be null")
            continue
        subset = as_dict(subset)
        name = str(subset.get("name", ""))
        if name in names:
            result.err((*here, "name"), f"duplicate subset names: {name}")
        names.add(name)
        result.err((*here, "name"), subset_name_problem(name))
        for problem in tag_problems(subset.get("labels")):
            result.err((*here, "labels"), problem)
        if "trafficPolicy" in subset:
            _check_traffic_policy(result, as_dict(subset["trafficPolicy"]), (*here, "trafficPolicy"))
    selector = spec.get("workloadSelector")
    check_export_to(result, spec.get("exportTo"), namespace, ("spec", "exportTo"), with_selector=selector is not None)
    if selector is not None:
        _check_workload_selector(result, as_dict(selector), ("spec", "workloadSelector"))
    return result


def _check_workload_selector(result: WebhookResult, selector: dict[str, Any], path: Path) -> None:
    labels = as_dict(selector.get("matchLabels"))
    for key, value in labels.items():
        shown = go_quote(f"{key}={value}")
        if key == "":
            result.err((*path, "matchLabels"), f"empty key is not supported in selector: {shown}")
        if "*" in key or "*" in str(value):
            result.err((*path, "matchLabels"), f"wildcard is not supported in selector: {shown}")
    if not labels:
        result.warn(path, "workload selector specified without labels")


_POLICY_FIELDS = (
    "outlierDetection",
    "connectionPool",
    "loadBalancer",
    "tls",
    "portLevelSettings",
    "tunnel",
    "proxyProtocol",
)


def _check_traffic_policy(result: WebhookResult, policy: dict[str, Any], path: Path) -> None:
    if not any(k in policy for k in _POLICY_FIELDS):
        result.err(path, "traffic policy must have at least one field")
        return
    if "tunnel" in policy and "proxyProtocol" in policy:
        result.err(path, "tunnel and proxyProtocol must not be set together")
        return
    _check_outlier_detection(result, policy.get("outlierDetection"), (*path, "outlierDetection"))
    _check_connection_pool(result, policy.get("connectionPool"), (*path, "connectionPool"))
    _check_load_balancer(result, policy.get("loadBalancer"), (*path, "loadBalancer"))
    _check_client_tls(result, policy.get("tls"), (*path, "tls"))
    for index, port_policy in enumerate(as_list(policy.get("portLevelSettings"))):
        here = (*path, "portLevelSettings", index)
        if port_policy is None:
            result.err(here, "traffic policy may not be null")
            continue
        port_policy = as_dict(port_policy)
        if "port" not in port_policy:
            result.err(here, "portTrafficPolicy must have valid port")
        if not any(k in port_policy for k in ("outlierDetection", "connectionPool", "loadBalancer", "tls")):
            result.err(here, "port traffic policy must have at least one field")
        else:
            _check_outlier_detection(result, port_policy.get("outlierDetection"), (*here, "outlierDetection"))
            _check_connection_pool(result, port_policy.get("connectionPool"), (*here, "connectionPool"))
            _check_load_balancer(result, port_policy.get("loadBalancer"), (*here, "loadBalancer"))
            _check_client_tls(result, port_policy.get("tls"), (*here, "tls"))
    if "tunnel" in policy:
        _check_tunnel(result, as_dict(policy["tunnel"]), (*path, "tunnel"))


def _check_client_tls(result: WebhookResult, tls: Any, path: Path) -> None:
    """istio/istio 1.30.3 pkg/config/validation/agent/validation.go ValidateTLS (client TLS settings)."""
    if not isinstance(tls, dict):
        return
    mode = tls.get("mode")
    if tls.get("insecureSkipVerify") is True:
        if mode == "SIMPLE" and (tls.get("caCertificates") or tls.get("credentialName") or "subjectAltNames" in tls):
            result.err(
                path,
                "cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set "
                "true",
            )
        if mode == "MUTUAL" and (tls.get("caCertificates") or "subjectAltNames" in tls):
            result.err(path, "cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true")
    credentials = any(tls.get(k) for k in ("clientCertificate", "caCertificates", "privateKey", "caCrl"))
    if mode in ("SIMPLE", "MUTUAL") and tls.get("credentialName") and credentials:
        result.err(path, "cannot specify client certificates or CA certificate or CA CRL If credentialName is set")


def _check_tunnel(result: WebhookResult, tunnel: dict[str, Any], path: Path) -> None:
    protocol = tunnel.get("protocol", "")
    if protocol not in ("", "CONNECT", "POST"):
        result.err((*path, "protocol"), 'tunnel protocol must be "CONNECT" or "POST"')
    target = str(tunnel.get("targetHost", ""))
    fqdn = fqdn_problem(target)
    if fqdn is not None and not is_ip(target):
        result.err(
            (*path, "targetHost"),
            f"tunnel target host must be valid FQDN or IP address: {fqdn}; {target} is not a valid IP",
        )
    port = port_problem(tunnel.get("targetPort", 0))
    if port is not None:
        result.err((*path, "targetPort"), f"tunnel target port is invalid: {port}")


def _check_outlier_detection(result: WebhookResult, outlier: Any, path: Path) -> None:
    if outlier is None:
        return
    outlier = as_dict(outlier)
    for key in ("baseEjectionTime", "interval"):
        if key in outlier:
            result.err((*path, key), duration_problem(outlier[key]))
    if outlier.get("consecutiveErrors"):
        result.warn(
            (*path, "consecutiveErrors"),
            "outlier detection consecutive errors is deprecated, use consecutiveGatewayErrors or "
            "consecutive5xxErrors instead",
        )
    if not outlier.get("splitExternalLocalOriginErrors") and outlier.get("consecutiveLocalOriginFailures", 0) > 0:
        result.err(
            path,
            "outlier detection consecutive local origin failures is specified, but split external "
            "local origin errors is set to false",
        )
    for key in ("maxEjectionPercent", "minHealthPercent"):
        result.err((*path, key), percent_problem(outlier.get(key, 0)))


def _check_connection_pool(result: WebhookResult, pool: Any, path: Path) -> None:
    if pool is None:
        return
    pool = as_dict(pool)
    if "http" not in pool and "tcp" not in pool:
        result.err(path, "connection pool must have at least one field")
        return
    http = as_dict(pool.get("http"))
    for key, message in (
        ("http1MaxPendingRequests", "http1 max pending requests must be non-negative"),
        ("http2MaxRequests", "http2 max requests must be non-negative"),
        ("maxRequestsPerConnection", "max requests per connection must be non-negative"),
        ("maxRetries", "max retries must be non-negative"),
        ("maxConcurrentStreams", "max concurrent streams must be non-negative"),
    ):
        if http.get(key, 0) < 0:
            result.err((*path, "http", key), message)
    if "idleTimeout" in http:
        result.err((*path, "http", "idleTimeout"), duration_problem(http["idleTimeout"]))
    if http.get("h2UpgradePolicy") == "UPGRADE" and http.get("useClientProtocol"):
        result.err((*path, "http"), "use client protocol must not be true when H2UpgradePolicy is UPGRADE")
    tcp = as_dict(pool.get("tcp"))
    if tcp.get("maxConnections", 0) < 0:
        result.err((*path, "tcp", "maxConnections"), "max connections must be non-negative")
    for key in ("connectTimeout", "maxConnectionDuration"):
        if key in tcp:
            result.err((*path, "tcp", key), duration_problem(tcp[key]))
    if "idleTimeout" in tcp and parse_duration_ns(str(tcp["idleTimeout"])) != 0:
        result.err((*path, "tcp", "idleTimeout"), duration_problem(tcp["idleTimeout"]))
    keepalive = as_dict(tcp.get("tcpKeepalive"))
    for key in ("time", "interval"):
        if key in keepalive:
            result.err((*path, "tcp", "tcpKeepalive", key), duration_problem(keepalive[key]))


def _check_load_balancer(result: WebhookResult, balancer: Any, path: Path) -> None:
    if balancer is None:
        return
    balancer = as_dict(balancer)
    consistent = balancer.get("consistentHash")
    if consistent is not None:
        consistent = as_dict(consistent)
        here = (*path, "consistentHash")
        if "httpCookie" in consistent and not as_dict(consistent["httpCookie"]).get("name"):
            result.err((*here, "httpCookie"), "name required for HttpCookie")
        attribute_names: set[str] = set()
        for position, attribute in enumerate(as_list(as_dict(consistent.get("httpCookie")).get("attributes"))):
            where = (*here, "httpCookie", "attributes", position)
            name = str(as_dict(attribute).get("name") or "")
            if not name:
                result.err(where, "cookie attribute name cannot be empty")
            elif name in attribute_names:
                result.err(where, f"duplicate cookie attribute name: {name}")
            attribute_names.add(name)
        if consistent.get("minimumRingSize"):
            result.warn(
                (*here, "minimumRingSize"),
                "consistent hash MinimumRingSize is deprecated, use ConsistentHashLB's RingHash configuration instead",
            )
            if "ringHash" in consistent or "maglev" in consistent:
                result.err(here, "only one of MinimumRingSize or Maglev/Ringhash can be specified")
        if "maglev" in consistent:
            size = as_dict(consistent["maglev"]).get("tableSize", 0)
            if size == 0:
                result.err((*here, "maglev"), "tableSize must be set for maglev")
            if size >= 5000011:
                result.err((*here, "maglev"), "tableSize must be less than 5000011 for maglev")
            if not _is_prime(size):
                result.err((*here, "maglev"), "tableSize must be a prime number for maglev")
    warmup = balancer.get("warmup")
    if warmup is not None:
        warmup = as_dict(warmup)
        if "duration" not in warmup:
            result.err((*path, "warmup"), "duration is required")
        else:
            result.err((*path, "warmup", "duration"), duration_problem(warmup["duration"]))
        if warmup.get("minimumPercent", 0) > 100:
            result.err((*path, "warmup"), "minimumPercent value should be less than or equal to 100")
        if "aggression" in warmup and warmup["aggression"] < 1:
            result.err((*path, "warmup"), "aggression should be greater than or equal to 1")


def _is_prime(number: int) -> bool:
    """Envoy's primality test as Istio copies it (0 counts as prime there; Istio reports 0 separately)."""
    if number != 0 and number < 4:
        return True
    if number % 2 == 0:
        return False
    factor = 3
    while factor * factor <= number:
        if number % factor == 0:
            return False
        factor += 2
    return True
