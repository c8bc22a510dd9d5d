"""Shared parts of Istio's validating webhook: the result type and the checks every kind uses
(durations, percentages, regexes, string matches, labels, headers, destinations, gateway names,
exportTo). Messages are Istio's own (istio/istio 1.30.3 pkg/config/validation/validation.go;
docs/istio-semantics.md). Host names follow :mod:`meshrelease.k8s.hosts`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from meshrelease.backends.local.validation.common import (
    Problem,
    fqdn_problem,
    go_quote,
    go_value,
    is_dns1123_label,
    is_label_value,
    label_key_problem,
    parse_duration_ns,
    port_problem,
    re2_error,
    wildcard_domain_problem,
)
from meshrelease.backends.local.validation.header_value import header_value_problem
from meshrelease.k8s.objects import FieldPath as Path

JWT_CLAIM_PREFIX = "@request.auth.claims."
MS = 1_000_000

TOKEN_CHARS = set("!#$%&'*+-.^_`|~ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_PSEUDO_HEADERS = {":method", ":scheme", ":authority", ":path", ":status"}


@dataclass
class WebhookResult:
    """The webhook's answer for one object: errors deny the request, warnings are printed by kubectl."""

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def err(self, path: Path, message: str | None) -> None:
        if message is not None:
            self.errors.append(Problem(path, message))

    def warn(self, path: Path, message: str) -> None:
        self.warnings.append(Problem(path, message))


def as_dict(value: Any) -> dict[str, Any]:
    """The value if it is a mapping, else an empty dict (rules run on schema-checked data)."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """The value if it is a list, else an empty list."""
    return value if isinstance(value, list) else []


def go_list(values: Sequence[Any]) -> str:
    """Go's ``%v`` of a slice: ``[a b]``."""
    return "[" + " ".join(str(v) for v in values) + "]"


# ------------------------------------------------------------------------------------------ small checks
def duration_problem(text: Any) -> str | None:
    """The webhook's duration rule: at least 1ms, whole milliseconds."""
    nanos = parse_duration_ns(text) if isinstance(text, str) else None
    if nanos is None or nanos < MS:
        return "duration must be greater than 1ms"
    if nanos % MS:
        return "only durations to ms precision are supported"
    return None


def percentage_problem(percentage: Any) -> str | None:
    """Istio's check of a ``Percent`` (fault percentages): 0, or 0.0001..100."""
    value = as_dict(percentage).get("value", 0)
    if not isinstance(value, int | float):
        return None
    if value < 0 or value > 100 or 0 < value < 0.0001:
        return f"percentage {go_value(value)} is neither 0.0, nor in range [0.0001, 100.0]"
    return None


def percent_problem(value: Any) -> str | None:
    """Istio's check of an integer percent (0..100)."""
    if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value <= 100:
        return f"percentage {value} is not in range 0..100"
    return None


def http_status_problem(status: Any) -> str | None:
    """Istio's HTTP status check (200..600: Istio's bound is off by one)."""
    if isinstance(status, int) and (status < 200 or status > 600):
        return f"HTTP status {status} is not in range 200-599"
    return None


def regex_problem(regex: str, where: str) -> str | None:
    """Istio's regex check: at most 1024 characters, and RE2 must accept it."""
    if len(regex) > 1024:
        return f"{go_quote(where)}: regex is too large, max length allowed is 1024"
    error = re2_error(regex)
    if error is None:
        return None
    return f"{go_quote(where)}: {error}; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)"


def string_match_regex_problem(match: Any, where: str) -> str | None:
    """The regex rule of a StringMatch (used alone for ``uri``, where an empty prefix is fine)."""
    match = as_dict(match)
    if "regex" not in match:
        return None
    if match["regex"] == "":
        return f"{go_quote(where)}: regex string match should not be empty"
    return regex_problem(str(match["regex"]), where)


def string_match_problem(match: Any, where: str) -> str | None:
    """The StringMatch rules: no empty prefix, a valid non-empty regex."""
    match = as_dict(match)
    if "prefix" in match and match["prefix"] == "":
        return f"{go_quote(where)}: prefix string match should not be empty"
    return string_match_regex_problem(match, where)


def tag_problems(labels: Any) -> list[str]:
    """Istio's label check (source labels, subset labels)."""
    problems = []
    for key, value in as_dict(labels).items():
        if label_key_problem(str(key)) is not None:
            problems.append(f"invalid tag key: {go_quote(str(key))}")
        if isinstance(value, str) and not is_label_value(value):
            problems.append(f"invalid tag value: {go_quote(value)}")
    return problems


def header_name_or_claim_problem(name: str) -> str | None:
    """A header name to match on: a token, a pseudo-header or a JWT claim key."""
    if name == "":
        return "header name cannot be empty"
    if name.startswith(JWT_CLAIM_PREFIX) or name in _PSEUDO_HEADERS:
        return None
    if not set(name) <= TOKEN_CHARS:
        return f"header name {name} is not a valid header name"
    return None


def is_authority_header(name: str) -> bool:
    """Whether setting this header rewrites the authority (``:authority`` or ``host``)."""
    return name.lower() in (":authority", "host")


def _request_header_name_problem(name: str) -> str | None:
    if name == "":
        return "header name cannot be empty"
    if (name.startswith(":") or name.lower() == "host") and not is_authority_header(name):
        return f'invalid header {go_quote(name)}: header cannot have ":" prefix'
    return None


def _header_operation_name_problem(name: str) -> str | None:
    if name == "":
        return "header name cannot be empty"
    if name.lower() == "host":
        return f"invalid header {go_quote(name)}: cannot set Host header"
    if name.startswith(":"):
        return f'invalid header {go_quote(name)}: header cannot have ":" prefix'
    return None


def _header_value_problem(value: Any) -> str | None:
    return header_value_problem(str(value))


def check_header_operations(result: WebhookResult, headers: Any, path: Path) -> None:
    """The header set/add/remove rules of a route or of one destination."""
    request = as_dict(as_dict(headers).get("request"))
    response = as_dict(as_dict(headers).get("response"))
    for op in ("add", "set"):
        for name, value in as_dict(request.get(op)).items():
            result.err((*path, "request", op, name), _request_header_name_problem(name))
            result.err((*path, "request", op, name), _header_value_problem(value))
    for index, name in enumerate(as_list(request.get("remove"))):
        result.err((*path, "request", "remove", index), _header_operation_name_problem(str(name)))
    for op in ("add", "set"):
        for name, value in as_dict(response.get(op)).items():
            result.err((*path, "response", op, name), _header_operation_name_problem(name))
            result.err((*path, "response", op, name), _header_value_problem(value))
    for index, name in enumerate(as_list(response.get("remove"))):
        result.err((*path, "response", "remove", index), _header_operation_name_problem(str(name)))


def check_destination(result: WebhookResult, destination: Any, path: Path) -> None:
    """A destination: host, subset name and port."""
    if not isinstance(destination, dict):
        return
    host = str(destination.get("host", ""))
    if host == "*":
        result.err((*path, "host"), f"invalid destination host {host}")
    else:
        result.err((*path, "host"), wildcard_domain_problem(host))
    subset = destination.get("subset")
    if subset:
        result.err((*path, "subset"), subset_name_problem(str(subset)))
    if "port" in destination:
        result.err((*path, "port", "number"), port_problem(as_dict(destination["port"]).get("number", 0)))


def subset_name_problem(name: str) -> str | None:
    """Istio's subset name rule (a DNS-1123 label), used for DestinationRule subsets and destinations."""
    if not name:
        return "subset name cannot be empty"
    if not is_dns1123_label(name):
        return f"subset name is invalid: {name}"
    return None


def check_gateway_names(result: WebhookResult, names: Any, path: Path) -> None:
    """The names in ``gateways`` (``mesh``, ``name``, ``namespace/name``)."""
    for index, name in enumerate(as_list(names)):
        name = str(name)
        here = (*path, index)
        namespace, slash, gateway = name.partition("/")
        if not slash:
            if "." in name:
                parts = name.split(".")
                recommended = f"{parts[1]}/{parts[0]}"
                result.warn(
                    here,
                    f"using legacy gatewayName format {go_quote(name)}; prefer the <namespace>/<name> "
                    f"format: {go_quote(recommended)}",
                )
            result.err(here, fqdn_problem(name))
            return  # istiod stops at the first name without a namespace
        if not namespace or not gateway:
            result.err(here, "config namespace and gateway name cannot be empty")
        if not is_dns1123_label(namespace):
            result.err(here, f"invalid value for namespace: {go_quote(namespace)}")
        if not is_dns1123_label(gateway):
            result.err(here, f"invalid value for gateway name: {go_quote(gateway)}")


def check_export_to(
    result: WebhookResult, export_to: Any, namespace: str, path: Path, *, with_selector: bool = False
) -> None:
    """``exportTo``: no duplicates, ``*`` alone, a workload-selected DestinationRule stays local."""
    entries = [str(e) for e in as_list(export_to)]
    if not entries:
        return
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        key = namespace if entry == "." else entry
        if key in seen:
            if key != entry:
                result.err((*path, index), f"duplicate entries in exportTo: . and current namespace {namespace}")
            else:
                result.err((*path, index), f"duplicate entries in exportTo for entry {entry}")
        seen.add(key)
    if with_selector:
        if namespace in seen:
            if len(seen) > 1:
                result.err(path, "destination rule with workload selector cannot have multiple entries in exportTo")
        else:
            result.err(path, "destination rule with workload selector cannot have exportTo beyond current namespace")
    if "*" in seen and len(entries) > 1:
        result.err(path, "cannot have both public (*) and non-public exportTo values for a resource")
