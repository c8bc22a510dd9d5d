"""The error the translator raises for objects the local backend cannot render, and the line naming such a field."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from meshrelease.errors import ValidationError

UNSUPPORTED_HINT = "remove the field, or run this scenario on the kind or cluster backend (real Istio supports it)"


class TranslationError(ValidationError):
    """Objects passed validation but cannot be turned into Envoy configuration by the local backend.

    One line per problem, each naming ``Kind namespace/name`` and the field path."""

    def __init__(self, errors: Sequence[str], *, hint: str | None = UNSUPPORTED_HINT) -> None:
        super().__init__(errors, hint=hint)


ELSEWHERE = "the kind and cluster backends support it"


def unsupported(ref: str, path: str, value: Any = None, why: str = "") -> str:
    """One error line: ``<Kind ns/name>: <path> [value] is not supported by the local backend yet (...)``."""
    shown = f" {value}" if value is not None else ""
    reason = f"{why}; {ELSEWHERE}" if why else ELSEWHERE
    return f"{ref}: {path}{shown} is not supported by the local backend yet ({reason})"
