"""The object store: manifest loading, kubectl-apply semantics, all-or-nothing, namespaces, deletes."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from meshrelease.backends.local.apiserver.store import BUILTIN_NAMESPACES, NAMESPACE_HINT, DeleteError, ObjectStore
from meshrelease.backends.local.model import StoredObject
from meshrelease.data import data_dir
from meshrelease.errors import UserInputError, ValidationError
from meshrelease.k8s.manifest import Manifest, load_manifest_text, load_manifests
from meshrelease.k8s.objects import ObjectKey

FIXTURES = data_dir()
BOOKINFO = [
    FIXTURES / "bookinfo.yaml",
    FIXTURES / "bookinfo-gateway.yaml",
    FIXTURES / "destination-rule-all.yaml",
]
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


class StepClock:
    """A clock that advances one second per reading."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        current = self.now
        self.now += timedelta(seconds=1)
        return current


def vs_key(name: str, namespace: str = "default") -> ObjectKey:
    return ObjectKey("networking.istio.io", "VirtualService", namespace, name)


def virtual_service(
    name: str = "reviews",
    *,
    version: str = "v1",
    subset: str = "v1",
    namespace: str | None = None,
    **meta: Any,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, **meta}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {
        "apiVersion": f"networking.istio.io/{version}",
        "kind": "VirtualService",
        "metadata": metadata,
        "spec": {
            "hosts": ["reviews"],
            "http": [{"route": [{"destination": {"host": "reviews", "subset": subset}}]}],
        },
    }


def namespace_doc(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def bookinfo_docs() -> list[Manifest]:
    return [m for path in BOOKINFO for m in load_manifests(path)]


@pytest.fixture
def store() -> ObjectStore:
    return ObjectStore(clock=StepClock())


# ------------------------------------------------------------------------------------------ loading
def test_load_multi_document_yaml_skips_empty_documents_and_records_lines() -> None:
    text = """# leading comment
---
apiVersion: v1
kind: Service
metadata:
  name: reviews
spec:
  ports:
  - port: 9080
---
# only a comment
---
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: bookinfo-reviews}
"""
    manifests = load_manifest_text(text, "two.yaml")
    assert [(m["kind"], m["metadata"]["name"]) for m in manifests] == [
        ("Service", "reviews"),
        ("ServiceAccount", "bookinfo-reviews"),
    ]
    service, account = manifests
    assert (service.source, service.line, account.line) == ("two.yaml", 3, 14)
    assert service.lines[("spec", "ports", 0, "port")] == 9
    assert service.origin.line_of(("spec", "ports", 0, "port", "deeper")) == 9
    assert isinstance(service, dict) and service["spec"] == {"ports": [{"port": 9080}]}


def test_load_expands_kind_list_with_item_lines() -> None:
    text = """apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata:
    name: shop
- apiVersion: v1
  kind: ServiceAccount
  metadata:
    name: cart
    namespace: shop
"""
    first, second = load_manifest_text(text, "list.yaml")
    assert (first["kind"], second["kind"]) == ("Namespace", "ServiceAccount")
    assert (first.line, second.line) == (4, 8)
    assert second.lines[("metadata", "namespace")] == 12


def test_load_keeps_timestamps_and_dates_as_strings() -> None:
    text = """apiVersion: v1
kind: Namespace
metadata:
  name: dated
  annotations:
    released: 2026-01-02
"""
    (manifest,) = load_manifest_text(text, "d.yaml")
    assert manifest["metadata"]["annotations"]["released"] == "2026-01-02"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n spec: {}\n", "bad.yaml:5: invalid YAML: "),
        ("apiVersion: v1\nkind: Service\nmetadata: {name: [unclosed\n", "bad.yaml:4: invalid YAML: "),
        ("---\n- a\n- b\n", "bad.yaml:2: document 1 is a list, not a Kubernetes object"),
        ("just text\n", "bad.yaml:1: document 1 is a string, not a Kubernetes object"),
        ("kind: Service\nmetadata: {name: x}\n", 'bad.yaml:1: document 1 (Service) has no "apiVersion"'),
        ("apiVersion: v1\nmetadata: {name: x}\n", 'bad.yaml:1: document 1 has no "kind"'),
        (
            "apiVersion: v1\nkind: Service\n---\napiVersion: v1\nkind: Service\nmetadata: {name: b}\n",
            'bad.yaml:1: document 1 (Service) has no "metadata.name"',
        ),
        (
            "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\n\napiVersion: v1\nkind: Service\n",
            'bad.yaml:6: document 2 (Service) has no "metadata.name"',
        ),
        (
            "apiVersion: v1\nkind: Service\nspec: {}\nmetadata:\n  labels: {a: b}\n",
            'bad.yaml:4: document 1 (Service) has no "metadata.name"',
        ),
        (
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  name: b\n",
            'bad.yaml:5: mapping key "name" already defined at line 4',
        ),
        ("apiVersion: v1\nkind: List\nitems:\n- 5\n", "bad.yaml:4: document 1, item 0 is a int value"),
        (
            "apiVersion: v1\nkind: Service\nmetadata: !!python/object:os.system {name: x}\n",
            "bad.yaml:3: invalid YAML: could not determine a constructor for the tag",
        ),
        ("a: &loop [*loop]\n", "bad.yaml:1: a YAML alias refers to a node that contains it"),
    ],
)
def test_load_errors_name_file_and_line(text: str, expected: str) -> None:
    with pytest.raises(UserInputError) as caught:
        load_manifest_text(text, "bad.yaml")
    assert str(caught.value).startswith(expected)


def test_load_manifests_reads_files_and_directories(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n")
    (tmp_path / "a.yml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")
    (tmp_path / "notes.txt").write_text("not a manifest")
    assert [m["metadata"]["name"] for m in load_manifests(tmp_path)] == ["a", "b"]
    assert load_manifests(str(tmp_path / "b.yaml"))[0].source == str(tmp_path / "b.yaml")


def test_load_manifests_missing_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="manifest file not found") as caught:
        load_manifests(tmp_path / "nope.yaml")
    assert caught.value.path == str(tmp_path / "nope.yaml")


# ------------------------------------------------------------------------------------------ apply lines
def test_bookinfo_fixtures_apply_with_kubectl_lines(store: ObjectStore) -> None:
    result = store.apply(bookinfo_docs())
    assert result.lines[:3] == [
        "service/details created",
        "serviceaccount/bookinfo-details created",
        "service/ratings created",
    ]
    assert "deployment.apps/reviews-v2 created" in result.lines
    assert "gateway.networking.istio.io/bookinfo-gateway created" in result.lines
    assert "virtualservice.networking.istio.io/bookinfo created" in result.lines
    assert result.lines[-1] == "destinationrule.networking.istio.io/details created"
    assert len(result.lines) == 20
    again = store.apply(bookinfo_docs())
    assert again.lines == [line.replace(" created", " unchanged") for line in result.lines]


@pytest.mark.parametrize(
    ("doc", "line"),
    [
        (namespace_doc("shop"), "namespace/shop created"),
        (
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "x"}},
            "serviceaccount/x created",
        ),
        (
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "reviews"},
                "spec": {"ports": [{"port": 9080}]},
            },
            "service/reviews created",
        ),
        (
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "reviews-v1"},
                "spec": {
                    "selector": {"matchLabels": {"app": "reviews"}},
                    "template": {
                        "metadata": {"labels": {"app": "reviews"}},
                        "spec": {"containers": [{"name": "reviews", "image": "reviews:1"}]},
                    },
                },
            },
            "deployment.apps/reviews-v1 created",
        ),
        (virtual_service(version="v1"), "virtualservice.networking.istio.io/reviews created"),
        (virtual_service(version="v1beta1"), "virtualservice.networking.istio.io/reviews created"),
        (virtual_service(version="v1alpha3"), "virtualservice.networking.istio.io/reviews created"),
        (
            {
                "apiVersion": "networking.istio.io/v1beta1",
                "kind": "DestinationRule",
                "metadata": {"name": "reviews"},
                "spec": {"host": "reviews", "subsets": [{"name": "v1", "labels": {"version": "v1"}}]},
            },
            "destinationrule.networking.istio.io/reviews created",
        ),
        (
            {
                "apiVersion": "networking.istio.io/v1alpha3",
                "kind": "Gateway",
                "metadata": {"name": "gw"},
                "spec": {
                    "selector": {"istio": "ingressgateway"},
                    "servers": [{"port": {"number": 8080, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}],
                },
            },
            "gateway.networking.istio.io/gw created",
        ),
    ],
)
def test_every_kind_and_version_is_accepted_with_its_kubectl_line(
    store: ObjectStore, doc: dict[str, Any], line: str
) -> None:
    assert store.apply([doc]).lines == [line]


def test_created_configured_unchanged_and_generation(store: ObjectStore) -> None:
    assert store.apply([virtual_service(subset="v1")]).lines == ["virtualservice.networking.istio.io/reviews created"]
    first = store.get(vs_key("reviews"))
    assert first is not None and first.generation == 1

    assert store.apply([virtual_service(subset="v1")]).lines == ["virtualservice.networking.istio.io/reviews unchanged"]
    same = store.get(vs_key("reviews"))
    assert same is not None and same.resource_version == first.resource_version

    assert store.apply([virtual_service(subset="v2")]).lines == [
        "virtualservice.networking.istio.io/reviews configured"
    ]
    changed = store.get(vs_key("reviews"))
    assert changed is not None
    assert changed.generation == 2
    assert changed.resource_version > first.resource_version

    # Metadata-only change: configured, but the generation (spec changes) stays.
    relabelled = virtual_service(subset="v2", labels={"team": "books"})
    assert store.apply([relabelled]).lines == ["virtualservice.networking.istio.io/reviews configured"]
    labelled = store.get(vs_key("reviews"))
    assert labelled is not None and labelled.generation == 2 and labelled.labels == {"team": "books"}


def test_replace_keeps_creation_time_and_seq_and_orders_oldest_first(store: ObjectStore) -> None:
    store.apply([virtual_service("a")])
    store.apply([virtual_service("b")])
    before = store.get(vs_key("a"))
    store.apply([virtual_service("a", subset="v3")])
    after = store.get(vs_key("a"))
    other = store.get(vs_key("b"))
    assert before is not None and after is not None and other is not None
    assert after.created == before.created
    assert after.seq == before.seq
    assert other.created > after.created and other.seq > after.seq
    oldest_first = sorted(store.list("vs"), key=lambda o: (o.created, o.seq))
    assert [o.key.name for o in oldest_first] == ["a", "b"]


def test_v1alpha3_object_replaced_by_v1_apply_is_the_same_object(store: ObjectStore) -> None:
    store.apply([virtual_service(version="v1alpha3")])
    result = store.apply([virtual_service(version="v1")])
    assert result.lines == ["virtualservice.networking.istio.io/reviews configured"]
    (only,) = store.list("virtualservices")
    assert only.api_version == "networking.istio.io/v1"
    assert only.generation == 1  # the spec did not change


def test_same_object_twice_in_one_apply_last_wins(store: ObjectStore) -> None:
    result = store.apply([virtual_service(subset="v1"), virtual_service(subset="v2")])
    assert result.lines == [
        "virtualservice.networking.istio.io/reviews created",
        "virtualservice.networking.istio.io/reviews configured",
    ]
    (only,) = store.list("vs")
    assert only.spec["http"][0]["route"][0]["destination"]["subset"] == "v2"


def test_stored_body_fills_namespace_drops_nulls_and_server_fields(store: ObjectStore) -> None:
    doc = virtual_service()
    doc["metadata"].update({"resourceVersion": "99", "creationTimestamp": None, "annotations": {"a": "b"}})
    doc["spec"]["exportTo"] = None
    doc["status"] = {"anything": True}
    store.apply([doc])
    stored = store.get(vs_key("reviews"))
    assert stored is not None
    assert stored.body["metadata"] == {"name": "reviews", "annotations": {"a": "b"}, "namespace": "default"}
    assert "exportTo" not in stored.body["spec"] and "status" not in stored.body


def test_revision_bumps_on_every_change_only(store: ObjectStore) -> None:
    start = store.revision
    store.apply([virtual_service("a"), virtual_service("b")])
    assert store.revision == start + 2
    store.apply([virtual_service("a")])
    assert store.revision == start + 2
    store.delete_keys([vs_key("a")])
    assert store.revision == start + 3


# ------------------------------------------------------------------------------------------ all-or-nothing
def test_one_bad_document_among_good_ones_changes_nothing(store: ObjectStore) -> None:
    store.apply([virtual_service("keep")])
    before = store.objects()
    revision = store.revision
    bad = virtual_service("bad")
    bad["spec"]["http"][0]["route"][0]["weight"] = -15
    docs: list[dict[str, Any]] = [*bookinfo_docs(), bad, virtual_service("keep", subset="v9")]
    with pytest.raises(ValidationError) as caught:
        store.apply(docs, source="mixed.yaml")
    assert len(caught.value.errors) == 1
    assert "weight -15 < 0" in caught.value.errors[0]
    assert str(caught.value).startswith('error when applying "mixed.yaml"; nothing was changed:')
    assert store.objects() == before
    assert store.revision == revision


def test_every_problem_is_listed_in_document_order(store: ObjectStore) -> None:
    text = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: first}
spec:
  hosts: [reviews]
  http:
  - rout: []
---
apiVersion: v1
kind: Service
metadata: {name: svc, namespace: missing}
spec:
  ports: [{port: 80}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: dr}
spec:
  host: reviews
  subsets: [{name: v1}, {name: v1}]
"""
    with pytest.raises(ValidationError) as caught:
        store.apply(load_manifest_text(text, "three.yaml"))
    assert caught.value.errors == [
        'three.yaml:7: VirtualService default/first: VirtualService in version "v1" cannot be handled as a '
        'VirtualService: strict decoding error: unknown field "spec.http[0].rout"',
        'three.yaml:11: Service missing/svc: namespaces "missing" not found',
        'three.yaml:20: DestinationRule default/dr: admission webhook "validation.istio.io" denied the '
        "request: configuration is invalid: duplicate subset names: v1 (at spec.subsets[1].name)",
    ]
    assert caught.value.hint == NAMESPACE_HINT
    assert caught.value.source == "three.yaml"


def test_check_sees_the_whole_candidate_and_raising_changes_nothing(store: ObjectStore) -> None:
    store.apply([virtual_service("old")])
    seen: list[list[StoredObject]] = []

    def refuse(candidate: list[StoredObject]) -> None:
        seen.append(candidate)
        raise ValidationError(["translator says no"])

    before = store.objects()
    with pytest.raises(ValidationError, match="translator says no"):
        store.apply([virtual_service("new")], check=refuse)
    assert store.objects() == before
    names = {o.key.name for o in seen[0] if o.key.kind == "VirtualService"}
    assert names == {"old", "new"}
    assert {ns for ns in BUILTIN_NAMESPACES} <= {o.key.name for o in seen[0] if o.key.kind == "Namespace"}

    def accept(candidate: list[StoredObject]) -> None:
        seen.append(candidate)

    store.apply([virtual_service("new")], check=accept)
    assert store.get(vs_key("new")) is not None
    calls = len(seen)
    store.apply([virtual_service("new")], check=accept)  # nothing changes: no candidate to check
    assert len(seen) == calls


def test_check_gets_copies_it_cannot_use_to_change_the_store(store: ObjectStore) -> None:
    def meddle(candidate: list[StoredObject]) -> None:
        for obj in candidate:
            obj.body["metadata"]["name"] = "changed"

    store.apply([virtual_service("a")], check=meddle)
    stored = store.get(vs_key("a"))
    assert stored is not None and stored.body["metadata"]["name"] == "a"


# ------------------------------------------------------------------------------------------ kinds
@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (
            {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "metadata": {"name": "x"}},
            'x.yaml: PeerAuthentication x: the local backend does not run kind "PeerAuthentication" '
            '(apiVersion "security.istio.io/v1"): it runs Service, ServiceAccount, Namespace (v1), '
            "Deployment (apps/v1), VirtualService, DestinationRule, Gateway (networking.istio.io v1, "
            "v1beta1, v1alpha3) and Gateway, HTTPRoute (gateway.networking.k8s.io v1, v1beta1); the kind "
            "and cluster backends apply every kind to a real cluster",
        ),
        (
            {"apiVersion": "gateway.networking.k8s.io/v1alpha2", "kind": "HTTPRoute", "metadata": {"name": "x"}},
            'x.yaml: HTTPRoute x: no matches for kind "HTTPRoute" in version "gateway.networking.k8s.io/v1alpha2" '
            "(use one of: gateway.networking.k8s.io/v1, gateway.networking.k8s.io/v1beta1)",
        ),
        (
            {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GRPCRoute", "metadata": {"name": "x"}},
            'x.yaml: GRPCRoute x: the local backend does not run kind "GRPCRoute" '
            '(apiVersion "gateway.networking.k8s.io/v1"): it runs Service, ServiceAccount, Namespace (v1), '
            "Deployment (apps/v1), VirtualService, DestinationRule, Gateway (networking.istio.io v1, "
            "v1beta1, v1alpha3) and Gateway, HTTPRoute (gateway.networking.k8s.io v1, v1beta1); the kind "
            "and cluster backends apply every kind to a real cluster",
        ),
        (
            {"apiVersion": "networking.istio.io/v2", "kind": "VirtualService", "metadata": {"name": "x"}},
            'x.yaml: VirtualService x: no matches for kind "VirtualService" in version '
            '"networking.istio.io/v2" (use one of: networking.istio.io/v1, networking.istio.io/v1beta1, '
            "networking.istio.io/v1alpha3)",
        ),
        (
            {"apiVersion": "extensions/v1beta1", "kind": "Deployment", "metadata": {"name": "x"}},
            'x.yaml: Deployment x: no matches for kind "Deployment" in version "extensions/v1beta1" '
            "(use one of: apps/v1)",
        ),
        (
            {"kind": "Service", "metadata": {"name": "x"}},
            "x.yaml: Service x: error validating data: [apiVersion not set]",
        ),
        (
            {"apiVersion": "v1", "metadata": {}},
            "x.yaml: object (unnamed): error validating data: [kind not set, metadata.name: Required value "
            "(every object needs a name)]",
        ),
    ],
)
def test_unknown_kinds_and_versions_are_rejected(store: ObjectStore, doc: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError) as caught:
        store.apply([doc], source="x.yaml")
    assert caught.value.errors == [expected]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("vs", ("networking.istio.io", "VirtualService")),
        ("virtualservice", ("networking.istio.io", "VirtualService")),
        ("virtualservices", ("networking.istio.io", "VirtualService")),
        ("VirtualService", ("networking.istio.io", "VirtualService")),
        ("virtualservices.networking.istio.io", ("networking.istio.io", "VirtualService")),
        ("virtualservices.v1alpha3.networking.istio.io", ("networking.istio.io", "VirtualService")),
        ("dr", ("networking.istio.io", "DestinationRule")),
        ("destinationrules", ("networking.istio.io", "DestinationRule")),
        ("gw", ("networking.istio.io", "Gateway")),
        ("gateway.networking.istio.io", ("networking.istio.io", "Gateway")),
        ("svc", ("", "Service")),
        ("services", ("", "Service")),
        ("deploy", ("apps", "Deployment")),
        ("deployments.apps", ("apps", "Deployment")),
        ("sa", ("", "ServiceAccount")),
        ("serviceaccount", ("", "ServiceAccount")),
        ("ns", ("", "Namespace")),
        ("namespaces", ("", "Namespace")),
    ],
)
def test_resolve_kind_accepts_kubectl_names(store: ObjectStore, name: str, expected: tuple[str, str]) -> None:
    assert store.resolve_kind(name) == expected


def test_resolve_kind_unknown_name(store: ObjectStore) -> None:
    with pytest.raises(UserInputError, match='the server doesn\'t have a resource type "pods"'):
        store.resolve_kind("pods")


# ------------------------------------------------------------------------------------------ namespaces
def test_builtin_namespaces_exist_from_the_start(store: ObjectStore) -> None:
    assert [o.key.name for o in store.list("ns")] == sorted(BUILTIN_NAMESPACES)
    store.apply([virtual_service("a", namespace="istio-system"), virtual_service("b", namespace="kube-system")])
    assert {o.key.namespace for o in store.list("vs")} == {"istio-system", "kube-system"}


def test_namespace_created_earlier_in_the_same_apply(store: ObjectStore) -> None:
    result = store.apply([namespace_doc("shop"), virtual_service(namespace="shop")])
    assert result.lines == ["namespace/shop created", "virtualservice.networking.istio.io/reviews created"]
    assert store.get(vs_key("reviews", "shop")) is not None


def test_namespace_created_later_in_the_same_apply_is_too_late(store: ObjectStore) -> None:
    with pytest.raises(ValidationError) as caught:
        store.apply([virtual_service(namespace="shop"), namespace_doc("shop")], source="late.yaml")
    assert caught.value.errors == ['late.yaml: VirtualService shop/reviews: namespaces "shop" not found']
    assert caught.value.hint == NAMESPACE_HINT
    assert store.list("ns", None) == store.list("namespaces")
    assert "shop" not in {o.key.name for o in store.list("ns")}


def test_namespace_is_cluster_scoped(store: ObjectStore) -> None:
    doc = namespace_doc("shop")
    doc["metadata"]["namespace"] = "default"
    store.apply([doc])
    stored = store.get(ObjectKey("", "Namespace", "", "shop"))
    assert stored is not None and "namespace" not in stored.body["metadata"]
    assert [o.key.name for o in store.list("ns", namespace="elsewhere")] == sorted([*BUILTIN_NAMESPACES, "shop"])


# ------------------------------------------------------------------------------------------ delete
def test_delete_lines_and_not_found(store: ObjectStore) -> None:
    store.apply([virtual_service("a"), virtual_service("b")])
    result = store.delete([virtual_service("a", version="v1beta1")])
    assert result.lines == ['virtualservice.networking.istio.io "a" deleted']
    with pytest.raises(DeleteError) as caught:
        store.delete([virtual_service("a")], source="gone.yaml")
    assert caught.value.errors == [
        "gone.yaml: VirtualService default/a: Error from server (NotFound): "
        'virtualservices.networking.istio.io "a" not found'
    ]
    assert str(caught.value).startswith('error when deleting "gone.yaml"; nothing was changed:')
    assert store.delete([virtual_service("a")], ignore_not_found=True).lines == []


def test_delete_is_all_or_nothing(store: ObjectStore) -> None:
    store.apply([virtual_service("a")])
    before = store.objects()
    with pytest.raises(DeleteError, match='"missing" not found'):
        store.delete([virtual_service("a"), virtual_service("missing")])
    assert store.objects() == before


def test_delete_core_kinds_use_their_resource_names(store: ObjectStore) -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80}]},
    }
    store.apply([service])
    assert store.delete([service]).lines == ['service "s" deleted']
    with pytest.raises(DeleteError) as caught:
        store.delete([service])
    assert caught.value.errors == ['Service default/s: Error from server (NotFound): services "s" not found']


def test_deleting_a_namespace_deletes_what_is_in_it(store: ObjectStore) -> None:
    store.apply([namespace_doc("shop"), virtual_service("a", namespace="shop"), virtual_service("b")])
    result = store.delete([namespace_doc("shop"), virtual_service("a", namespace="shop")])
    assert result.lines == ['namespace "shop" deleted', 'virtualservice.networking.istio.io "a" deleted']
    assert [o.key.name for o in store.list("vs")] == ["b"]


def test_builtin_namespaces_cannot_be_deleted(store: ObjectStore) -> None:
    with pytest.raises(DeleteError) as caught:
        store.delete_keys([ObjectKey("", "Namespace", "", "default")])
    assert caught.value.errors == [
        'Namespace default: namespaces "default" is forbidden: this namespace may not be deleted'
    ]


def test_delete_keys(store: ObjectStore) -> None:
    store.apply([virtual_service("a"), virtual_service("b")])
    assert store.delete_keys([vs_key("a"), vs_key("b")]).lines == [
        'virtualservice.networking.istio.io "a" deleted',
        'virtualservice.networking.istio.io "b" deleted',
    ]
    assert store.list("vs") == []
    with pytest.raises(DeleteError):
        store.delete_keys([vs_key("a")])
    assert store.delete_keys([vs_key("a")], ignore_not_found=True).lines == []


# ------------------------------------------------------------------------------------------ reading
def test_list_filters_and_sorts(store: ObjectStore) -> None:
    store.apply(
        [
            namespace_doc("shop"),
            virtual_service("z"),
            virtual_service("a", namespace="shop"),
            virtual_service("m"),
        ]
    )
    assert [(o.key.namespace, o.key.name) for o in store.list("vs")] == [
        ("default", "m"),
        ("default", "z"),
        ("shop", "a"),
    ]
    assert [o.key.name for o in store.list("vs", namespace="shop")] == ["a"]
    kinds = [o.key.kind for o in store.list()]
    assert kinds == sorted(kinds)


def test_get_and_objects_return_copies(store: ObjectStore) -> None:
    store.apply([virtual_service("a")])
    copy_one = store.get(vs_key("a"))
    assert copy_one is not None
    copy_one.body["spec"]["hosts"].append("changed")
    for obj in store.objects():
        obj.body.clear()
    again = store.get(vs_key("a"))
    assert again is not None and again.spec["hosts"] == ["reviews"]
    assert store.get(vs_key("missing")) is None


def test_to_yaml_prints_like_kubectl_get() -> None:
    store = ObjectStore(clock=lambda: T0)
    doc = virtual_service("reviews", version="v1beta1", labels={"app": "reviews"})
    doc["spec"]["http"][0]["timeout"] = "10s"
    store.apply([doc])
    stored = store.get(vs_key("reviews"))
    assert stored is not None
    assert store.to_yaml(stored) == (
        "apiVersion: networking.istio.io/v1beta1\n"
        "kind: VirtualService\n"
        "metadata:\n"
        '  creationTimestamp: "2026-01-02T03:04:05Z"\n'
        "  generation: 1\n"
        "  labels:\n"
        "    app: reviews\n"
        "  name: reviews\n"
        "  namespace: default\n"
        f'  resourceVersion: "{stored.resource_version}"\n'
        "spec:\n"
        "  hosts:\n"
        "  - reviews\n"
        "  http:\n"
        "  - route:\n"
        "    - destination:\n"
        "        host: reviews\n"
        "        subset: v1\n"
        "    timeout: 10s\n"
    )


def test_apply_result_carries_analyzer_warnings(store: ObjectStore) -> None:
    result = store.apply([virtual_service("reviews", subset="v3")])
    assert result.warnings == [
        'Error [IST0101] (VirtualService default/reviews) Referenced host not found: "reviews"',
        "Error [IST0101] (VirtualService default/reviews) Referenced host+subset in destinationrule "
        'not found: "reviews+v3"',
    ]


def test_concurrent_applies_from_threads_are_serialised(store: ObjectStore) -> None:
    errors: list[BaseException] = []
    start_revision = store.revision

    def worker(index: int) -> None:
        try:
            for round_ in range(5):
                store.apply([virtual_service(f"vs-{index}", subset=f"v{round_}")])
                store.objects()
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert store.revision == start_revision + 4 * 5
    assert sorted(o.key.name for o in store.list("vs")) == ["vs-0", "vs-1", "vs-2", "vs-3"]
    assert all(o.generation == 5 for o in store.list("vs"))


def test_derived_manifest_keeps_file_and_lines(store: ObjectStore) -> None:
    text = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: r\n"
    (manifest,) = load_manifest_text(text, "derived.yaml")
    changed = manifest.derive({**manifest, "metadata": {"name": "r", "namespace": "shop"}})
    assert changed["metadata"]["namespace"] == "shop" and changed.lines == manifest.lines
    with pytest.raises(ValidationError) as caught:
        store.apply([changed])
    assert caught.value.errors == ['derived.yaml:3: ServiceAccount shop/r: namespaces "shop" not found']


def test_apply_rejects_documents_that_are_not_objects(store: ObjectStore) -> None:
    with pytest.raises(ValidationError) as caught:
        store.apply([virtual_service("ok"), ["not", "a", "mapping"]], source="odd")  # type: ignore[list-item]
    assert caught.value.errors == ["odd: document 2 is a list, not a Kubernetes object"]
    assert store.list("vs") == []


def test_standing_warnings_are_not_repeated_but_new_ones_are_shown(store: ObjectStore) -> None:
    store.apply(bookinfo_docs(), source="bookinfo.yaml")
    first = store.apply(load_manifests(FIXTURES / "destination-rule-all.yaml"), source="dr.yaml")
    assert any("[IST0173] (DestinationRule default/ratings)" in w for w in first.warnings)
    unrelated = store.apply([virtual_service("reviews", subset="v1")], source="vs.yaml")
    assert unrelated.warnings == [], "warnings about other, unchanged objects must not repeat"
    again = store.apply(load_manifests(FIXTURES / "destination-rule-all.yaml"), source="dr.yaml")
    assert any("[IST0173]" in w for w in again.warnings), "re-applied objects report their own findings"
    removed = store.delete(
        [d for d in load_manifests(FIXTURES / "destination-rule-all.yaml") if d["metadata"]["name"] == "reviews"]
    )
    assert any("[IST0101] (VirtualService default/reviews)" in w and "reviews+v1" in w for w in removed.warnings)
