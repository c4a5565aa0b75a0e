"""Who is calling the API: the API key (Authorization: Bearer KEY, or X-API-Key: KEY), its
role and its tenant; refusals are 401 (no key, unknown or revoked key), 403 (wrong role) and
429 (rate limit). Keys are checked by rempart.access.auth (the web UI's sign-in uses the same
checks); Principal, Authenticator and key_from are re-exported here for the API's routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import HTTPException, Request

from rempart.access.auth import Authenticator as Authenticator  # re-exported
from rempart.access.auth import Principal as Principal
from rempart.access.auth import key_from as key_from


async def authenticate(request: Request, roles: tuple[str, ...]) -> Principal:
    """The caller's key, checked: 401 without a key or with an unknown or revoked one, 429
    over its rate, 403 when its role is not one of `roles`."""
    services = request.app.state.services
    key = key_from(request.headers)
    if not key:
        raise HTTPException(
            401,
            "an API key is required (Authorization: Bearer KEY)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = services.auth.check(key)
    if principal is None:
        raise HTTPException(
            401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"}
        )
    wait = await services.limiter.take_async(principal.id, principal.rate)
    if wait > 0:
        raise HTTPException(
            429,
            f"rate limit of {principal.rate:g} requests/s exceeded",
            headers={"Retry-After": str(max(1, round(wait + 0.5)))},
        )
    if principal.role not in roles:
        raise HTTPException(
            403, f"a {principal.role} key may not do this (needs: {', '.join(roles)})"
        )
    return principal


def require(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting only keys with one of these roles."""

    async def dependency(request: Request) -> Principal:
        return await authenticate(request, roles)

    return dependency


def security_schemes() -> dict[str, Any]:
    """For the OpenAPI schema: how keys are sent."""
    return {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "Authorization: Bearer rmp_...",
        },
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    }
