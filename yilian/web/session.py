"""Signed session cookies: "<payload>.<signature>", HMAC-SHA256 over the payload with settings.secret_key.

The payload (base64url JSON) holds only the user id and the expiry; the user's roles and member are
looked up again on every request, so a changed or deactivated user takes effect at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

COOKIE = "yilian_session"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(payload: str, secret: str) -> str:
    return _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())


def make_session(user_id: str, secret: str, hours: float, now: float | None = None) -> str:
    """A cookie value naming `user_id`, valid for `hours` from `now`."""
    expires = int((time.time() if now is None else now) + hours * 3600)
    payload = _b64(json.dumps({"u": user_id, "exp": expires}, separators=(",", ":")).encode())
    return f"{payload}.{_sign(payload, secret)}"


def read_session(value: str | None, secret: str, now: float | None = None) -> str | None:
    """The user id in a cookie value, or None when it is missing, tampered with, malformed or expired."""
    if not value or value.count(".") != 1:
        return None
    payload, signature = value.split(".")
    if not hmac.compare_digest(signature, _sign(payload, secret)):
        return None
    try:
        data = json.loads(_unb64(payload))
        user_id, expires = data["u"], int(data["exp"])
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(user_id, str) or expires <= (time.time() if now is None else now):
        return None
    return user_id
