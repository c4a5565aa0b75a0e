"""API keys: created at random (shown once), stored as SHA-256, with a role and a tenant.

A key reads `rmp_<key id>_<secret>`: the key id (8 hex characters) is public (lists, audit
entries); the secret is 256 random bits, so a plain SHA-256 of the whole key is as safe to
store as a slow hash of a password would be, and costs microseconds to check per request.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from rempart.access.roles import ROLES
from rempart.store import audit
from rempart.store.db import Database
from rempart.store.models import ApiKey, Tenant, utcnow
from rempart.store.repository import StoreError
from rempart.store.tenants import TENANT_NAME as TENANT_NAME  # re-exported
from rempart.store.tenants import get_or_create_tenant as get_or_create_tenant
from rempart.store.tenants import get_tenant as get_tenant

KEY_PATTERN = re.compile(r"^rmp_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")
# Which kind of tenant each role belongs to (admins and victims belong to none).
# A partner (another Rempart instance pulling shared banks) is shared banks as a platform is.
TENANT_KIND = {"caseworker": "organisation", "platform": "platform", "partner": "platform"}


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("ascii", "replace")).hexdigest()


@dataclass(frozen=True)
class KeyInfo:
    id: int
    key_id: str
    role: str
    tenant: str | None
    label: str
    rate_limit: float | None
    created_at: datetime
    revoked_at: datetime | None


def create_key(
    s: Session,
    role: str,
    tenant: str | None,
    *,
    label: str = "",
    rate_limit: float | None = None,
    created_by: str = "",
) -> tuple[str, KeyInfo]:
    """A new key (returned once, never stored) and what is stored about it."""
    if role not in ROLES:
        raise StoreError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    kind = TENANT_KIND.get(role)
    if kind is not None and not tenant:
        raise StoreError(f"a {role} key needs a tenant (its {kind})")
    if kind is None and tenant:
        raise StoreError(f"a {role} key belongs to no tenant")
    if rate_limit is not None and not 0 < rate_limit <= 1_000_000:
        raise StoreError("the rate limit is a number of requests per second above 0")
    tenant_row = get_or_create_tenant(s, tenant, kind) if kind and tenant else None
    while True:
        key_id = secrets.token_hex(4)
        if s.scalar(select(ApiKey.id).where(ApiKey.key_id == key_id)) is None:
            break
    secret = secrets.token_urlsafe(32)
    key = f"rmp_{key_id}_{secret}"
    row = ApiKey(
        key_id=key_id,
        key_hash=digest(key),
        role=role,
        tenant_id=tenant_row.id if tenant_row else None,
        label=label,
        rate_limit=rate_limit,
        created_by=created_by,
    )
    s.add(row)
    s.flush()
    return key, _info(row, tenant_row.name if tenant_row else None)


def _info(row: ApiKey, tenant: str | None) -> KeyInfo:
    return KeyInfo(
        row.id,
        row.key_id,
        row.role,
        tenant,
        row.label,
        row.rate_limit,
        row.created_at,
        row.revoked_at,
    )


def list_keys(s: Session, tenant: str | None = None) -> list[KeyInfo]:
    query = select(ApiKey, Tenant.name).outerjoin(Tenant, ApiKey.tenant_id == Tenant.id)
    if tenant is not None:
        query = query.where(Tenant.name == tenant)
    return [_info(k, t) for k, t in s.execute(query.order_by(ApiKey.id)).all()]


def revoke_key(s: Session, key_id: str) -> KeyInfo:
    row = s.scalar(select(ApiKey).where(ApiKey.key_id == key_id))
    if row is None:
        raise StoreError(f"no API key {key_id!r}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    tenant = s.get(Tenant, row.tenant_id) if row.tenant_id else None
    return _info(row, tenant.name if tenant else None)


def issue_key(
    db: Database,
    role: str,
    tenant: str | None,
    *,
    label: str = "",
    rate_limit: float | None = None,
) -> tuple[str, KeyInfo]:
    """A new key and its audit entry in one transaction, by whoever acts now
    (audit.current_actor: the API's key owner, the command line's user): what `rempart
    apikey create` and POST /v1/admin/keys both do. The key is returned once."""
    with db.session() as s:
        key, info = create_key(
            s, role, tenant, label=label, rate_limit=rate_limit, created_by=audit.current_actor()
        )
        audit.record(
            s,
            "apikey-create",
            details={"key_id": info.key_id, "role": info.role, "tenant": info.tenant},
        )
    return key, info


def withdraw_key(db: Database, key_id: str) -> KeyInfo:
    """Revoke a key and write the audit entry, in one transaction: what `rempart apikey
    revoke` and DELETE /v1/admin/keys/ID both do (running servers refuse it within
    seconds; the one that revoked it at once)."""
    with db.session() as s:
        info = revoke_key(s, key_id)
        audit.record(s, "apikey-revoke", details={"key_id": key_id})
    return info
