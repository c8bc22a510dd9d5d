"""``istioctl proxy-status`` read in every form the pinned releases print (samples: tests/data/istioctl/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshrelease.backends.kube.proxy_status import ProxyStatusFormatError, parse_proxy_status

DATA = Path(__file__).resolve().parents[1] / "data" / "istioctl"
PRODUCTPAGE = "productpage-v1-6b7f6f8c9d-r8w4t.bookinfo"


def read(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def test_the_json_of_1_30_and_later_gives_each_proxy_its_istiod_version_and_states() -> None:
    report = parse_proxy_status(read("proxy-status-1.31-revision-upgrade.json"))
    assert report.form == "json"
    assert [p.proxy for p in report.proxies] == [
        "istio-ingressgateway-7f9c8d6b5-m4n2q.istio-system",
        "reviews-v2-84d9c6f7b8-t5k8z.bookinfo",
        PRODUCTPAGE,
    ]  # one DiscoveryResponse per istiod, printed one after the other: both are read
    old = report.find(PRODUCTPAGE)
    assert old is not None
    assert (old.istiod, old.version, old.cluster, old.namespace) == (
        "istiod-5c7d9f8b4-q7w2e",
        "1.30.5",
        "Kubernetes",
        "bookinfo",
    )
    assert old.types == {"CDS": "SYNCED", "EDS": "SYNCED", "LDS": "SYNCED", "RDS": "SYNCED"}
    assert old.sync_known and old.out_of_sync() == {}
    reviews = report.find("reviews-v2-84d9c6f7b8-t5k8z.bookinfo")
    assert reviews is not None and reviews.istiod == "istiod-1-31-1-5d9c7b8f6-h2j4k"
    assert reviews.out_of_sync() == {"CDS": "STALE", "RDS": "ERROR"}
    assert [p.pod for p in report.in_namespace("istio-system")] == ["istio-ingressgateway-7f9c8d6b5-m4n2q"]


def test_the_verbose_table_of_1_27_to_1_29_is_read_by_column_name() -> None:
    report = parse_proxy_status(read("proxy-status-1.29-verbose.txt"))
    assert report.form == "verbose table"
    productpage = report.find(PRODUCTPAGE)
    assert productpage is not None
    assert productpage.types == {"CDS": "STALE", "ECDS": "IGNORED", "EDS": "SYNCED", "LDS": "SYNCED", "RDS": "STALE"}
    assert (productpage.istiod, productpage.version) == ("istiod-6c8d5f8b6d-9wz2m", "1.29.8")
    assert productpage.out_of_sync() == {"CDS": "STALE", "RDS": "STALE"}
    gateway = report.find("istio-ingressgateway-5b8f7c9d4-2xk7p.istio-system")
    assert gateway is not None and gateway.types["RDS"] == "NOT SENT" and gateway.out_of_sync() == {}
    assert "CDS STALE" in productpage.describe() and "ECDS" not in productpage.describe()


def test_the_default_table_of_1_27_to_1_29_has_versions_but_no_per_type_state() -> None:
    report = parse_proxy_status(read("proxy-status-1.29-default.txt"))
    assert report.form == "table"
    productpage = report.find(PRODUCTPAGE)
    assert productpage is not None
    assert (productpage.istiod, productpage.version) == ("istiod-6c8d5f8b6d-9wz2m", "1.29.8")
    assert productpage.subscribed == ("CDS", "LDS", "EDS", "RDS")
    assert not productpage.sync_known  # "SUBSCRIBED TYPES" says nothing about STALE


def test_the_table_before_1_27_is_read_too() -> None:
    report = parse_proxy_status(read("proxy-status-1.26.txt"))
    productpage = report.find(PRODUCTPAGE)
    assert productpage is not None and productpage.version == "1.26.8"
    assert productpage.out_of_sync() == {"RDS": "STALE"}
    gateway = report.find("istio-ingressgateway-5b8f7c9d4-2xk7p.istio-system")
    assert gateway is not None and gateway.out_of_sync() == {} and gateway.types["RDS"] == "NOT SENT"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "printed nothing"),
        ("Error: unable to find any Istiod instances\n", "not a proxy-status table"),
        ('{"resources": [}', "not JSON"),
    ],
)
def test_anything_else_is_an_error_that_quotes_it(text: str, message: str) -> None:
    with pytest.raises(ProxyStatusFormatError, match=message):
        parse_proxy_status(text)
