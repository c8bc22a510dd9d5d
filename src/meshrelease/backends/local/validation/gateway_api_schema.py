"""The field schema of gateway.networking.k8s.io Gateway and HTTPRoute (v1; v1beta1 has the same fields), as data.

Written from the Gateway API v1.5.1 CRDs (the version Istio 1.30 builds against: istio/istio 1.30.3 go.mod,
``sigs.k8s.io/gateway-api v1.5.1``): field names, enums, ranges, lengths, list sizes and patterns. The CRDs'
CEL rules are checked in :mod:`.gateway_api`. Fields of the experimental channel are part of the schema (so a
manifest using them is not an unknown-field error); the local backend refuses the ones it cannot run in
:mod:`meshrelease.backends.local.translate.supported_gateway_api`.
"""

from __future__ import annotations

from meshrelease.backends.local.validation.schema import ANY, STRING, Arr, MapOf, Node, Obj, Scalar

# ------------------------------------------------------------------------------------------ shared types
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
GROUP = Scalar("string", max_length=253, pattern=r"^$|" + DNS_SUBDOMAIN)
KIND = Scalar("string", min_length=1, max_length=63, pattern=r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$")
OBJECT_NAME = Scalar("string", min_length=1, max_length=253)
NAMESPACE = Scalar("string", min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
SECTION_NAME = Scalar("string", min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)
PORT = Scalar("integer", minimum=1, maximum=65535)
HOSTNAME = Scalar("string", min_length=1, max_length=253, pattern=r"^(\*\.)?" + DNS_SUBDOMAIN[1:])
PRECISE_HOSTNAME = Scalar("string", min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)
HEADER_NAME = Scalar("string", min_length=1, max_length=256, pattern=r"^[A-Za-z0-9!#$%&'*+\-.^_\x60|~]+$")
HEADER_VALUE = Scalar("string", min_length=1, max_length=4096, pattern=r"^[!-~]+([\t ]?[!-~]+)*$")
GATEWAY_DURATION = Scalar("string", pattern=r"^([0-9]{1,5}(h|m|s|ms)){1,4}$")
LABEL_MAP = MapOf(Scalar("string", max_length=4096))


def enum(*values: str) -> Scalar:
    return Scalar("string", enum=values)


# ------------------------------------------------------------------------------------------ references
PARENT_REFERENCE = Obj(
    {
        "group": GROUP,
        "kind": KIND,
        "namespace": NAMESPACE,
        "name": OBJECT_NAME,
        "sectionName": SECTION_NAME,
        "port": PORT,
    },
    required=("name",),
)
BACKEND_OBJECT_REFERENCE = Obj(
    {"group": GROUP, "kind": KIND, "name": OBJECT_NAME, "namespace": NAMESPACE, "port": PORT},
    required=("name",),
)

# ------------------------------------------------------------------------------------------ HTTPRoute
HTTP_HEADER = Obj({"name": HEADER_NAME, "value": HEADER_VALUE}, required=("name", "value"))
HEADER_FILTER = Obj(
    {
        "set": Arr(HTTP_HEADER, max_items=16),
        "add": Arr(HTTP_HEADER, max_items=16),
        "remove": Arr(Scalar("string", min_length=1, max_length=256), max_items=16),
    }
)
PATH_MODIFIER = Obj(
    {
        "type": enum("ReplaceFullPath", "ReplacePrefixMatch"),
        "replaceFullPath": Scalar("string", max_length=1024),
        "replacePrefixMatch": Scalar("string", max_length=1024),
    },
    required=("type",),
)
REDIRECT_FILTER = Obj(
    {
        "scheme": enum("http", "https"),
        "hostname": PRECISE_HOSTNAME,
        "path": PATH_MODIFIER,
        "port": PORT,
        "statusCode": Scalar("integer", minimum=301, maximum=308),  # enum 301, 302, 303, 307, 308: see gateway_api
    }
)
URL_REWRITE_FILTER = Obj({"hostname": PRECISE_HOSTNAME, "path": PATH_MODIFIER})
FRACTION = Obj(
    {"numerator": Scalar("integer", minimum=0), "denominator": Scalar("integer", minimum=1)},
    required=("numerator",),
)
MIRROR_FILTER = Obj(
    {
        "backendRef": BACKEND_OBJECT_REFERENCE,
        "percent": Scalar("integer", minimum=0, maximum=100),
        "fraction": FRACTION,
    },
    required=("backendRef",),
)
LOCAL_OBJECT_REFERENCE = Obj({"group": GROUP, "kind": KIND, "name": OBJECT_NAME}, required=("group", "kind", "name"))
FILTER_TYPES = (
    "RequestHeaderModifier",
    "ResponseHeaderModifier",
    "RequestMirror",
    "RequestRedirect",
    "URLRewrite",
    "ExtensionRef",
    "CORS",
    "ExternalAuth",
)
HTTP_ROUTE_FILTER = Obj(
    {
        "type": enum(*FILTER_TYPES),
        "requestHeaderModifier": HEADER_FILTER,
        "responseHeaderModifier": HEADER_FILTER,
        "requestMirror": MIRROR_FILTER,
        "requestRedirect": REDIRECT_FILTER,
        "urlRewrite": URL_REWRITE_FILTER,
        "extensionRef": LOCAL_OBJECT_REFERENCE,
        "cors": ANY,
        "externalAuth": ANY,
    },
    required=("type",),
)
HTTP_BACKEND_REF = Obj(
    {
        "group": GROUP,
        "kind": KIND,
        "name": OBJECT_NAME,
        "namespace": NAMESPACE,
        "port": PORT,
        "weight": Scalar("integer", minimum=0, maximum=1000000),
        "filters": Arr(HTTP_ROUTE_FILTER, max_items=16),
    },
    required=("name",),
)
PATH_MATCH = Obj(
    {
        "type": enum("Exact", "PathPrefix", "RegularExpression"),
        "value": Scalar("string", max_length=1024),
    }
)
HEADER_MATCH = Obj(
    {"type": enum("Exact", "RegularExpression"), "name": HEADER_NAME, "value": Scalar("string", max_length=4096)},
    required=("name", "value"),
)
QUERY_PARAM_MATCH = Obj(
    {
        "type": enum("Exact", "RegularExpression"),
        "name": Scalar("string", min_length=1, max_length=256, pattern=r"^[A-Za-z0-9!#$%&'*+\-.^_\x60|~]+$"),
        "value": Scalar("string", min_length=1, max_length=1024),
    },
    required=("name", "value"),
)
HTTP_ROUTE_MATCH = Obj(
    {
        "path": PATH_MATCH,
        "headers": Arr(HEADER_MATCH, max_items=16),
        "queryParams": Arr(QUERY_PARAM_MATCH, max_items=16),
        "method": enum("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"),
    }
)
HTTP_ROUTE_RULE = Obj(
    {
        "name": SECTION_NAME,
        "matches": Arr(HTTP_ROUTE_MATCH, max_items=64),
        "filters": Arr(HTTP_ROUTE_FILTER, max_items=16),
        "backendRefs": Arr(HTTP_BACKEND_REF, max_items=16),
        "timeouts": Obj({"request": GATEWAY_DURATION, "backendRequest": GATEWAY_DURATION}),
        "retry": Obj(
            {
                "codes": Arr(Scalar("integer", minimum=400, maximum=599)),
                "attempts": Scalar("integer", minimum=0),
                "backoff": GATEWAY_DURATION,
            }
        ),
        "sessionPersistence": ANY,
    }
)
HTTP_ROUTE_SPEC = Obj(
    {
        "parentRefs": Arr(PARENT_REFERENCE, max_items=32),
        "hostnames": Arr(HOSTNAME, max_items=16),
        "rules": Arr(HTTP_ROUTE_RULE, max_items=16, min_items=1),
        "useDefaultGateways": enum("All", "None"),
    }
)

# ------------------------------------------------------------------------------------------ Gateway
ROUTE_GROUP_KIND = Obj({"group": GROUP, "kind": KIND}, required=("kind",))
LABEL_SELECTOR = Obj(
    {
        "matchLabels": MapOf(STRING),
        "matchExpressions": Arr(
            Obj({"key": STRING, "operator": STRING, "values": Arr(STRING)}, required=("key", "operator"))
        ),
    }
)
ALLOWED_ROUTES = Obj(
    {
        "namespaces": Obj({"from": enum("All", "Selector", "Same"), "selector": LABEL_SELECTOR}),
        "kinds": Arr(ROUTE_GROUP_KIND, max_items=8),
    }
)
LISTENER = Obj(
    {
        "name": SECTION_NAME,
        "hostname": HOSTNAME,
        "port": PORT,
        "protocol": Scalar(
            "string",
            min_length=1,
            max_length=255,
            pattern=r"^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9]+$",
        ),
        "tls": ANY,
        "allowedRoutes": ALLOWED_ROUTES,
    },
    required=("name", "port", "protocol"),
)
GATEWAY_SPEC = Obj(
    {
        "gatewayClassName": Scalar("string", min_length=1, max_length=253),
        "listeners": Arr(LISTENER, max_items=64, min_items=1),
        "addresses": Arr(
            Obj({"type": Scalar("string", min_length=1, max_length=253), "value": Scalar("string", max_length=253)}),
            max_items=16,
        ),
        "infrastructure": Obj({"labels": LABEL_MAP, "annotations": LABEL_MAP, "parametersRef": ANY}),
        "allowedListeners": ANY,
        "tls": ANY,
        "defaultScope": ANY,
    },
    required=("gatewayClassName", "listeners"),
)

SPECS: dict[str, Node] = {"Gateway": GATEWAY_SPEC, "HTTPRoute": HTTP_ROUTE_SPEC}
"""The spec schema of each Gateway API kind, by kind."""
