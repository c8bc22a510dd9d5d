"""Reading the proxies' access logs (JSON lines written by Envoy in the mesh's run directory)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

# Report order: who answered and why first, identifiers last.
KEY_ORDER = (
    "proxy",
    "method",
    "authority",
    "path",
    "route_name",
    "upstream_cluster",
    "upstream_host",
    "response_code",
    "response_flags",
    "response_code_details",
    "attempts",
    "duration_ms",
    "end_user",
    "time",
    "request_id",
)


def format_entry(entry: dict[str, Any]) -> str:
    """One entry as a JSON line with the keys in :data:`KEY_ORDER` (others after them)."""
    ordered = {k: entry[k] for k in KEY_ORDER if k in entry}
    ordered.update({k: v for k, v in entry.items() if k not in ordered})
    return json.dumps(ordered)


def _parse_time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def read_entries(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """All entries of the given files, ordered by time (unparseable lines are skipped)."""
    entries: list[dict[str, Any]] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict):
                entries.append(entry)
    entries.sort(key=lambda e: str(e.get("time", "")))
    return entries


def lines_for_request(
    paths: Iterable[Path], request_id: str, *, wait: float = 0.0, poll: float = 0.05, settle: float = 0.3
) -> list[dict[str, Any]]:
    """Entries carrying ``request_id``; waits up to ``wait`` s for Envoy's periodic flush to write them.

    Every proxy flushes its log on its own timer, so the first entries found may be only some of them: once
    any are found, reading goes on until none was added for ``settle`` s (still bounded by ``wait``)."""
    paths = list(paths)
    deadline = time.monotonic() + wait
    found: list[dict[str, Any]] = []
    changed_at = time.monotonic()
    while True:
        now_found = [e for e in read_entries(paths) if e.get("request_id") == request_id]
        now = time.monotonic()
        if len(now_found) != len(found):
            found, changed_at = now_found, now
        if (found and now - changed_at >= settle) or now >= deadline:
            return found
        time.sleep(poll)


def lines_between(paths: Iterable[Path], start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Entries whose start time lies in [start, end] (timezone-aware datetimes)."""
    out = []
    for entry in read_entries(paths):
        when = _parse_time(str(entry.get("time", "")))
        if when is not None and start <= when <= end:
            out.append(entry)
    return out
