"""The error the translator raises for objects the local backend cannot render."""

from __future__ import annotations

from collections.abc import Sequence

from meshrelease.errors import ValidationError

UNSUPPORTED_HINT = "remove the field, or run this scenario on the kind or cluster backend (real Istio supports it)"


class TranslationError(ValidationError):
    """Objects passed validation but cannot be turned into Envoy configuration by the local backend.

    One line per problem, each naming ``Kind namespace/name`` and the field path."""

    def __init__(self, errors: Sequence[str], *, hint: str | None = UNSUPPORTED_HINT) -> None:
        super().__init__(errors, hint=hint)
