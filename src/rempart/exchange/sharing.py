"""Creating a bank and sharing it with a platform (and stopping), written once for every
front-end.

Why one place: `rempart bank share` and the API's PUT/DELETE /v1/banks/{name}/shares/{tenant}
each wrote the rows and the audit entry themselves. A platform's API key may match only
against the banks shared with its tenant, so who may see a victim's hashes is decided
here: the share row changes and the audit entry naming the actor are written in one
transaction. The CLI creates the platform when it is new (`create=True`); the API shares
only with a platform that exists. Creating a bank (`rempart bank create`, POST /v1/banks)
is audited here too.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from rempart.store import audit, repository, tenants
from rempart.store.db import Database
from rempart.store.models import BankShare
from rempart.store.repository import StoreError


@dataclass(frozen=True)
class Share:
    """A bank's share with a platform after the change."""

    bank: str
    tenant: str
    shared: bool
    changed: bool  # False when it already was so


def create_bank(
    db: Database,
    name: str,
    *,
    description: str = "",
    pdq_threshold: int = 31,
    actor: str | None = None,
) -> None:
    """Create a bank (audited, naming `actor`, default the current actor). StoreError for an
    invalid or taken name or a threshold outside 0-63; nothing is stored then."""
    with db.session() as s:
        repository.create_bank(s, name, description=description, pdq_threshold=pdq_threshold)
        audit.record(
            s, "bank-create", actor=actor, details={"bank": name, "threshold": pdq_threshold}
        )


def _set_share(
    db: Database, bank: str, tenant: str, on: bool, *, create: bool, actor: str | None
) -> Share:
    with db.session() as s:
        row = repository.get_bank(s, bank)
        if create:
            platform = tenants.get_or_create_tenant(s, tenant, "platform")
        else:
            platform = tenants.get_tenant(s, tenant)
            if platform.kind != "platform":
                raise StoreError(f"{tenant!r} is not a platform: banks are shared with platforms")
        existing = s.scalar(
            select(BankShare).where(BankShare.bank_id == row.id, BankShare.tenant_id == platform.id)
        )
        changed = (existing is None) == on
        if on and existing is None:
            s.add(BankShare(bank_id=row.id, tenant_id=platform.id))
        if not on and existing is not None:
            s.delete(existing)
        audit.record(
            s,
            "bank-share" if on else "bank-unshare",
            actor=actor,
            details={"bank": bank, "tenant": tenant},
        )
    return Share(bank=bank, tenant=tenant, shared=on, changed=changed)


def share_bank(
    db: Database, bank: str, tenant: str, *, create: bool = False, actor: str | None = None
) -> Share:
    """Let the platform `tenant` match against `bank` (audited, naming `actor`, default the
    current actor). `create`: make the platform if it is new. StoreError: no such bank, no
    such platform, or a tenant that is an organisation."""
    return _set_share(db, bank, tenant, True, create=create, actor=actor)


def unshare_bank(
    db: Database, bank: str, tenant: str, *, create: bool = False, actor: str | None = None
) -> Share:
    """Stop sharing `bank` with the platform `tenant` (audited even when it was not shared,
    as both front-ends always did)."""
    return _set_share(db, bank, tenant, False, create=create, actor=actor)
