"""The review queue: every match waits for a person's decision before anything is sent.

Items are hash/video matches (`m<id>`) and face matches (`f<id>`). Decisions: confirmed
(it is her), not-her, unsure; each with a reason, who decided and when, and an audit entry.
The listing (`queue`, `get`, `ReviewItem`) lives in rempart.cases.queue, which the command
line reads without SQLAlchemy; it is re-exported here.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from rempart.cases.queue import ReviewItem as ReviewItem  # re-exported
from rempart.cases.queue import get as get
from rempart.cases.queue import queue as queue
from rempart.cases.queue import split_ref
from rempart.config import Policy
from rempart.store import audit, review_copies
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
        # its review copy (media from an archive or a download) keeps only the blurred
        # preview, unless the organisation is legally authorised
        old = (
            [] if Policy.from_env().csam_authorised else review_copies.blur_kept(s, *split_ref(ref))
        )
    _unlink(db, old)


def decide(
    db: Database, ref: str, decision: str, reason: str, actor: str | None = None
) -> ReviewItem:
    """Record a decision on one match, with its reason and an audit entry."""
    _check(ref, decision, reason)
    who = actor or audit.current_actor()
    with db.session() as s:
        dropped = _decide_row(s, ref, decision, reason, who)
    _unlink(db, dropped)
    return get(db, ref)


def _check(ref: str, decision: str, reason: str) -> None:
    if decision not in DECISIONS:
        raise StoreError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    if not reason.strip():
        raise StoreError("give the reason for the decision (--reason)")
    parse_ref(ref)


def _decide_row(s: Session, ref: str, decision: str, reason: str, who: str | None) -> list[Path]:
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
    # not her: the review copy of media from an archive or a download goes at once
    return review_copies.discard(s, *split_ref(ref)) if decision == "not-her" else []


def _unlink(db: Database, dropped: list[Path]) -> None:
    """The files of dropped review copies, after the decision's commit."""
    if dropped:
        with db.session() as s:
            review_copies.unlink(s, dropped)


def same_copies(db: Database, ref: str) -> list[ReviewItem]:
    """The other pending hash/video matches of the same case whose found content is an exact
    copy (same SHA-256) of this match's: what a decision on `ref` may be applied to. None
    for a face match or a match without a content digest."""
    kind, number = split_ref(ref)
    if kind != "m":
        return []
    with db.session() as s:
        m = s.get(Match, number)
        if m is None:
            raise StoreError(f"no match {ref}")
        if not m.content_sha256:
            return []
        case_id = s.scalar(select(BankItem.case_id).where(BankItem.id == m.bank_item_id))
        same_case = (
            BankItem.case_id == case_id if case_id is not None else BankItem.case_id.is_(None)
        )
        ids = s.scalars(
            select(Match.id)
            .join(BankItem, BankItem.id == Match.bank_item_id)
            .where(
                Match.content_sha256 == m.content_sha256,
                Match.id != m.id,
                Match.review_status == "pending",
                same_case,
            )
            .order_by(Match.id)
        ).all()
    return [get(db, f"m{i}") for i in ids]


def decide_with_copies(
    db: Database,
    ref: str,
    decision: str,
    reason: str,
    copies: list[str],
    actor: str | None = None,
) -> list[ReviewItem]:
    """The decision on `ref` and on the listed exact copies (each still one of
    `same_copies(ref)`: one decided or changed meanwhile is refused), in one transaction,
    audited per match; the decided items, `ref` first."""
    _check(ref, decision, reason)
    allowed = {i.ref for i in same_copies(db, ref)}
    stray = [c for c in copies if c not in allowed]
    if stray:
        raise StoreError(
            f"not pending exact copies of {ref} in its case (any more): {', '.join(stray)}"
        )
    who = actor or audit.current_actor()
    refs = [ref, *dict.fromkeys(copies)]
    dropped: list[Path] = []
    with db.session() as s:
        for r in refs:
            dropped += _decide_row(s, r, decision, reason, who)
            s.flush()
    _unlink(db, dropped)
    return [get(db, r) for r in refs]


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
