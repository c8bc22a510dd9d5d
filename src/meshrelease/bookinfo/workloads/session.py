"""productpage's client-side session: a cookie named ``session`` holding ``{"user": name}``, signed with
itsdangerous under a key every pod shares (a cookie minted by one replica is valid on all of them)."""

from __future__ import annotations

import hashlib
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "session"

# Hard-coded on purpose, like the real app's: replicas and restarts must accept each other's cookies.
# It protects nothing but test sessions on 127.0.0.1.
_SECRET_KEY = "meshrelease-bookinfo-session-key-7c1e5b2a"  # noqa: S105 - see above

_serializer = URLSafeTimedSerializer(
    _SECRET_KEY,
    salt="cookie-session",
    signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1},
)


def encode_session(data: dict[str, Any]) -> str:
    """The signed cookie value for ``data`` (JSON, compressed when that is shorter)."""
    return str(_serializer.dumps(data))


def decode_session(value: str | None) -> dict[str, Any]:
    """The session in a cookie value; an absent, tampered or malformed cookie is an empty session."""
    if not value:
        return {}
    try:
        data = _serializer.loads(value)
    except (BadSignature, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def session_user(value: str | None) -> str | None:
    """The signed-in user of a cookie value, or None (a user stored as JSON null counts as none)."""
    user = decode_session(value).get("user")
    return user if isinstance(user, str) else None
