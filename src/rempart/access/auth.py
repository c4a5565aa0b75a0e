"""Who is calling: the principal behind an API key (its row, role, tenant and request rate),
checked against the database. The API reads the key from each request's headers
(rempart.api.auth); the web UI from a sign-in form, then by the key's row id kept in the
session (`principal_for_row`: a key revoked since is signed out at its next request)."""

from __future__ import annotations

import hmac
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from rempart.access.keys import KEY_PATTERN, digest
from rempart.store.db import Database
from rempart.store.models import ApiKey, Tenant

_MAX_CACHED = 10_000


@dataclass(frozen=True)
class Principal:
    id: int  # the key's row id
    key_id: str
    role: str
    tenant_id: int | None
    tenant: str | None
    rate: float  # requests per second

    @property
    def actor(self) -> str:
        """How audit entries name this caller."""
        return f"api:{self.tenant or self.role}:{self.key_id}"


class Authenticator:
    """Checks keys against the database, trusting an answer for `ttl` seconds (so a key
    revoked by another process stops working within `ttl`; one revoked through this server,
    at once)."""

    def __init__(self, db: Database, rates: dict[str, float], ttl: float) -> None:
        self.db = db
        self.rates = rates
        self.ttl = ttl
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> Principal | None:
        m = KEY_PATTERN.match(key.strip())
        if m is None:
            return None
        d = digest(key.strip())
        now = time.monotonic()
        cached = self._cache.get(d)
        if cached is not None and cached[0] > now:
            return cached[1]
        with self.db.session() as s:
            row = s.execute(
                select(ApiKey, Tenant.name)
                .outerjoin(Tenant, ApiKey.tenant_id == Tenant.id)
                .where(ApiKey.key_id == m.group(1))
            ).first()
        principal: Principal | None = None
        if row is not None:
            k, tenant = row
            if k.revoked_at is None and hmac.compare_digest(k.key_hash, d):
                rate = k.rate_limit if k.rate_limit is not None else self.rates[k.role]
                principal = Principal(k.id, k.key_id, k.role, k.tenant_id, tenant, rate)
        with self._lock:
            if len(self._cache) >= _MAX_CACHED:
                self._cache.clear()
            self._cache[d] = (now + self.ttl, principal)
        return principal

    def forget(self, key_id: str) -> None:
        """Drop a key from the cache (it was revoked through this server)."""
        with self._lock:
            for d, (_, p) in list(self._cache.items()):
                if p is not None and p.key_id == key_id:
                    del self._cache[d]


def principal_for_row(
    db: Database, key_row: int, rates: dict[str, float], roles: tuple[str, ...]
) -> Principal | None:
    """The key with this row id, if it still exists, is not revoked and has one of `roles`
    (a web session keeps the row id, never the key)."""
    with db.session() as s:
        row = s.execute(
            select(ApiKey, Tenant.name)
            .outerjoin(Tenant, ApiKey.tenant_id == Tenant.id)
            .where(ApiKey.id == key_row)
        ).first()
    if row is None:
        return None
    key, tenant = row
    if key.revoked_at is not None or key.role not in roles:
        return None
    rate = key.rate_limit if key.rate_limit is not None else rates.get(key.role, 50.0)
    return Principal(key.id, key.key_id, key.role, key.tenant_id, tenant, rate)


def key_from(headers: Any) -> str | None:
    """The key from `Authorization: Bearer KEY` or `X-API-Key: KEY`."""
    value = headers.get("authorization")
    if value and value[:7].lower() == "bearer ":
        return str(value[7:].strip()) or None
    return headers.get("x-api-key") or None
