"""Tenants (organisations and platforms) by name, below every front-end.

Why here: sharing a bank (rempart.exchange.sharing) and the API's keys both need a tenant by
its name; the store is the layer both may use (the API's key module re-exports these)."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from rempart.store.errors import StoreError
from rempart.store.models import Tenant

TENANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def get_tenant(s: Session, name: str) -> Tenant:
    """The tenant of this name; StoreError when there is none."""
    tenant = s.scalar(select(Tenant).where(Tenant.name == name))
    if tenant is None:
        raise StoreError(f"no tenant named {name!r}")
    return tenant


def get_or_create_tenant(s: Session, name: str, kind: str) -> Tenant:
    """The tenant of this name and kind (organisation or platform), created if new;
    StoreError for an invalid name or a tenant of the other kind."""
    if not TENANT_NAME.match(name):
        raise StoreError(f"invalid tenant name {name!r}: letters, digits, '-', '_', '.'")
    tenant = s.scalar(select(Tenant).where(Tenant.name == name))
    if tenant is None:
        tenant = Tenant(name=name, kind=kind)
        s.add(tenant)
        s.flush()
    elif tenant.kind != kind:
        raise StoreError(f"tenant {name!r} is a {tenant.kind}, not a {kind}")
    return tenant
