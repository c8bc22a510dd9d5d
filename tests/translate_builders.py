"""Test inputs for the translator: StoredObjects built straight from YAML (no store needed), the Bookinfo
world (services, deployments, one pod and sidecar per deployment, the ingress gateway proxy), table cases
loaded from ``tests/data/translate/*.yaml`` and a path resolver into a Translation.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from meshrelease.backends.local.model import Pod, ProxySpec, StoredObject, Translation
from meshrelease.data import data_dir
from meshrelease.k8s.objects import ISTIO_GROUP, ObjectKey

REPO = Path(__file__).resolve().parent.parent
FIXTURES = data_dir()
CASES_DIR = Path(__file__).resolve().parent / "data" / "translate"
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
CLUSTER_SCOPED = {"Namespace"}
GATEWAY_ID = "istio-ingressgateway-0.istio-system"
GATEWAY_LABELS = {"istio": "ingressgateway", "app": "istio-ingressgateway"}


def stored(docs: Iterable[Mapping[str, Any]], *, start: int = 0, same_time: bool = False) -> list[StoredObject]:
    """StoredObjects in document order: created one second apart (or all at once) with rising ``seq``."""
    out: list[StoredObject] = []
    for i, doc in enumerate(docs):
        body = dict(doc)
        api_version = str(body["apiVersion"])
        group = api_version.split("/")[0] if "/" in api_version else ""
        kind = str(body["kind"])
        meta = dict(body.get("metadata") or {})
        if kind not in CLUSTER_SCOPED:
            meta.setdefault("namespace", "default")
        body["metadata"] = meta
        seq = start + i
        out.append(
            StoredObject(
                key=ObjectKey(group, kind, str(meta.get("namespace", "")), str(meta["name"])),
                api_version=api_version,
                body=body,
                generation=1,
                created=EPOCH + timedelta(seconds=0 if same_time else seq),
                seq=seq,
                resource_version=seq + 1,
            )
        )
    return out


def load_yaml(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


@functools.cache
def _fixture_docs(name: str) -> tuple[dict[str, Any], ...]:
    return tuple(load_yaml((FIXTURES / name).read_text()))


def fixture_docs(name: str) -> list[dict[str, Any]]:
    """The documents of ``fixtures/kubernetes/<name>`` (parsed once, copied per call)."""
    return copy.deepcopy(list(_fixture_docs(name)))


def pods_for(objects: Sequence[StoredObject]) -> list[Pod]:
    """One pod per Deployment: template labels, serviceAccount, each containerPort on 20000 + n."""
    pods: list[Pod] = []
    for n, obj in enumerate(o for o in objects if o.key.kind == "Deployment"):
        template = obj.spec["template"]
        spec = template.get("spec", {})
        ports: dict[int, int] = {}
        for container in spec.get("containers", []):
            for cport in container.get("ports", []) or []:
                ports[int(cport["containerPort"])] = 20000 + 10 * n + len(ports)
        pods.append(
            Pod(
                name=f"{obj.key.name}-0",
                namespace=obj.key.namespace,
                labels={str(k): str(v) for k, v in template["metadata"]["labels"].items()},
                service_account=str(spec.get("serviceAccountName", "default")),
                ports=ports,
                deployment=obj.key.name,
            )
        )
    return pods


def sidecar(pod: Pod, ports: Iterable[int], xds_root: str = "/xds", log: str | None = None) -> ProxySpec:
    pid = f"{pod.name}.{pod.namespace}"
    return ProxySpec(
        id=pid,
        kind="sidecar",
        namespace=pod.namespace,
        labels=dict(pod.labels),
        bind_ports={p: 30000 + i for i, p in enumerate(sorted(ports))},
        xds_dir=f"{xds_root}/{pid}",
        access_log_path=log,
        pod=pod.name,
    )


def gateway_proxy(ports: Iterable[int], xds_root: str = "/xds", log: str | None = None) -> ProxySpec:
    return ProxySpec(
        id=GATEWAY_ID,
        kind="gateway",
        namespace="istio-system",
        labels=dict(GATEWAY_LABELS),
        bind_ports={p: 40000 + i for i, p in enumerate(sorted(ports))},
        xds_dir=f"{xds_root}/{GATEWAY_ID}",
        access_log_path=log,
        pod="istio-ingressgateway-0",
    )


@dataclasses.dataclass
class World:
    objects: list[StoredObject]
    pods: list[Pod]
    proxies: list[ProxySpec]

    def proxy(self, short: str) -> ProxySpec:
        """``productpage-v1`` -> that pod's sidecar; ``gateway`` -> the ingress gateway proxy."""
        if short == "gateway":
            return next(p for p in self.proxies if p.kind == "gateway")
        return next(p for p in self.proxies if p.pod in (short, f"{short}-0") or p.id == short)


def world(
    case_yaml: str = "",
    *,
    base: str = "bookinfo",
    extra_pods: Sequence[Mapping[str, Any]] = (),
    same_time: bool = False,
    gateway_ports: Iterable[int] | None = None,
    xds_root: str = "/xds",
    access_logs: str | None = None,
) -> World:
    """Bookinfo (``base="bookinfo"``) or nothing (``"none"``), then the case's objects (created later, in
    order), pods and sidecars for every Deployment plus ``extra_pods``, and the gateway proxy bound to the
    ports its Gateways need (or ``gateway_ports``)."""
    from meshrelease.backends.local.translate.translator import gateway_listener_ports, http_service_ports

    base_docs = fixture_docs("bookinfo.yaml") if base == "bookinfo" else []
    objects = stored(base_docs)
    objects += stored(load_yaml(case_yaml), start=len(objects), same_time=same_time)
    pods = pods_for(objects)
    for extra in extra_pods:
        pods.append(
            Pod(
                name=str(extra["name"]),
                namespace=str(extra.get("namespace", "default")),
                labels={str(k): str(v) for k, v in (extra.get("labels") or {}).items()},
                service_account="default",
                ports={int(k): int(v) for k, v in (extra.get("ports") or {}).items()},
                deployment=str(extra.get("deployment", "")),
            )
        )
    ports = http_service_ports(objects)

    def log_for(pid: str) -> str | None:
        return f"{access_logs}/{pid}.access.log" if access_logs else None

    proxies = [sidecar(p, ports, xds_root, log_for(f"{p.name}.{p.namespace}")) for p in pods]
    gw = gateway_proxy([], xds_root, log_for(GATEWAY_ID))
    wanted = gateway_listener_ports(objects, gw) if gateway_ports is None else list(gateway_ports)
    gw.bind_ports = {p: 40000 + i for i, p in enumerate(sorted(wanted))}
    proxies.append(gw)
    return World(objects, pods, proxies)


# ----------------------------------------------------------------------------- table cases
@dataclasses.dataclass
class Case:
    id: str
    source: str
    objects: str
    proxy: str = "productpage-v1"
    base: str = "bookinfo"
    same_time: bool = False
    pods: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    checks: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def world(self, **kwargs: Any) -> World:
        return world(self.objects, base=self.base, extra_pods=self.pods, same_time=self.same_time, **kwargs)


def load_cases(names: Sequence[str] | None = None) -> list[Case]:
    """Every case of ``tests/data/translate/<name>.yaml`` (all files when ``names`` is None)."""
    files = sorted(CASES_DIR.glob("*.yaml")) if names is None else [CASES_DIR / f"{n}.yaml" for n in names]
    out: list[Case] = []
    for path in files:
        for raw in yaml.safe_load(path.read_text())["cases"]:
            out.append(Case(source=path.stem, **raw))
    ids = [c.id for c in out]
    dupes = {i for i in ids if ids.count(i) > 1}
    assert not dupes, f"duplicate case ids: {sorted(dupes)}"
    return out


_MISSING = object()


def resolve(translation: Translation, proxy: ProxySpec, path: str) -> Any:
    """Navigate ``<kind>/<name>/<key or index or name=value>/...`` in one proxy's resources.

    ``<kind>`` is ``rds`` (then the route configuration name, then a virtual host name), ``cds`` (a cluster
    name), ``lds`` (a listener name) or ``warnings``. Returns ``_MISSING`` for a path that does not exist."""
    parts = path.split("/")
    kind, rest = parts[0], parts[1:]
    if kind == "warnings":
        return translation.warnings
    resources = translation.proxies[proxy.id]
    node: Any
    if kind == "rds" and not rest:
        return [x["name"] for x in resources.route_configs]
    if kind == "rds":
        node = _named(resources.route_configs, rest[0])
        rest = rest[1:]
        if rest and node is not _MISSING and rest[0] not in node:
            node = _named(node["virtual_hosts"], rest[0])
            rest = rest[1:]
    elif kind == "cds":
        node = _named(resources.clusters, rest[0]) if rest else [c["name"] for c in resources.clusters]
        rest = rest[1:]
    elif kind == "lds":
        node = _named(resources.listeners, rest[0]) if rest else [x["name"] for x in resources.listeners]
        rest = rest[1:]
    else:
        raise AssertionError(f"unknown resource kind in path {path!r}")
    for part in rest:
        if node is _MISSING:
            return _MISSING
        if isinstance(node, list):
            if "=" in part:
                key, _, value = part.partition("=")
                node = next((x for x in node if isinstance(x, dict) and str(x.get(key)) == value), _MISSING)
            elif part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
                node = node[int(part)]
            else:
                return _MISSING
        elif isinstance(node, dict):
            node = node.get(part, _MISSING)
        else:
            return _MISSING
    return node


def _named(items: list[dict[str, Any]], name: str) -> Any:
    return next((x for x in items if x.get("name") == name), _MISSING)


def missing(value: Any) -> bool:
    return value is _MISSING


def istio_objects(objects: Sequence[StoredObject]) -> list[StoredObject]:
    return [o for o in objects if o.key.group == ISTIO_GROUP]
