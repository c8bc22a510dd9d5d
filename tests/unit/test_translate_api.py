"""The translator's public API: listeners, access log, ports for the runtime, options and errors."""

from __future__ import annotations

import pytest

from meshrelease.backends.local.model import ProxySpec
from meshrelease.backends.local.translate.translator import (
    ACCESS_LOG_FORMAT,
    TranslateOptions,
    TranslationError,
    access_log_format,
    gateway_listener_ports,
    http_service_ports,
    rds_path,
    translate,
)
from meshrelease.errors import UserInputError
from tests.translate_builders import GATEWAY_ID, gateway_proxy, load_yaml, stored, world

FAULT_TYPE = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"
ROUTER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
FILE_LOG_TYPE = "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog"
GATEWAY = """
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  selector: {istio: ingressgateway}
  servers:
"""


def _server(number: int, protocol: str = "HTTP") -> str:
    return f"    - port: {{number: {number}, name: p{number}, protocol: {protocol}}}\n      hosts: ['*']\n"


def test_access_log_format_is_the_documented_json() -> None:
    assert ACCESS_LOG_FORMAT == {
        "time": "%START_TIME%",
        "proxy": "",
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
    assert access_log_format("a%b.default")["proxy"] == "a%%b.default"


def test_rds_path() -> None:
    assert rds_path("/run/xds/p1", "9080") == "/run/xds/p1/rds/9080.json"
    assert rds_path("/run/xds/gw", "http.8080") == "/run/xds/gw/rds/http.8080.json"


def test_sidecar_listener_exact_shape_with_access_log() -> None:
    w = world(access_logs="/logs", xds_root="/run/xds")
    proxy = w.proxy("productpage-v1")
    resources = translate(w.objects, w.pods, w.proxies).proxies[proxy.id]
    assert resources.listeners == [
        {
            "@type": "type.googleapis.com/envoy.config.listener.v3.Listener",
            "name": "0.0.0.0_9080",
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": 30000}},
            "traffic_direction": "OUTBOUND",
            "filter_chains": [
                {
                    "filters": [
                        {
                            "name": "envoy.filters.network.http_connection_manager",
                            "typed_config": {
                                "@type": "type.googleapis.com/envoy.extensions.filters.network."
                                "http_connection_manager.v3.HttpConnectionManager",
                                "stat_prefix": "outbound_0.0.0.0_9080;",
                                "rds": {
                                    "route_config_name": "9080",
                                    "config_source": {
                                        "path_config_source": {
                                            "path": "/run/xds/productpage-v1-0.default/rds/9080.json"
                                        },
                                        "resource_api_version": "V3",
                                    },
                                },
                                "http_filters": [
                                    {
                                        "name": "envoy.filters.http.fault",
                                        "typed_config": {"@type": FAULT_TYPE},
                                    },
                                    {
                                        "name": "envoy.filters.http.router",
                                        "typed_config": {"@type": ROUTER_TYPE},
                                    },
                                ],
                                "access_log": [
                                    {
                                        "name": "envoy.access_loggers.file",
                                        "typed_config": {
                                            "@type": FILE_LOG_TYPE,
                                            "path": "/logs/productpage-v1-0.default.access.log",
                                            "log_format": {
                                                "json_format": {
                                                    **ACCESS_LOG_FORMAT,
                                                    "proxy": "productpage-v1-0.default",
                                                }
                                            },
                                        },
                                    }
                                ],
                            },
                        }
                    ]
                }
            ],
        }
    ]
    assert [rc["name"] for rc in resources.route_configs] == ["9080"]


def test_no_access_log_without_path() -> None:
    w = world()
    proxy = w.proxy("reviews-v2")
    listener = translate(w.objects, w.pods, w.proxies).proxies[proxy.id].listeners[0]
    assert "access_log" not in listener["filter_chains"][0]["filters"][0]["typed_config"]


def test_http_service_ports() -> None:
    objects = stored(
        load_yaml(
            """
apiVersion: v1
kind: Service
metadata: {name: a}
spec:
  ports: [{name: http, port: 9080}, {name: tcp, port: 3306}, {port: 8000}, {name: grpc, port: 7000}]
---
apiVersion: v1
kind: Service
metadata: {name: b, namespace: other}
spec:
  ports: [{name: http-x, port: 9080}, {name: dns, port: 53, protocol: UDP}]
"""
        )
    )
    assert http_service_ports(objects) == [7000, 8000, 9080]
    assert http_service_ports([]) == []


@pytest.mark.parametrize(
    ("servers", "options", "expected"),
    [
        ([8080], None, [8080]),
        ([80], None, [8080]),
        ([80, 443, 8080], None, [8080, 8443]),
        ([80], TranslateOptions(gateway_service_ports={80: 9999}), [9999]),
        ([81, 5000], None, [5000]),
        ([9000], None, [9000]),
    ],
)
def test_gateway_listener_ports(servers: list[int], options: TranslateOptions | None, expected: list[int]) -> None:
    # Server port 80 and 8080 share the resolved port 8080; 443 (a plain-HTTP server here) maps to 8443.
    objects = stored(load_yaml(GATEWAY + "".join(_server(n) for n in servers)))
    assert gateway_listener_ports(objects, gateway_proxy([]), options) == expected


def test_gateway_listener_ports_ignores_other_selectors_and_protocols() -> None:
    text = GATEWAY.replace("istio: ingressgateway", "istio: egressgateway") + _server(8080)
    assert gateway_listener_ports(stored(load_yaml(text)), gateway_proxy([])) == []
    text = GATEWAY + _server(9443, "HTTPS") + _server(8080)
    assert gateway_listener_ports(stored(load_yaml(text)), gateway_proxy([])) == [8080]
    sidecar = ProxySpec(
        id="s",
        kind="sidecar",
        namespace="default",
        labels={"istio": "ingressgateway"},
        bind_ports={},
        xds_dir="/x",
    )
    assert gateway_listener_ports(stored(load_yaml(GATEWAY + _server(8080))), sidecar) == []


def test_privileged_gateway_port_is_skipped_with_a_warning() -> None:
    w = world(GATEWAY + _server(81) + _server(8080))
    translation = translate(w.objects, w.pods, w.proxies)
    assert [x["name"] for x in translation.proxies[GATEWAY_ID].listeners] == ["0.0.0.0_8080"]
    assert (
        "Gateway default/gw: spec.servers[0] port 81 resolves to 81 (< 1024); istiod gives an unprivileged "
        "gateway pod no listener for it, so neither does the local mesh"
    ) in translation.warnings


def test_gateway_port_without_bind_port_is_skipped_with_a_warning() -> None:
    w = world(GATEWAY + _server(8080) + _server(9000), gateway_ports=[8080])
    translation = translate(w.objects, w.pods, w.proxies)
    gw = translation.proxies[GATEWAY_ID]
    assert [x["name"] for x in gw.listeners] == ["0.0.0.0_8080"]
    assert [x["name"] for x in gw.route_configs] == ["http.8080"]
    assert translation.warnings == [
        f"gateway proxy {GATEWAY_ID}: no bind port allocated for resolved Gateway port 9000 (servers of "
        "default/gw); its listener is skipped"
    ]


def test_bad_outbound_policy_option() -> None:
    w = world()
    with pytest.raises(UserInputError, match="outbound traffic policy 'ALLOW_ALL' is not one of ALLOW_ANY, "):
        translate(w.objects, w.pods, w.proxies, TranslateOptions(outbound_traffic_policy="ALLOW_ALL"))


def test_duplicate_proxy_ids_are_an_error() -> None:
    w = world()
    with pytest.raises(UserInputError, match="two proxies share the id"):
        translate(w.objects, w.pods, [*w.proxies, w.proxies[0]])


def test_every_proxy_gets_resources_even_without_listeners() -> None:
    w = world()
    translation = translate(w.objects, w.pods, w.proxies)
    assert set(translation.proxies) == {p.id for p in w.proxies}
    gw = translation.proxies[GATEWAY_ID]
    assert gw.listeners == [] and gw.route_configs == []
    assert gw.clusters[-1]["name"] == "PassthroughCluster"


def test_unresolvable_named_target_port_is_an_explicit_error() -> None:
    manifest = """
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 8000, targetPort: http-web}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web-v1}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: example/web:1
          ports: [{name: other, containerPort: 8080}]
"""
    w = world(manifest)
    with pytest.raises(TranslationError) as err:
        translate(w.objects, w.pods, w.proxies)
    assert err.value.errors == [
        "Service default/web: spec.ports[0].targetPort 'http-web' names no containerPort of pod "
        "default/web-v1-0 (Deployment default/web-v1)"
    ]
    assert "ports[].name" in str(err.value)


def test_pod_without_the_target_port_is_left_out_with_a_warning() -> None:
    manifest = """
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 8000}]
"""
    w = world(manifest, extra_pods=[{"name": "web-0", "labels": {"app": "web"}, "ports": {9999: 21000}}])
    translation = translate(w.objects, w.pods, w.proxies)
    cluster = next(
        c
        for c in translation.proxies[w.proxies[0].id].clusters
        if c["name"] == "outbound|8000||web.default.svc.cluster.local"
    )
    assert cluster["load_assignment"]["endpoints"] == []
    assert translation.warnings == [
        "Service default/web port 8000: pod default/web-0 serves no containerPort 8000; it is left out of the endpoints"
    ]


SPARSE = """
apiVersion: v1
kind: Service
metadata: {name: bare}
---
apiVersion: v1
kind: Service
metadata: {name: noselector}
spec:
  ports: [{name: http, port: 9080}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: nohttp}
spec:
  hosts: [reviews]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: empty}
spec: {}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: nulls}
spec:
  hosts: [ratings]
  http:
    - match: null
      headers: null
      route:
        - destination: {host: ratings, port: null}
          headers: {request: null}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: nohost}
spec: {}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: details}
spec:
  host: details
  trafficPolicy: null
  subsets:
    - name: v1
    - labels: {version: v1}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: noservers}
spec:
  selector: {istio: ingressgateway}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: noselector}
spec:
  servers:
    - port: {number: 8080, protocol: HTTP}
"""


def test_missing_optional_fields_do_not_crash() -> None:
    w = world(SPARSE)
    translation = translate(w.objects, w.pods, w.proxies)
    pp = translation.proxies[w.proxy("productpage-v1").id]
    vhosts = {vh["name"]: vh for vh in pp.route_configs[0]["virtual_hosts"]}
    # A VS without http rules yields no routes: the host keeps its default route.
    assert [r["name"] for r in vhosts["reviews.default.svc.cluster.local:9080"]["routes"]] == ["default"]
    assert vhosts["ratings.default.svc.cluster.local:9080"]["routes"][0]["route"]["cluster"] == (
        "outbound|9080||ratings.default.svc.cluster.local"
    )
    names = [c["name"] for c in pp.clusters]
    assert "outbound|9080|v1|details.default.svc.cluster.local" in names
    assert "outbound|9080||noselector.default.svc.cluster.local" in names
    # The Gateway without selector selects every gateway workload; without servers nothing is added.
    assert [x["name"] for x in translation.proxies[GATEWAY_ID].listeners] == ["0.0.0.0_8080"]
