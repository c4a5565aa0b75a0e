"""Face templates in the database: enrolled under a case and its consent, encrypted; loaded
(decrypted, in memory only) for a scan; deleted for real on withdrawal."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from rempart.faces.crypto import cipher as template_cipher
from rempart.store import audit, repository
from rempart.store.db import Database
from rempart.store.models import Case, Consent, FaceTemplate, utcnow
from rempart.store.repository import ConsentRecordLike, StoreError


@dataclass(frozen=True)
class NewTemplate:
    template: np.ndarray
    source: str
    face_width: int


@dataclass(frozen=True)
class LoadedTemplates:
    ids: list[int]
    cases: list[str]
    sources: list[str]
    vectors: np.ndarray  # N x 128 float32


def enroll(
    db: Database,
    home: Path,
    case_number: str,
    templates: Sequence[NewTemplate],
    consent: ConsentRecordLike | None,
) -> list[int]:
    """Store templates for a case, encrypted. Refuses (StoreError) without a consent record
    (given now, or already on the case and not withdrawn)."""
    cipher = template_cipher(home, create=True)  # the newest key (during a rotation too)
    with db.session() as s:
        case = repository.get_or_create_case(s, case_number)
        consent_row = repository.active_consent(s, case)
        if consent is not None:
            consent_row = repository.record_consent(s, case.id, consent)
        if consent_row is None:
            raise StoreError(
                f"case {case_number} has no consent record: give one with --consent FILE "
                "(who consented, when, for what purpose, retention)"
            )
        ids: list[int] = []
        for t in templates:
            ref = uuid.uuid4().hex
            row = FaceTemplate(
                case_id=case.id,
                consent_id=consent_row.id,
                ref=ref,
                ciphertext=cipher.seal(t.template, case_number, ref),
                source=t.source[:500],
                face_width=t.face_width,
            )
            s.add(row)
            s.flush()
            ids.append(row.id)
        audit.record(
            s,
            "face-enroll",
            case=case_number,
            details={"templates": len(ids), "consent_recorded": consent is not None},
        )
        return ids


def load(db: Database, home: Path, cases: Sequence[str] = ()) -> LoadedTemplates:
    """Every usable enrolled template (of the named cases, or all), decrypted in memory.
    Templates whose consent was withdrawn or whose retention date has passed are left out."""
    now = utcnow()
    with db.session() as s:
        query = (
            select(FaceTemplate, Case.number)
            .join(Case, FaceTemplate.case_id == Case.id)
            .join(Consent, FaceTemplate.consent_id == Consent.id)
            .where(
                Consent.withdrawn_at.is_(None),
                or_(Consent.retention_until.is_(None), Consent.retention_until > now),
            )
        )
        if cases:
            query = query.where(Case.number.in_(list(cases)))
        rows = s.execute(query.order_by(FaceTemplate.id)).all()
    if not rows:
        return LoadedTemplates([], [], [], np.zeros((0, 128), dtype=np.float32))
    cipher = template_cipher(home, create=False)
    vectors = np.stack([cipher.open(t.ciphertext, number, t.ref) for t, number in rows])
    return LoadedTemplates(
        [t.id for t, _ in rows], [n for _, n in rows], [t.source for t, _ in rows], vectors
    )


def count(s: Session, case: Case) -> int:
    return len(list(s.scalars(select(FaceTemplate.id).where(FaceTemplate.case_id == case.id))))


def delete_case_templates(s: Session, case: Case) -> int:
    """Delete every template of a case (and its face matches, by cascade)."""
    n = count(s, case)
    s.execute(delete(FaceTemplate).where(FaceTemplate.case_id == case.id))
    return n


def delete_templates(s: Session, case: Case, template_ids: list[int]) -> None:
    owned = set(
        s.scalars(
            select(FaceTemplate.id).where(
                FaceTemplate.case_id == case.id, FaceTemplate.id.in_(template_ids)
            )
        )
    )
    missing = set(template_ids) - owned
    if missing:
        raise StoreError(f"case {case.number} has no face template {sorted(missing)}")
    s.execute(delete(FaceTemplate).where(FaceTemplate.id.in_(list(owned))))
