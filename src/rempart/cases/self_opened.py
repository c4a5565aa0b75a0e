"""The helpline's side of her case page (issue 14): the cases people opened themselves,
who may see them, and a caseworker taking one. The web UI (/ui/self-cases) and `rempart case
self-opened` / `rempart case take` call these functions; her side is
rempart.cases.self_service, the organisation's settings rempart.cases.self_settings.

Why a module of its own: the web UI and the command line must apply one rule for who sees a
self-opened case (`sees_self_opened`), and taking a case is where what she sent while it was
held is first imported and matched; none of this is reachable from her keyless page.

- `self_opened_cases`: listed apart until taken, those the viewer may see.
- `take_case`: a caseworker has seen it: held files are imported into the intake bank (the
  web UI gives the case to her organisation in the same transaction); a new secret for her
  is workflow.give_new_secret.
Every action is in the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from rempart.cases.self_settings import (
    Runner,
    ensure_bank,
    intake_of,
    organisation_id,
    settings_in,
)
from rempart.errors import NotFound
from rempart.exchange.bank_import import import_submission
from rempart.exchange.submission import parse_submission
from rempart.store import audit, repository
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database
from rempart.store.models import BankItem, Case, CaseIntake, CaseOwner, HeldSubmission, utcnow
from rempart.store.repository import StoreError


class Viewer(Protocol):
    """Who looks at the self-opened cases (rempart.access.auth.Principal, as used here):
    an admin sees all, a caseworker her organisation's (see `sees_self_opened`)."""

    @property
    def role(self) -> str: ...

    @property
    def tenant_id(self) -> int | None: ...


@dataclass(frozen=True)
class SelfOpened:
    case: str
    opened_at: str
    hashes_waiting: int
    status: str


def sees_self_opened(s: Session, viewer: Viewer | None, owner: int | None) -> bool:
    """Whether `viewer` may see (list, take, open) a self-opened case that organisation
    `owner` holds (None: none does). The one rule the web UI and the command line apply:
    the operator at the command line (viewer None) and an admin see every one; a caseworker
    sees her organisation's, and the ones no organisation holds only while no intake
    organisation is set (an instance one organisation runs) or when hers is the intake
    organisation (cases opened before it was set); anyone else sees none."""
    if viewer is None or viewer.role == "admin":
        return True
    if viewer.role != "caseworker" or viewer.tenant_id is None:
        return False
    if owner is not None:
        return owner == viewer.tenant_id
    intake = settings_in(s).intake_organisation
    if intake is None:
        return True
    try:
        return organisation_id(s, intake) == viewer.tenant_id
    except StoreError:
        return False


def self_opened_cases(db: Database, viewer: Viewer | None = None) -> list[SelfOpened]:
    """Cases people opened themselves that no caseworker has taken yet, oldest first: those
    `viewer` may see (`sees_self_opened`; None, the command line's operator: all)."""
    with db.session() as s:
        rows = s.execute(
            select(Case.number, Case.created_at, Case.status, Case.id, CaseOwner.tenant_id)
            .join(CaseIntake, CaseIntake.case_id == Case.id)
            .outerjoin(CaseOwner, CaseOwner.case_id == Case.id)
            .where(and_(CaseIntake.self_opened.is_(True), CaseIntake.taken_at.is_(None)))
            .order_by(Case.id)
        ).all()
        out = []
        for number, created, state, case_id, owner in rows:
            if not sees_self_opened(s, viewer, owner):
                continue
            held = s.scalar(
                select(func.coalesce(func.sum(HeldSubmission.items), 0)).where(
                    HeldSubmission.case_id == case_id
                )
            )
            out.append(
                SelfOpened(number, created.isoformat(timespec="seconds"), int(held or 0), state)
            )
        return out


@dataclass(frozen=True)
class Taken:
    case: str
    imported_files: int
    added: int  # hashes now in the intake bank (matched from now on)


def take_case(
    change: Runner,
    number: str,
    *,
    on_case: Callable[[Session, Case], None] | None = None,
    viewer: Viewer | None = None,
) -> Taken:
    """A caseworker has seen a self-opened case: it leaves the separate list, and the hash
    files she sent are imported into the intake bank (matched from now on). `on_case` runs
    in the transaction that marks it taken (the web UI gives the case to the caseworker's
    organisation there). `viewer`: who takes it (None: the command line's operator, who may
    take any); a case she may not see (`sees_self_opened`: another organisation's) is
    NotFound, the same answer as no such case. StoreError: no such case (for the operator),
    or it was withdrawn."""
    actor = audit.current_actor()

    def go(bank_index: BankIndex) -> Taken:
        db = bank_index.db
        with db.session() as s:
            case = repository.get_case(s, number)
            if viewer is not None:
                owner = s.get(CaseOwner, case.id) if case is not None else None
                tenant = owner.tenant_id if owner is not None else None
                if case is None or not sees_self_opened(s, viewer, tenant):
                    raise NotFound("not found")
            if case is None:
                raise StoreError(f"no case {number}")
            if case.status == "withdrawn":
                raise StoreError(f"case {number} was withdrawn")
            intake = intake_of(s, case)
            if intake.taken_at is None:
                intake.taken_at, intake.taken_by = utcnow(), actor
            if on_case is not None:
                on_case(s, case)
            bank = settings_in(s).intake_bank
            ensure_bank(s, bank)
            held = [
                (h.id, h.document)
                for h in s.scalars(
                    select(HeldSubmission)
                    .where(HeldSubmission.case_id == case.id)
                    .order_by(HeldSubmission.id)
                )
            ]
            audit.record(
                s, "case-take", case=number, actor=actor, details={"held_files": len(held)}
            )
        added = 0
        for held_id, document in held:
            sub = parse_submission(document, "held file")
            with audit.acting_as(actor):
                result = import_submission(
                    bank_index,
                    bank,
                    sub,
                    case_number=number,
                    consent=sub.consent,
                    source_name="case page",
                )
            added += result.added
            with db.session() as s:
                row = s.get(HeldSubmission, held_id)
                if row is not None:
                    s.delete(row)
        return Taken(number, len(held), added)

    taken: Taken = change(go)
    return taken


def bank_entries(db: Database, number: str) -> int:
    """How many bank entries her case has (the tests check her submission landed)."""
    with db.session() as s:
        case = repository.get_case(s, number)
        if case is None:
            return 0
        return int(
            s.scalar(select(func.count()).select_from(BankItem).where(BankItem.case_id == case.id))
            or 0
        )
