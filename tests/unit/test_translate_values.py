"""Value and host helpers of the translator (table-driven)."""

from __future__ import annotations

import pytest

from meshrelease.backends.local.translate.errors import TranslationError
from meshrelease.backends.local.translate.hosts import (
    exported_to,
    host_matches,
    intersect_hosts,
    resolve_gateway_ref,
    resolve_host,
    server_hosts_for_namespace,
    service_domains,
)
from meshrelease.backends.local.translate.registry import port_protocol
from meshrelease.backends.local.translate.values import million_percent, proto_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7s", "7s"),
        ("0s", "0s"),
        ("0.5s", "0.500s"),
        ("100ms", "0.100s"),
        ("2.5s", "2.500s"),
        ("1m30s", "90s"),
        ("1h", "3600s"),
        ("1.5ms", "0.001500s"),
        ("250us", "0.000250s"),
        ("10ns", "0.000000010s"),
        ("1s500ms", "1.500s"),
    ],
)
def test_proto_duration(text: str, expected: str) -> None:
    assert proto_duration(text, "where") == expected


@pytest.mark.parametrize("text", ["", "7", "abc", "5 s", "1x", "s"])
def test_bad_duration_names_the_field(text: str) -> None:
    with pytest.raises(TranslationError) as err:
        proto_duration(text, "VirtualService default/r: spec.http[0].timeout")
    assert "VirtualService default/r: spec.http[0].timeout" in str(err.value)


@pytest.mark.parametrize(
    ("value", "numerator"),
    [(100, 1000000), (50, 500000), (0.1, 1000), (12.5, 125000), (0, 0), (33.33333, 333333)],
)
def test_million_percent(value: float, numerator: int) -> None:
    assert million_percent({"value": value}) == {"numerator": numerator, "denominator": "MILLION"}


@pytest.mark.parametrize(
    ("host", "namespace", "expected"),
    [
        ("reviews", "default", "reviews.default.svc.cluster.local"),
        ("reviews", "test", "reviews.test.svc.cluster.local"),
        ("reviews.default", "test", "reviews.default"),
        ("reviews.default.svc.cluster.local", "test", "reviews.default.svc.cluster.local"),
        ("*", "default", "*"),
        ("*.example.com", "default", "*.example.com"),
        ("10.0.0.1", "default", "10.0.0.1"),
        ("::1", "default", "::1"),
    ],
)
def test_resolve_host(host: str, namespace: str, expected: str) -> None:
    assert resolve_host(host, namespace, "cluster.local") == expected


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("mesh", "mesh"),
        ("bookinfo-gateway", "default/bookinfo-gateway"),
        ("./bookinfo-gateway", "default/bookinfo-gateway"),
        ("istio-system/gw", "istio-system/gw"),
        ("gw.istio-system.svc.cluster.local", "istio-system/gw"),
        ("gw.istio-system", "istio-system/gw"),
    ],
)
def test_resolve_gateway_ref(ref: str, expected: str) -> None:
    assert resolve_gateway_ref(ref, "default") == expected


@pytest.mark.parametrize(
    ("name", "pattern", "expected"),
    [
        ("a.example.com", "*", True),
        ("a.example.com", "*.example.com", True),
        ("example.com", "*.example.com", False),
        ("A.Example.com", "a.example.COM", True),
        ("*.a.example.com", "*.example.com", True),
        ("*.example.com", "*.a.example.com", False),
        ("*", "*.example.com", False),
        ("a.example.com", "b.example.com", False),
    ],
)
def test_host_matches(name: str, pattern: str, expected: bool) -> None:
    assert host_matches(name, pattern) is expected


def test_intersect_hosts_picks_the_more_specific_name() -> None:
    assert intersect_hosts(["*"], ["bookinfo.com"]) == ["bookinfo.com"]
    assert intersect_hosts(["*.example.com"], ["*"]) == ["*.example.com"]
    assert intersect_hosts(["a.example.com", "b.other"], ["*.example.com", "c.other"]) == ["a.example.com"]
    assert intersect_hosts(["*"], ["x", "X"]) == ["x"]


def test_server_hosts_for_namespace() -> None:
    hosts = ["*/a.com", "test/b.com", "./c.com", "d.com"]
    assert server_hosts_for_namespace(hosts, "istio-system", "test") == ["a.com", "b.com", "d.com"]
    assert server_hosts_for_namespace(hosts, "istio-system", "istio-system") == ["a.com", "c.com", "d.com"]


@pytest.mark.parametrize(
    ("export_to", "own", "client", "expected"),
    [
        ([], "default", "test", True),
        (["*"], "default", "test", True),
        (["."], "default", "default", True),
        (["."], "default", "test", False),
        (["test"], "default", "test", True),
        (["test"], "default", "default", False),
        (["~"], "default", "default", False),
    ],
)
def test_exported_to(export_to: list[str], own: str, client: str, expected: bool) -> None:
    assert exported_to(export_to, own, client) is expected


def test_service_domains_same_and_other_namespace() -> None:
    fqdn = "reviews.default.svc.cluster.local"
    assert service_domains("reviews", "default", fqdn, "default") == [
        fqdn,
        f"{fqdn}.",
        "reviews",
        "reviews.default.svc",
        "reviews.default",
    ]
    assert service_domains("reviews", "default", fqdn, "test") == [
        fqdn,
        f"{fqdn}.",
        "reviews.default",
        "reviews.default.svc",
    ]


@pytest.mark.parametrize(
    ("name", "app_protocol", "expected"),
    [
        ("http", "", "HTTP"),
        ("http-web", "", "HTTP"),
        ("HTTP2", "", "HTTP2"),
        ("grpc", "", "GRPC"),
        ("grpc-web", "", "GRPC-Web"),
        ("tcp-db", "", "OTHER"),
        ("mongo", "", "OTHER"),
        ("https", "", "OTHER"),
        ("", "", "AUTO"),
        ("web", "", "AUTO"),
        ("web", "http", "HTTP"),
        ("http", "tcp", "OTHER"),
        ("x", "kubernetes.io/h2c", "HTTP2"),
    ],
)
def test_port_protocol(name: str, app_protocol: str, expected: str) -> None:
    assert port_protocol(name, app_protocol) == expected
