"""Istio's host rules (meshrelease.k8s.hosts), table-driven from istio/istio 1.30.3's own examples, and the
layer rule of the k8s package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import meshrelease.k8s
from meshrelease.k8s.hosts import (
    analyzer_fqdn,
    exported_to,
    fqdn,
    intersect_hosts,
    matches,
    more_specific,
    most_specific,
    resolve_gateway_ref,
    resolve_gateway_refs,
    server_hosts_for_namespace,
    subset_of,
)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("reviews", "reviews.default.svc.cluster.local"),
        ("reviews.default", "reviews.default"),  # a dot: taken as written, not completed
        ("reviews.default.svc.cluster.local", "reviews.default.svc.cluster.local"),
        ("*", "*"),
        ("*.example.com", "*.example.com"),
        ("*foo", "*foo.default.svc.cluster.local"),  # only the literal "*" is special to istiod
        ("10.0.0.1", "10.0.0.1"),
        # The kube backend's former copy expanded these two to "….default.svc.cluster.local".
        ("2001:db8::1", "2001:db8::1"),
        ("", ""),
    ],
)
def test_fqdn_is_istiods_short_name_rule(host: str, expected: str) -> None:
    assert fqdn(host, "default") == expected


def test_fqdn_uses_the_cluster_domain() -> None:
    assert fqdn("reviews", "shop", "corp.internal") == "reviews.shop.svc.corp.internal"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("reviews", "reviews.shop.svc.cluster.local"),
        ("reviews.default", "reviews.default"),
        ("*foo", "*foo"),  # istioctl analyze keeps every name starting with "*"
        ("2001:db8::1", "2001:db8::1.shop.svc.cluster.local"),  # and knows nothing of IP addresses
    ],
)
def test_analyzer_fqdn_is_istioctl_analyzes_rule(host: str, expected: str) -> None:
    assert analyzer_fqdn(host, "shop") == expected


@pytest.mark.parametrize(
    ("a", "b", "overlap", "a_in_b"),
    [
        # pkg/config/host/name.go's examples for Matches, and SubsetOf for the same pairs
        ("foo.com", "foo.com", True, True),
        ("foo.com", "bar.com", False, False),
        ("*.com", "foo.com", True, False),
        ("bar.com", "*.com", True, True),
        ("*.foo.com", "foo.com", False, False),
        ("*", "foo.com", True, False),
        ("*", "*.com", True, False),
        ("*.com", "*", True, True),
        ("*.a.com", "*.com", True, True),
        ("*.com", "*.a.com", True, False),
        ("Foo.com", "foo.com", False, False),  # Go compares bytes
    ],
)
def test_matches_and_subset_of(a: str, b: str, overlap: bool, a_in_b: bool) -> None:
    assert matches(a, b) is overlap
    assert matches(b, a) is overlap
    assert subset_of(a, b) is a_in_b


def test_the_wildcard_star_covers_every_name() -> None:
    # The kube backend's former copy let "*" cover nothing but itself.
    assert matches("*", "reviews.default.svc.cluster.local")
    assert subset_of("reviews.default.svc.cluster.local", "*")


def test_more_and_most_specific() -> None:
    assert more_specific("a.com", "*.com")
    assert not more_specific("*.com", "a.com")
    assert more_specific("*.a.com", "*.com")
    assert more_specific("a.com", "b.com")  # same length: alphabetical
    patterns = ["*", "*.com", "*.a.com", "x.a.com"]
    assert most_specific("x.a.com", patterns) == "x.a.com"
    assert most_specific("y.a.com", patterns) == "*.a.com"
    assert most_specific("y.b.com", patterns) == "*.com"
    assert most_specific("y.org", patterns) == "*"
    assert most_specific("*.b.a.com", patterns) == "*.a.com"
    assert most_specific("y.org", ["*.com"]) is None


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("mesh", "mesh"),
        ("gw", "default/gw"),
        ("./gw", "default/gw"),
        ("istio-system/gw", "istio-system/gw"),
        ("gw.istio-system", "istio-system/gw"),
        ("gw.istio-system.svc.cluster.local", "istio-system/gw"),
    ],
)
def test_resolve_gateway_ref(ref: str, expected: str) -> None:
    assert resolve_gateway_ref(ref, "default") == expected


def test_no_gateways_means_the_mesh() -> None:
    assert resolve_gateway_refs([], "default") == ["mesh"]
    assert resolve_gateway_refs(["gw", None, ""], "default") == ["default/gw"]


def test_server_hosts_for_namespace_follows_names_for_namespace() -> None:
    # pkg/config/host/names.go NamesForNamespace's examples, plus "./" for the Gateway's own namespace.
    assert server_hosts_for_namespace(["ns1/foo.com", "ns2/bar.com"], "gw-ns", "ns1") == ["foo.com"]
    assert server_hosts_for_namespace(["ns1/foo.com", "ns2/bar.com"], "gw-ns", "ns3") == []
    assert server_hosts_for_namespace(["ns1/foo.com", "*/bar.com"], "gw-ns", "ns3") == ["bar.com"]
    assert server_hosts_for_namespace(["foo.com", "ns2/bar.com"], "gw-ns", "ns2") == ["foo.com", "bar.com"]
    assert server_hosts_for_namespace(["./foo.com"], "gw-ns", "gw-ns") == ["foo.com"]
    assert server_hosts_for_namespace(["./foo.com"], "gw-ns", "other") == []


def test_intersect_hosts_follows_names_intersection() -> None:
    # pkg/config/host/names.go Intersection's examples (server hosts first)
    assert intersect_hosts(["foo.com", "bar.com"], ["*.com"]) == ["foo.com", "bar.com"]
    assert intersect_hosts(["foo.com", "*.net"], ["*.com", "bar.net"]) == ["foo.com", "bar.net"]
    assert intersect_hosts(["foo.com", "*.net"], ["*.bar.net"]) == ["*.bar.net"]
    assert intersect_hosts(["foo.com"], ["bar.com"]) == []
    assert intersect_hosts([], ["bar.com"]) == []
    # gateway virtual hosts are lowercase
    assert intersect_hosts(["*"], ["Bookinfo.com", "bookinfo.com"]) == ["bookinfo.com"]


@pytest.mark.parametrize(
    ("export_to", "client", "visible"),
    [
        ([], "other", True),
        (["*"], "other", True),
        (["."], "default", True),
        (["."], "other", False),
        (["default"], "default", True),
        (["other"], "other", True),
        (["other"], "third", False),
        (["~"], "default", False),
        # "~" hides the object whatever else is listed (push_context.go initVirtualServices); both former
        # copies showed it to "other" here.
        (["~", "other"], "other", False),
    ],
)
def test_exported_to(export_to: list[str], client: str, visible: bool) -> None:
    assert exported_to(export_to, "default", client) is visible


def test_k8s_imports_only_errors_and_itself() -> None:
    package = Path(meshrelease.k8s.__file__).parent
    for module in sorted(package.glob("*.py")):
        tree = ast.parse(module.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                if name.startswith("meshrelease"):
                    assert name == "meshrelease.errors" or name.startswith("meshrelease.k8s"), (
                        f"{module.name} imports {name}"
                    )
