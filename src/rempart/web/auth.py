"""Who is signed in: caseworkers and admins sign in with their API key; the session keeps
the key's row id, checked against the database on every request (revoked: signed out).
A caseworker sees only her organisation's cases, exactly as through the API (the same
`rempart.api.tenancy` rules)."""

from __future__ import annotations

from sqlalchemy import select

from rempart.api.auth import Principal
from rempart.store.db import Database
from rempart.store.models import ApiKey, Tenant

WEB_ROLES = ("caseworker", "admin")


class LoginRequired(Exception):
    """No valid session: the browser is sent to the sign-in page."""


class WebError(Exception):
    """A refusal shown as a page (status, message key of the catalogues, values)."""

    def __init__(self, status: int, key: str, **values: object) -> None:
        super().__init__(key)
        self.status, self.key, self.values = status, key, values


def principal_for(db: Database, key_row: int, rates: dict[str, float]) -> Principal | None:
    """The key behind a session, if it still exists, is not revoked and may use the UI."""
    with db.session() as s:
        row = s.execute(select(ApiKey, Tenant.name).outerjoin(Tenant, ApiKey.tenant_id ==
                        Tenant.id).where(ApiKey.id == key_row)).first()  # fmt: skip
    if row is None:
        return None
    key, tenant = row
    if key.revoked_at is not None or key.role not in WEB_ROLES:
        return None
    rate = key.rate_limit if key.rate_limit is not None else rates.get(key.role, 50.0)
    return Principal(key.id, key.key_id, key.role, key.tenant_id, tenant, rate)


def actor(p: Principal) -> str:
    """How audit entries name a person acting in the UI."""
    return f"web:{p.tenant or p.role}:{p.key_id}"
