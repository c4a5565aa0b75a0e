"""Who is calling: the API key (Authorization: Bearer KEY, or X-API-Key: KEY), its role and
its tenant; refusals are 401 (no key, unknown or revoked key), 403 (wrong role) and 429
(rate limit)."""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request
from sqlalchemy import select

from rempart.api.keys import KEY_PATTERN, digest
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
            row = s.execute(select(ApiKey, Tenant.name).outerjoin(Tenant, ApiKey.tenant_id ==
                            Tenant.id).where(ApiKey.key_id == m.group(1))).first()  # fmt: skip
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


def key_from(headers: Any) -> str | None:
    """The key from `Authorization: Bearer KEY` or `X-API-Key: KEY`."""
    value = headers.get("authorization")
    if value and value[:7].lower() == "bearer ":
        return str(value[7:].strip()) or None
    return headers.get("x-api-key") or None


async def authenticate(request: Request, roles: tuple[str, ...]) -> Principal:
    """The caller's key, checked: 401 without a key or with an unknown or revoked one, 429
    over its rate, 403 when its role is not one of `roles`."""
    services = request.app.state.services
    key = key_from(request.headers)
    if not key:
        raise HTTPException(401, "an API key is required (Authorization: Bearer KEY)",
                            headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    principal = services.auth.check(key)
    if principal is None:
        raise HTTPException(401, "unknown or revoked API key",
                            headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    wait = services.limiter.take(principal.id, principal.rate)
    if wait > 0:
        raise HTTPException(429, f"rate limit of {principal.rate:g} requests/s exceeded",
                            headers={"Retry-After": str(max(1, round(wait + 0.5)))})
    if principal.role not in roles:
        raise HTTPException(403, f"a {principal.role} key may not do this (needs: "
                            f"{', '.join(roles)})")  # fmt: skip
    return principal


def require(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting only keys with one of these roles."""

    async def dependency(request: Request) -> Principal:
        return await authenticate(request, roles)

    return dependency


def security_schemes() -> dict[str, Any]:
    """For the OpenAPI schema: how keys are sent."""
    return {
        "bearer": {"type": "http", "scheme": "bearer",
                   "description": "Authorization: Bearer rmp_..."},
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    }
