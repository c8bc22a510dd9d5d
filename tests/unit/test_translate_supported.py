"""Fields the local backend does not render: explicit errors from check_supported and translate()."""

from __future__ import annotations

import pytest

from meshrelease.backends.local.translate.translator import TranslationError, check_supported, translate
from meshrelease.errors import ValidationError
from tests.translate_builders import FIXTURES, load_yaml, stored, world

ELSEWHERE = "the kind and cluster backends support it"
NOT_SUPPORTED = "is not supported by the local backend yet"


def _msg(ref: str, path: str, why: str = "") -> str:
    """The documented shape: `<Kind ns/name>: <path> is not supported by the local backend yet (...)`."""
    reason = f"{why}; {ELSEWHERE}" if why else ELSEWHERE
    return f"{ref}: {path} {NOT_SUPPORTED} ({reason})"


VS = "VirtualService test/http"
DR = "DestinationRule default/reviews"
GW = "Gateway istio-system/gw"
SVC = "Service default/external"
JWT = "JWT claim matching needs request authentication"
PLAIN = "the local mesh is plaintext"

UNSUPPORTED = [
    (
        """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tcp}
spec:
  hosts: [reviews]
  tcp:
    - route: [{destination: {host: reviews}}]
  tls:
    - match: [{sniHosts: [reviews]}]
      route: [{destination: {host: reviews}}]
""",
        [
            _msg("VirtualService default/tcp", "spec.tcp", "the local mesh routes HTTP only"),
            _msg("VirtualService default/tcp", "spec.tls", "the local mesh routes HTTP only"),
        ],
    ),
    (
        """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: http, namespace: test}
spec:
  hosts: [reviews]
  http:
    - route: [{destination: {host: reviews}}]
      corsPolicy: {allowOrigins: [{exact: "https://a"}]}
    - delegate: {name: child, namespace: test}
    - match:
        - headers: {"@request.auth.claims.group": {exact: admin}}
          withoutHeaders: {"@request.auth.claims.sub": {exact: bob}}
      route: [{destination: {host: reviews}}]
    - match: [{uri: {exact: /r}}]
      redirect: {uri: /x, redirectCode: 304}
""",
        [
            _msg(VS, "spec.http[0].corsPolicy"),
            _msg(VS, "spec.http[1].delegate"),
            _msg(VS, "spec.http[2].match[0].headers[@request.auth.claims.group]", JWT),
            _msg(VS, "spec.http[2].match[0].withoutHeaders[@request.auth.claims.sub]", JWT),
            "VirtualService test/http: spec.http[3].redirect.redirectCode 304 is not supported: istiod "
            "renders no action for it and Envoy rejects the whole route configuration (use 301, 302, 303, "
            "307 or 308)",
        ],
    ),
    (
        """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  workloadSelector: {matchLabels: {app: productpage}}
  trafficPolicy:
    connectionPool: {tcp: {maxConnections: 1}}
    outlierDetection: {consecutive5xxErrors: 1}
    loadBalancer:
      simple: PASSTHROUGH
      localityLbSetting: {enabled: true}
      warmupDurationSecs: 10s
    tls: {mode: SIMPLE}
    portLevelSettings:
      - port: {number: 9080}
        tls: {mode: MUTUAL}
  subsets:
    - name: v1
      labels: {version: v1}
      trafficPolicy:
        tunnel: {protocol: CONNECT, targetHost: x, targetPort: 1}
        proxyProtocol: {version: V1}
        loadBalancer: {warmup: {duration: 10s}}
""",
        [
            _msg(DR, "spec.workloadSelector"),
            _msg(DR, "spec.trafficPolicy.connectionPool"),
            _msg(DR, "spec.trafficPolicy.outlierDetection"),
            _msg(
                DR,
                "spec.trafficPolicy.loadBalancer.simple PASSTHROUGH",
                "there is no original destination locally",
            ),
            _msg(DR, "spec.trafficPolicy.loadBalancer.localityLbSetting"),
            _msg(DR, "spec.trafficPolicy.loadBalancer.warmupDurationSecs"),
            _msg(DR, "spec.trafficPolicy.tls.mode SIMPLE", PLAIN),
            _msg(DR, "spec.subsets[0].trafficPolicy.tunnel"),
            _msg(DR, "spec.subsets[0].trafficPolicy.proxyProtocol"),
            _msg(DR, "spec.subsets[0].trafficPolicy.loadBalancer.warmup"),
            _msg(DR, "spec.trafficPolicy.portLevelSettings[0].tls.mode MUTUAL", PLAIN),
        ],
    ),
    (
        """
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
    - port: {number: 443, name: https, protocol: HTTPS}
      hosts: ["*"]
      tls: {mode: SIMPLE, credentialName: cert}
    - port: {number: 8080, name: http, protocol: HTTP, targetPort: 8080}
      hosts: ["*"]
      bind: 127.0.0.2
      defaultEndpoint: 127.0.0.1:9080
    - port: {number: 31400, name: tcp, protocol: TCP}
      hosts: ["*"]
""",
        [
            _msg(GW, "spec.servers[0].port.protocol HTTPS", "the local gateway serves HTTP only"),
            _msg(GW, "spec.servers[0].tls"),
            _msg(GW, "spec.servers[1].port.targetPort"),
            _msg(GW, "spec.servers[1].bind"),
            _msg(GW, "spec.servers[1].defaultEndpoint"),
            _msg(GW, "spec.servers[2].port.protocol TCP", "the local gateway serves HTTP only"),
        ],
    ),
    (
        """
apiVersion: v1
kind: Service
metadata:
  name: external
  annotations: {networking.istio.io/exportTo: "."}
spec:
  type: ExternalName
  externalName: example.com
""",
        [
            _msg(SVC, "spec.type ExternalName"),
            _msg(SVC, "metadata.annotations[networking.istio.io/exportTo]"),
        ],
    ),
]


IDS = ["vs-tcp-tls", "vs-http", "dr", "gateway", "svc"]


@pytest.mark.parametrize(("manifest", "expected"), UNSUPPORTED, ids=IDS)
def test_check_supported_messages(manifest: str, expected: list[str]) -> None:
    assert check_supported(stored(load_yaml(manifest))) == expected


@pytest.mark.parametrize(("manifest", "expected"), UNSUPPORTED, ids=IDS)
def test_translate_raises_translation_error(manifest: str, expected: list[str]) -> None:
    w = world(manifest)
    with pytest.raises(TranslationError) as err:
        translate(w.objects, w.pods, w.proxies)
    assert isinstance(err.value, ValidationError)
    assert err.value.errors == expected
    assert "kind or cluster backend" in str(err.value)


def test_project_fixtures_are_supported() -> None:
    docs = []
    for name in ("bookinfo.yaml", "bookinfo-gateway.yaml", "destination-rule-all.yaml"):
        docs += load_yaml((FIXTURES / name).read_text())
    assert check_supported(stored(docs)) == []


def test_mtls_destination_rule_is_supported_with_a_warning() -> None:
    manifest = """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    tls: {mode: ISTIO_MUTUAL}
  subsets:
    - {name: v1, labels: {version: v1}}
"""
    assert check_supported(stored(load_yaml(manifest))) == []
    w = world(manifest)
    translation = translate(w.objects, w.pods, w.proxies)
    assert translation.warnings == [
        "DestinationRule default/reviews: spec.trafficPolicy.tls.mode ISTIO_MUTUAL is ignored by the local "
        "backend (its mesh is plaintext; routing is unaffected)"
    ]


def test_tls_without_mode_is_istios_default_disable() -> None:
    manifest = """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings}
spec:
  host: ratings
  trafficPolicy:
    tls: {sni: ratings.example}
"""
    assert check_supported(stored(load_yaml(manifest))) == []
    w = world(manifest)
    assert translate(w.objects, w.pods, w.proxies).warnings == [
        "DestinationRule default/ratings: spec.trafficPolicy.tls.mode DISABLE is ignored by the local "
        "backend (its mesh is plaintext; routing is unaffected)"
    ]
