"""Reads istiod's Gateway API conversion test data (pilot/pkg/config/kube/gateway/testdata at a tag) from a
local istio/istio git directory or checkout (``MESHRELEASE_ISTIO_SRC``), feeds the inputs to
``meshrelease.k8s.gateway_api.convert`` and lists where the result differs from istiod's goldens. Nothing of
upstream is copied into this repository: the files are read at test time, and the test that uses this skips when
no sources are given.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from meshrelease.k8s.gateway_api import Conversion, GatewayApiObject, convert

ISTIO_TAG = "1.30.3"
TESTDATA = "pilot/pkg/config/kube/gateway/testdata"
CONVERSION_TEST = "pilot/pkg/config/kube/gateway/conversion_test.go"
GOLDEN_DOMAIN = "domain.suffix"
# The upstream files whose objects the local backend supports (HTTP listeners, HTTPRoute, Service backends).
SUPPORTED_FILES = (
    "http",
    "mesh",
    "weighted",
    "route-precedence",
    "redirect-only",
    "empty-backend-refs",
    "invalid",
    "mismatch",
    "multi-gateway",
    "isolation",
    "delegated",
    "zero",
    "reference-policy-service",
    "valid-invalid-parent-ref",
    "route-binding",
)


@dataclass(frozen=True)
class Source:
    """Where the istio sources are: a git directory (read at ``ISTIO_TAG``) or a checked-out work tree."""

    path: Path
    is_git_dir: bool

    def read(self, relative: str) -> str | None:
        if not self.is_git_dir:
            file = self.path / relative
            return file.read_text() if file.is_file() else None
        done = subprocess.run(
            ["git", "-C", str(self.path), "show", f"{ISTIO_TAG}:{relative}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return done.stdout if done.returncode == 0 else None


def istio_source() -> Source | None:
    """``$MESHRELEASE_ISTIO_SRC`` (a checkout or a git dir); None when it is not set or holds no istio sources."""
    env = os.environ.get("MESHRELEASE_ISTIO_SRC")
    for candidate in [Path(env)] if env else []:
        if (candidate / TESTDATA).is_dir():
            return Source(candidate, is_git_dir=False)
        if (candidate / "HEAD").is_file() and (candidate / "objects").is_dir():
            source = Source(candidate, is_git_dir=True)
            if source.read(CONVERSION_TEST) is not None:
                return source
    return None


def docs(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]


def golden_services(source: Source, inputs: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """The Services istiod's conversion test knows (its fake registry) plus the Services of the input."""
    test = source.read(CONVERSION_TEST) or ""
    found = {
        (ns, name) for name, ns in re.findall(r'Hostname:\s*"([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.domain\.suffix"', test)
    }
    for doc in inputs:
        if doc.get("kind") == "Service" and str(doc.get("apiVersion")) == "v1":
            meta = doc.get("metadata") or {}
            found.add((str(meta.get("namespace", "default")), str(meta["name"])))
    return found


def convert_inputs(source: Source, inputs: list[dict[str, Any]]) -> Conversion:
    """The inputs through convert(), as istiod's test sets them up: every object created at the same time (so
    merges order by namespace/name), every namespace labelled ``istio.io/test-name-part: <first dash part>``."""
    objects = []
    services = golden_services(source, inputs)
    namespaces: set[str] = set()
    for doc in inputs:
        meta = doc.get("metadata") or {}
        namespace = str(meta.get("namespace", "default"))
        namespaces.add(namespace)
        if doc.get("kind") in ("Gateway", "HTTPRoute") and str(doc.get("apiVersion", "")).startswith("gateway."):
            name = str(meta["name"])
            objects.append(GatewayApiObject(str(doc["kind"]), namespace, name, doc["spec"], 1, (namespace, name)))
    labels = {ns: {"istio.io/test-name-part": ns.split("-")[0], "kubernetes.io/metadata.name": ns} for ns in namespaces}
    return convert(objects, services, labels, GOLDEN_DOMAIN)


def defaulted(route: dict[str, Any]) -> dict[str, Any]:
    """A golden route as istiod would have made it from API-server-defaulted input: the HTTPRoute CRD defaults
    a rule's ``matches`` to ``[{path: {type: PathPrefix, value: /}}]`` (which convert() applies itself), while
    istiod's unit tests feed undefaulted objects (no match, or a port-only match for a GAMMA port)."""
    matches = [dict(m) for m in route.get("match") or [{}]]
    for m in matches:
        m.setdefault("uri", {"prefix": "/"})
    return {**route, "match": matches}


def proto(value: Any) -> Any:
    """Proto3 zero values dropped (istiod's golden YAML does not print them), recursively."""
    if isinstance(value, dict):
        out = {k: proto(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (0, "", None, False, [])}
    if isinstance(value, list | tuple):
        return [proto(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def http_virtual_services(golden: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        d["metadata"]["name"]: d
        for d in golden
        if d.get("kind") == "VirtualService" and "http" in (d.get("spec") or {})
    }


def compare(source: Source, name: str) -> list[str]:
    """Every difference between convert() and istiod's goldens for ``<name>.yaml``, one line each."""
    text, golden_text = source.read(f"{TESTDATA}/{name}.yaml"), source.read(f"{TESTDATA}/{name}.yaml.golden")
    if text is None or golden_text is None:
        return [f"{name}: not found at {ISTIO_TAG}"]
    inputs = docs(text)
    golden = docs(golden_text)
    got = convert_inputs(source, inputs)
    problems: list[str] = []
    # Internal Gateways of HTTP listeners: names and hosts and ports.
    want_gateways = {
        f"{d['metadata']['namespace']}/{d['metadata']['name']}": (
            d["spec"]["servers"][0]["port"]["number"],
            sorted(d["spec"]["servers"][0]["hosts"]),
        )
        for d in golden
        if d.get("kind") == "Gateway" and d["spec"]["servers"][0]["port"]["protocol"] == "HTTP"
    }
    got_gateways = {g.ref: (g.port, sorted(g.hosts)) for g in got.gateways if g.protocol == "HTTP"}
    for ref in sorted(set(want_gateways) | set(got_gateways)):
        if want_gateways.get(ref) != got_gateways.get(ref):
            problems.append(f"{name}: Gateway {ref}: istiod {want_gateways.get(ref)} != ours {got_gateways.get(ref)}")
    want = http_virtual_services(golden)
    ours = {vs.name: vs for _, vs in got.virtual_services}
    for vs_name in sorted(set(want) | set(ours)):
        if vs_name not in ours:
            problems.append(f"{name}: VirtualService {vs_name}: missing from ours")
            continue
        if vs_name not in want:
            problems.append(f"{name}: VirtualService {vs_name}: not in istiod's golden")
            continue
        spec, vs = want[vs_name]["spec"], ours[vs_name]
        defaults_used = any("uri" not in m for r in spec["http"] for m in r.get("match") or [{}])
        golden_routes = [defaulted(r) for r in spec["http"]]
        want_names = [r.get("name") for r in golden_routes]
        got_names = [r.get("name") for r in vs.http]
        if defaults_used:
            # The defaulted match changes the precedence sort; compare the set of routes, by name.
            want_names, got_names = sorted(want_names), sorted(got_names)
        checks = {
            "namespace": (want[vs_name]["metadata"]["namespace"], vs.namespace),
            "hosts": (spec.get("hosts"), list(vs.hosts)),
            "gateways": (spec.get("gateways"), list(vs.gateways)),
            "route names": (want_names, got_names),
        }
        for what, (a, b) in checks.items():
            if a != b:
                problems.append(f"{name}: VirtualService {vs_name}: {what}: istiod {a} != ours {b}")
        if checks["route names"][0] == checks["route names"][1]:
            ours_routes = list(vs.http)
            if defaults_used:
                golden_routes = sorted(golden_routes, key=lambda r: (r.get("name"), repr(proto(r))))
                ours_routes = sorted(ours_routes, key=lambda r: (r.get("name"), repr(proto(r))))
            for a, b in zip(golden_routes, ours_routes, strict=True):
                if proto(a) != proto(b):
                    problems.append(
                        f"{name}: VirtualService {vs_name}: route {a.get('name')}: istiod {proto(a)} != ours {proto(b)}"
                    )
    problems += compare_statuses(source, name, got)
    return problems


def _conditions(conditions: Any) -> list[tuple[str, str, str, str]]:
    return sorted(
        (str(c["type"]), str(c["status"]), str(c.get("reason", "")), str(c.get("message", "")))
        for c in conditions or []
    )


def compare_statuses(source: Source, name: str, got: Conversion) -> list[str]:
    """HTTPRoute parent conditions and Gateway listener conditions against ``<name>.status.yaml.golden``."""
    text = source.read(f"{TESTDATA}/{name}.status.yaml.golden")
    problems: list[str] = []
    for doc in docs(text or ""):
        kind, meta = str(doc.get("kind")), doc.get("metadata") or {}
        if kind not in ("HTTPRoute", "Gateway"):
            continue
        ref = (kind, str(meta.get("namespace", "default")), str(meta["name"]))
        ours = got.statuses.get(ref)
        where = f"{name}: {kind} {ref[1]}/{ref[2]}"
        if ours is None:
            problems.append(f"{where}: no status from ours")
            continue
        status = doc.get("status") or {}
        if kind == "HTTPRoute":
            want = [(p["parentRef"].get("name"), _conditions(p["conditions"])) for p in status.get("parents") or []]
            have = [(p["parentRef"].get("name"), _conditions(p["conditions"])) for p in ours.get("parents") or []]
        else:
            want = [(x["name"], _conditions(x["conditions"])) for x in status.get("listeners") or []]
            want += [
                ("attached", [(x["name"], str(x.get("attachedRoutes", 0)), "", "")])
                for x in status.get("listeners") or []
            ]
            have = [(x["name"], _conditions(x["conditions"])) for x in ours.get("listeners") or []]
            have += [
                ("attached", [(x["name"], str(x.get("attachedRoutes", 0)), "", "")])
                for x in ours.get("listeners") or []
            ]
        for item in want:
            if item not in have:
                problems.append(f"{where}: istiod {item} not in ours {have}")
    return problems


# Differences that come from features the local backend does not run, not from the conversion of what it does:
# (upstream file, text in the difference line, why). Each must still occur, so that the list cannot go stale.
KNOWN_DIFFERENCES = (
    ("http", "cors", "the CORS filter is not converted"),
    ("http", "inference", "InferencePool backends are not supported"),
    ("http", "infpool", "InferencePool backends are not supported"),
    ("weighted", "('tcp'", "TCP listeners: the local backend reports them as unsupported"),
    ("multi-gateway", "('tcp'", "TCP listeners: the local backend reports them as unsupported"),
    ("redirect-only", "('https'", "HTTPS listeners: the local backend reports them as unsupported"),
    ("invalid", "is not run by the local backend", "non-HTTP listeners: the local backend's own message"),
    ("invalid", "invalid-cert", "TLS certificate references are not checked"),
    ("invalid", "invalid-frontendvalidation", "TLS frontend validation is not checked"),
    ("invalid", "invalid-gateway-address", "Gateway spec.addresses are not checked"),
    ("invalid", "invalid-backendRef-hostname", "Hostname backends: istiod resolves them, local: InvalidKind"),
    ("invalid", "invalid-backendRef-serviceimport", "ServiceImport backends: istiod resolves them, local: InvalidKind"),
    ("invalid", "service-entry", "ServiceEntry parents are not supported"),
    ("zero", "('tcp'", "TCP listeners: the local backend reports them as unsupported"),
    ("reference-policy-service", "my-svc", "ReferenceGrant is not a kind the local backend runs"),
    ("valid-invalid-parent-ref", "google.com", "ServiceEntry parents are not supported"),
    ("valid-invalid-parent-ref", "('egress'", "ServiceEntry parents are not supported"),
)


def unexplained(name: str, problems: list[str]) -> tuple[list[str], list[str]]:
    """(differences no KNOWN_DIFFERENCES entry explains, KNOWN_DIFFERENCES texts of this file that matched none)."""
    known = [(text, why) for file, text, why in KNOWN_DIFFERENCES if file == name]
    left = [p for p in problems if not any(text in p for text, _ in known)]
    unused = [text for text, _ in known if not any(text in p for p in problems)]
    return left, unused
