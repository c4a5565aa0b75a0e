"""Rows the command line lists or changes that no domain module owns: the audit log's
entries, the withdrawal records, the enrolled face templates, a scan run to resume, a
case's organisation.

Why here: the front-ends build no queries (a ruff rule keeps SQLAlchemy out of
`rempart/cli/`, `api/routes/` and `web/`); each query lives once, in the store, and the
command calls it. Each function opens its own session on the given database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from rempart.store import audit, repository, tenants
from rempart.store.db import Database
from rempart.store.errors import StoreError
from rempart.store.models import AuditEntry, Case, CaseOwner, FaceTemplate, ScanRun, Withdrawal


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: str
    actor: str
    action: str
    case: str | None
    details: str  # JSON text, as stored


def audit_entries(db: Database, case: str | None = None) -> list[AuditRow]:
    """The audit log's entries, oldest first (only `case`'s when given)."""
    query = select(AuditEntry).order_by(AuditEntry.id)
    if case:
        query = query.where(AuditEntry.case_number == case)
    with db.session() as s:
        return [
            AuditRow(e.id, e.at, e.actor, e.action, e.case_number, e.details)
            for e in s.scalars(query)
        ]


def withdrawal_records(db: Database) -> list[dict[str, str]]:
    """The one-way withdrawal records for partners, oldest first: signal type, SHA-256 of
    the withdrawn value, when."""
    with db.session() as s:
        return [
            {
                "signal_type": w.signal_type,
                "value_sha256": w.value_sha256,
                "withdrawn_at": w.withdrawn_at.isoformat(timespec="seconds"),
            }
            for w in s.scalars(select(Withdrawal).order_by(Withdrawal.id))
        ]


@dataclass(frozen=True)
class TemplateRow:
    case: str
    id: int
    source: str
    face_width: int | None
    created_at: datetime


def face_template_rows(db: Database, case: str | None = None) -> list[TemplateRow]:
    """The enrolled face templates (never the templates themselves), by id."""
    query = select(FaceTemplate, Case.number).join(Case, FaceTemplate.case_id == Case.id)
    if case:
        query = query.where(Case.number == case)
    with db.session() as s:
        return [
            TemplateRow(number, t.id, t.source, t.face_width, t.created_at)
            for t, number in s.execute(query.order_by(FaceTemplate.id)).all()
        ]


@dataclass(frozen=True)
class ScanRunRow:
    id: int
    status: str
    options: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, Any] = field(default_factory=dict)


def _row(run: ScanRun) -> ScanRunRow:
    return ScanRunRow(run.id, run.status, dict(run.options or {}), dict(run.sources or {}))


def scan_run(db: Database, scan_id: int) -> ScanRunRow | None:
    """A scan run by its number, or None."""
    with db.session() as s:
        run = s.get(ScanRun, scan_id)
        return _row(run) if run is not None else None


def last_unfinished_scan(db: Database) -> ScanRunRow | None:
    """The most recent scan run that did not finish, or None."""
    with db.session() as s:
        run = s.scalars(
            select(ScanRun).where(ScanRun.status != "finished").order_by(ScanRun.id.desc())
        ).first()
        return _row(run) if run is not None else None


def assign_case(db: Database, number: str, tenant: str) -> None:
    """Give case `number` to the organisation `tenant` (created if new), audited.
    StoreError: no such case, an invalid name, or a tenant that is a platform."""
    with db.session() as s:
        case = repository.get_case(s, number)
        if case is None:
            raise StoreError(f"no case {number}")
        org = tenants.get_or_create_tenant(s, tenant, "organisation")
        owner = s.get(CaseOwner, case.id)
        if owner is None:
            s.add(CaseOwner(case_id=case.id, tenant_id=org.id))
        else:
            owner.tenant_id = org.id
        audit.record(s, "case-assign", case=number, details={"tenant": tenant})
