"""Signed tokens: a small JSON body and its HMAC-SHA256, both URL-safe base64, "body.mac".

Why one module: the web UI's session cookie and her case page's session token are the same
construction (a body the server wrote, which it must know again and nobody may change),
and each had its own copy of the signing, the constant-time check and the size limit.
The body is readable by whoever holds the token (nothing secret goes in it); the key is a
keyfile.py key kept in REMPART_HOME/keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(body: dict[str, Any], key: bytes) -> str:
    """`body` as a token signed with `key`."""
    text = _b64(json.dumps(body, separators=(",", ":")).encode())
    mac = _b64(hmac.new(key, text.encode(), hashlib.sha256).digest())
    return f"{text}.{mac}"


def open_signed(token: str | None, key: bytes, max_chars: int = 4096) -> dict[str, Any] | None:
    """The body of a token signed with `key`; None when missing, too long, forged or not a
    JSON object."""
    if not token or token.count(".") != 1 or len(token) > max_chars:
        return None
    text, mac = token.split(".")
    want = _b64(hmac.new(key, text.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(mac.encode(), want.encode()):
        return None
    try:
        body = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, TypeError):
        return None
    return body if isinstance(body, dict) else None
