"""Value conversions shared by the translator: durations, percentages and tolerant field access.

Objects reach the translator after validation, but optional fields may be absent or null; the accessors
here return empty values instead of raising so that a missing optional field never crashes translation.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from meshrelease.backends.local.translate.errors import TranslationError

JsonDict = dict[str, Any]

_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_NANOS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


def as_dict(value: Any) -> JsonDict:
    """``value`` if it is a mapping, else ``{}``."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """``value`` if it is a list, else ``[]``."""
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str:
    """``value`` if it is a string, else ``""``."""
    return value if isinstance(value, str) else ""


def as_int(value: Any, default: int = 0) -> int:
    """``value`` as an int (numbers and digit strings), else ``default``."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return default


def as_float(value: Any, default: float = 0.0) -> float:
    """``value`` as a float, else ``default``."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int | float):
        return float(value)
    return default


def string_map(value: Any) -> dict[str, str]:
    """A label-style map with every key and value as a string."""
    return {str(k): str(v) for k, v in as_dict(value).items()}


def duration_nanos(text: Any, where: str) -> int:
    """Parse a Go/protobuf duration (``7s``, ``0.5s``, ``100ms``, ``1m30s``) into nanoseconds."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        text = f"{text}s"
    if not isinstance(text, str) or not text:
        raise TranslationError([f"{where}: {text!r} is not a duration (for example 2s, 0.5s or 100ms)"])
    pos = 0
    total = Decimal(0)
    for part in _DURATION_PART.finditer(text):
        if part.start() != pos:
            break
        try:
            total += Decimal(part.group(1)) * _UNIT_NANOS[part.group(2)]
        except InvalidOperation:
            break
        pos = part.end()
    if pos != len(text) or pos == 0:
        raise TranslationError([f"{where}: {text!r} is not a duration (for example 2s, 0.5s or 100ms)"])
    return int(total)


def proto_duration(text: Any, where: str) -> str:
    """A duration in protobuf JSON form as Envoy reads it: ``"0s"``, ``"7s"``, ``"0.500s"``."""
    nanos = duration_nanos(text, where)
    seconds, frac = divmod(nanos, 1_000_000_000)
    if frac == 0:
        return f"{seconds}s"
    if frac % 1_000_000 == 0:
        return f"{seconds}.{frac // 1_000_000:03d}s"
    if frac % 1_000 == 0:
        return f"{seconds}.{frac // 1_000:06d}s"
    return f"{seconds}.{frac:09d}s"


def million_percent(percentage: Any) -> JsonDict:
    """Istio ``Percent {value}`` (a double 0-100) as Envoy FractionalPercent: value x 10000 per MILLION."""
    value = as_float(as_dict(percentage).get("value"))
    return {"numerator": int(value * 10000), "denominator": "MILLION"}


def hundred_percent(value: int) -> JsonDict:
    """A deprecated integer percent as Envoy FractionalPercent over HUNDRED."""
    return {"numerator": value, "denominator": "HUNDRED"}


def labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    """True when ``labels`` is a superset of ``selector`` (an empty selector matches everything)."""
    return all(labels.get(k) == v for k, v in selector.items())
