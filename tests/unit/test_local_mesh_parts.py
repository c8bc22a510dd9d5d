"""Parts of the local mesh that work without Envoy: listener port bookkeeping and configuration pushes."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import cast

import pytest

from meshrelease.backends.local.dataplane.envoy import EnvoyProcess
from meshrelease.backends.local.dataplane.ports import PortAllocator, PortInUse
from meshrelease.backends.local.model import ProxyResources, ProxySpec
from meshrelease.backends.local.pod_processes import ensure_bind_ports
from meshrelease.backends.local.sync import ConfigSync
from meshrelease.backends.local.translate.translator import TranslateOptions, TranslationError
from meshrelease.errors import WaitTimeout
from tests.translate_builders import world


def _spec(bind_ports: dict[int, int] | None = None) -> ProxySpec:
    return ProxySpec(
        id="p.default", kind="sidecar", namespace="default", labels={}, bind_ports=bind_ports or {}, xds_dir="/x"
    )


def test_bind_ports_follow_the_logical_ports() -> None:
    ports = PortAllocator()
    spec = _spec()
    ensure_bind_ports(ports, spec, [9080, 8000])
    assert sorted(spec.bind_ports) == [8000, 9080]
    first = dict(spec.bind_ports)
    assert len(set(first.values())) == 2

    ensure_bind_ports(ports, spec, [9080, 7000])
    assert spec.bind_ports[9080] == first[9080]  # a listener keeps its port
    assert sorted(spec.bind_ports) == [7000, 9080]
    ports.reserve(first[8000], what="a test")  # the dropped listener's port went back to the allocator
    with pytest.raises(PortInUse):
        ports.reserve(spec.bind_ports[7000], what="a test")


def test_a_fixed_port_binds_where_asked_and_is_never_released() -> None:
    ports = PortAllocator()
    ingress = ports.allocate()
    spec = _spec()
    ensure_bind_ports(ports, spec, [8080, 80], fixed={8080: ingress})
    assert spec.bind_ports[8080] == ingress
    ensure_bind_ports(ports, spec, [], fixed={8080: ingress})
    assert spec.bind_ports == {}
    with pytest.raises(PortInUse):  # still reserved for the gateway
        ports.reserve(ingress, what="a test")


@dataclass
class FakeXds:
    writes: list[tuple[ProxyResources, str]] = field(default_factory=list)

    def write(self, resources: ProxyResources, version: str) -> bool:
        self.writes.append((resources, version))
        return True


@dataclass
class FakeProxy:
    proxy: ProxySpec
    xds: FakeXds = field(default_factory=FakeXds)

    def lagging(self) -> str | None:
        written = self.xds.writes[-1][1] if self.xds.writes else None
        return None if written is not None else "nothing written"


def _procs(specs: list[ProxySpec]) -> list[FakeProxy]:
    return [FakeProxy(s) for s in specs]


def _as_envoys(procs: list[FakeProxy]) -> list[EnvoyProcess]:
    return cast(list[EnvoyProcess], procs)


def test_each_push_is_a_new_version_with_each_proxy_its_own_resources() -> None:
    w = world()
    procs = _procs(w.proxies)
    sync = ConfigSync(TranslateOptions(), None, random.Random(1))
    sync.start()
    try:
        sync.push(w.objects, w.pods, _as_envoys(procs))
        sync.push(w.objects, w.pods, _as_envoys(procs))
    finally:
        sync.close()
    assert sync.version == 2
    assert sync.last_translation is not None
    for proc in procs:
        assert [v for _, v in proc.xds.writes] == ["1", "2"]
        assert proc.xds.writes[-1][0] is sync.last_translation.proxies[proc.proxy.id]
    sidecars = [p for p in procs if p.proxy.kind == "sidecar"]
    assert sidecars and all(p.xds.writes[-1][0].listeners for p in sidecars), "every sidecar got its listeners"


def test_a_push_that_does_not_translate_changes_nothing() -> None:
    good = world()
    bad = world("apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {type: ExternalName, externalName: e.com}\n")
    procs = _procs(good.proxies)
    sync = ConfigSync(TranslateOptions(), None, random.Random(1))
    sync.push(good.objects, good.pods, _as_envoys(procs))
    before = sync.last_translation
    with pytest.raises(TranslationError):
        sync.push(bad.objects, bad.pods, _as_envoys(procs))
    assert (sync.version, sync.last_translation) == (1, before)
    assert all(len(p.xds.writes) == 1 for p in procs)


def test_wait_synced_names_the_proxies_whose_delayed_push_is_still_scheduled() -> None:
    w = world()
    procs = _procs(w.proxies)
    sync = ConfigSync(TranslateOptions(), (30.0, 30.0), random.Random(1))
    sync.start()
    try:
        sync.push(w.objects, w.pods, _as_envoys(procs))
        with pytest.raises(WaitTimeout) as err:
            sync.wait_synced(0.05, lambda: _as_envoys(procs))
    finally:
        sync.close()
    message = str(err.value)
    assert "configuration version 1" in message
    assert f"{len(procs)} push(es) still scheduled" in message
    assert all(p.xds.writes == [] for p in procs)  # nothing written before its delay


def test_wait_synced_returns_once_every_proxy_runs_the_push() -> None:
    w = world()
    procs = _procs(w.proxies)
    sync = ConfigSync(TranslateOptions(), (0.0, 0.01), random.Random(1))
    sync.start()
    try:
        sync.push(w.objects, w.pods, _as_envoys(procs))
        waited = sync.wait_synced(10.0, lambda: _as_envoys(procs))
    finally:
        sync.close()
    assert waited >= 0.0
    assert all([v for _, v in p.xds.writes] == ["1"] for p in procs)
