"""The field schema of networking.istio.io VirtualService, DestinationRule and Gateway, as data.

Written from the Istio API reference (v1, identical for v1beta1 and v1alpha3). Field names are the
camelCase JSON names; Istio's CRDs accept only those, so a snake_case spelling is an unknown field.
``mirror_percent`` is the exception: it is the deprecated field's declared JSON name.
"""

from __future__ import annotations

from meshrelease.backends.local.validation.schema import (
    ANY,
    BOOL,
    DURATION,
    DURATION_ANY,
    INT32,
    NUMBER,
    STRING,
    STRING_MAP,
    STRINGS,
    UINT32,
    Arr,
    MapOf,
    Node,
    Obj,
    Scalar,
    enum,
)

# ------------------------------------------------------------------------------------------ common
STRING_MATCH = Obj({"exact": STRING, "prefix": STRING, "regex": STRING}, one_of=(("exact", "prefix", "regex"),))
PORT_SELECTOR = Obj({"number": UINT32})
DESTINATION = Obj({"host": STRING, "subset": STRING, "port": PORT_SELECTOR}, required=("host",))
PERCENT = Obj({"value": NUMBER})
WORKLOAD_SELECTOR = Obj({"matchLabels": MapOf(Scalar("string", max_length=63))})

# ------------------------------------------------------------------------------------------ VirtualService
HEADER_OPERATIONS = Obj({"set": STRING_MAP, "add": STRING_MAP, "remove": STRINGS})
HEADERS = Obj({"request": HEADER_OPERATIONS, "response": HEADER_OPERATIONS})

HTTP_MATCH_REQUEST = Obj(
    {
        "name": STRING,
        "uri": STRING_MATCH,
        "scheme": STRING_MATCH,
        "method": STRING_MATCH,
        "authority": STRING_MATCH,
        "headers": MapOf(STRING_MATCH),
        "port": UINT32,
        "sourceLabels": STRING_MAP,
        "gateways": STRINGS,
        "queryParams": MapOf(STRING_MATCH),
        "ignoreUriCase": BOOL,
        "withoutHeaders": MapOf(STRING_MATCH),
        "sourceNamespace": STRING,
        "statPrefix": STRING,
    }
)

HTTP_ROUTE_DESTINATION = Obj(
    {"destination": DESTINATION, "weight": INT32, "headers": HEADERS},
    required=("destination",),
)

HTTP_REDIRECT = Obj(
    {
        "uri": STRING,
        "authority": STRING,
        "port": UINT32,
        "derivePort": enum("FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT"),
        "scheme": STRING,
        "redirectCode": UINT32,
    },
    one_of=(("port", "derivePort"),),
)

HTTP_DIRECT_RESPONSE = Obj(
    {"status": UINT32, "body": Obj({"string": STRING, "bytes": STRING}, one_of=(("string", "bytes"),))},
    required=("status",),
)

HTTP_REWRITE = Obj(
    {
        "uri": STRING,
        "authority": STRING,
        "uriRegexRewrite": Obj({"match": STRING, "rewrite": STRING}),
    }
)

HTTP_RETRY = Obj(
    {
        "attempts": INT32,
        "perTryTimeout": DURATION,
        "retryOn": STRING,
        "retryRemoteLocalities": BOOL,
        "retryIgnorePreviousHosts": BOOL,
        "backoff": DURATION,
    }
)

HTTP_FAULT_INJECTION = Obj(
    {
        "delay": Obj(
            {"fixedDelay": DURATION, "exponentialDelay": DURATION, "percentage": PERCENT, "percent": INT32},
            one_of=(("fixedDelay", "exponentialDelay"),),
        ),
        "abort": Obj(
            {"httpStatus": INT32, "grpcStatus": STRING, "http2Error": STRING, "percentage": PERCENT},
            one_of=(("httpStatus", "grpcStatus", "http2Error"),),
        ),
    }
)

HTTP_MIRROR_POLICY = Obj({"destination": DESTINATION, "percentage": PERCENT}, required=("destination",))

CORS_POLICY = Obj(
    {
        "allowOrigin": STRINGS,
        "allowOrigins": Arr(STRING_MATCH),
        "allowMethods": STRINGS,
        "allowHeaders": STRINGS,
        "exposeHeaders": STRINGS,
        "maxAge": DURATION,
        "allowCredentials": BOOL,
        "unmatchedPreflights": enum("UNSPECIFIED", "FORWARD", "IGNORE"),
    }
)

HTTP_ROUTE = Obj(
    {
        "name": STRING,
        "match": Arr(HTTP_MATCH_REQUEST),
        "route": Arr(HTTP_ROUTE_DESTINATION),
        "redirect": HTTP_REDIRECT,
        "directResponse": HTTP_DIRECT_RESPONSE,
        "delegate": Obj({"name": STRING, "namespace": STRING}),
        "rewrite": HTTP_REWRITE,
        "timeout": DURATION,
        "retries": HTTP_RETRY,
        "fault": HTTP_FAULT_INJECTION,
        "mirror": DESTINATION,
        "mirrors": Arr(HTTP_MIRROR_POLICY),
        "mirrorPercentage": PERCENT,
        "mirrorPercent": UINT32,
        "mirror_percent": UINT32,
        "corsPolicy": CORS_POLICY,
        "headers": HEADERS,
    }
)

ROUTE_DESTINATION = Obj({"destination": DESTINATION, "weight": INT32}, required=("destination",))

L4_MATCH = Obj(
    {
        "destinationSubnets": STRINGS,
        "port": UINT32,
        "sourceLabels": STRING_MAP,
        "gateways": STRINGS,
        "sourceNamespace": STRING,
        "sourceSubnet": STRING,
    }
)
TLS_MATCH = Obj(
    {
        "sniHosts": STRINGS,
        "destinationSubnets": STRINGS,
        "port": UINT32,
        "sourceLabels": STRING_MAP,
        "gateways": STRINGS,
        "sourceNamespace": STRING,
    },
    required=("sniHosts",),
)

VIRTUAL_SERVICE_SPEC = Obj(
    {
        "hosts": STRINGS,
        "gateways": STRINGS,
        "http": Arr(HTTP_ROUTE),
        "tls": Arr(Obj({"match": Arr(TLS_MATCH), "route": Arr(ROUTE_DESTINATION)})),
        "tcp": Arr(Obj({"match": Arr(L4_MATCH), "route": Arr(ROUTE_DESTINATION)})),
        "exportTo": STRINGS,
    }
)

# ------------------------------------------------------------------------------------------ DestinationRule
CONSISTENT_HASH = Obj(
    {
        "httpHeaderName": STRING,
        "httpCookie": Obj(
            {
                "name": STRING,
                "path": STRING,
                "ttl": DURATION_ANY,
                "attributes": Arr(Obj({"name": STRING, "value": STRING}, required=("name",))),
            }
        ),
        "useSourceIp": BOOL,
        "httpQueryParameterName": STRING,
        "ringHash": Obj({"minimumRingSize": UINT32}),
        "maglev": Obj({"tableSize": UINT32}),
        "minimumRingSize": UINT32,
    },
    one_of=(
        ("httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName"),
        ("ringHash", "maglev"),
    ),
)

LOCALITY_LB_SETTING = Obj(
    {
        "distribute": Arr(Obj({"from": STRING, "to": MapOf(UINT32)})),
        "failover": Arr(Obj({"from": STRING, "to": STRING})),
        "failoverPriority": STRINGS,
        "enabled": BOOL,
    }
)

LOAD_BALANCER = Obj(
    {
        "simple": enum("UNSPECIFIED", "LEAST_CONN", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST"),
        "consistentHash": CONSISTENT_HASH,
        "localityLbSetting": LOCALITY_LB_SETTING,
        "warmupDurationSecs": DURATION,
        # istio/istio 1.30.3 manifests/charts/base/files/crd-all.gen.yaml: duration required, minimumPercent 0-100,
        # aggression >= 0
        "warmup": Obj(
            {
                "duration": DURATION,
                "minimumPercent": Scalar("number", minimum=0, maximum=100),
                "aggression": Scalar("number", minimum=0),
            },
            required=("duration",),
        ),
    },
    one_of=(("simple", "consistentHash"),),
)

CONNECTION_POOL = Obj(
    {
        "tcp": Obj(
            {
                "maxConnections": INT32,
                "connectTimeout": DURATION,
                "tcpKeepalive": Obj({"probes": UINT32, "time": DURATION, "interval": DURATION}),
                "maxConnectionDuration": DURATION,
                "idleTimeout": DURATION_ANY,
            }
        ),
        "http": Obj(
            {
                "http1MaxPendingRequests": INT32,
                "http2MaxRequests": INT32,
                "maxRequestsPerConnection": INT32,
                "maxRetries": INT32,
                "idleTimeout": DURATION,
                "h2UpgradePolicy": enum("DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"),
                "useClientProtocol": BOOL,
                "maxConcurrentStreams": INT32,
            }
        ),
    }
)

OUTLIER_DETECTION = Obj(
    {
        "splitExternalLocalOriginErrors": BOOL,
        "consecutiveLocalOriginFailures": UINT32,
        "consecutiveGatewayErrors": UINT32,
        "consecutive5xxErrors": UINT32,
        "interval": DURATION,
        "baseEjectionTime": DURATION,
        "maxEjectionPercent": INT32,
        "minHealthPercent": INT32,
        "consecutiveErrors": INT32,
    }
)

CLIENT_TLS = Obj(
    {
        "mode": enum("DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"),
        "clientCertificate": STRING,
        "privateKey": STRING,
        "caCertificates": STRING,
        "credentialName": STRING,
        "subjectAltNames": STRINGS,
        "sni": STRING,
        "insecureSkipVerify": BOOL,
        "caCrl": STRING,
    }
)

PORT_TRAFFIC_POLICY = Obj(
    {
        "port": PORT_SELECTOR,
        "loadBalancer": LOAD_BALANCER,
        "connectionPool": CONNECTION_POOL,
        "outlierDetection": OUTLIER_DETECTION,
        "tls": CLIENT_TLS,
    }
)

TRAFFIC_POLICY = Obj(
    {
        "loadBalancer": LOAD_BALANCER,
        "connectionPool": CONNECTION_POOL,
        "outlierDetection": OUTLIER_DETECTION,
        "tls": CLIENT_TLS,
        "portLevelSettings": Arr(PORT_TRAFFIC_POLICY, max_items=4096),
        "tunnel": Obj(
            {"protocol": STRING, "targetHost": STRING, "targetPort": UINT32}, required=("targetHost", "targetPort")
        ),
        "retryBudget": Obj({"percent": Scalar("number", minimum=0, maximum=100), "minRetryConcurrency": UINT32}),
        "proxyProtocol": Obj({"version": enum("V1", "V2")}),
    }
)

DESTINATION_RULE_SPEC = Obj(
    {
        "host": STRING,
        "trafficPolicy": TRAFFIC_POLICY,
        "subsets": Arr(
            Obj({"name": STRING, "labels": STRING_MAP, "trafficPolicy": TRAFFIC_POLICY}, required=("name",))
        ),
        "exportTo": STRINGS,
        "workloadSelector": WORKLOAD_SELECTOR,
    },
    required=("host",),
)

# ------------------------------------------------------------------------------------------ Gateway
SERVER_TLS = Obj(
    {
        "httpsRedirect": BOOL,
        "mode": enum("PASSTHROUGH", "SIMPLE", "MUTUAL", "AUTO_PASSTHROUGH", "ISTIO_MUTUAL", "OPTIONAL_MUTUAL"),
        "serverCertificate": STRING,
        "privateKey": STRING,
        "caCertificates": STRING,
        "caCrl": STRING,
        "credentialName": STRING,
        "credentialNames": Arr(STRING, max_items=2),
        "tlsCertificates": Arr(
            Obj({"serverCertificate": STRING, "privateKey": STRING, "caCertificates": STRING}), max_items=2
        ),
        "subjectAltNames": STRINGS,
        "verifyCertificateSpki": STRINGS,
        "verifyCertificateHash": STRINGS,
        "minProtocolVersion": enum("TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"),
        "maxProtocolVersion": enum("TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"),
        "cipherSuites": STRINGS,
    }
)

GATEWAY_SPEC = Obj(
    {
        "selector": STRING_MAP,
        "servers": Arr(
            Obj(
                {
                    "port": Obj(
                        {"number": UINT32, "protocol": STRING, "name": STRING, "targetPort": UINT32},
                        required=("number", "protocol", "name"),
                    ),
                    "bind": STRING,
                    "hosts": STRINGS,
                    "tls": SERVER_TLS,
                    "defaultEndpoint": STRING,
                    "name": STRING,
                },
                required=("hosts", "port"),
            )
        ),
    }
)

SPECS: dict[str, Node] = {
    "VirtualService": VIRTUAL_SERVICE_SPEC,
    "DestinationRule": DESTINATION_RULE_SPEC,
    "Gateway": GATEWAY_SPEC,
}
"""The ``spec`` schema of each Istio kind the local backend runs."""

STATUS = ANY
