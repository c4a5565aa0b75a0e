"""The change feed of every bank, for sync between Rempart instances (docs/sync.md).

One row per change, numbered by a strictly increasing sequence (`seq`), written in the same
transaction as the change itself:
- `added`: a bank entry was stored (its id; its hashes are read when the feed is served, so
  a partner gets what the entry holds then, and only if consent still allows it);
- `withdrawn`: a hash left the bank (its type and the SHA-256 of its hex value: the hash
  itself is not kept), unless another entry of that bank whose consent allows exchange
  still holds it;
- a case whose consent starts allowing exchange writes `added` rows for its entries again;
  one whose consent stops allowing it writes `withdrawn` rows, so partners delete them.

The sequence follows commit order: writers of the feed take a lock held until they commit
(PostgreSQL: an advisory lock; SQLite has one writer at a time anyway), and SQLite's
AUTOINCREMENT never hands out a number twice, even after deletions.

Also here: the checkpoints of this instance's pulls from partners (`sync_checkpoints`).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint, insert, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from rempart.signals.types import REGISTRY
from rempart.store.models import BankItem, Base, Case, Consent, ItemSignal, utcnow

ADDED = "added"
WITHDRAWN = "withdrawn"
EXCHANGED_TYPES = REGISTRY.exchanged()  # pdq, md5, sha256
_PG_FEED_LOCK_KEY = 0x53594E43  # "SYNC": one feed writer at a time, until it commits


class BankChange(Base):
    """One change of a bank, in the order partners replay them (migration 0011)."""

    __tablename__ = "bank_changes"
    __table_args__ = (
        Index("ix_bank_changes_bank_seq", "bank_id", "seq"),
        {"sqlite_autoincrement": True},
    )
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    bank_id: Mapped[int | None] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[int | None]
    signal_type: Mapped[str | None] = mapped_column(String(16))
    value_sha256: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class SyncCheckpoint(Base):
    """How far this instance has pulled a partner's bank into one of its own."""

    __tablename__ = "sync_checkpoints"
    __table_args__ = (UniqueConstraint("remote", "remote_bank", "local_bank"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    remote: Mapped[str] = mapped_column(String(500))
    remote_bank: Mapped[str] = mapped_column(String(100))
    local_bank: Mapped[str] = mapped_column(String(100))
    checkpoint: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    last_result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


def digest(value: str) -> str:
    """The one-way form of a withdrawn hash (as repository.withdrawal_digest)."""
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()


def _serialise(s: Session) -> None:
    """Feed rows are numbered in commit order: one writer at a time until it commits."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_FEED_LOCK_KEY})


def record_added(
    s: Session, bank_id: int, *, submission_id: int, item_ids: list[int] | None = None
) -> None:
    """`added` rows for the entries an import just stored (hook: bank_import); `item_ids`
    when the import knows them, in order (bank_items has no index on submission_id: a
    list imported in batches scanned the table once per batch)."""
    ids = (
        item_ids
        if item_ids is not None
        else list(
            s.scalars(
                select(BankItem.id)
                .where(BankItem.submission_id == submission_id)
                .order_by(BankItem.id)
            )
        )
    )
    if not ids:
        return
    _serialise(s)
    # one executemany of plain tuples through the driver (the ORM's bulk insert converted
    # every row's values one by one: 4 s of a 100,000-hash list import)
    table = BankChange.__table__
    connection = s.connection()
    dialect = connection.dialect
    at_proc = table.c["at"].type.dialect_impl(dialect).bind_processor(dialect)
    at = at_proc(utcnow()) if at_proc is not None else utcnow()
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    quote = dialect.identifier_preparer.quote
    connection.exec_driver_sql(
        f"INSERT INTO {quote(BankChange.__tablename__)} ({quote('bank_id')}, {quote('kind')}, "
        f"{quote('item_id')}, {quote('at')}) VALUES ({mark}, {mark}, {mark}, {mark})",
        [(bank_id, ADDED, int(i), at) for i in ids],
    )


def _add_rows(s: Session, pairs: list[tuple[int, int]]) -> None:
    if not pairs:
        return
    _serialise(s)
    now = utcnow()
    s.execute(
        insert(BankChange),
        [{"bank_id": b, "kind": ADDED, "item_id": i, "at": now} for b, i in pairs],
    )


def record_withdrawn(s: Session, item_ids: Any) -> None:
    """`withdrawn` rows for the hashes of bank entries about to be deleted (a list of ids
    or a SELECT of them; hook: repository.record_withdrawals)."""
    rows = s.execute(
        select(BankItem.bank_id, ItemSignal.signal_type, ItemSignal.value)
        .join(ItemSignal, ItemSignal.item_id == BankItem.id)
        .where(BankItem.id.in_(item_ids), ItemSignal.signal_type.in_(EXCHANGED_TYPES))
    ).all()
    _withdraw_rows(s, {(int(b), str(k), str(v)) for b, k, v in rows}, item_ids)


def _withdraw_rows(s: Session, held: set[tuple[int, str, str]], leaving: Any) -> None:
    gone = held - _still_shared(s, held, leaving)
    if not gone:
        return
    _serialise(s)
    now = utcnow()
    rows = sorted({(b, k, digest(v)) for b, k, v in gone})
    s.execute(
        insert(BankChange),
        [
            {"bank_id": b, "kind": WITHDRAWN, "signal_type": k, "value_sha256": d, "at": now}
            for b, k, d in rows
        ],
    )


def _still_shared(
    s: Session, held: set[tuple[int, str, str]], leaving: Any
) -> set[tuple[int, str, str]]:
    """Those (bank, type, value) that another entry of the bank, not leaving, whose case's
    consent allows exchange, still holds: partners keep them."""
    by_type: dict[str, list[str]] = defaultdict(list)
    for _, kind, value in held:
        by_type[kind].append(value)
    found: set[tuple[int, str, str, int]] = set()
    for kind, values in by_type.items():
        unique = sorted(set(values))
        for start in range(0, len(unique), 500):
            rows = s.execute(
                select(BankItem.bank_id, ItemSignal.signal_type, ItemSignal.value, BankItem.case_id)
                .join(ItemSignal, ItemSignal.item_id == BankItem.id)
                .where(
                    ItemSignal.signal_type == kind,
                    ItemSignal.value.in_(unique[start : start + 500]),
                    BankItem.id.not_in(leaving),
                    BankItem.case_id.is_not(None),
                )
            ).all()
            found.update((int(b), str(k), str(v), int(c)) for b, k, v, c in rows if c is not None)
    sharing = cases_allowing_exchange(s, {c for *_, c in found})
    return {(b, k, v) for b, k, v, c in found if c in sharing and (b, k, v) in held}


def cases_allowing_exchange(s: Session, case_ids: Iterable[int]) -> set[int]:
    """Those cases whose newest active consent allows exchange (as the export's rule)."""
    wanted = set(case_ids)
    if not wanted:
        return set()
    newest: dict[int, Consent] = {}
    withdrawn: set[int] = set()
    ids = sorted(wanted)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for c in s.scalars(
            select(Consent)
            .where(Consent.case_id.in_(chunk), Consent.withdrawn_at.is_(None))
            .order_by(Consent.recorded_at, Consent.id)
        ):
            newest[c.case_id] = c
        withdrawn.update(
            s.scalars(select(Case.id).where(Case.id.in_(chunk), Case.status == "withdrawn"))
        )
    return {cid for cid, c in newest.items() if c.allow_exchange and cid not in withdrawn}


def allows_exchange(s: Session, case_id: int) -> bool:
    return case_id in cases_allowing_exchange(s, [case_id])


def consent_changed(s: Session, case_id: int, allowed_before: bool) -> None:
    """After a consent record was stored (hook: repository.record_consent): if the case
    now allows exchange and did not, its entries are offered again (`added`); if it no
    longer does, their hashes are `withdrawn` for partners."""
    allowed = allows_exchange(s, case_id)
    if allowed == allowed_before:
        return
    items = select(BankItem.id).where(BankItem.case_id == case_id)
    if allowed:
        pairs = s.execute(
            select(BankItem.bank_id, BankItem.id)
            .where(BankItem.case_id == case_id)
            .order_by(BankItem.id)
        ).all()
        _add_rows(s, [(int(b), int(i)) for b, i in pairs])
    else:
        record_withdrawn(s, items)


def max_seq(s: Session) -> int:
    return int(s.scalar(select(BankChange.seq).order_by(BankChange.seq.desc()).limit(1)) or 0)
