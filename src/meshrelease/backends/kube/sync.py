"""``wait_synced`` on a real mesh: poll the proxies' configuration until it carries the applied change.

Istio has no "config propagated" API (``istioctl x wait`` was removed in 1.23; docs/real-clusters.md), so
the harness reads what the proxies run: the productpage sidecar (the client whose routes decide
which reviews version answers) and, for gateway-bound VirtualServices, the ingress gateway. The expected
state is computed from the **live** Istio objects on the mesh's API server, not only from what this run
applied, so a VirtualService that was there before the run and takes over a host after a delete is
expected as istiod would render it. Then ``istioctl proxy-status`` must not show those proxies STALE (or ERROR) for
any xDS type (read from its JSON, or its verbose table on istioctl 1.27-1.29:
:mod:`meshrelease.backends.kube.proxy_status`).
Every poll is bounded; a timeout names the lagging proxy and what it still serves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from meshrelease.backends.kube.gateway_api_sync import GATEWAY_PROXY_PREFIX, gateway_proxy_selector, route_checks
from meshrelease.backends.kube.istioctl import Istioctl
from meshrelease.backends.kube.kubectl import ALL_NAMESPACES, Kubectl
from meshrelease.backends.kube.manifests import items_of
from meshrelease.backends.kube.routes import (
    Expectation,
    describe_routes,
    expect_default_route,
    expect_virtual_service,
    routes_from,
    subset_clusters,
    virtual_host_routes,
    winning_virtual_service,
)
from meshrelease.errors import CommandError, MeshReleaseError, WaitTimeout
from meshrelease.k8s.hosts import MESH_GATEWAY, fqdn, is_wildcard
from meshrelease.k8s.istio_routes import Proxy, VirtualService, parse_cluster_name
from meshrelease.k8s.objects import GATEWAY_API_GROUP, ISTIO_GROUP, ObjectKey

VS_RESOURCE = "virtualservices.networking.istio.io"
DR_RESOURCE = "destinationrules.networking.istio.io"
GATEWAY_RESOURCE = "gateways.gateway.networking.k8s.io"
HTTP_ROUTE_RESOURCE = "httproutes.gateway.networking.k8s.io"


@dataclass
class _Check:
    """One thing a proxy must carry."""

    proxy: str  # "client" | "gateway"
    kind: str  # "routes" | "clusters"
    what: str  # e.g. "routes for reviews.default.svc.cluster.local"
    test: Callable[[list[dict[str, Any]]], tuple[bool, str]]
    last: str = "not read yet"
    done: bool = False


@dataclass
class SyncTargets:
    """Where the proxies are: the client workload's pods and the ingress gateway's."""

    namespace: str
    client_selector: str = "app=productpage"
    gateway_namespace: str = "istio-system"
    gateway_selector: str = "istio=ingressgateway"


@dataclass
class ProxySync:
    """Polls ``istioctl proxy-config`` (and ``proxy-status``) until the proxies carry the pending changes."""

    workload: Kubectl
    mesh: Kubectl
    istioctl: Istioctl
    targets: SyncTargets
    interval: float = 1.0
    use_proxy_status: bool = True
    notes: list[str] = field(default_factory=list)

    def wait(self, changes: Mapping[ObjectKey, Sequence[Mapping[str, Any]]], timeout: float) -> float:
        """Block until every proxy carries ``changes`` (key -> bodies involved); returns seconds waited."""
        started = time.monotonic()
        deadline = started + timeout
        istio_changes = {k: v for k, v in changes.items() if k.group == ISTIO_GROUP}
        gateway_api_changes = {k: v for k, v in changes.items() if k.group == GATEWAY_API_GROUP}
        if not istio_changes and not gateway_api_changes:
            return 0.0
        checks = self._checks(istio_changes) if istio_changes else []
        if gateway_api_changes:
            checks += self._gateway_api_checks(gateway_api_changes)
        proxies: dict[str, str] = {}
        while True:
            dumps: dict[tuple[str, str], list[dict[str, Any]]] = {}
            for check in checks:
                if check.done:
                    continue
                try:
                    proxy_id = proxies.get(check.proxy) or self._resolve(check.proxy)
                    proxies[check.proxy] = proxy_id
                    dump = dumps.get((proxy_id, check.kind))
                    if dump is None:
                        remaining = max(5.0, deadline - time.monotonic())
                        dump = self._dump(proxy_id, check.kind, remaining)
                        dumps[(proxy_id, check.kind)] = dump
                    check.done, check.last = check.test(dump)
                    check.last = f"{proxy_id}: {check.last}"
                except MeshReleaseError as exc:
                    proxies.pop(check.proxy, None)  # the pod may have been replaced: look it up again
                    check.last = f"cannot read the {check.proxy} proxy: {str(exc).splitlines()[0]}"
            lagging = [c for c in checks if not c.done]
            stale: dict[str, str] = {}
            if not lagging and self.use_proxy_status:
                stale = self._stale(sorted(set(proxies.values())))
            if not lagging and not stale:
                return time.monotonic() - started
            if time.monotonic() >= deadline:
                if lagging:
                    first = lagging[0]
                    raise WaitTimeout(
                        f"the {first.proxy} proxy to carry the {first.what}",
                        timeout,
                        "; ".join(c.last for c in lagging),
                        hint="istiod may be slow or have rejected the config: see `istioctl proxy-status` "
                        "and istiod's logs (kubectl logs -n istio-system deploy/istiod)",
                    )
                raise WaitTimeout(
                    "istioctl proxy-status to show every xDS type of the proxies SYNCED",
                    timeout,
                    "; ".join(f"{p}: {line}" for p, line in stale.items()),
                )
            time.sleep(max(0.0, min(self.interval, deadline - time.monotonic())))

    # -- building the checks -------------------------------------------------------------------------------

    def _live(self, resource: str) -> list[dict[str, Any]]:
        try:
            return self.mesh.list_items(resource, namespace=ALL_NAMESPACES)
        except CommandError as exc:
            if "forbidden" not in exc.stderr.lower():
                raise
            return items_of(self.mesh.get_json(resource, namespace=self.targets.namespace))

    def _checks(self, changes: Mapping[ObjectKey, Sequence[Mapping[str, Any]]]) -> list[_Check]:
        ns = self.targets.namespace
        checks: list[_Check] = []
        vs_changes = {k: v for k, v in changes.items() if k.kind == "VirtualService"}
        dr_changes = {k: v for k, v in changes.items() if k.kind == "DestinationRule"}
        if vs_changes:
            live_vs = self._live(VS_RESOURCE)
            hosts: set[str] = set()
            gateway_vs: set[ObjectKey] = set()
            for key, bodies in vs_changes.items():
                for body in [*bodies, *_live_of(live_vs, key)]:
                    vs = VirtualService.from_object(body, ns)
                    if vs.mesh_bound:
                        hosts |= {h.lower() for h in vs.hosts if not is_wildcard(h)}
                    if vs.gateway_bound:
                        gateway_vs.add(key)
            sidecar = Proxy(namespace=ns, gateways={MESH_GATEWAY})
            for host in sorted(hosts):
                winner = winning_virtual_service(live_vs, host, client_namespace=ns, default_namespace=ns)
                expected = expect_virtual_service(winner, ns, sidecar) if winner else expect_default_route(host)
                checks.append(_Check("client", "routes", f"routes for {host}", _sidecar_test(host, expected)))
            gateway = Proxy(namespace=self.targets.gateway_namespace)
            for key in sorted(gateway_vs):
                live = _live_of(live_vs, key)
                expected = (
                    expect_virtual_service(live[0], ns, gateway)
                    if live and VirtualService.from_object(live[0], ns).gateway_bound
                    else Expectation((), True, "no routes")
                )
                config = f"{key.namespace}/{key.name}"
                checks.append(
                    _Check(
                        "gateway",
                        "routes",
                        f"routes of VirtualService {config}",
                        _gateway_test(config, expected),
                    )
                )
        if dr_changes:
            live_dr = self._live(DR_RESOURCE)
            for key, bodies in sorted(dr_changes.items()):
                hosts = {_dr_host(b, key.namespace) for b in [*bodies, *_live_of(live_dr, key)]}
                for host in sorted(h for h in hosts if h):
                    present = _subsets(live_dr, host, ns)
                    gone = {s for b in bodies for s in _subset_names(b)} - present
                    checks.append(
                        _Check(
                            "client",
                            "clusters",
                            f"subset clusters of {host}",
                            _cluster_test(host, present, gone),
                        )
                    )
        return checks

    def _gateway_api_checks(self, changes: Mapping[ObjectKey, Sequence[Mapping[str, Any]]]) -> list[_Check]:
        """HTTPRoute-derived routes (:mod:`meshrelease.backends.kube.gateway_api_sync`), from the live objects."""
        live_gateway_api = [
            *self.workload.list_items(GATEWAY_RESOURCE, namespace=ALL_NAMESPACES),
            *self.workload.list_items(HTTP_ROUTE_RESOURCE, namespace=ALL_NAMESPACES),
        ]
        services = [
            (str(s["metadata"].get("namespace", "")), str(s["metadata"]["name"]))
            for s in self.workload.list_items("services", namespace=ALL_NAMESPACES)
        ]
        changed = [body for bodies in changes.values() for body in bodies]
        checks = []
        for check in route_checks(changed, live_gateway_api, self._live(VS_RESOURCE), services, self.targets.namespace):
            test = (
                _sidecar_test(check.host, check.expected)
                if check.proxy == "client"
                else _gateway_test(check.host, check.expected)
            )
            checks.append(_Check(check.proxy, "routes", check.what, test))
        return checks

    # -- talking to the cluster ------------------------------------------------------------------------

    def _resolve(self, proxy: str) -> str:
        if proxy.startswith(GATEWAY_PROXY_PREFIX):
            ns, selector = gateway_proxy_selector(proxy)
        elif proxy == "gateway":
            ns, selector = self.targets.gateway_namespace, self.targets.gateway_selector
        else:
            ns, selector = self.targets.namespace, self.targets.client_selector
        pods = self.workload.pods(ns, selector)
        if not pods:
            raise MeshReleaseError(f"no pod matches -l {selector} in namespace {ns}")
        return f"{pods[0]['metadata']['name']}.{ns}"

    def _dump(self, proxy_id: str, kind: str, timeout: float) -> list[dict[str, Any]]:
        if kind == "routes":
            return self.istioctl.routes(proxy_id, timeout=timeout)
        return self.istioctl.clusters(proxy_id, timeout=timeout)

    def _stale(self, proxies: list[str]) -> dict[str, str]:
        """Proxies that ``istioctl proxy-status`` shows STALE or ERROR for some xDS type: id -> what it shows.

        A mesh whose istiod istioctl cannot reach (a managed control plane) answers with an error, a
        proxy-status that does not list the proxies cannot tell, and one without per-type states (an istioctl
        printing only subscribed types) cannot either: then the check is dropped for the session, with a note."""
        try:
            report = self.istioctl.proxy_status()
        except CommandError as exc:
            self.use_proxy_status = False
            self.notes.append(f"istioctl proxy-status is not available here, not used: {exc.stderr.strip()[:200]}")
            return {}
        found = {p: report.find(p) for p in proxies}
        unlisted = [p for p, status in found.items() if status is None]
        if unlisted:
            self.use_proxy_status = False
            self.notes.append(f"istioctl proxy-status does not list {', '.join(unlisted)}; not used")
            return {}
        unknown = [p for p, status in found.items() if status is not None and not status.sync_known]
        if unknown:
            self.use_proxy_status = False
            self.notes.append(
                f"istioctl proxy-status ({report.form}) shows no per-type sync state for {', '.join(unknown)}; not used"
            )
            return {}
        return {p: status.describe() for p, status in found.items() if status is not None and status.out_of_sync()}


def _live_of(live: Sequence[Mapping[str, Any]], key: ObjectKey) -> list[Mapping[str, Any]]:
    return [
        obj
        for obj in live
        if (obj.get("metadata") or {}).get("name") == key.name
        and (obj.get("metadata") or {}).get("namespace", key.namespace) == key.namespace
    ]


def _subset_names(dr: Mapping[str, Any]) -> set[str]:
    return {str(s.get("name")) for s in (dr.get("spec") or {}).get("subsets") or [] if isinstance(s, Mapping)}


def _dr_host(dr: Mapping[str, Any], default_namespace: str) -> str:
    """A DestinationRule's host as an FQDN, its short name resolved in its own namespace."""
    ns = str((dr.get("metadata") or {}).get("namespace") or default_namespace)
    return fqdn(str((dr.get("spec") or {}).get("host", "")), ns)


def _subsets(live: Sequence[Mapping[str, Any]], host: str, default_namespace: str) -> set[str]:
    out: set[str] = set()
    for dr in live:
        if _dr_host(dr, default_namespace) == host:
            out |= _subset_names(dr)
    return out


def _sidecar_test(host: str, expected: Expectation) -> Callable[[list[dict[str, Any]]], tuple[bool, str]]:
    def test(dump: list[dict[str, Any]]) -> tuple[bool, str]:
        actual = virtual_host_routes(dump, host)
        if actual is None and expected.source == "default route":
            return True, f"no virtual host for {host}: not a service of the mesh, nothing to route"
        if actual is None:
            return False, f"no virtual host for {host}; expected {expected.describe()}"
        if expected.satisfied_by(actual):
            return True, f"{host}: {describe_routes(actual)}"
        return False, f"{host} serves {describe_routes(actual)}; expected {expected.describe()}"

    return test


def _gateway_test(config: str, expected: Expectation) -> Callable[[list[dict[str, Any]]], tuple[bool, str]]:
    def test(dump: list[dict[str, Any]]) -> tuple[bool, str]:
        actual = routes_from(dump, config)
        if expected.satisfied_by(actual):
            return True, f"VirtualService {config}: {describe_routes(actual)}"
        return (
            False,
            f"VirtualService {config} gives {describe_routes(actual)}; expected {expected.describe()}",
        )

    return test


def _cluster_test(host: str, present: set[str], gone: set[str]) -> Callable[[list[dict[str, Any]]], tuple[bool, str]]:
    def test(dump: list[dict[str, Any]]) -> tuple[bool, str]:
        if not any(_is_service_cluster(entry, host) for entry in dump):
            return True, f"{host} is not a service of the mesh: no subset clusters to wait for"
        have = {subset for subset, h in subset_clusters(dump) if h == host}
        missing, extra = present - have, gone & have
        state = f"subsets of {host}: {', '.join(sorted(have)) or 'none'}"
        if missing or extra:
            want = f"expected {', '.join(sorted(present)) or 'none'}"
            return False, f"{state}; {want}"
        return True, state

    return test


def _is_service_cluster(entry: Mapping[str, Any], host: str) -> bool:
    """Whether a clusters-dump entry is the all-endpoints cluster ``outbound|<port>||<host>``."""
    cluster = entry.get("cluster") if "name" not in entry else entry
    parsed = parse_cluster_name(str((cluster or {}).get("name") or ""))
    return parsed is not None and parsed[1] == "" and parsed[2] == host
