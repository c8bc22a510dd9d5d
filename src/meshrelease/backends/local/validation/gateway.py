"""Istio's webhook rules for Gateway."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meshrelease.backends.local.validation.common import (
    go_quote,
    go_value,
    is_dns1123_label,
    port_problem,
    wildcard_domain_problem,
)
from meshrelease.backends.local.validation.istio_common import WebhookResult, as_dict, as_list
from meshrelease.k8s.hosts import is_ip
from meshrelease.k8s.objects import FieldPath as Path

_GATEWAY_PROTOCOLS = {
    "HTTP",
    "HTTPS",
    "HTTP2",
    "GRPC",
    "GRPC-WEB",
    "TCP",
    "TLS",
    "MONGO",
    "REDIS",
    "MYSQL",
    "UDP",
    "HTTP_PROXY",
}
_HTTP_PROTOCOLS = {"HTTP", "HTTP2", "GRPC", "GRPC-WEB", "HTTP_PROXY"}
_TLS_PROTOCOLS = {"HTTPS", "TLS"}


def validate_gateway(spec: Mapping[str, Any], name: str) -> WebhookResult:
    """The webhook's Gateway rules."""
    result = WebhookResult()
    if not is_dns1123_label(name):
        result.err(("metadata", "name"), f"invalid gateway name: {go_quote(name)}")
    servers = as_list(spec.get("servers"))
    if not servers:
        result.err(("spec", "servers"), "gateway must have at least one server")
    for index, server in enumerate(servers):
        if server is None:
            result.err(("spec", "servers", index), "cannot have nil server")
        else:
            _check_server(result, as_dict(server), ("spec", "servers", index))
    port_names: set[str] = set()
    for index, server in enumerate(servers):
        if server is None:
            result.err(("spec", "servers", index), "server may not be nil")
            continue
        port = as_dict(as_dict(server).get("port"))
        if "port" not in as_dict(server):
            continue
        port_name = str(port.get("name", ""))
        if port_name in port_names:
            result.err(
                ("spec", "servers", index, "port", "name"),
                f"port names in servers must be unique: duplicate name {port_name}",
            )
        port_names.add(port_name)
        protocol = str(port.get("protocol", "")).upper()
        if protocol not in _HTTP_PROTOCOLS and as_dict(as_dict(server).get("tls")).get("httpsRedirect"):
            result.warn(("spec", "servers", index, "tls"), "tls.httpsRedirect should only be used with http servers")
    return result


def _check_server(result: WebhookResult, server: dict[str, Any], path: Path) -> None:
    hosts = [str(h) for h in as_list(server.get("hosts"))]
    if not hosts:
        result.err((*path, "hosts"), "server config must contain at least one host")
    for index, host in enumerate(hosts):
        for problem in _gateway_host_problems(host):
            result.err((*path, "hosts", index), problem)
    bind = str(server.get("bind", ""))
    port_ok = True
    if "port" not in server:
        result.err((*path, "port"), "port is required")
        port_ok = False
    else:
        port = as_dict(server["port"])
        protocol = str(port.get("protocol", ""))
        if protocol.upper() not in _GATEWAY_PROTOCOLS:
            result.err(
                (*path, "port", "protocol"),
                f"invalid protocol {go_quote(protocol)}, supported protocols are HTTP, HTTP2, GRPC, "
                "GRPC-WEB, MONGO, REDIS, MYSQL, TCP",
            )
            port_ok = False
        number = port.get("number", 0)
        if number or not bind.startswith("unix://"):
            number_problem = port_problem(number)
            result.err((*path, "port", "number"), number_problem)
            port_ok = port_ok and number_problem is None
        if port.get("targetPort", 0) > 0:
            result.err((*path, "port", "targetPort"), "targetPort has no impact on Gateways")
            port_ok = False
        if not port.get("name"):
            shown = " ".join(
                f"{key}:{go_quote(v) if isinstance(v, str) else go_value(v)}" for key, v in port.items() if v
            )
            result.err((*path, "port", "name"), f"port name must be set: {shown}")
            port_ok = False
    if bind and not bind.startswith("unix://") and not is_ip(bind):
        result.err((*path, "bind"), f"{bind} is not a valid IP")
    server_port = as_dict(server.get("port"))
    if bind.startswith("unix://") and server_port.get("number"):
        shown = " ".join(
            f"{key}:{go_quote(v) if isinstance(v, str) else go_value(v)}" for key, v in server_port.items() if v
        )
        result.err((*path, "bind"), f"port number must be 0 for unix domain socket: {shown}")
    if port_ok:
        _check_server_tls(result, server, path)


def _gateway_host_problems(host: str) -> list[str]:
    """istio/istio 1.30.3 pkg/config/validation/agent/validation.go ValidateNamespaceSlashWildcardHostname and
    validateSidecarOrGatewayHostnamePart, for a Gateway server host (``ns/host`` or the old ``host``)."""
    namespace, slash, name = host.partition("/")
    if not slash:
        return _hostname_part_problems(host)
    problems = []
    if not namespace or not name:
        problems.append("config namespace and dnsName in host entry cannot be empty")
    if namespace not in ("*", ".") and not is_dns1123_label(namespace):
        problems.append(f"invalid namespace value {go_quote(namespace)} in gateway")
    return problems + _hostname_part_problems(name)


def _hostname_part_problems(name: str) -> list[str]:
    problems = []
    if name != "*" and "." not in name:
        problems.append("short names (non FQDN) are not allowed")
    problem = wildcard_domain_problem(name)
    if problem and not is_ip(name):  # a Gateway may name an IP
        problems.append(problem)
    if "*" in name and len(name) != 1 and not name.startswith("*."):
        problems.append(f"partial wildcard {go_quote(name)} not allowed")
    return problems


def _check_server_tls(result: WebhookResult, server: dict[str, Any], path: Path) -> None:
    protocol = str(as_dict(server.get("port")).get("protocol", "")).upper()
    tls = server.get("tls")
    if protocol in _TLS_PROTOCOLS and tls is None:
        result.err((*path, "tls"), "server must have TLS settings for HTTPS/TLS protocols")
    elif protocol not in _TLS_PROTOCOLS and tls is not None:
        tls = as_dict(tls)
        if protocol in _HTTP_PROTOCOLS:
            passthrough = tls.get("mode", "PASSTHROUGH") in ("PASSTHROUGH", "AUTO_PASSTHROUGH")
            has_certs = any(tls.get(k) for k in ("caCertificates", "privateKey", "serverCertificate"))
            if not passthrough or has_certs:
                result.err((*path, "tls"), "server cannot have TLS settings for plain text HTTP ports")
        else:
            result.err((*path, "tls"), "server cannot have TLS settings for non HTTPS/TLS ports")
    if isinstance(tls, dict) and tls.get("mode") == "ISTIO_MUTUAL":
        # istio/istio 1.30.3 pkg/config/validation/validation.go validateTLSOptions
        for field, what in (
            ("serverCertificate", "server certificate"),
            ("privateKey", "private key"),
            ("caCertificates", "CA bundle"),
            ("tlsCertificates", "tlsCertificates"),
            ("credentialName", "credentialName"),
            ("credentialNames", "credentialNames"),
        ):
            if tls.get(field):
                result.err((*path, "tls", field), f"ISTIO_MUTUAL TLS cannot have associated {what}")
        return
    if isinstance(tls, dict):
        sources = sum(
            (
                bool(tls.get("serverCertificate") and tls.get("privateKey")),
                bool(tls.get("credentialName")),
                bool(tls.get("credentialNames")),
                bool(tls.get("tlsCertificates")),
            )
        )
        if sources > 1:
            result.err(
                (*path, "tls"),
                "only one of credential_name, credential_names, server_certificate/private_key, tls_certificates "
                "should be specified",
            )
    remote_credentials = ("credentialName", "credentialNames", "tlsCertificates")
    if (
        isinstance(tls, dict)
        and tls.get("mode") in ("SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL")
        and not any(tls.get(k) for k in remote_credentials)
    ):
        prefix = "SIMPLE TLS" if tls["mode"] == "SIMPLE" else "MUTUAL TLS"
        if tls["mode"] != "SIMPLE" and not tls.get("caCertificates"):
            result.err((*path, "tls"), f"{prefix} requires a client CA bundle")
        if not tls.get("serverCertificate"):
            result.err((*path, "tls"), f"{prefix} requires a server certificate")
        if not tls.get("privateKey"):
            result.err((*path, "tls"), f"{prefix} requires a private key")
