"""What each caller may see: a platform only the banks shared with it; a caseworker only
her organisation's cases; an admin everything; a victim only her own case's status (by
number and secret, see rempart/api/routes/cases.py). The API and the web UI apply the same
rules from here; a refusal is `NotVisible` (rempart.errors.NotFound), which each front-end
answers its own way (the API: 404 {"detail": "not found"}; the UI: its "not found" page)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from rempart.access.auth import Principal
from rempart.errors import NotFound
from rempart.store import repository
from rempart.store.db import Database
from rempart.store.models import Bank, BankShare, Case, CaseOwner

# Every refusal about an object the caller may not see, or that does not exist, is this one
# answer: it names nothing (no case number, bank or entry of another organisation) and is
# the same whether the object exists.
NOT_FOUND = "not found"
# Ids are 64-bit integers in the database: a larger one is refused (404/422), never sent to
# the database (OverflowError, 500).
MAX_ID = 2**63 - 1


class NotVisible(NotFound):
    """An object the caller may not see, or that does not exist: the same refusal."""


def not_found() -> NotVisible:
    return NotVisible(NOT_FOUND)


def visible_banks(s: Session, p: Principal) -> dict[str, int]:
    """Bank name -> PDQ threshold, for the banks this caller may match against."""
    if p.role in ("admin", "caseworker"):
        rows = s.execute(select(Bank.name, Bank.pdq_threshold)).all()
    elif p.role == "platform":
        rows = s.execute(
            select(Bank.name, Bank.pdq_threshold)
            .join(BankShare, BankShare.bank_id == Bank.id)
            .where(BankShare.tenant_id == p.tenant_id)
        ).all()
    else:
        rows = []
    return {str(n): int(t) for n, t in rows}


def bank_for(s: Session, p: Principal, name: str) -> Bank:
    """The bank if this caller may see it; 404 otherwise (the same whether it exists)."""
    bank = s.scalar(select(Bank).where(Bank.name == name))
    if bank is None or name not in visible_banks(s, p):
        raise not_found()
    return bank


def may_see_case(s: Session, p: Principal, case: Case) -> bool:
    if p.role == "admin":
        return True
    if p.role != "caseworker":
        return False
    owner = s.get(CaseOwner, case.id)
    return owner is not None and owner.tenant_id == p.tenant_id


def case_for(s: Session, p: Principal, number: str) -> Case:
    """The case if this caller may see it; 404 otherwise (the same whether it exists)."""
    case = repository.get_case(s, number)
    if case is None or not may_see_case(s, p, case):
        raise not_found()
    return case


def visible_case_numbers(s: Session, p: Principal, numbers: Iterable[str | None]) -> set[str]:
    wanted = {n for n in numbers if n}
    if not wanted or p.role not in ("admin", "caseworker"):
        return set()
    if p.role == "admin":
        return wanted
    rows = s.scalars(
        select(Case.number)
        .join(CaseOwner, CaseOwner.case_id == Case.id)
        .where(CaseOwner.tenant_id == p.tenant_id, Case.number.in_(wanted))
    )
    return set(rows)


def own_case(s: Session, p: Principal, case: Case) -> None:
    """Give a case no organisation holds to the caller's organisation."""
    if p.role == "caseworker" and p.tenant_id is not None and s.get(CaseOwner, case.id) is None:
        s.add(CaseOwner(case_id=case.id, tenant_id=p.tenant_id))
        s.flush()


def case_numbers(db: Database, p: Principal) -> list[str]:
    """The numbers of the cases this caller may see, oldest first (an admin: every case; a
    caseworker: her organisation's; anyone else: none held by an organisation of theirs)."""
    query = select(Case.number)
    if p.role != "admin":
        query = query.join(CaseOwner, CaseOwner.case_id == Case.id).where(
            CaseOwner.tenant_id == p.tenant_id
        )
    with db.session() as s:
        return list(s.scalars(query.order_by(Case.id)))


def may_see_number(db: Database, p: Principal, number: str | None) -> bool:
    """Whether this caller may see the case with this number (an admin: any)."""
    if p.role == "admin":
        return True
    with db.session() as s:
        return bool(number) and number in visible_case_numbers(s, p, [number])
