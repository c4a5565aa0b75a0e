"""Content that comes back: her content, whose copy a platform had removed, found again in a
new scan re-opens the case (it goes back to review), with an audit entry saying where.

"Came back" means found again at a place that is neither one it was removed from, nor one
it had been seen at before the removal (that is the same copy, seen again), nor a source
the caseworker marked as hers or trusted for the case (`rempart case trust-source`: her
own folder of originals, her own account). Scanning her own originals once put a closed
case back into review.
"""

from __future__ import annotations

import os
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from rempart.cases.workflow import set_status_in
from rempart.store import audit, repository
from rempart.store.db import Database
from rempart.store.models import (
    BankItem,
    Case,
    Match,
    MatchOccurrence,
    Notice,
    ScanItem,
    TrustedSource,
)
from rempart.store.repository import StoreError


def place(provenance: dict[str, Any], locator: str) -> str:
    """Where a copy was found, as a comparable key: telegram:<chat id>/<message>, the URL,
    or the file's path. An HTML export has no chat id: its chat is named by the export and
    the chat's name instead, so message 5 of two different chats stays two places."""
    if provenance.get("source") == "telegram":
        chat = provenance.get("chat_id")
        if chat is None:
            chat = f"{provenance.get('export')}|{provenance.get('chat')}"
        return f"telegram:{chat}/{provenance.get('message_id')}"
    if provenance.get("source") == "url":
        return str(provenance.get("final_url") or provenance.get("url") or locator)
    return locator.split("#")[0]


def describe(provenance: dict[str, Any], locator: str) -> str:
    """Where a copy was found, for people."""
    if provenance.get("source") == "telegram":
        return f"Telegram chat {provenance.get('chat')!r}, message {provenance.get('message_id')}"
    if provenance.get("source") == "url":
        return str(provenance.get("url") or locator)
    return locator


def normal_source(source: str) -> str:
    """A trusted source as stored: a URL or telegram:<chat id> as given, a path made
    absolute; StoreError for an empty one."""
    text = source.strip()
    if not text:
        raise StoreError("give a folder, file, URL or telegram:<chat id> to trust")
    if text.startswith("telegram:") or urlsplit(text).scheme in ("http", "https"):
        return text
    return os.path.abspath(os.path.expanduser(text))


def _trusted(found: str, sources: list[str]) -> bool:
    for src in sources:
        if src.startswith("telegram:"):
            if found == src or found.startswith(src.rstrip("/") + "/"):
                return True
        elif found == src or found.startswith(src.rstrip("/") + "/"):
            return True
    return False


def trust_source(db: Database, case_number: str, source: str, *, remove: bool = False) -> str:
    """Mark (or unmark) a place as hers or trusted for a case; returns the stored form."""
    value = normal_source(source)
    with db.session() as s:
        case = repository.get_case(s, case_number)
        if case is None:
            raise StoreError(f"no case {case_number}")
        row = s.scalar(
            select(TrustedSource).where(
                TrustedSource.case_id == case.id, TrustedSource.source == value
            )
        )
        if remove:
            if row is None:
                raise StoreError(f"{value} is not a trusted source of case {case_number}")
            s.delete(row)
        elif row is None:
            s.add(TrustedSource(case_id=case.id, source=value, added_by=audit.current_actor()))
        audit.record(
            s,
            "trusted-source-remove" if remove else "trusted-source-add",
            case=case_number,
            details={"source": value},
        )
    return value


def trusted_sources(db: Database, case_number: str) -> list[str]:
    with db.session() as s:
        case = repository.get_case(s, case_number)
        if case is None:
            raise StoreError(f"no case {case_number}")
        return list(
            s.scalars(
                select(TrustedSource.source)
                .where(TrustedSource.case_id == case.id)
                .order_by(TrustedSource.id)
            )
        )


def removed_bank_entries(s: Session) -> dict[int, int]:
    """bank entry id -> notice id, for entries whose matched content was removed."""
    return {entry: notice for entry, (notice, _) in _removed(s).items()}


def _removed(s: Session) -> dict[int, tuple[int, set[str]]]:
    """bank entry id -> (notice id, the places its content was removed from)."""
    out: dict[int, tuple[int, set[str]]] = {}
    for n in list(s.scalars(select(Notice).where(Notice.status == "removed"))):
        ids = [int(i["match"][1:]) for i in n.items if str(i.get("match", "")).startswith("m")]
        listed = {str(i["place"]) for i in n.items if i.get("place")}  # what the notice named
        until = n.removed_at
        rows = s.execute(
            select(
                Match.bank_item_id, ScanItem.provenance, ScanItem.locator, MatchOccurrence.seen_at
            )
            .join(MatchOccurrence, MatchOccurrence.match_id == Match.id)
            .join(ScanItem, MatchOccurrence.scan_item_id == ScanItem.id)
            .where(Match.id.in_(ids))
        ).all()
        for entry, prov, locator, seen_at in rows:
            notice_id, places = out.setdefault(entry, (n.id, set()))
            places |= listed
            if until is None or _aware(seen_at) <= _aware(until):
                places.add(place(prov or {}, locator))  # seen there before: not a return
    return out


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def reopen_returned(db: Database, scan_id: int) -> list[str]:
    """Sightings in scan `scan_id` of content already removed, at a new place that is not
    trusted for the case: their matches are flagged, their cases reopened. Returns
    "m<id> at <where>" for each."""
    flagged: list[str] = []
    with db.session() as s:
        removed = _removed(s)
        if not removed:
            return []
        rows = s.execute(
            select(Match, Case, ScanItem)
            .join(MatchOccurrence, MatchOccurrence.match_id == Match.id)
            .join(ScanItem, MatchOccurrence.scan_item_id == ScanItem.id)
            .join(BankItem, Match.bank_item_id == BankItem.id)
            .join(Case, BankItem.case_id == Case.id)
            .where(ScanItem.scan_id == scan_id, Match.bank_item_id.in_(list(removed)))
            .order_by(MatchOccurrence.id)
        ).all()
        trusted: dict[int, list[str]] = defaultdict(list)
        for case_id, source in s.execute(select(TrustedSource.case_id, TrustedSource.source)):
            trusted[case_id].append(source)
        done: set[int] = set()
        for match, case, item in rows:
            notice_id, places = removed[match.bank_item_id]
            found = place(item.provenance or {}, item.locator)
            if match.id in done or found in places or _trusted(found, trusted[case.id]):
                continue  # the same copy seen again, or her own / a trusted source
            done.add(match.id)
            where = describe(item.provenance or {}, item.locator)
            match.details = {
                **(match.details or {}),
                "returned_after_removal": True,
                "removed_notice": f"N-{notice_id}",
                "returned_at": where,
            }
            flagged.append(f"m{match.id} at {where}")
            audit.record(
                s,
                "content-returned",
                case=case.number,
                details={
                    "match": f"m{match.id}",
                    "notice": f"N-{notice_id}",
                    "where": where,
                    "scan": scan_id,
                },
            )
            if case.status != "reviewing" and case.status != "withdrawn":
                set_status_in(s, case, "reviewing", f"content came back (m{match.id} at {where})")
    return flagged
