"""The review queue: every match waits for a person's decision before anything is sent.

Items are hash/video matches (`m<id>`) and face matches (`f<id>`). Decisions: confirmed
(it is her), not-her, unsure; each with a reason, who decided and when, and an audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rempart.store import audit
from rempart.store.db import Database
from rempart.store.models import (
    Bank,
    BankItem,
    Case,
    FaceMatch,
    FaceMatchOccurrence,
    FaceTemplate,
    Match,
    MatchOccurrence,
    ScanItem,
    utcnow,
)
from rempart.store.repository import StoreError

DECISIONS = ("confirmed", "not-her", "unsure")


@dataclass(frozen=True)
class ReviewItem:
    ref: str  # m12 or f3
    status: str
    case: str | None
    file: str
    kind: str  # signal (sha256, md5, pdq, vpdq) or face
    distance: float
    details: dict[str, Any]
    provenance: dict[str, Any]
    reviewed_by: str | None
    reason: str | None
    possible_minor: bool = False
    reviewed_at: str | None = None  # ISO 8601, UTC
    sightings: int = 1  # how often this content was found (scans, places): reviewed once

    @property
    def keypoints(self) -> int | None:
        """A keypoint match's agreeing keypoints (its `distance` is no hash distance)."""
        if self.kind != "local-features":
            return None
        lf = self.details.get("local_features") or {}
        inliers = lf.get("inliers") if isinstance(lf, dict) else None
        return int(inliers) if isinstance(inliers, int | float) else None

    @property
    def measure(self) -> str:
        """How close, for people: "57 agreeing keypoints", or "distance 12"."""
        if self.kind == "local-features":
            n = self.keypoints
            return f"{n if n is not None else '?'} agreeing keypoints"
        return f"distance {self.distance:g}"


def parse_ref(ref: str) -> tuple[type[Match] | type[FaceMatch], int]:
    """The table and id a match reference (m<id> or f<id>) names; StoreError otherwise."""
    if not ref or ref[0] not in "mf" or not ref[1:].isdigit():
        raise StoreError(f"{ref!r} is not a match reference (m<number> or f<number>)")
    return (Match if ref[0] == "m" else FaceMatch), int(ref[1:])


def match_row(s: Session, ref: str) -> Match | FaceMatch | None:
    """The row a match reference names (None when there is none); StoreError for a bad one."""
    table, number = parse_ref(ref)
    return s.get(Match, number) if table is Match else s.get(FaceMatch, number)


def get(db: Database, ref: str) -> ReviewItem:
    """One match, whatever its review status; StoreError when there is none."""
    parse_ref(ref)
    found = queue(db, status=None, ref=ref)
    if not found:
        raise StoreError(f"no match {ref} (see `rempart review list --status all`)")
    return found[0]


def queue(
    db: Database, *, case: str | None = None, status: str | None = "pending", ref: str | None = None
) -> list[ReviewItem]:
    """Matches with the given review status (all when None), of one case or all, or the one
    match `ref` names."""
    table, number = parse_ref(ref) if ref else (None, 0)
    out: list[ReviewItem] = []
    with db.session() as s:
        seen = (
            select(func.count())
            .select_from(MatchOccurrence)
            .where(MatchOccurrence.match_id == Match.id)
            .scalar_subquery()
        )
        q = (
            select(Match, ScanItem, Case.number, Bank.name, seen)
            .join(ScanItem, Match.scan_item_id == ScanItem.id)
            .join(BankItem, Match.bank_item_id == BankItem.id)
            .join(Bank, BankItem.bank_id == Bank.id)
            .outerjoin(Case, BankItem.case_id == Case.id)
        )
        if case:
            q = q.where(Case.number == case)
        if status:
            q = q.where(Match.review_status == status)
        if table is not None:
            q = q.where(Match.id == (number if table is Match else -1))
        for m, item, case_number, bank, sightings in s.execute(q.order_by(Match.id)).all():
            out.append(
                ReviewItem(
                    f"m{m.id}",
                    m.review_status,
                    case_number,
                    item.locator,
                    m.signal_type,
                    float(m.distance),
                    {"bank": bank, **(m.details or {})},
                    item.provenance or {},
                    m.reviewed_by,
                    m.review_reason,
                    m.possible_minor,
                    _iso(m.reviewed_at),
                    max(1, int(sightings or 0)),
                )
            )
        fseen = (
            select(func.count())
            .select_from(FaceMatchOccurrence)
            .where(FaceMatchOccurrence.face_match_id == FaceMatch.id)
            .scalar_subquery()
        )
        fq = (
            select(FaceMatch, ScanItem, Case.number, fseen)
            .join(ScanItem, FaceMatch.scan_item_id == ScanItem.id)
            .join(FaceTemplate, FaceMatch.template_id == FaceTemplate.id)
            .join(Case, FaceTemplate.case_id == Case.id)
        )
        if case:
            fq = fq.where(Case.number == case)
        if status:
            fq = fq.where(FaceMatch.review_status == status)
        if table is not None:
            fq = fq.where(FaceMatch.id == (number if table is FaceMatch else -1))
        for fm, item, case_number, fsightings in s.execute(fq.order_by(FaceMatch.id)).all():
            out.append(
                ReviewItem(
                    f"f{fm.id}",
                    fm.review_status,
                    case_number,
                    item.locator,
                    "face",
                    float(fm.distance),
                    {"box": fm.box, "time": fm.time},
                    item.provenance or {},
                    fm.reviewed_by,
                    fm.review_reason,
                    fm.possible_minor,
                    _iso(fm.reviewed_at),
                    max(1, int(fsightings or 0)),
                )
            )
    return sorted(out, key=lambda i: not i.possible_minor)  # possible minors first


def _iso(at: datetime | None) -> str | None:
    return at.isoformat(timespec="seconds") if at is not None else None


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
