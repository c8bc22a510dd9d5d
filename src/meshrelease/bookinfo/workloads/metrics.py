"""productpage's ``/metrics``: a Prometheus text counter ``request_result`` of backend call outcomes."""

from __future__ import annotations

from collections import Counter


class RequestResults:
    """Counts backend calls by ``destination_app`` and ``response_code`` (the status productpage reports:
    the backend's, or 500 when no reply came)."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()

    def inc(self, destination_app: str, response_code: int) -> None:
        """Count one call."""
        self._counts[(destination_app, str(response_code))] += 1

    def count(self, destination_app: str, response_code: int) -> int:
        """How many calls to ``destination_app`` ended with ``response_code``."""
        return self._counts[(destination_app, str(response_code))]

    def render(self) -> str:
        """Prometheus text exposition format 0.0.4."""
        lines = [
            "# HELP request_result Results of requests",
            "# TYPE request_result counter",
        ]
        for (app, code), value in sorted(self._counts.items()):
            lines.append(f'request_result_total{{destination_app="{app}",response_code="{code}"}} {float(value)}')
        return "\n".join(lines) + "\n"
