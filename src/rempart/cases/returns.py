"""Content that comes back: a match, in a new scan, on a bank entry whose content a platform
had already removed re-opens the case (it goes back to review), with an audit entry."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from rempart.cases.workflow import set_status_in
from rempart.store import audit
from rempart.store.db import Database
from rempart.store.models import BankItem, Case, Match, Notice, ScanItem


def removed_bank_entries(s: Session) -> dict[int, int]:
    """bank entry id -> notice id, for entries whose matched content was removed."""
    out: dict[int, int] = {}
    for n in list(s.scalars(select(Notice).where(Notice.status == "removed"))):
        ids = [int(i["match"][1:]) for i in n.items if str(i.get("match", "")).startswith("m")]
        for m in s.scalars(select(Match).where(Match.id.in_(ids))):
            out[m.bank_item_id] = n.id
    return out


def reopen_returned(db: Database, scan_id: int) -> list[str]:
    """Matches of scan `scan_id` on content already removed: flagged, their cases reopened.
    Returns the match references."""
    flagged: list[str] = []
    with db.session() as s:
        removed = removed_bank_entries(s)
        if not removed:
            return []
        rows = s.execute(
            select(Match, Case)
            .join(ScanItem, Match.scan_item_id == ScanItem.id)
            .join(BankItem, Match.bank_item_id == BankItem.id)
            .join(Case, BankItem.case_id == Case.id)
            .where(ScanItem.scan_id == scan_id, Match.bank_item_id.in_(list(removed)))
        ).all()
        for match, case in rows:
            match.details = {**(match.details or {}), "returned_after_removal": True,
                             "removed_notice": f"N-{removed[match.bank_item_id]}"}  # fmt: skip
            flagged.append(f"m{match.id}")
            audit.record(s, "content-returned", case=case.number,
                         details={"match": f"m{match.id}",
                                  "notice": f"N-{removed[match.bank_item_id]}"})  # fmt: skip
            if case.status != "reviewing" and case.status != "withdrawn":
                set_status_in(s, case, "reviewing", f"content came back (m{match.id})")
    return flagged
