"""Building blocks shared by the schema, Kubernetes and Istio validators.

A :class:`Problem` is one finding at one field path; the validators return lists of them and
:mod:`meshrelease.backends.local.validation.validate` turns them into the messages a real cluster would print.
The helpers here reproduce the value formats those messages use (Go's ``%v`` for floats, ``%q`` for strings,
Kubernetes field paths) and the syntax rules Istio and Kubernetes apply (Go durations, RE2, DNS names).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import re2

from meshrelease.k8s.objects import FieldPath as Path


@dataclass(frozen=True)
class Problem:
    """One finding: the field it is about (``()`` for the whole object) and the message to show."""

    path: Path
    message: str


def go_quote(text: str) -> str:
    """Go's ``%q`` for a string (double quotes, backslash escapes); JSON quoting is the same for text."""
    return json.dumps(text, ensure_ascii=False)


def go_float(value: float) -> str:
    """Go's ``%v`` for a float64: the shortest representation, ``150`` rather than ``150.0``."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def go_value(value: Any) -> str:
    """Go's ``%v`` for a scalar read from YAML (used where Istio formats a number with ``%v``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    return str(value)


def json_type(value: Any) -> str:
    """The JSON type name of a value, as the API server names it in schema errors."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# ------------------------------------------------------------------------------------------ durations
_DURATION_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # Go accepts both micro signs
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration_ns(text: str) -> int | None:
    """Parse a Go duration (``0.5s``, ``7s``, ``100ms``, ``1m30s``) to nanoseconds; None if it is not one."""
    rest = text
    sign = 1
    if rest[:1] in ("+", "-"):
        sign = -1 if rest[0] == "-" else 1
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        return None
    total = Decimal(0)
    pos = 0
    while pos < len(rest):
        match = _DURATION_PART.match(rest, pos)
        if match is None:
            return None
        try:
            total += Decimal(match.group(1)) * _DURATION_UNITS_NS[match.group(2)]
        except InvalidOperation:
            return None
        pos = match.end()
    return sign * int(total)


# ------------------------------------------------------------------------------------------ names
DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_WILDCARD_LABEL = re.compile(r"\*|(\*|\*-)?[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")

DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
    "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
DNS1035_LABEL_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
    "must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex "
    "used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
LABEL_NAME_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


def is_dns1123_label(value: str) -> bool:
    """A Kubernetes DNS-1123 label (namespaces, port names, Istio subset names)."""
    return len(value) <= 63 and DNS1123_LABEL.fullmatch(value) is not None


def is_dns1123_subdomain(value: str) -> bool:
    """A Kubernetes DNS-1123 subdomain (most object names)."""
    return len(value) <= 253 and DNS1123_SUBDOMAIN.fullmatch(value) is not None


def is_dns1035_label(value: str) -> bool:
    """A Kubernetes DNS-1035 label (Service names: must start with a letter)."""
    return len(value) <= 63 and DNS1035_LABEL.fullmatch(value) is not None


def is_label_value(value: str) -> bool:
    """A valid Kubernetes label value (may be empty)."""
    return len(value) <= 63 and _LABEL_VALUE.fullmatch(value) is not None


def label_key_problem(key: str) -> str | None:
    """Why ``key`` is not a valid Kubernetes label key (``[prefix/]name``), or None."""
    prefix, _, name = key.rpartition("/")
    if "/" in key and not prefix:
        return "prefix part must be non-empty"
    if prefix and not is_dns1123_subdomain(prefix):
        return "prefix part " + DNS1123_SUBDOMAIN_MSG
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    if _LABEL_NAME.fullmatch(name) is None:
        return LABEL_NAME_MSG
    return None


def wildcard_domain_problem(domain: str) -> str | None:
    """Istio's check of a host that may start with a wildcard label (``*.example.com``), or None if valid."""
    if not domain:
        return "empty domain name not allowed"
    if len(domain) > 255:
        return f"domain name {go_quote(domain)} too long (max 255)"
    first, _, rest = domain.partition(".")
    if len(first) > 63 or _WILDCARD_LABEL.fullmatch(first) is None:
        return f"domain name {go_quote(domain)} invalid (label {go_quote(first)} invalid)"
    if "." in domain:
        return dns1123_labels_problem(rest, domain)
    return None


def dns1123_labels_problem(name: str, whole: str | None = None) -> str | None:
    """Istio's check that every dot-separated label is a DNS-1123 label (a trailing dot is allowed)."""
    shown = whole if whole is not None else name
    top_level = name.split(".")[-1]
    if re.fullmatch(r"[+-]?[0-9]+", top_level):  # Go's strconv.Atoi accepts it
        return f"domain name {go_quote(name)} invalid (top level domain {go_quote(top_level)} cannot be all-numeric)"
    labels = name[:-1].split(".") if name.endswith(".") else name.split(".")
    for label in labels:
        if not is_dns1123_label(label):
            return f"domain name {go_quote(shown)} invalid (label {go_quote(label)} invalid)"
    return None


def fqdn_problem(name: str) -> str | None:
    """Istio's ``ValidateFQDN``: a non-wildcard DNS name."""
    if not name:
        return "empty domain name not allowed"
    if len(name) > 255:
        return f"domain name {go_quote(name)} too long (max 255)"
    return dns1123_labels_problem(name)


def port_problem(port: Any) -> str | None:
    """Istio's port check (1..65535)."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        return f"port number {go_value(port)} must be in the range 1..65535"
    return None


# ------------------------------------------------------------------------------------------ regexes
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # RE2 would otherwise print every rejected pattern to stderr

# RE2 (C++) error code text -> the text Go's regexp/syntax gives for the same error: istiod validates with
# Go's regexp package, so its messages are Go's.
_GO_REGEXP_ERRORS = {
    "invalid escape sequence": "invalid escape sequence",
    "invalid character class": "invalid character class",
    "invalid character class range": "invalid character class range",
    "missing ]": "missing closing ]",
    "missing )": "missing closing )",
    "unexpected )": "unexpected )",
    "trailing \\": "trailing backslash at end of expression",
    "no argument for repetition operator": "missing argument to repetition operator",
    "invalid repetition size": "invalid repeat count",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "invalid UTF-8": "invalid UTF-8",
    "invalid named capture group": "invalid named capture",
    "pattern too large - compile failed": "expression too large",
}


def re2_error(pattern: str) -> str | None:
    """Go-style ``error parsing regexp: ...`` text if RE2 rejects ``pattern`` (look-around, backreferences,
    bad syntax), else None."""
    try:
        re2.compile(pattern, options=_RE2_OPTIONS)
    except re2.error as exc:
        raw = exc.args[0] if exc.args else ""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        code, sep, arg = text.partition(": ")
        if code not in _GO_REGEXP_ERRORS and text.rstrip() in _GO_REGEXP_ERRORS:
            code, arg = text.rstrip(), ""
        go = _GO_REGEXP_ERRORS.get(code)
        rest = pattern[pattern.find(arg) :] if arg and arg in pattern else ""
        if code == "invalid perl operator" and arg.startswith("(?<") and ">" not in rest:
            # Go reads "(?<" as the start of a named group (Go >= 1.22), so look-behind fails as one.
            return f"error parsing regexp: invalid named capture: `{rest}`"
        if go is None:
            return f"error parsing regexp: {text}"
        return f"error parsing regexp: {go}: `{arg if sep or arg else ''}`"
    return None
