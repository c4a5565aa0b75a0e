"""The review queue: every match waits for a person's decision before anything is sent.

Items are hash/video matches (`m<id>`) and face matches (`f<id>`). Decisions: confirmed
(it is her), not-her, unsure; each with a reason, who decided and when, and an audit entry.
The listing (`queue`, `get`, `ReviewItem`) lives in rempart.cases.queue, which the command
line reads without SQLAlchemy; it is re-exported here.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from rempart.cases.queue import ReviewItem as ReviewItem  # re-exported
from rempart.cases.queue import get as get
from rempart.cases.queue import queue as queue
from rempart.cases.queue import split_ref
from rempart.store import audit
from rempart.store.db import Database
from rempart.store.models import (
    BankItem,
    Case,
    FaceMatch,
    FaceTemplate,
    Match,
    ScanItem,
    utcnow,
)
from rempart.store.repository import StoreError

DECISIONS = ("confirmed", "not-her", "unsure")


def parse_ref(ref: str) -> tuple[type[Match] | type[FaceMatch], int]:
    """The table and id a match reference (m<id> or f<id>) names; StoreError otherwise."""
    kind, number = split_ref(ref)
    return (Match if kind == "m" else FaceMatch), number


def match_row(s: Session, ref: str) -> Match | FaceMatch | None:
    """The row a match reference names (None when there is none); StoreError for a bad one."""
    table, number = parse_ref(ref)
    return s.get(Match, number) if table is Match else s.get(FaceMatch, number)


def flag_minor(db: Database, ref: str, reason: str) -> None:
    """Flag a match as possibly showing a minor: it goes first in the queue, notices also
    name the child-protection hotlines, and its media never goes into evidence packages
    unless the organisation is legally authorised."""
    if not reason.strip():
        raise StoreError("give the reason for the flag (--reason)")
    parse_ref(ref)
    with db.session() as s:
        row = match_row(s, ref)
        if row is None:
            raise StoreError(f"no match {ref}")
        row.possible_minor = True
        audit.record(
            s,
            "flag-possible-minor",
            case=_case_of(s, row),
            details={"match": ref, "reason": reason.strip()},
        )


def decide(
    db: Database, ref: str, decision: str, reason: str, actor: str | None = None
) -> ReviewItem:
    """Record a decision on one match, with its reason and an audit entry."""
    if decision not in DECISIONS:
        raise StoreError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    if not reason.strip():
        raise StoreError("give the reason for the decision (--reason)")
    parse_ref(ref)
    who = actor or audit.current_actor()
    with db.session() as s:
        row = match_row(s, ref)
        if row is None:
            raise StoreError(f"no match {ref}")
        before = row.review_status
        row.review_status, row.reviewed_by, row.reviewed_at = decision, who, utcnow()
        row.review_reason = reason.strip()
        item = s.get(ScanItem, row.scan_item_id)
        case = _case_of(s, row)
        audit.record(
            s,
            "review",
            case=case,
            actor=who,
            details={
                "match": ref,
                "decision": decision,
                "before": before,
                "reason": reason.strip(),
                "file": item.locator if item else None,
            },
        )
    return get(db, ref)


def _case_of(s: Session, row: Match | FaceMatch) -> str | None:
    if isinstance(row, Match):
        q = (
            select(Case.number)
            .join(BankItem, BankItem.case_id == Case.id)
            .where(BankItem.id == row.bank_item_id)
        )
    else:
        q = (
            select(Case.number)
            .join(FaceTemplate, FaceTemplate.case_id == Case.id)
            .where(FaceTemplate.id == row.template_id)
        )
    return s.scalar(q)
