"""The rows the HTTP API and the web UI list or write for a caller, each filtered by what that
caller may see (rempart.access.tenancy's rules): banks and their entries, cases, platforms'
feedback, the query log, tenants, notices, the matches of a scan started from the UI.

Why here: the front-ends build no queries (a ruff rule keeps SQLAlchemy out of
`api/routes/` and `web/`, as out of `cli/`); each query lives once, below both front-ends.
Functions given a session run in the caller's transaction; those given a database open
their own."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from rempart.access.auth import Principal
from rempart.access.keys import get_tenant
from rempart.access.tenancy import visible_banks
from rempart.store import audit, repository
from rempart.store.db import Database
from rempart.store.models import (
    ApiQuery,
    Bank,
    BankItem,
    BankShare,
    Case,
    CaseOwner,
    ItemSignal,
    Match,
    Notice,
    PlatformFeedback,
    ScanItem,
    Tenant,
)

# ---- banks and their entries -------------------------------------------------------------


def bank_summary(s: Session, bank: Bank, p: Principal) -> dict[str, Any]:
    """A bank as the API shows it: its entry count (not to platforms), the tenants it is
    shared with (admins only)."""
    out: dict[str, Any] = {
        "name": bank.name,
        "description": bank.description,
        "pdq_threshold": bank.pdq_threshold,
    }
    if p.role != "platform":
        out["entries"] = s.scalar(
            select(func.count(BankItem.id)).where(BankItem.bank_id == bank.id)
        )
    if p.role == "admin":
        out["shared_with"] = sorted(
            s.scalars(
                select(Tenant.name)
                .join(BankShare, BankShare.tenant_id == Tenant.id)
                .where(BankShare.bank_id == bank.id)
            )
        )
    return out


def banks_named(s: Session, names: Any) -> list[Bank]:
    """The banks with these names, by name."""
    return list(s.scalars(select(Bank).where(Bank.name.in_(names)).order_by(Bank.name)))


def bank_entries(
    s: Session, bank: Bank, p: Principal, case: str | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    """A page of a bank's entries (a caseworker: only her organisation's cases'), with the
    kinds of signal each holds."""
    query = (
        select(BankItem, Case.number)
        .outerjoin(Case, BankItem.case_id == Case.id)
        .where(BankItem.bank_id == bank.id)
    )
    if p.role == "caseworker":
        query = query.join(CaseOwner, CaseOwner.case_id == BankItem.case_id).where(
            CaseOwner.tenant_id == p.tenant_id
        )
    if case is not None:
        query = query.where(Case.number == case)
    rows = s.execute(query.order_by(BankItem.id).limit(limit).offset(offset)).all()
    ids = [item.id for item, _ in rows]
    kinds: dict[int, list[str]] = {}
    for item_id, signal_type in s.execute(
        select(ItemSignal.item_id, ItemSignal.signal_type).where(ItemSignal.item_id.in_(ids))
    ).all():
        if signal_type not in kinds.setdefault(item_id, []):
            kinds[item_id].append(signal_type)
    return [
        {
            "bank_entry": item.id,
            "case": number,
            "media_type": item.media_type,
            "label": item.label,
            "signals": sorted(kinds.get(item.id, [])),
            "created_at": item.created_at.isoformat(timespec="seconds"),
            "expires_at": item.expires_at.isoformat(timespec="seconds")
            if item.expires_at
            else None,
        }
        for item, number in rows
    ]


def _case_entries(column: Any, bank: str, number: str) -> Select[Any]:
    return (
        select(column)
        .join(Bank, BankItem.bank_id == Bank.id)
        .join(Case, BankItem.case_id == Case.id)
        .where(Bank.name == bank, Case.number == number)
    )


def last_entry_id(db: Database, bank: str, number: str) -> int:
    """The highest entry id of this case in this bank (0: none)."""
    with db.session() as s:
        return int(s.scalar(_case_entries(func.max(BankItem.id), bank, number)) or 0)


def entry_ids_after(db: Database, bank: str, number: str, after: int) -> list[int]:
    """The ids of this case's entries in this bank above `after`, in order."""
    with db.session() as s:
        return list(
            s.scalars(
                _case_entries(BankItem.id, bank, number)
                .where(BankItem.id > after)
                .order_by(BankItem.id)
            )
        )


def entry_case(s: Session, bank: Bank, entry: int) -> str | None:
    """The case number of this bank's entry `entry`; None if the bank holds no such entry
    (or it belongs to no case)."""
    item = s.get(BankItem, entry)
    if item is None or item.bank_id != bank.id or not item.case_id:
        return None
    return repository.case_number(s, item.case_id)


def shared_bank(s: Session, p: Principal, name: str) -> Bank | None:
    """The bank if it is shared with this caller's tenant (an admin: any bank)."""
    bank = s.scalar(select(Bank).where(Bank.name == name))
    if bank is None:
        return None
    if (
        p.role == "admin"
        or s.scalar(
            select(BankShare.id).where(
                BankShare.bank_id == bank.id, BankShare.tenant_id == p.tenant_id
            )
        )
        is not None
    ):
        return bank
    return None


# ---- cases --------------------------------------------------------------------------------


def cases_page(db: Database, p: Principal, limit: int, offset: int) -> list[dict[str, Any]]:
    """A page of the cases (a caseworker: her organisation's), oldest first."""
    query = select(Case)
    if p.role == "caseworker":
        query = query.join(CaseOwner, CaseOwner.case_id == Case.id).where(
            CaseOwner.tenant_id == p.tenant_id
        )
    with db.session() as s:
        rows = s.scalars(query.order_by(Case.id).limit(limit).offset(offset)).all()
        return [
            {
                "case": c.number,
                "status": c.status,
                "created_at": c.created_at.isoformat(timespec="seconds"),
            }
            for c in rows
        ]


def platform_reports(db: Database, number: str) -> dict[str, int]:
    """Verdict -> how many platforms' reports on this case's entries said it."""
    with db.session() as s:
        case = repository.get_case(s, number)
        if case is None:
            return {}
        rows = s.execute(
            select(PlatformFeedback.verdict, func.count(PlatformFeedback.id))
            .where(PlatformFeedback.case_id == case.id)
            .group_by(PlatformFeedback.verdict)
        ).all()
    return {str(v): int(n) for v, n in rows}


def case_numbers_by_id(db: Database) -> dict[int, str]:
    """Every case's number, by its row id."""
    with db.session() as s:
        return {c.id: c.number for c in s.scalars(select(Case))}


# ---- platforms' feedback -------------------------------------------------------------------


def add_feedback(
    db: Database, p: Principal, bank_entry: int, verdict: str, content_ref: str, note: str
) -> dict[str, Any] | None:
    """Record a platform's report on an entry of a bank it may see, audited; None if there
    is no such entry it may see."""
    with db.session() as s:
        row = s.execute(
            select(BankItem, Bank.name)
            .join(Bank, BankItem.bank_id == Bank.id)
            .where(BankItem.id == bank_entry)
        ).first()
        if row is None or row[1] not in visible_banks(s, p):
            return None
        item, bank_name = row
        fb = PlatformFeedback(
            tenant_id=p.tenant_id,
            api_key_id=p.id,
            bank_item_id=item.id,
            case_id=item.case_id,
            bank_name=bank_name,
            verdict=verdict,
            content_ref=content_ref,
            note=note,
        )
        s.add(fb)
        s.flush()
        number = s.scalar(select(Case.number).where(Case.id == item.case_id))
        audit.record(
            s,
            "platform-feedback",
            case=number,
            details={
                "platform": p.tenant,
                "bank": bank_name,
                "bank_entry": item.id,
                "verdict": verdict,
                "content_ref": content_ref,
            },
        )
        return {"id": fb.id, "bank_entry": item.id, "bank": bank_name, "verdict": verdict}


def feedback_list(db: Database, p: Principal, limit: int) -> list[dict[str, Any]]:
    """Reports, newest first: a platform's own; a caseworker's organisation's cases'; all
    for admins (a platform is not told the case)."""
    query = (
        select(PlatformFeedback, Tenant.name, Case.number)
        .join(Tenant, PlatformFeedback.tenant_id == Tenant.id)
        .outerjoin(Case, PlatformFeedback.case_id == Case.id)
    )
    if p.role == "platform":
        query = query.where(PlatformFeedback.tenant_id == p.tenant_id)
    elif p.role == "caseworker":
        query = query.join(CaseOwner, CaseOwner.case_id == PlatformFeedback.case_id).where(
            CaseOwner.tenant_id == p.tenant_id
        )
    with db.session() as s:
        rows = s.execute(query.order_by(PlatformFeedback.id.desc()).limit(limit)).all()
        return [
            {
                "id": f.id,
                "platform": t,
                "bank": f.bank_name,
                "bank_entry": f.bank_item_id,
                "verdict": f.verdict,
                "content_ref": f.content_ref,
                "note": f.note,
                "at": f.created_at.isoformat(timespec="seconds"),
                **({"case": n} if p.role != "platform" else {}),
            }
            for f, t, n in rows
        ]


# ---- the query log, tenants ----------------------------------------------------------------


def query_log(
    db: Database, p: Principal, tenant: str | None, matched_only: bool, limit: int
) -> list[dict[str, Any]]:
    """Lookups, newest first: a tenant's own (admins: everyone's, or `tenant`'s)."""
    query = select(ApiQuery)
    with db.session() as s:
        if p.role != "admin":
            query = query.where(ApiQuery.tenant_id == p.tenant_id)
        elif tenant is not None:
            query = query.where(ApiQuery.tenant_id == get_tenant(s, tenant).id)
        if matched_only:
            query = query.where(ApiQuery.match_count > 0)
        rows = s.scalars(query.order_by(ApiQuery.id.desc()).limit(limit)).all()
        return [
            {
                "at": q.at.isoformat(timespec="seconds"),
                "endpoint": q.endpoint,
                "signal_type": q.signal_type,
                "signal": q.signal,
                "match_count": q.match_count,
                "matched": q.matched,
            }
            for q in rows
        ]


def tenants(db: Database) -> list[dict[str, str]]:
    """Organisations and platforms, by name."""
    with db.session() as s:
        return [
            {"name": t.name, "kind": t.kind}
            for t in s.scalars(select(Tenant).order_by(Tenant.name))
        ]


# ---- the web UI ------------------------------------------------------------------------------


def notice_with_case(db: Database, notice_id: int) -> tuple[Notice, str] | None:
    """A notice (detached from its session) and its case's number; None if there is none."""
    with db.session() as s:
        n = s.get(Notice, notice_id)
        if n is None:
            return None
        number = repository.case_number(s, n.case_id)
        s.expunge(n)
    return (n, number) if number is not None else None


def scan_matches(db: Database, scan_id: int, tenant_id: int | None) -> int:
    """How many matches a scan found (only those of `tenant_id`'s cases when given)."""
    q = (
        select(func.count(Match.id))
        .join(ScanItem, Match.scan_item_id == ScanItem.id)
        .where(ScanItem.scan_id == scan_id)
    )
    if tenant_id is not None:
        q = (
            q.join(BankItem, Match.bank_item_id == BankItem.id)
            .join(CaseOwner, CaseOwner.case_id == BankItem.case_id)
            .where(CaseOwner.tenant_id == tenant_id)
        )
    with db.session() as s:
        return int(s.scalar(q) or 0)
