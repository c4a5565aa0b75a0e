"""The browser session: a signed cookie (HMAC-SHA256 with a key kept in
REMPART_HOME/keys/web-session.key, shared by every worker), HttpOnly, SameSite=Strict,
Secure unless told otherwise. It holds a CSRF token, the language and, once signed in, the
API key's row id (never the key itself); the key is checked again on every request, so a
revoked key ends its sessions at once."""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from rempart import keyfile, tokens

COOKIE = "rempart_session"
KEY_FILE = "web-session.key"


def signing_key(home: Path) -> bytes:
    """32 random bytes, made on first use (mode 0600); two workers racing read the same."""
    return keyfile.load_or_create(home / "keys" / KEY_FILE)


@dataclass(frozen=True)
class Session:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    lang: str = ""
    key_row: int | None = None  # the API key's row id once signed in
    signed_in_at: float = 0.0
    expires: float = 0.0

    def signed_in(self, key_row: int, hours: float) -> Session:
        """A new session (new CSRF token) for this key."""
        now = time.time()
        return Session(
            lang=self.lang, key_row=key_row, signed_in_at=now, expires=now + hours * 3600
        )

    def with_lang(self, lang: str) -> Session:
        return replace(self, lang=lang)

    def check_csrf(self, token: str) -> bool:
        return bool(token) and hmac.compare_digest(token.encode(), self.csrf.encode())


def encode(session: Session, key: bytes) -> str:
    return tokens.sign(asdict(session), key)


def decode(value: str | None, key: bytes) -> Session | None:
    """The session a cookie holds; None when missing, forged, malformed or expired."""
    data = tokens.open_signed(value, key)
    if data is None:
        return None
    try:
        session = Session(
            csrf=str(data["csrf"]),
            lang=str(data["lang"]),
            key_row=None if data["key_row"] is None else int(data["key_row"]),
            signed_in_at=float(data["signed_in_at"]),
            expires=float(data["expires"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
    if session.key_row is not None and session.expires < time.time():
        return Session(lang=session.lang)  # expired: signed out, language kept
    return session
