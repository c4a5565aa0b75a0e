"""The serving side of sync: one page of a bank's change feed (store/changefeed.py) since a
checkpoint, as a Rempart hash list (docs/formats.md) with a `sync` block.

A page holds the entries added since the checkpoint that consent allows to share now (the
export's rule: the case's newest active consent allows exchange, not withdrawn, not
expired), read as they are now, and the hashes withdrawn since, as SHA-256 digests only.
A receiver applies a page by importing its items, then deleting its withdrawn hashes; so
that this gives the same result as replaying the changes one by one, a page ends before an
entry holding a hash that the page already withdraws (that entry opens the next page).

A checkpoint reads `FEED-SEQ`: FEED names this database's feed (a one-way digest of its
instance id, which itself never leaves), SEQ the last change the receiver has. A
checkpoint of another feed (the database was replaced) or beyond this feed's end (restored
from a backup) starts again from the beginning: the receiver's imports skip what it has.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from rempart.exchange import rempart_list
from rempart.exchange.hashlist import EXCHANGED_TYPES, ExportItem, ExportSet, _submission_item
from rempart.store.changefeed import (
    ADDED,
    WITHDRAWN,
    BankChange,
    cases_allowing_exchange,
    max_seq,
)
from rempart.store.changefeed import digest as hash_digest
from rempart.store.models import Bank, BankItem, Case, ItemSignal, utcnow

CHECKPOINT = re.compile(r"^([0-9a-f]{16})-([0-9]{1,18})$")
DEFAULT_LIMIT = 500  # changes per page
MAX_LIMIT = 1000
MAX_PAGE_BYTES = 8 * 1024 * 1024  # items' JSON per page (videos carry many frame hashes)


def feed_id(instance_id: str) -> str:
    return hashlib.sha256(f"rempart-sync-feed:{instance_id}".encode()).hexdigest()[:16]


def parse_checkpoint(value: str | None) -> tuple[str | None, int]:
    """(feed, seq) of a checkpoint; (None, 0) for none ("", "0"). ValueError if malformed."""
    if value is None or value.strip() in ("", "0"):
        return None, 0
    m = CHECKPOINT.match(value.strip())
    if m is None:
        raise ValueError(
            "'since' must be a checkpoint given by an earlier page (FEED-SEQ), "
            "or 0 to start from the beginning"
        )
    return m.group(1), int(m.group(2))


@dataclass(frozen=True)
class PageStats:
    changes: int  # feed rows consumed
    items: int
    withdrawn: int
    withheld: int  # entries added but not shared now: no consent to exchange, or expired
    checkpoint: str
    has_more: bool
    restarted: str | None


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def build_page(
    s: Session,
    bank: Bank,
    instance_id: str,
    since: str | None,
    limit: int = DEFAULT_LIMIT,
    max_bytes: int = MAX_PAGE_BYTES,
) -> tuple[dict[str, Any], PageStats]:
    """The page after `since` (ValueError if malformed), in one read of the database."""
    feed = feed_id(instance_id)
    their_feed, after = parse_checkpoint(since)
    restarted = None
    if their_feed is not None and their_feed != feed:
        restarted, after = "the checkpoint is from another database", 0
    elif after > max_seq(s):
        restarted, after = "the checkpoint is ahead of this database (restored?)", 0
    limit = max(1, min(limit, MAX_LIMIT))
    rows = list(
        s.scalars(
            select(BankChange)
            .where(
                or_(BankChange.bank_id == bank.id, BankChange.bank_id.is_(None)),
                BankChange.seq > after,
            )
            .order_by(BankChange.seq)
            .limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    now = utcnow()

    # The entries these rows add, as they are now (gone ones: their withdrawal follows).
    wanted = {r.item_id for r in rows if r.kind == ADDED and r.item_id is not None}
    items: dict[int, tuple[BankItem, str | None]] = {}
    ids = sorted(wanted)
    for start in range(0, len(ids), 500):
        for item, case_number in s.execute(
            select(BankItem, Case.number)
            .outerjoin(Case, BankItem.case_id == Case.id)
            .where(BankItem.id.in_(ids[start : start + 500]), BankItem.bank_id == bank.id)
        ).all():
            items[item.id] = (item, case_number)
    sharing = cases_allowing_exchange(s, {i.case_id for i, _ in items.values() if i.case_id})
    signals: dict[int, list[ItemSignal]] = defaultdict(list)
    live = sorted(items)
    for start in range(0, len(live), 500):
        for sig in s.scalars(
            select(ItemSignal)
            .where(ItemSignal.item_id.in_(live[start : start + 500]))
            .order_by(ItemSignal.id)
        ):
            signals[sig.item_id].append(sig)
    last_row = {r.item_id: r.seq for r in rows if r.kind == ADDED}  # an entry at its last add

    chosen: list[ExportItem] = []
    withdrawals: list[tuple[str, str, datetime]] = []
    page_withdrawn: set[tuple[str, str]] = set()
    sent_keys: set[tuple[str, str]] = set()
    withheld = 0
    size = 0
    consumed = after
    count = 0
    for row in rows:
        if row.kind == WITHDRAWN and row.signal_type and row.value_sha256:
            key = (row.signal_type, row.value_sha256)
            if key not in page_withdrawn:
                page_withdrawn.add(key)
                withdrawals.append((row.signal_type, row.value_sha256, _aware(row.at) or now))
        elif row.kind == ADDED and row.item_id in items and last_row[row.item_id] == row.seq:
            item, number = items[row.item_id]
            expires = _aware(item.expires_at)
            if item.case_id not in sharing or (expires is not None and expires < now):
                withheld += 1
            else:
                sub = _submission_item(item, signals[item.id])
                keys = {(k, v) for k in EXCHANGED_TYPES if (v := getattr(sub, k))}
                if {(k, hash_digest(v)) for k, v in keys} & page_withdrawn:
                    more = True  # withdrawn earlier in this page: it opens the next one
                    break
                entry_bytes = len(json.dumps(sub.to_json()))
                if count and size + entry_bytes > max_bytes:
                    more = True
                    break
                if not keys & sent_keys:  # two cases with the same picture: sent once
                    sent_keys |= keys
                    size += entry_bytes
                    chosen.append(
                        ExportItem(
                            sub, number or "", item.label, _aware(item.created_at) or now, expires
                        )
                    )
        consumed = row.seq
        count += 1
    export = ExportSet(
        bank.name, bank.pdq_threshold, bank.description, chosen, withheld, withdrawals
    )
    doc = rempart_list.to_json(export)
    checkpoint = f"{feed}-{consumed}"
    doc["sync"] = {
        "feed": feed,
        "since": since or "0",
        "checkpoint": checkpoint,
        "has_more": more,
        "changes": count,
        "withheld": withheld,
        "restarted": restarted,
    }
    return doc, PageStats(
        count, len(chosen), len(withdrawals), withheld, checkpoint, more, restarted
    )
