"""Withdrawal, written once: a victim withdraws her whole case, or some of its bank entries
and face templates, and every front-end (the CLI, the API, the web UI) calls these functions.

Why one place: the CLI and the API each wrote their own withdrawal and they drifted apart
(the API left the cached hashes of scanned copies of her pictures in the home folder; the
two recorded different actors and notes). A withdrawal does all of this, in one
transaction where it touches the database:
- her bank entries are deleted from every bank, with one-way withdrawal records for
  partners (the change feed, store/changefeed.py, through repository.delete_items);
- their indexed hashes leave the PDQ index in the same change, and the descriptor index
  (store/feature_index.py) is dropped to be rebuilt without them (BankIndex.change);
- her face templates are deleted (and their face matches, by cascade);
- for a whole case: her consents are marked withdrawn and the case's history records who
  withdrew it and how (`note`);
- an audit entry names the actor;
- one-way digests of what went are appended to the withdrawal ledger, outside the
  database (store/withdrawal_ledger.py), so that restoring an older backup re-applies it;
- then the deleted rows leave the database files (purge_deleted: VACUUM on SQLite), and the
  cached hashes of scanned copies that matched her content are deleted from the home folder
  (scan/hash_cache.py: read before her entries and their matches go), and so are the
  review copies of her matches (store/review_copies.py: rows and encrypted files).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.orm import Session

from rempart.scan import hash_cache
from rempart.store import audit, face_templates, repository, review_copies, withdrawal_ledger
from rempart.store.bank_index import BankIndex
from rempart.store.models import Case, CaseEvent, HeldSubmission, utcnow
from rempart.store.repository import StoreError


class NoSuchCase(StoreError):
    """The case to withdraw does not exist (the API answers 404, the CLI says so)."""


@dataclass(frozen=True)
class CaseWithdrawal:
    """What withdrawing a whole case removed."""

    case: str
    indexed_hashes: int  # indexed hashes (PDQ and the like) removed from the index
    face_templates: int  # face templates deleted
    cached_copies: int  # cached hash files of scanned copies of her content deleted


@dataclass(frozen=True)
class ItemsWithdrawal:
    """What withdrawing some bank entries and face templates of a case removed."""

    case: str
    bank_entries: list[int]  # the bank entries deleted (as asked)
    face_templates: list[int]  # the face templates deleted (as asked)
    indexed_hashes: int  # indexed hashes removed from the index
    cached_copies: int  # cached hash files of scanned copies of her content deleted


def _unlink_copies(bank_index: BankIndex, paths: list[Path]) -> None:
    """The encrypted files of her matches' review copies, once their rows are gone."""
    if paths:
        with bank_index.db.session() as s:
            review_copies.unlink(s, paths)


def _case(s: Session, number: str) -> Case:
    case = repository.get_case(s, number)
    if case is None:
        raise NoSuchCase(f"no case {number}")
    return case


def withdraw_case(
    bank_index: BankIndex,
    home: Path,
    number: str,
    *,
    actor: str | None = None,
    note: str = "withdrawn by her",
) -> CaseWithdrawal:
    """Withdraw a whole case (see the module's docstring for everything that goes).
    `actor`: who acts (default: the current actor, rempart.store.audit.current_actor);
    `note`: the case history's note (each front-end says how it was withdrawn).
    NoSuchCase (a StoreError) when there is no such case; nothing changes then."""
    counts: dict[str, int] = {}
    copies: set[str] = set()  # scanned copies of her pictures: their cached hashes go too
    kept: list[Path] = []  # review copies of her matches (store/review_copies.py) go too

    def apply(s: Session) -> tuple[list[tuple[int, str]], list[int]]:
        case = _case(s, number)
        copies.update(hash_cache.matched_content(s, case_id=case.id))
        kept.extend(review_copies.discard_for_case(s, case.id))
        ledgered = withdrawal_ledger.prepare_case(s, case)  # her hashes, as digests
        removed = repository.delete_case_items(s, case)
        counts["templates"] = face_templates.delete_case_templates(s, case)
        # hash files she sent from the case page, held until a caseworker saw the case
        s.execute(delete(HeldSubmission).where(HeldSubmission.case_id == case.id))
        counts["hashes"] = len(removed)
        who = actor or audit.current_actor()
        audit.record(
            s,
            "case-withdraw",
            case=number,
            actor=who,
            details={"hashes": len(removed), "face_templates": counts["templates"]},
        )
        for consent in case.consents:
            consent.withdrawn_at = consent.withdrawn_at or utcnow()
        s.add(
            CaseEvent(
                case_id=case.id,
                actor=who,
                from_status=case.status,
                to_status="withdrawn",
                note=note,
            )
        )
        case.status = "withdrawn"
        withdrawal_ledger.write(s, home, ledgered)  # so no restore brings them back
        return [], removed

    bank_index.change(apply)
    _unlink_copies(bank_index, kept)
    bank_index.db.purge_deleted()  # deleted rows (hashes, face templates) leave the files
    purged = hash_cache.purge_withdrawn(home, copies)
    return CaseWithdrawal(
        case=number,
        indexed_hashes=counts["hashes"],
        face_templates=counts["templates"],
        cached_copies=purged,
    )


def withdraw_items(
    bank_index: BankIndex,
    home: Path,
    number: str,
    items: Sequence[int] = (),
    templates: Sequence[int] = (),
    *,
    actor: str | None = None,
) -> ItemsWithdrawal:
    """Withdraw some bank entries and/or face templates of a case, everywhere (see the
    module's docstring). NoSuchCase when there is no such case; StoreError when the case
    has no such entry or template; nothing changes then."""
    item_ids, template_ids = list(items), list(templates)
    copies: set[str] = set()
    counts: dict[str, int] = {}
    kept: list[Path] = []

    def apply(s: Session) -> tuple[list[tuple[int, str]], list[int]]:
        case = _case(s, number)
        if item_ids:
            copies.update(hash_cache.matched_content(s, item_ids))
        kept.extend(review_copies.discard_for_bank_items(s, item_ids))
        kept.extend(review_copies.discard_for_templates(s, template_ids))
        ledgered = withdrawal_ledger.prepare_items(s, case, item_ids, template_ids)
        removed = repository.delete_items(s, case, item_ids) if item_ids else []
        if template_ids:
            face_templates.delete_templates(s, case, template_ids)
        audit.record(
            s,
            "withdraw-items",
            case=number,
            actor=actor,
            details={"bank_entries": item_ids, "face_templates": template_ids},
        )
        counts["hashes"] = len(removed)
        withdrawal_ledger.write(s, home, ledgered)  # so no restore brings them back
        return [], removed

    bank_index.change(apply)
    _unlink_copies(bank_index, kept)
    bank_index.db.purge_deleted()
    purged = hash_cache.purge_withdrawn(home, copies)
    return ItemsWithdrawal(
        case=number,
        bank_entries=item_ids,
        face_templates=template_ids,
        indexed_hashes=counts["hashes"],
        cached_copies=purged,
    )
