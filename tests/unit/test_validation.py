"""Validation: manifest in, the exact message a cluster with Istio would give out.

Every rejection goes through ``ObjectStore.apply`` (plain dicts, source ``t.yaml``), so the tests also pin
the entry format ``t.yaml: Kind ns/name: <message>``."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from meshrelease.backends.local.apiserver.store import ObjectStore
from meshrelease.backends.local.validation.common import parse_duration_ns, re2_error
from meshrelease.backends.local.validation.validate import WEBHOOK_PREFIX
from meshrelease.errors import ValidationError
from meshrelease.k8s.manifest import load_manifest_text

RE2_NOTE = "Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)"
DEST = {"destination": {"host": "reviews"}}


def vs(spec: dict[str, Any], name: str = "r", version: str = "v1") -> dict[str, Any]:
    return {
        "apiVersion": f"networking.istio.io/{version}",
        "kind": "VirtualService",
        "metadata": {"name": name},
        "spec": spec,
    }


def http(**route: Any) -> dict[str, Any]:
    """A VirtualService for host reviews with one http rule (a plain route unless the rule says more)."""
    rule = {"route": [copy.deepcopy(DEST)], **route}
    return vs({"hosts": ["reviews"], "http": [rule]})


def dr(spec: dict[str, Any], name: str = "d") -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": name},
        "spec": spec,
    }


def gateway(spec: dict[str, Any], name: str = "g") -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "Gateway",
        "metadata": {"name": name},
        "spec": spec,
    }


def server(**fields: Any) -> dict[str, Any]:
    return {"port": {"number": 8080, "name": "http", "protocol": "HTTP"}, "hosts": ["*"], **fields}


def rejected(doc: dict[str, Any]) -> str:
    store = ObjectStore()
    before = store.objects()
    with pytest.raises(ValidationError) as caught:
        store.apply([doc], source="t.yaml")
    assert store.objects() == before
    (entry,) = caught.value.errors
    return entry


def accepted(doc: dict[str, Any]) -> list[str]:
    """Apply ``doc`` to a fresh store; returns the warnings (it must not raise)."""
    return ObjectStore().apply([doc], source="t.yaml").warnings


def ref(doc: dict[str, Any]) -> str:
    return f"{doc['kind']} default/{doc['metadata']['name']}"


# ------------------------------------------------------------------------------------------ the webhook
WEBHOOK_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "negative-weight",
        vs(
            {
                "hosts": ["reviews"],
                "http": [
                    {
                        "route": [
                            {"destination": {"host": "reviews", "subset": "v1"}, "weight": -15},
                            {"destination": {"host": "reviews", "subset": "v2"}, "weight": 115},
                        ]
                    }
                ],
            }
        ),
        "weight -15 < 0",
        "spec.http[0].route[0].weight",
    ),
    (
        "zero-total-weight",
        http(route=[{"destination": {"host": "reviews", "subset": "v1"}}, {"destination": {"host": "reviews"}}]),
        "total destination weight = 0",
        "spec.http[0].route",
    ),
    (
        "string-match-empty-regex",
        http(match=[{"uri": {"regex": ""}}]),
        '"uri": regex string match should not be empty',
        "spec.http[0].match[0].uri",
    ),
    (
        "string-match-empty-header-prefix",
        http(match=[{"headers": {"end-user": {"prefix": ""}}}]),
        '"headers": prefix string match should not be empty',
        "spec.http[0].match[0].headers.end-user",
    ),
    (
        "string-match-empty-method-prefix",
        http(match=[{"method": {"prefix": ""}}]),
        '"method": prefix string match should not be empty',
        "spec.http[0].match[0].method",
    ),
    (
        "regex-lookahead",
        http(match=[{"uri": {"regex": "/(?=a)"}}]),
        f'"uri": error parsing regexp: invalid or unsupported Perl syntax: `(?=`; {RE2_NOTE}',
        "spec.http[0].match[0].uri",
    ),
    (
        "regex-backreference",
        http(match=[{"headers": {"x": {"regex": "(a)\\1"}}}]),
        f'"headers": error parsing regexp: invalid escape sequence: `\\1`; {RE2_NOTE}',
        "spec.http[0].match[0].headers.x",
    ),
    (
        "regex-query-param-bad-syntax",
        http(match=[{"queryParams": {"id": {"regex": "[0-9"}}}]),
        f'"queryParams": error parsing regexp: missing closing ]: `[0-9`; {RE2_NOTE}',
        "spec.http[0].match[0].queryParams.id",
    ),
    (
        "regex-too-large",
        http(match=[{"uri": {"regex": "a" * 1025}}]),
        '"uri": regex is too large, max length allowed is 1024',
        "spec.http[0].match[0].uri",
    ),
    (
        "route-and-redirect",
        http(redirect={"uri": "/new"}),
        "HTTP route cannot contain both route and redirect",
        "spec.http[0]",
    ),
    (
        "route-and-direct-response",
        http(directResponse={"status": 200}),
        "HTTP route cannot contain both route and direct_response",
        "spec.http[0]",
    ),
    (
        "nothing-to-do",
        vs({"hosts": ["reviews"], "http": [{"name": "empty", "timeout": "1s"}]}),
        "HTTP route, redirect or direct_response is required",
        "spec.http[0]",
    ),
    (
        "rewrite-and-redirect",
        vs({"hosts": ["reviews"], "http": [{"redirect": {"uri": "/a"}, "rewrite": {"uri": "/b"}}]}),
        "HTTP route rule cannot contain both rewrite and redirect",
        "spec.http[0]",
    ),
    (
        "fault-and-redirect",
        vs(
            {
                "hosts": ["reviews"],
                "http": [{"redirect": {"uri": "/a"}, "fault": {"abort": {"httpStatus": 500}}}],
            }
        ),
        "HTTP route cannot contain both fault and redirect",
        "spec.http[0]",
    ),
    (
        "fault-and-direct-response",
        vs(
            {
                "hosts": ["reviews"],
                "http": [{"directResponse": {"status": 200}, "fault": {"delay": {"fixedDelay": "1s"}}}],
            }
        ),
        "HTTP route cannot contain both fault and direct_response",
        "spec.http[0]",
    ),
    (
        "rewrite-and-direct-response",
        vs({"hosts": ["reviews"], "http": [{"directResponse": {"status": 200}, "rewrite": {"uri": "/b"}}]}),
        "HTTP route rule cannot contain both rewrite and direct_response",
        "spec.http[0]",
    ),
    (
        "redirect-and-direct-response",
        vs({"hosts": ["reviews"], "http": [{"directResponse": {"status": 200}, "redirect": {"uri": "/b"}}]}),
        "HTTP route rule cannot contain both direct_response and redirect",
        "spec.http[0]",
    ),
    (
        "fault-empty",
        http(fault={}),
        "HTTP fault injection must have an abort and/or a delay",
        "spec.http[0].fault",
    ),
    (
        "abort-status-low",
        http(fault={"abort": {"httpStatus": 199, "percentage": {"value": 100}}}),
        "HTTP status 199 is not in range 200-599",
        "spec.http[0].fault.abort.httpStatus",
    ),
    (
        "abort-status-601",
        http(fault={"abort": {"httpStatus": 601}}),
        "HTTP status 601 is not in range 200-599",
        "spec.http[0].fault.abort.httpStatus",
    ),
    (
        "abort-http2-error",
        http(fault={"abort": {"http2Error": "REFUSED_STREAM"}}),
        "HTTP/2 abort fault injection not supported yet",
        "spec.http[0].fault.abort.http2Error",
    ),
    (
        "abort-grpc-status",
        http(fault={"abort": {"grpcStatus": "14"}}),
        'gRPC status "14" is not supported. See https://github.com/grpc/grpc/blob/master/doc/statuscodes.md '
        "for a list of supported codes, for example 'NOT_FOUND'",
        "spec.http[0].fault.abort.grpcStatus",
    ),
    (
        "exponential-delay",
        http(fault={"delay": {"exponentialDelay": "1s", "percentage": {"value": 50}}}),
        "exponentialDelay not supported yet",
        "spec.http[0].fault.delay.exponentialDelay",
    ),
    (
        "delay-percentage-over-100",
        http(fault={"delay": {"fixedDelay": "7s", "percentage": {"value": 150}}}),
        "percentage 150 is neither 0.0, nor in range [0.0001, 100.0]",
        "spec.http[0].fault.delay.percentage",
    ),
    (
        "abort-percentage-negative",
        http(fault={"abort": {"httpStatus": 500, "percentage": {"value": -0.5}}}),
        "percentage -0.5 is neither 0.0, nor in range [0.0001, 100.0]",
        "spec.http[0].fault.abort.percentage",
    ),
    (
        "subset-name-invalid",
        http(route=[{"destination": {"host": "reviews", "subset": "V1"}}]),
        "subset name is invalid: V1",
        "spec.http[0].route[0].destination.subset",
    ),
    (
        "destination-host-star",
        http(route=[{"destination": {"host": "*"}}]),
        "invalid destination host *",
        "spec.http[0].route[0].destination.host",
    ),
    (
        "destination-host-invalid",
        http(route=[{"destination": {"host": "Reviews"}}]),
        'domain name "Reviews" invalid (label "Reviews" invalid)',
        "spec.http[0].route[0].destination.host",
    ),
    (
        "destination-port-range",
        http(route=[{"destination": {"host": "reviews", "port": {"number": 70000}}}]),
        "port number 70000 must be in the range 1..65535",
        "spec.http[0].route[0].destination.port.number",
    ),
    (
        "wildcard-host-on-mesh",
        vs({"hosts": ["*"], "http": [{"route": [DEST]}]}),
        "wildcard host * is not allowed for virtual services bound to the mesh gateway",
        "spec.hosts[0]",
    ),
    (
        "wildcard-host-on-mesh-and-gateway",
        vs({"hosts": ["*"], "gateways": ["mesh", "bookinfo-gateway"], "http": [{"route": [DEST]}]}),
        "wildcard host * is not allowed for virtual services bound to the mesh gateway",
        "spec.hosts[0]",
    ),
    ("no-routes", vs({"hosts": ["reviews"]}), "http, tcp or tls must be provided in virtual service", "spec"),
    (
        "duplicate-hosts",
        vs({"hosts": ["reviews", "reviews"], "http": [{"route": [DEST]}]}),
        "duplicate hosts in virtual service: reviews & reviews",
        "spec.hosts",
    ),
    (
        "duplicate-wildcard-hosts",
        vs({"hosts": ["*.example.com", "shop.example.com"], "gateways": ["gw"], "http": [{"route": [DEST]}]}),
        "duplicate hosts in virtual service: *.example.com & shop.example.com",
        "spec.hosts",
    ),
    (
        "redirect-code",
        vs({"hosts": ["reviews"], "http": [{"redirect": {"uri": "/a", "redirectCode": 200}}]}),
        "200 is not a valid redirect code, must be 3xx",
        "spec.http[0].redirect",
    ),
    (
        "redirect-empty",
        vs({"hosts": ["reviews"], "http": [{"redirect": {"redirectCode": 302}}]}),
        "redirect must specify URI, authority, scheme, or port",
        "spec.http[0].redirect",
    ),
    (
        "redirect-scheme",
        vs({"hosts": ["reviews"], "http": [{"redirect": {"scheme": "ftp"}}]}),
        'invalid redirect scheme, must be "http" or "https"',
        "spec.http[0].redirect",
    ),
    (
        "direct-response-status",
        vs({"hosts": ["reviews"], "http": [{"directResponse": {"status": 700}}]}),
        "HTTP status 700 is not in range 200-599",
        "spec.http[0].directResponse.status",
    ),
    (
        "direct-response-too-large",
        vs(
            {
                "hosts": ["reviews"],
                "http": [{"directResponse": {"status": 200, "body": {"string": "x" * (1 << 20 | 1)}}}],
            }
        ),
        "large direct_responses may impact control plane performance, must be less than 1MB",
        "spec.http[0].directResponse.body",
    ),
    (
        "pseudo-header-set",
        http(headers={"request": {"set": {":path": "/x"}}}),
        'invalid header ":path": header cannot have ":" prefix',
        "spec.http[0].headers.request.set.:path",
    ),
    (
        "host-header-removed",
        http(headers={"request": {"remove": ["Host"]}}),
        'invalid header "Host": cannot set Host header',
        "spec.http[0].headers.request.remove[0]",
    ),
    (
        "response-pseudo-header",
        http(route=[{"destination": {"host": "reviews"}, "headers": {"response": {"add": {":status": "200"}}}}]),
        'invalid header ":status": header cannot have ":" prefix',
        "spec.http[0].route[0].headers.response.add.:status",
    ),
    (
        "authority-set-twice",
        http(rewrite={"authority": "a.example"}, headers={"request": {"set": {"host": "b.example"}}}),
        'authority header cannot be set multiple times: have "a.example", attempting to set "b.example"',
        "spec.http[0].headers",
    ),
    (
        "mirror-and-mirrors",
        http(mirror={"host": "reviews"}, mirrors=[{"destination": {"host": "ratings"}}]),
        "HTTP route cannot contain both mirror and mirrors",
        "spec.http[0]",
    ),
    (
        "mirror-percentage-max",
        http(mirror={"host": "reviews"}, mirrorPercentage={"value": 150}),
        "mirror_percentage must have a max value of 100 (it has 150.000000)",
        "spec.http[0].mirrorPercentage",
    ),
    (
        "mirror-percentage-min",
        http(mirror={"host": "reviews"}, mirrorPercentage={"value": -1}),
        "mirror_percentage must have a min value of 0 (it has -1.000000)",
        "spec.http[0].mirrorPercentage",
    ),
    (
        "mirrors-percentage-max",
        http(mirrors=[{"destination": {"host": "ratings"}, "percentage": {"value": 100.5}}]),
        "mirror percentage must have a max value of 100 (it has 100.500000)",
        "spec.http[0].mirrors[0].percentage",
    ),
    (
        "mirror-percent-deprecated-max",
        http(mirror={"host": "reviews"}, mirrorPercent=101),
        "mirror_percent must have a max value of 100 (it has 101)",
        "spec.http[0].mirrorPercent",
    ),
    (
        "rewrite-empty",
        http(rewrite={}),
        "rewrite must specify at least one of URI, UriRegexRewrite, or authority. Only one of URI or "
        "UriRegexRewrite may be specified",
        "spec.http[0].rewrite",
    ),
    (
        "rewrite-uri-and-regex",
        http(rewrite={"uri": "/a", "uriRegexRewrite": {"match": "^/b", "rewrite": "/c"}}),
        "rewrite may only contain one of URI or UriRegexRewrite",
        "spec.http[0].rewrite",
    ),
    (
        "rewrite-regex-incomplete",
        http(rewrite={"uriRegexRewrite": {"match": "^/b"}}),
        "UriRegexRewrite has errors\nUriRegexRewrite requires both Rewrite and Match fields to be specified",
        "spec.http[0].rewrite",
    ),
    (
        "retries-negative",
        http(retries={"attempts": -1}),
        "attempts cannot be negative",
        "spec.http[0].retries.attempts",
    ),
    (
        "retries-disabled-but-configured",
        http(retries={"perTryTimeout": "2s"}),
        "http retry policy configured when attempts are set to 0 (disabled)",
        "spec.http[0].retries",
    ),
    (
        "retries-retry-on",
        http(retries={"attempts": 2, "retryOn": "5xx,sometimes"}),
        '"sometimes" is not a valid retryOn policy',
        "spec.http[0].retries.retryOn",
    ),
    (
        "timeout-sub-millisecond",
        http(timeout="1500us"),
        "only durations to ms precision are supported",
        "spec.http[0].timeout",
    ),
    (
        "jwt-claim-on-mesh",
        http(match=[{"headers": {"@request.auth.claims.group": {"exact": "admin"}}}]),
        "JWT claim based routing (key: @request.auth.claims.group) is only supported for gateway, found no "
        "gateways: []",
        "spec.http[0].match[0].headers.@request.auth.claims.group",
    ),
    (
        "header-name-invalid",
        http(match=[{"headers": {"bad header": {"exact": "x"}}}]),
        "header name bad header is not a valid header name",
        "spec.http[0].match[0].headers.bad header",
    ),
    (
        "source-namespace",
        http(match=[{"sourceNamespace": "Bad_NS"}]),
        "sourceNamespace match Bad_NS is invalid",
        "spec.http[0].match[0].sourceNamespace",
    ),
    (
        "source-labels",
        http(match=[{"sourceLabels": {"app": "bad value!"}}]),
        'invalid tag value: "bad value!"',
        "spec.http[0].match[0].sourceLabels",
    ),
    (
        "gateway-name",
        vs({"hosts": ["reviews"], "gateways": ["istio-system/Bad"], "http": [{"route": [DEST]}]}),
        'invalid value for gateway name: "Bad"',
        "spec.gateways[0]",
    ),
    (
        "root-route-with-route",
        http(name="root", delegate={"name": "reviews-delegate"}),
        "root HTTP route root must not specify route",
        "spec.http[0].route",
    ),
    (
        "delegate-with-gateways",
        vs({"gateways": ["gw"], "http": [{"route": [DEST]}]}),
        "delegate virtual service must have no gateways specified",
        "spec.gateways",
    ),
    (
        "delegate-in-delegate",
        vs({"http": [{"route": [DEST], "delegate": {"name": "x"}}]}),
        "delegate HTTP route cannot contain delegate",
        "spec.http[0].delegate",
    ),
    (
        "export-to-duplicate",
        vs({"hosts": ["reviews"], "exportTo": ["default", "."], "http": [{"route": [DEST]}]}),
        "duplicate entries in exportTo: . and current namespace default",
        "spec.exportTo[1]",
    ),
    (
        "tcp-without-route",
        vs({"hosts": ["reviews"], "tcp": [{"match": [{"port": 3306}]}]}),
        "TCP route is required",
        "spec.tcp[0]",
    ),
    # ------------------------------------------------------------------ DestinationRule
    (
        "duplicate-subsets",
        dr({"host": "reviews", "subsets": [{"name": "v1"}, {"name": "v1"}]}),
        "duplicate subset names: v1",
        "spec.subsets[1].name",
    ),
    (
        "subset-name",
        dr({"host": "reviews", "subsets": [{"name": "v1.0"}]}),
        "subset name is invalid: v1.0",
        "spec.subsets[0].name",
    ),
    (
        "dr-host",
        dr({"host": "Bad_Host"}),
        'domain name "Bad_Host" invalid (label "Bad_Host" invalid)',
        "spec.host",
    ),
    (
        "traffic-policy-empty",
        dr({"host": "reviews", "trafficPolicy": {}}),
        "traffic policy must have at least one field",
        "spec.trafficPolicy",
    ),
    (
        "http-cookie-without-name",
        dr(
            {
                "host": "reviews",
                "trafficPolicy": {"loadBalancer": {"consistentHash": {"httpCookie": {"ttl": "0s"}}}},
            }
        ),
        "name required for HttpCookie",
        "spec.trafficPolicy.loadBalancer.consistentHash.httpCookie",
    ),
    (
        "maglev-table-size",
        dr(
            {
                "host": "reviews",
                "trafficPolicy": {
                    "loadBalancer": {"consistentHash": {"useSourceIp": True, "maglev": {"tableSize": 1000}}}
                },
            }
        ),
        "tableSize must be a prime number for maglev",
        "spec.trafficPolicy.loadBalancer.consistentHash.maglev",
    ),
    (
        "outlier-percent",
        dr({"host": "reviews", "trafficPolicy": {"outlierDetection": {"maxEjectionPercent": 150}}}),
        "percentage 150 is not in range 0..100",
        "spec.trafficPolicy.outlierDetection.maxEjectionPercent",
    ),
    (
        "connection-pool-empty",
        dr({"host": "reviews", "subsets": [{"name": "v1", "trafficPolicy": {"connectionPool": {}}}]}),
        "connection pool must have at least one field",
        "spec.subsets[0].trafficPolicy.connectionPool",
    ),
    (
        "subset-labels",
        dr({"host": "reviews", "subsets": [{"name": "v1", "labels": {"version": "v 1"}}]}),
        'invalid tag value: "v 1"',
        "spec.subsets[0].labels",
    ),
    # ------------------------------------------------------------------ Gateway
    (
        "gateway-no-servers",
        gateway({"selector": {"istio": "ingressgateway"}}),
        "gateway must have at least one server",
        "spec.servers",
    ),
    (
        "gateway-name-label",
        gateway({"servers": [server()]}, name="bad.name"),
        'invalid gateway name: "bad.name"',
        "metadata.name",
    ),
    (
        "gateway-server-no-hosts",
        gateway({"servers": [server(hosts=[])]}),
        "server config must contain at least one host",
        "spec.servers[0].hosts",
    ),
    (
        "gateway-protocol",
        gateway({"servers": [server(port={"number": 8080, "name": "http", "protocol": "SMTP"})]}),
        'invalid protocol "SMTP", supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP',
        "spec.servers[0].port.protocol",
    ),
    (
        "gateway-port-name",
        # an empty name passes the CRD's "required" and is the webhook's to refuse (a missing one is the API server's)
        gateway({"servers": [server(port={"number": 8080, "protocol": "HTTP", "name": ""})]}),
        'port name must be set: number:8080 protocol:"HTTP"',
        "spec.servers[0].port.name",
    ),
    (
        "gateway-duplicate-port-names",
        gateway({"servers": [server(), server(port={"number": 9090, "name": "http", "protocol": "HTTP"})]}),
        "port names in servers must be unique: duplicate name http",
        "spec.servers[1].port.name",
    ),
    (
        "gateway-https-without-tls",
        gateway({"servers": [server(port={"number": 443, "name": "https", "protocol": "HTTPS"})]}),
        "server must have TLS settings for HTTPS/TLS protocols",
        "spec.servers[0].tls",
    ),
    (
        "gateway-host-namespace",
        gateway({"servers": [server(hosts=["Bad_NS/reviews.example.com"])]}),
        'invalid namespace value "Bad_NS" in gateway',
        "spec.servers[0].hosts[0]",
    ),
]


@pytest.mark.parametrize(("doc", "message", "path"), [c[1:] for c in WEBHOOK_CASES], ids=[c[0] for c in WEBHOOK_CASES])
def test_webhook_rejections_carry_istios_message(doc: dict[str, Any], message: str, path: str) -> None:
    assert rejected(doc) == f"t.yaml: {ref(doc)}: {WEBHOOK_PREFIX}{message} (at {path})"


def test_several_webhook_errors_are_joined_like_istio_with_lines() -> None:
    text = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - route:
    - destination:
        host: reviews
        subset: v1
      weight: -15
    - destination:
        host: reviews
        subset: v2
      weight: 20
    fault: {}
"""
    with pytest.raises(ValidationError) as caught:
        ObjectStore().apply(load_manifest_text(text, "canary.yaml"))
    assert caught.value.errors == [
        f"canary.yaml:18: VirtualService default/reviews: {WEBHOOK_PREFIX}2 errors occurred:\n"
        "\t* HTTP fault injection must have an abort and/or a delay (at spec.http[0].fault, line 18)\n"
        "\t* weight -15 < 0 (at spec.http[0].route[0].weight, line 13)"
    ]


def test_webhook_error_line_points_at_the_field() -> None:
    text = """# canary
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: reviews
  namespace: default
spec:
  hosts: [reviews]
  http:
  - match:
    - uri:
        regex: "(?!x)"
    route:
    - destination: {host: reviews}
"""
    with pytest.raises(ValidationError) as caught:
        ObjectStore().apply(load_manifest_text(text, "regex.yaml"))
    assert caught.value.errors == [
        f'regex.yaml:11: VirtualService default/reviews: {WEBHOOK_PREFIX}"uri": error parsing regexp: '
        "invalid or "
        f"unsupported Perl syntax: `(?!`; {RE2_NOTE} (at spec.http[0].match[0].uri)"
    ]


ACCEPTED_CASES: list[tuple[str, dict[str, Any]]] = [
    ("single-destination-zero-weight", http(route=[{"destination": {"host": "reviews"}, "weight": 0}])),
    (
        "relative-weights",
        http(route=[{**DEST, "weight": 1}, {"destination": {"host": "reviews", "subset": "v2"}, "weight": 3}]),
    ),
    ("empty-uri-prefix", http(match=[{"uri": {"prefix": ""}}])),
    (
        "presence-header",
        http(match=[{"headers": {"x-canary": {}}}, {"withoutHeaders": {"x-old": {"regex": "*"}}}]),
    ),
    ("abort-600-off-by-one", http(fault={"abort": {"httpStatus": 600, "percentage": {"value": 100}}})),
    ("abort-200", http(fault={"abort": {"httpStatus": 200}})),
    ("grpc-status", http(fault={"abort": {"grpcStatus": "UNAVAILABLE"}})),
    (
        "durations",
        http(
            timeout="0.5s",
            retries={"attempts": 3, "perTryTimeout": "100ms", "retryOn": "5xx,503,connect-failure"},
        ),
    ),
    (
        "durations-minutes",
        http(timeout="1m30s", fault={"delay": {"fixedDelay": "7s", "percentage": {"value": 0.1}}}),
    ),
    (
        "gateway-wildcard-host",
        vs({"hosts": ["*"], "gateways": ["bookinfo-gateway"], "http": [{"route": [DEST]}]}),
    ),
    (
        "gateway-jwt-claim",
        vs(
            {
                "hosts": ["*"],
                "gateways": ["istio-system/gw"],
                "http": [{"match": [{"headers": {"@request.auth.claims.group": {"exact": "a"}}}], "route": [DEST]}],
            }
        ),
    ),
    (
        "redirect-only",
        vs({"hosts": ["reviews"], "http": [{"redirect": {"uri": "/v2", "redirectCode": 308}}]}),
    ),
    (
        "direct-response",
        vs({"hosts": ["reviews"], "http": [{"directResponse": {"status": 503, "body": {"string": "down"}}}]}),
    ),
    ("rewrite-regex", http(rewrite={"uriRegexRewrite": {"match": "^/old/(.*)", "rewrite": "/new/\\1"}})),
    ("authority-set-once", http(headers={"request": {"set": {":authority": "reviews.example"}}})),
    (
        "mirror-default-percentage",
        http(mirror={"host": "ratings", "subset": "v1"}, mirrorPercentage={"value": 0}),
    ),
    ("v1alpha3", vs({"hosts": ["reviews"], "http": [{"route": [DEST]}]}, version="v1alpha3")),
    ("v1beta1", vs({"hosts": ["reviews"], "http": [{"route": [DEST]}]}, version="v1beta1")),
    ("dr-simple", dr({"host": "reviews", "trafficPolicy": {"loadBalancer": {"simple": "RANDOM"}}})),
    ("dr-mtls-no-op", dr({"host": "reviews", "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}})),
    (
        "dr-maglev",
        dr(
            {
                "host": "reviews",
                "trafficPolicy": {
                    "loadBalancer": {"consistentHash": {"httpHeaderName": "x-user", "maglev": {"tableSize": 65537}}}
                },
            }
        ),
    ),
    (
        "gateway-http",
        gateway({"selector": {"istio": "ingressgateway"}, "servers": [server(tls={"httpsRedirect": True})]}),
    ),
]


@pytest.mark.parametrize("doc", [c[1] for c in ACCEPTED_CASES], ids=[c[0] for c in ACCEPTED_CASES])
def test_valid_objects_are_accepted(doc: dict[str, Any]) -> None:
    accepted(doc)


# ------------------------------------------------------------------------------------------ webhook warnings
@pytest.mark.parametrize(
    ("doc", "warning"),
    [
        (http(fault={"abort": {"percentage": {"value": 10}}}), "abort configured, but error type not set"),
        (
            http(mirror={"host": "reviews"}, mirror_percent=50),
            'using deprecated setting "mirrorPercent", use "mirrorPercentage" instead',
        ),
        (
            vs({"hosts": ["reviews"], "gateways": ["bookinfo-gateway.default"], "http": [{"route": [DEST]}]}),
            'using legacy gatewayName format "bookinfo-gateway.default"; prefer the <namespace>/<name> '
            "format: "
            '"default/bookinfo-gateway"',
        ),
        (dr({"host": "reviews", "workloadSelector": {}}), "workload selector specified without labels"),
        (
            dr({"host": "reviews", "trafficPolicy": {"outlierDetection": {"consecutiveErrors": 5}}}),
            "outlier detection consecutive errors is deprecated, use consecutiveGatewayErrors or "
            "consecutive5xxErrors instead",
        ),
    ],
)
def test_webhook_warnings_are_returned_not_raised(doc: dict[str, Any], warning: str) -> None:
    assert f"Warning: ({ref(doc)}) {warning}" in accepted(doc)


# ------------------------------------------------------------------------------------------ the schema
SCHEMA_CASES: list[tuple[str, dict[str, Any], str]] = [
    (
        "weight-as-string",
        http(route=[{"destination": {"host": "reviews"}, "weight": "50"}]),
        'spec.http[0].route[0].weight: Invalid value: "string": spec.http[0].route[0].weight in body must be '
        "of "
        'type integer: "string"',
    ),
    (
        "hosts-not-a-list",
        vs({"hosts": "reviews", "http": [{"route": [DEST]}]}),
        'spec.hosts: Invalid value: "string": spec.hosts in body must be of type array: "string"',
    ),
    (
        "timeout-as-number",
        http(timeout=5),
        'spec.http[0].timeout: Invalid value: "integer": spec.http[0].timeout in body must be of type '
        "string: "
        '"integer"',
    ),
    (
        "string-match-one-of",
        http(match=[{"uri": {"exact": "/a", "prefix": "/a"}}]),
        '<nil>: Invalid value: "": "spec.http[0].match[0].uri" must validate one and only one schema '
        "(oneOf). "
        "Found 2 valid alternatives",
    ),
    (
        "destination-host-required",
        http(route=[{"destination": {"subset": "v1"}}]),
        "spec.http[0].route[0].destination.host: Required value",
    ),
    (
        "route-destination-required",
        http(route=[{"weight": 100}]),
        "spec.http[0].route[0].destination: Required value",
    ),
    (
        "fixed-delay-without-unit",
        http(fault={"delay": {"fixedDelay": "7", "percentage": {"value": 100}}}),
        'spec.http[0].fault.delay.fixedDelay: Invalid value: "string": must be a valid duration greater than 1ms',
    ),
    (
        "timeout-zero",
        http(timeout="0s"),
        'spec.http[0].timeout: Invalid value: "string": must be a valid duration greater than 1ms',
    ),
    (
        "port-negative",
        http(route=[{"destination": {"host": "reviews", "port": {"number": -1}}}]),
        "spec.http[0].route[0].destination.port.number: Invalid value: -1: "
        "spec.http[0].route[0].destination.port."
        "number in body should be greater than or equal to 0",
    ),
    (
        "lb-enum",
        dr({"host": "reviews", "trafficPolicy": {"loadBalancer": {"simple": "FASTEST"}}}),
        'spec.trafficPolicy.loadBalancer.simple: Unsupported value: "FASTEST": supported values: '
        '"UNSPECIFIED", '
        '"LEAST_CONN", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST"',
    ),
    (
        "dr-host-required",
        dr({"subsets": [{"name": "v1"}]}),
        "spec.host: Required value",
    ),
    (
        "gateway-server-port-required",
        gateway({"servers": [{"hosts": ["*"]}]}),
        "spec.servers[0].port: Required value",
    ),
    (
        "two-schema-errors",
        http(timeout="soon", route=[{"destination": {"host": "reviews"}, "weight": True}]),
        '[spec.http[0].route[0].weight: Invalid value: "boolean": spec.http[0].route[0].weight in body must '
        "be of "
        'type integer: "boolean", spec.http[0].timeout: Invalid value: "string": must be a valid duration '
        "greater "
        "than 1ms]",
    ),
    (
        "istio-object-name",
        vs({"hosts": ["reviews"], "http": [{"route": [DEST]}]}, name="Reviews"),
        'metadata.name: Invalid value: "Reviews": a lowercase RFC 1123 subdomain must consist of lower case '
        "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
        "'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    ),
]


@pytest.mark.parametrize(("doc", "message"), [c[1:] for c in SCHEMA_CASES], ids=[c[0] for c in SCHEMA_CASES])
def test_schema_errors_are_the_api_servers(doc: dict[str, Any], message: str) -> None:
    name = doc["metadata"]["name"]
    assert rejected(doc) == f't.yaml: {ref(doc)}: The {doc["kind"]} "{name}" is invalid: {message}'


UNKNOWN_FIELD_CASES: list[tuple[str, dict[str, Any], str]] = [
    (
        "route-typo",
        vs({"hosts": ["reviews"], "http": [{"rout": [DEST]}]}),
        'unknown field "spec.http[0].rout"',
    ),
    (
        "snake-case",
        http(fault={"delay": {"fixed_delay": "7s"}}),
        'unknown field "spec.http[0].fault.delay.fixed_delay"',
    ),
    ("top-level", {**http(), "specs": {}}, 'unknown field "specs"'),
    ("metadata", {**http(), "metadata": {"name": "r", "label": {}}}, 'unknown field "metadata.label"'),
    (
        "two-fields",
        http(match=[{"header": {}, "uri": {"exact": "/", "regexp": "x"}}]),
        'unknown field "spec.http[0].match[0].header", unknown field "spec.http[0].match[0].uri.regexp"',
    ),
    (
        "dr-subset",
        dr({"host": "reviews", "subsets": [{"name": "v1", "label": {}}]}),
        'unknown field "spec.subsets[0].label"',
    ),
    ("gateway-server", gateway({"servers": [server(host=["*"])]}), 'unknown field "spec.servers[0].host"'),
]


@pytest.mark.parametrize(
    ("doc", "fields"), [c[1:] for c in UNKNOWN_FIELD_CASES], ids=[c[0] for c in UNKNOWN_FIELD_CASES]
)
def test_unknown_fields_fail_strict_decoding(doc: dict[str, Any], fields: str) -> None:
    kind, version = doc["kind"], doc["apiVersion"].split("/")[-1]
    assert rejected(doc) == (
        f't.yaml: {ref(doc)}: {kind} in version "{version}" cannot be handled as a {kind}: strict decoding '
        f"error: {fields}"
    )


def test_schema_errors_come_before_the_webhook() -> None:
    # Both a schema error (timeout type) and a webhook error (negative weight): only the schema error shows,
    # as the API server rejects before calling the webhook.
    doc = http(timeout=3, route=[{"destination": {"host": "reviews"}, "weight": -1}])
    entry = rejected(doc)
    assert "is invalid: spec.http[0].timeout" in entry
    assert "weight -1 < 0" not in entry


# ------------------------------------------------------------------------------------------ Kubernetes kinds
def service(spec: dict[str, Any], name: str = "s") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def deployment(spec: dict[str, Any], name: str = "app") -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": spec}


def pod_template(labels: dict[str, str], containers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"labels": labels},
        "spec": {"containers": containers if containers is not None else [{"name": "app", "image": "app:1"}]},
    }


KUBE_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("service-no-ports", service({"selector": {"app": "x"}}), "spec.ports: Required value"),
    ("service-port-missing", service({"ports": [{"name": "http"}]}), "spec.ports[0].port: Required value"),
    (
        "service-port-range",
        service({"ports": [{"port": 70000}]}),
        "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
    ),
    (
        "service-unnamed-ports",
        service({"ports": [{"port": 80, "name": "http"}, {"port": 81}]}),
        "spec.ports[1].name: Required value",
    ),
    (
        "service-duplicate-port-names",
        service({"ports": [{"port": 80, "name": "http"}, {"port": 81, "name": "http"}]}),
        'spec.ports[1].name: Duplicate value: "http"',
    ),
    (
        "service-selector-not-a-map",
        service({"ports": [{"port": 80}], "selector": "app=x"}),
        'spec.selector: Invalid value: "string": spec.selector in body must be of type object: "string"',
    ),
    (
        "service-protocol",
        service({"ports": [{"port": 80, "protocol": "HTTP"}]}),
        'spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
    ),
    (
        "service-name-dns1035",
        service({"ports": [{"port": 80}]}, name="1reviews"),
        'metadata.name: Invalid value: "1reviews": a DNS-1035 label must consist of lower case alphanumeric '
        "characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. "
        "'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
    ),
    (
        "deployment-selector-mismatch",
        deployment(
            {
                "selector": {"matchLabels": {"app": "reviews", "version": "v1"}},
                "template": pod_template({"app": "reviews"}),
            }
        ),
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"reviews"}: `selector` does '
        "not "
        "match template `labels`",
    ),
    (
        "deployment-selector-required",
        deployment({"template": pod_template({"app": "x"})}),
        "spec.selector: Required value",
    ),
    (
        "deployment-container-image",
        deployment(
            {
                "selector": {"matchLabels": {"app": "x"}},
                "template": pod_template({"app": "x"}, [{"name": "x"}]),
            }
        ),
        "spec.template.spec.containers[0].image: Required value",
    ),
    (
        "deployment-no-containers",
        deployment({"selector": {"matchLabels": {"app": "x"}}, "template": pod_template({"app": "x"}, [])}),
        "spec.template.spec.containers: Required value",
    ),
    (
        "deployment-replicas",
        deployment(
            {
                "replicas": -1,
                "selector": {"matchLabels": {"app": "x"}},
                "template": pod_template({"app": "x"}),
            }
        ),
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
    ),
    (
        "deployment-container-port",
        deployment(
            {
                "selector": {"matchLabels": {"app": "x"}},
                "template": pod_template(
                    {"app": "x"}, [{"name": "x", "image": "x:1", "ports": [{"containerPort": 0}]}]
                ),
            }
        ),
        "spec.template.spec.containers[0].ports[0].containerPort: Invalid value: 0: must be between 1 and "
        "65535, inclusive",
    ),
    (
        "namespace-name",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "Shop"}},
        'metadata.name: Invalid value: "Shop": a lowercase RFC 1123 label must consist of lower case '
        "alphanumeric "
        "characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
        "'123-abc', "
        "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
    ),
    (
        "service-account-name",
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bookinfo_reviews"}},
        'metadata.name: Invalid value: "bookinfo_reviews": a lowercase RFC 1123 subdomain must consist of '
        "lower "
        "case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character "
        "(e.g. "
        "'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    ),
    (
        "label-value",
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "sa", "labels": {"team": "books & more"}},
        },
        'metadata.labels: Invalid value: "books & more": a valid label must be an empty string or consist of '
        "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character "
        "(e.g. "
        "'MyValue',  or 'my_value',  or '12345', regex used for validation is "
        "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
    ),
]


@pytest.mark.parametrize(("doc", "message"), [c[1:] for c in KUBE_CASES], ids=[c[0] for c in KUBE_CASES])
def test_kubernetes_checks(doc: dict[str, Any], message: str) -> None:
    name = doc["metadata"]["name"]
    shown = f"{doc['kind']} {name}" if doc["kind"] == "Namespace" else ref(doc)
    assert rejected(doc) == f't.yaml: {shown}: The {doc["kind"]} "{name}" is invalid: {message}'


def test_kubernetes_unknown_field() -> None:
    doc = deployment({"replica": 2, "selector": {"matchLabels": {"app": "x"}}, "template": pod_template({"app": "x"})})
    assert rejected(doc) == (
        't.yaml: Deployment default/app: Deployment in version "v1" cannot be handled as a Deployment: '
        "strict "
        'decoding error: unknown field "spec.replica"'
    )


def test_deployment_match_expressions_select_template() -> None:
    selector = {"matchExpressions": [{"key": "version", "operator": "In", "values": ["v1", "v2"]}]}
    accepted(deployment({"selector": selector, "template": pod_template({"version": "v2"})}))
    entry = rejected(deployment({"selector": selector, "template": pod_template({"version": "v3"})}))
    assert entry.endswith("`selector` does not match template `labels`")


# ------------------------------------------------------------------------------------------ helpers
@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("[a", "error parsing regexp: missing closing ]: `[a`"),
        ("(a", "error parsing regexp: missing closing ): `(a`"),
        ("a)", "error parsing regexp: unexpected ): `a)`"),
        ("a**", "error parsing regexp: invalid nested repetition operator: `**`"),
        ("*a", "error parsing regexp: missing argument to repetition operator: `*`"),
        ("a{1001}", "error parsing regexp: invalid repeat count: `{1001}`"),
        ("x\\", "error parsing regexp: trailing backslash at end of expression: ``"),
        ("(?<=a)b", "error parsing regexp: invalid named capture: `(?<=a)b`"),
        ("^/reviews/[0-9]+$", None),
        ("(?i)jason", None),
    ],
)
def test_re2_errors_read_like_go(pattern: str, message: str | None) -> None:
    assert re2_error(pattern) == message


@pytest.mark.parametrize(
    ("text", "nanos"),
    [
        ("0.5s", 500_000_000),
        ("7s", 7_000_000_000),
        ("100ms", 100_000_000),
        ("1m", 60_000_000_000),
        ("1h30m", 5_400_000_000_000),
        ("1500us", 1_500_000),
        ("0", 0),
        ("-1s", -1_000_000_000),
        ("7", None),
        ("s", None),
        ("", None),
        ("1d", None),
    ],
)
def test_go_durations(text: str, nanos: int | None) -> None:
    assert parse_duration_ns(text) == nanos


# ------------------------------------------------------------------------------------------ Istio's stricter rules
GW_SELECTOR = {"istio": "ingressgateway"}
STRICTER_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        "header-value-unterminated-variable",
        http(headers={"request": {"set": {"x-a": "abcd%oijasodifj"}}}),
        [
            "header value configuration: invalid header configuration. Un-terminated variable expression "
            "'abcd%oijasodifj' (at spec.http[0].headers.request.set.x-a)"
        ],
    ),
    (
        "header-value-unescaped-percent",
        http(headers={"response": {"add": {"x-t": "%START_TIME%%"}}}),
        ["header value configuration: invalid header configuration. Un-escaped % (at spec.http[0].headers.response"],
    ),
    (
        "duplicate-cookie-attribute",
        dr(
            {
                "host": "reviews",
                "trafficPolicy": {
                    "loadBalancer": {
                        "consistentHash": {
                            "httpCookie": {
                                "name": "session",
                                "ttl": "0s",
                                "attributes": [{"name": "SameSite", "value": "Lax"}, {"name": "SameSite"}],
                            }
                        }
                    }
                },
            }
        ),
        ["duplicate cookie attribute name: SameSite"],
    ),
    (
        "ip-literal-destination-rule-host",
        dr({"host": "1.2.3.4"}),
        ['domain name "2.3.4" invalid (top level domain "4" cannot be all-numeric)'],
    ),
    (
        "short-gateway-host",
        gateway({"selector": GW_SELECTOR, "servers": [server(hosts=["bookinfo"])]}),
        ["short names (non FQDN) are not allowed (at spec.servers[0].hosts[0])"],
    ),
    (
        "partial-wildcard-gateway-host",
        gateway({"selector": GW_SELECTOR, "servers": [server(hosts=["*bar.com"])]}),
        ['partial wildcard "*bar.com" not allowed'],
    ),
    (
        "partial-wildcard-namespaced-gateway-host",
        gateway({"selector": GW_SELECTOR, "servers": [server(hosts=["default/*bar.com"])]}),
        ['partial wildcard "*bar.com" not allowed'],
    ),
    (
        "insecure-skip-verify-with-credential",
        dr(
            {
                "host": "reviews",
                "trafficPolicy": {"tls": {"mode": "SIMPLE", "insecureSkipVerify": True, "credentialName": "c"}},
            }
        ),
        ["cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true"],
    ),
    (
        "credential-name-with-client-certificate",
        dr(
            {
                "host": "reviews",
                "trafficPolicy": {"tls": {"mode": "MUTUAL", "credentialName": "c", "clientCertificate": "/etc/c.pem"}},
            }
        ),
        ["cannot specify client certificates or CA certificate or CA CRL If credentialName is set"],
    ),
    (
        "unix-bind-with-port",
        gateway({"selector": GW_SELECTOR, "servers": [server(bind="unix:///var/run/gw.sock")]}),
        ["port number must be 0 for unix domain socket: number:8080"],
    ),
    (
        "istio-mutual-server-with-certificate",
        gateway(
            {
                "selector": GW_SELECTOR,
                "servers": [
                    {
                        "port": {"number": 8443, "name": "https", "protocol": "HTTPS"},
                        "hosts": ["*"],
                        "tls": {"mode": "ISTIO_MUTUAL", "serverCertificate": "/etc/cert.pem"},
                    }
                ],
            }
        ),
        ["ISTIO_MUTUAL TLS cannot have associated server certificate (at spec.servers[0].tls.serverCertificate)"],
    ),
    (
        "warmup-minimum-percent-above-100",
        dr(
            {
                "host": "reviews",
                "trafficPolicy": {
                    "loadBalancer": {"simple": "ROUND_ROBIN", "warmup": {"duration": "10s", "minimumPercent": 150}}
                },
            }
        ),
        ["spec.trafficPolicy.loadBalancer.warmup.minimumPercent in body should be less than or equal to 100"],
    ),
    (
        "warmup-without-duration",
        dr(
            {
                "host": "reviews",
                "trafficPolicy": {"loadBalancer": {"simple": "ROUND_ROBIN", "warmup": {"aggression": 2}}},
            }
        ),
        ["spec.trafficPolicy.loadBalancer.warmup.duration: Required value"],
    ),
]


STRICTER_CASES += [
    (
        "crd-required-port-name",
        gateway({"selector": GW_SELECTOR, "servers": [server(port={"number": 8080, "protocol": "HTTP"})]}),
        ['The Gateway "g" is invalid: spec.servers[0].port.name: Required value'],
    ),
    (
        "crd-cookie-attribute-name-required",
        dr(
            {
                "host": "reviews",
                "trafficPolicy": {
                    "loadBalancer": {
                        "consistentHash": {"httpCookie": {"name": "c", "ttl": "1s", "attributes": [{"value": "x"}]}}
                    }
                },
            }
        ),
        ["spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.attributes[0].name: Required value"],
    ),
    (
        "crd-retry-budget-percent",
        dr({"host": "reviews", "trafficPolicy": {"retryBudget": {"percent": 150}}}),
        ["should be less than or equal to 100"],
    ),
    (
        "crd-port-level-settings-limit",
        dr(
            {
                "host": "reviews",
                "trafficPolicy": {
                    "portLevelSettings": [
                        {"port": {"number": i + 1}, "loadBalancer": {"simple": "RANDOM"}} for i in range(4097)
                    ]
                },
            }
        ),
        ["spec.trafficPolicy.portLevelSettings: Too many: 4097: must have at most 4096 items"],
    ),
    (
        "crd-tunnel-target-port",
        dr({"host": "reviews", "trafficPolicy": {"tunnel": {"targetHost": "egress.example"}}}),
        ["spec.trafficPolicy.tunnel.targetPort: Required value"],
    ),
    (
        "crd-selector-wildcard-key",
        dr({"host": "reviews", "workloadSelector": {"matchLabels": {"app*": "x"}}}),
        ['spec.workloadSelector.matchLabels: Invalid value: "object": wildcard not allowed in label key match'],
    ),
    (
        "crd-selector-wildcard-value",
        dr({"host": "reviews", "workloadSelector": {"matchLabels": {"app": "x*"}}}),
        ['Invalid value: "string": wildcard not allowed in label value match'],
    ),
    (
        "crd-credential-names-and-certificates",
        gateway(
            {
                "selector": GW_SELECTOR,
                "servers": [
                    {
                        "port": {"number": 8443, "name": "https", "protocol": "HTTPS"},
                        "hosts": ["*"],
                        "tls": {
                            "mode": "SIMPLE",
                            "credentialNames": ["a"],
                            "tlsCertificates": [{"serverCertificate": "/a", "privateKey": "/b"}],
                        },
                    }
                ],
            }
        ),
        ['spec.servers[0].tls: Invalid value: "object": only one of credentialNames or tlsCertificates can be set'],
    ),
]


@pytest.mark.parametrize(("doc", "fragments"), [c[1:] for c in STRICTER_CASES], ids=[c[0] for c in STRICTER_CASES])
def test_what_istio_refuses_is_refused_with_its_message(doc: dict[str, Any], fragments: list[str]) -> None:
    """Cases from Istio's own validation (istio/istio 1.30.3 pkg/config/validation), refused by the webhook or the
    CRD schema before the local backend's own "not supported" checks."""
    entry = rejected(doc)
    for fragment in fragments:
        assert fragment in entry, entry
    assert "not supported by the local backend" not in entry


@pytest.mark.parametrize(
    "value", ["canary", "100%%", "%HOSTNAME%", "prefix %REQ(x-user)% suffix", '%REQ_WITH_FORMAT(["a", "b"])%', ""]
)
def test_header_values_envoy_accepts_pass(value: str) -> None:
    accepted(http(headers={"request": {"set": {"x-a": value}}}))
