"""Case workflow: states with every change recorded, and the victim's status check.

States: open -> reviewing -> notices-sent -> monitoring -> closed (and withdrawn, by her
withdrawal). Any change between them is allowed except out of `withdrawn` (her data is
gone); each change is a CaseEvent (from, to, who, when, why) and an audit entry.

The victim gets a case number and a secret (like StopNCII's case number and PIN), shown once
when the case is opened; only its scrypt hash is stored. With both she can see her case's
status without an account: what was found (counts, platforms), what was confirmed and
removed. Never images, file names or locations.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from rempart.store import audit, repository
from rempart.store.db import Database
from rempart.store.models import (
    BankItem,
    Case,
    CaseEvent,
    CaseIntake,
    FaceMatch,
    FaceTemplate,
    Match,
    ScanItem,
    TrustedSource,
    utcnow,
)
from rempart.store.repository import StoreError

STATES = ("open", "reviewing", "notices-sent", "monitoring", "closed", "withdrawn")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def new_secret() -> str:
    """10 characters from an unambiguous alphabet, in two groups: easy to read out."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    raw = "".join(secrets.choice(alphabet) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(_norm(secret), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def check_secret(secret: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, salt_b64, digest_b64 = stored.split("$")
    digest = hashlib.scrypt(_norm(secret), salt=base64.b64decode(salt_b64), dklen=32, **_SCRYPT)
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


def _norm(secret: str) -> bytes:
    return secret.strip().upper().replace("-", "").replace(" ", "").encode()


def _change(s: Session, case: Case, to: str, note: str, actor: str) -> None:
    if to not in STATES:
        raise StoreError(f"unknown status {to!r}: one of {', '.join(STATES)}")
    if case.status == "withdrawn" and to != "withdrawn":
        raise StoreError(f"case {case.number} was withdrawn: it cannot be reopened")
    s.add(CaseEvent(case_id=case.id, actor=actor, from_status=case.status, to_status=to, note=note))
    audit.record(
        s,
        "case-status",
        case=case.number,
        actor=actor,
        details={"from": case.status, "to": to, "note": note},
    )
    case.status = to


def open_case(db: Database, number: str, *, self_opened: bool = False) -> str:
    """Open a case (or give an existing case without a secret its secret); returns the
    secret, to be given to the victim once. `self_opened`: she opened it herself on the case
    page (rempart.cases.self_service), recorded with the case in the same transaction, so
    the web UI lists it apart until a caseworker takes it."""
    secret = new_secret()
    actor = audit.current_actor()
    with db.session() as s:
        case = repository.get_case(s, number)
        if case is not None and case.secret_hash:
            raise StoreError(f"case {number} already exists and has its secret")
        if case is None:
            case = repository.get_or_create_case(s, number)
            s.flush()
            s.add(
                CaseEvent(
                    case_id=case.id,
                    actor=actor,
                    from_status=None,
                    to_status="open",
                    note="case opened",
                )
            )
        case.secret_hash = hash_secret(secret)
        if self_opened:
            s.add(CaseIntake(case_id=case.id, self_opened=True))
        audit.record(
            s,
            "case-open",
            case=number,
            actor=actor,
            details={"self_opened": True} if self_opened else {},
        )
    return secret


def give_new_secret(db: Database, number: str) -> str:
    """A new secret for her case (she lost hers, or someone else may know it): the old one
    stops working at once (its sessions on the case page too: they carry a digest of the
    stored hash), audited. Returns the new secret, to be given to her once. StoreError when
    there is no such case or it was withdrawn."""
    secret = new_secret()
    with db.session() as s:
        case = repository.get_case(s, number)
        if case is None:
            raise StoreError(f"no case {number}")
        if case.status == "withdrawn":
            raise StoreError(f"case {number} was withdrawn: it has no secret any more")
        case.secret_hash = hash_secret(secret)
        audit.record(s, "case-new-secret", case=number, actor=audit.current_actor(), details={})
    return secret


def set_status_in(s: Session, case: Case, to: str, note: str) -> None:
    """Change a case's status inside the caller's transaction."""
    _change(s, case, to, note, audit.current_actor())


def set_status(db: Database, number: str, to: str, note: str = "") -> None:
    with db.session() as s:
        case = repository.get_case(s, number)
        if case is None:
            raise StoreError(f"no case {number}")
        _change(s, case, to, note, audit.current_actor())


@dataclass
class CaseView:
    number: str
    status: str
    created_at: str
    history: list[dict[str, Any]] = field(default_factory=list)
    bank_items: int = 0
    face_templates: int = 0
    matches: dict[str, int] = field(default_factory=dict)  # review status -> count
    platforms: dict[str, int] = field(default_factory=dict)  # where found -> count
    removed: int = 0
    bank_entries: list[int] = field(default_factory=list)
    template_ids: list[int] = field(default_factory=list)
    trusted_sources: list[str] = field(default_factory=list)  # rempart case trust-source


def _platform(prov: dict[str, Any]) -> str:
    source = prov.get("source")
    if source == "telegram":
        return "Telegram"
    if source == "url":
        return urlsplit(str(prov.get("url", ""))).hostname or "web"
    if source == "archive":
        return "archive"
    return "files"


def view(db: Database, number: str) -> CaseView:
    with db.session() as s:
        case = repository.get_case(s, number)
        if case is None:
            raise StoreError(f"no case {number}")
        out = CaseView(case.number, case.status, case.created_at.isoformat(timespec="seconds"))
        for e in s.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
        ):
            out.history.append(
                {
                    "at": e.at.isoformat(timespec="seconds"),
                    "by": e.actor,
                    "from": e.from_status,
                    "to": e.to_status,
                    "note": e.note,
                }
            )
        out.bank_entries = list(
            s.scalars(select(BankItem.id).where(BankItem.case_id == case.id).order_by(BankItem.id))
        )
        out.template_ids = list(
            s.scalars(
                select(FaceTemplate.id)
                .where(FaceTemplate.case_id == case.id)
                .order_by(FaceTemplate.id)
            )
        )
        out.trusted_sources = list(
            s.scalars(
                select(TrustedSource.source)
                .where(TrustedSource.case_id == case.id)
                .order_by(TrustedSource.id)
            )
        )
        out.bank_items = len(out.bank_entries)
        out.face_templates = len(out.template_ids)
        statuses: Counter[str] = Counter()
        places: Counter[str] = Counter()
        rows = list(
            s.execute(
                select(Match.review_status, ScanItem.provenance)
                .join(BankItem, Match.bank_item_id == BankItem.id)
                .join(ScanItem, Match.scan_item_id == ScanItem.id)
                .where(BankItem.case_id == case.id)
            ).all()
        )
        rows += s.execute(
            select(FaceMatch.review_status, ScanItem.provenance)
            .join(FaceTemplate, FaceMatch.template_id == FaceTemplate.id)
            .join(ScanItem, FaceMatch.scan_item_id == ScanItem.id)
            .where(FaceTemplate.case_id == case.id)
        ).all()
        for status, prov in rows:
            statuses[status] += 1
            if status == "confirmed":
                places[_platform(prov or {})] += 1
        out.matches = dict(statuses)
        out.platforms = dict(places)
        out.removed = statuses.get("removed", 0)
    return out


def victim_status(db: Database, number: str, secret: str) -> dict[str, Any]:
    """What the victim may see with her case number and secret; StoreError otherwise (the
    same message whether the case or the secret is wrong)."""
    with db.session() as s:
        case = repository.get_case(s, number)
        ok = case is not None and check_secret(secret, case.secret_hash)
        audit.record(
            s,
            "victim-status-check",
            case=number if ok else None,
            actor="victim",
            details={"granted": ok},
        )
        at = utcnow()
    if not ok:
        raise StoreError("case number or secret not recognised")
    v = view(db, number)
    return {
        "case": v.number,
        "status": v.status,
        "checked_at": at.isoformat(timespec="seconds"),
        "hashes_registered": v.bank_items,
        "face_templates_registered": v.face_templates,
        "found": sum(v.matches.values()),
        "confirmed": v.matches.get("confirmed", 0),
        "waiting_for_review": v.matches.get("pending", 0) + v.matches.get("unsure", 0),
        "confirmed_by_platform": v.platforms,
        "removed": v.removed,
    }
