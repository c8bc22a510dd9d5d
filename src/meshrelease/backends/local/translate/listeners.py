"""Outbound listeners for sidecars and the gateway, and the JSON access log every proxy writes.

Istio's sidecar listener ``0.0.0.0_9080`` has address 0.0.0.0:9080 with ``bind_to_port: false`` and gets
its connections from iptables through the 15001 virtual listener. The local mesh has no iptables and no
VIP: workloads send absolute-form proxy requests straight to their sidecar, so each listener keeps istiod's
name but really binds 127.0.0.1 on the port the runtime allocated. Route configurations stay in RDS (read
from ``<xds_dir>/rds/<name>.json``) so a routing change never drains a listener.
"""

from __future__ import annotations

import os

from meshrelease.backends.local.translate.routes import FAULT_FILTER, FAULT_TYPE
from meshrelease.backends.local.translate.values import JsonDict

LISTENER_TYPE = "type.googleapis.com/envoy.config.listener.v3.Listener"
HCM_NAME = "envoy.filters.network.http_connection_manager"
HCM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
ROUTER_NAME = "envoy.filters.http.router"
ROUTER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
FILE_ACCESS_LOG_TYPE = "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog"

ACCESS_LOG_FORMAT: dict[str, str] = {
    "time": "%START_TIME%",
    "proxy": "",  # replaced by the ProxySpec.id literal in each proxy's access log
    "route_name": "%ROUTE_NAME%",
    "upstream_cluster": "%UPSTREAM_CLUSTER%",
    "upstream_host": "%UPSTREAM_HOST%",
    "response_code": "%RESPONSE_CODE%",
    "response_flags": "%RESPONSE_FLAGS%",
    "response_code_details": "%RESPONSE_CODE_DETAILS%",
    "request_id": "%REQ(X-REQUEST-ID)%",
    "end_user": "%REQ(END-USER)%",
    "method": "%REQ(:METHOD)%",
    "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
    "authority": "%REQ(:AUTHORITY)%",
    "duration_ms": "%DURATION%",
    "attempts": "%UPSTREAM_REQUEST_ATTEMPT_COUNT%",
}
"""Keys and Envoy command operators of the JSON access log (one JSON object per line)."""


def access_log_format(proxy_id: str) -> dict[str, str]:
    """:data:`ACCESS_LOG_FORMAT` with ``proxy`` set to ``proxy_id`` (``%`` escaped for Envoy)."""
    fmt = dict(ACCESS_LOG_FORMAT)
    fmt["proxy"] = proxy_id.replace("%", "%%")
    return fmt


def rds_path(xds_dir: str, route_config_name: str) -> str:
    """Where a proxy reads route configuration ``route_config_name``: ``<xds_dir>/rds/<name>.json``."""
    return os.path.join(xds_dir, "rds", f"{route_config_name}.json")


def listener_name(port: int) -> str:
    return f"0.0.0.0_{port}"


def http_listener(
    *,
    port: int,
    bind_port: int,
    route_config_name: str,
    xds_dir: str,
    proxy_id: str,
    access_log_path: str | None,
    gateway: bool,
) -> JsonDict:
    """One outbound HTTP listener named like istiod's, bound to 127.0.0.1:``bind_port``, RDS from a file."""
    hcm: JsonDict = {
        "@type": HCM_TYPE,
        "stat_prefix": f"outbound_{listener_name(port)};",
        "rds": {
            "route_config_name": route_config_name,
            "config_source": {
                "path_config_source": {"path": rds_path(xds_dir, route_config_name)},
                "resource_api_version": "V3",
            },
        },
        "http_filters": [
            # Always present (empty) so a route's typed_per_filter_config can switch faults on.
            {"name": FAULT_FILTER, "typed_config": {"@type": FAULT_TYPE}},
            {"name": ROUTER_NAME, "typed_config": {"@type": ROUTER_TYPE}},
        ],
    }
    if gateway:
        hcm["use_remote_address"] = True
        # Deviation from istiod: keep the client's x-request-id. Since Envoy 1.33 no downstream address counts
        # as internal unless configured, so the gateway would replace every client's id, and the harness finds
        # a page's access-log lines by the id it sent (as a gateway behind an internal load balancer keeps it).
        hcm["preserve_external_request_id"] = True
    if access_log_path:
        hcm["access_log"] = [
            {
                "name": "envoy.access_loggers.file",
                "typed_config": {
                    "@type": FILE_ACCESS_LOG_TYPE,
                    "path": access_log_path,
                    "log_format": {"json_format": access_log_format(proxy_id)},
                },
            }
        ]
    return {
        "@type": LISTENER_TYPE,
        "name": listener_name(port),
        # 127.0.0.1 and a real bind instead of 0.0.0.0 with bind_to_port false: no iptables redirects
        # connections here, the workload dials this address itself.
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": bind_port}},
        "traffic_direction": "OUTBOUND",
        "filter_chains": [{"filters": [{"name": HCM_NAME, "typed_config": hcm}]}],
    }
