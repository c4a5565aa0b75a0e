"""Import a hash-submission file into a bank, under a case and its consent record."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain
from typing import Any

from sqlalchemy import DateTime, func, select
from sqlalchemy.orm import Session

from rempart.exchange.consent import ConsentRecord
from rempart.exchange.submission import Submission, SubmissionItem
from rempart.signals.pdq import MIN_QUALITY
from rempart.signals.types import MD5, PDQ, REGISTRY, SHA256, VPDQ, VPDQ_REGION
from rempart.store import audit, changefeed, repository
from rempart.store.bank_index import BankIndex
from rempart.store.models import BankItem, ItemSignal, utcnow
from rempart.store.models import Submission as SubmissionRow
from rempart.store.repository import (
    FEATURES_SIGNAL,
    INDEXED_SIGNAL_TYPES,
    VARIANT_SIGNAL,
    StoreError,
)

# The hashes that identify an entry, best first (sha256, md5, pdq): an entry is a duplicate
# of one holding the same first of them (`item.sha256 or item.md5 or item.pdq` below).
IDENTIFYING = REGISTRY.identifying()


@dataclass(frozen=True)
class ImportResult:
    bank: str
    case: str
    added: int
    duplicates: int
    low_quality: int
    consent_recorded: bool


def import_submission(
    bank_index: BankIndex,
    bank_name: str,
    submission: Submission,
    *,
    case_number: str,
    consent: ConsentRecord | None = None,
    source_name: str = "",
    label: str | None = None,
    save_index: bool = True,
    index_sink: Callable[[list[tuple[int, str]]], None] | None = None,
    on_case: Callable[[Session, Any], None] | None = None,
    check_duplicates: bool = True,
) -> ImportResult:
    """Add every item of a submission to a bank, in one transaction (`store_submission`),
    and its PDQ hashes to the index.

    Refuses (StoreError) when neither the command, the file nor the case has a consent
    record: a victim's hashes are stored only with her consent on record. With
    `save_index` false, the index files are left stale (`BankIndex.save` writes them
    later; a crash before that rebuilds them from the database). With an `index_sink`, the
    PDQ hashes to index are handed to it instead of being added to the index.
    `on_case(session, case)` runs in the same transaction once the case exists (the API
    gives a new case to the caller's organisation there: a server killed mid-import leaves
    neither a case without its entries and audit entry, nor one without its owner).
    `check_duplicates` false skips looking for the items in the case's entries (a list
    whose case had no entries in the bank when its import began: its reader already
    dropped the list's own duplicates).
    """
    done: list[ImportResult] = []

    def apply(s: Session) -> tuple[list[tuple[int, str]], list[int]]:
        result, added = store_submission(
            s,
            bank_name,
            submission,
            case_number=case_number,
            consent=consent,
            source_name=source_name,
            label=label,
            on_case=on_case,
            check_duplicates=check_duplicates,
        )
        done.append(result)
        if index_sink is not None:
            index_sink(added)
            return [], []
        return added, []

    bank_index.change(apply, save=save_index)
    return done[0]


def store_submission(
    s: Session,
    bank_name: str,
    submission: Submission,
    *,
    case_number: str,
    consent: ConsentRecord | None = None,
    source_name: str = "",
    label: str | None = None,
    on_case: Callable[[Session, Any], None] | None = None,
    check_duplicates: bool = True,
) -> tuple[ImportResult, list[tuple[int, str]]]:
    """Store a submission's items in the session's transaction (bank entries, hashes,
    change feed, audit entry; the consent record when given): the import's result and the
    (signal id, hex) of the PDQ hashes to index, which the caller indexes once the
    transaction is committed (`import_submission` through `BankIndex.change`; a list
    import, once for the whole list). StoreError without a consent record."""
    counts = {"added": 0, "duplicates": 0, "low_quality": 0, "consent": False}
    bank = repository.get_bank(s, bank_name)
    case = repository.get_or_create_case(s, case_number)
    if case.status == "withdrawn":  # her data is gone; nothing may quietly come back
        raise StoreError(
            f"case {case_number} was withdrawn: it takes no new entries; for a new "
            "registration, with her new consent, open a new case"
        )
    if on_case is not None:
        on_case(s, case)
    record = consent or submission.consent
    consent_row = repository.active_consent(s, case)
    if record is not None:
        consent_row = repository.record_consent(s, case.id, record)
        counts["consent"] = True
    if consent_row is None:
        raise StoreError(
            f"case {case_number} has no consent record: give one with --consent FILE "
            "(who consented, when, for what purpose, retention)"
        )
    sub = SubmissionRow(
        bank_id=bank.id, case_id=case.id, consent_id=consent_row.id, source_name=source_name
    )
    s.add(sub)
    s.flush()
    now = utcnow()
    known = (
        _known_keys(
            s,
            bank.id,
            case.id,
            {item.sha256 or item.md5 or item.pdq or "" for item in submission.items},
        )
        if check_duplicates
        else set()
    )
    # Bulk inserts: one executemany per table through the driver, values converted
    # once (SQLAlchemy's per-row conversion, and a flush per entry before that, cost
    # more than the database's own work for a list of a million hashes).
    items_table = BankItem.__table__
    signals_table = ItemSignal.__table__
    convert = _Converter(s)
    created = convert(items_table, "created_at", now)
    expires = convert(items_table, "expires_at", consent_row.retention_until)
    no_extra = convert(signals_table, "extra", {})
    # the ORM's attribute access, once per item, cost a second for a million
    bank_id, case_id, sub_id = bank.id, case.id, sub.id
    item_rows: list[tuple[Any, ...]] = []
    signal_rows: list[tuple[Any, ...]] = []  # (item position, type, value, quality, extra)
    indexed: list[bool] = []  # per signal row: goes to the PDQ index
    for item in submission.items:
        key = item.sha256 or item.md5 or item.pdq or ""
        if key in known:
            counts["duplicates"] += 1
            continue
        known.add(key)
        n = len(item_rows)
        item_rows.append(
            (
                bank_id,
                case_id,
                sub_id,
                item.media_type,
                item.width,
                item.height,
                label,
                created,
                expires,
            )
        )
        if item.md5:
            signal_rows.append((n, MD5.name, item.md5, None, no_extra))
            indexed.append(False)
        if item.sha256:
            signal_rows.append((n, SHA256.name, item.sha256, None, no_extra))
            indexed.append(False)
        if item.pdq is not None:
            low = item.pdq_quality is not None and item.pdq_quality < MIN_QUALITY
            counts["low_quality"] += low
            signal_rows.append((n, PDQ.name, item.pdq, item.pdq_quality, no_extra))
            indexed.append(not low)
        if not (
            item.frames or item.inside or item.regions or item.variants or item.features is not None
        ):
            continue  # a plain hash (a partner's list): nothing more to store
        frame_signals = video_signals(item)
        if (
            item.media_type == "video"
            and item.frames
            and not any((f.quality or 0) >= MIN_QUALITY for f in frame_signals)
        ):
            counts["low_quality"] += 1
        variant_signals, feature_signal = robust_signals(item)
        extra_signals = [*frame_signals, *variant_signals]
        extra_signals += [feature_signal] if feature_signal is not None else []
        for f in extra_signals:
            signal_rows.append(
                (
                    n,
                    f.signal_type,
                    f.value,
                    f.quality,
                    convert(signals_table, "extra", f.extra or {}),
                )
            )
            indexed.append(  # a variant is indexed whatever its quality (robust stage)
                f.signal_type in INDEXED_SIGNAL_TYPES
                and (f.signal_type == VARIANT_SIGNAL or (f.quality or 0) >= MIN_QUALITY)
            )
    added: list[tuple[int, str]] = []
    item_ids: list[int] = []
    if item_rows:
        # The new ids are read back in order (INSERT ... RETURNING with its order kept
        # runs one statement per row on SQLite): the rows are this submission's, their
        # ids increase in the order they were inserted; read from the last id before
        # (a range of the primary key, not a scan).
        items_before = s.scalar(select(func.max(BankItem.id))) or 0
        signals_before = s.scalar(select(func.max(ItemSignal.id))) or 0
        convert.insert(
            items_table,
            (
                "bank_id",
                "case_id",
                "submission_id",
                "media_type",
                "width",
                "height",
                "label",
                "created_at",
                "expires_at",
            ),
            item_rows,
        )
        # read back in order (this submission's rows, from the last id before: a range
        # of the primary key, not a scan)
        item_ids = convert.ids(
            "SELECT id FROM bank_items WHERE id > ? AND submission_id = ? ORDER BY id",
            items_before,
            sub_id,
        )
        if signal_rows:
            convert.insert(
                signals_table,
                ("item_id", "signal_type", "value", "quality", "extra"),
                [(item_ids[n], k, v, q, x) for n, k, v, q, x in signal_rows],
            )
            signal_ids = convert.ids(
                "SELECT item_signals.id FROM item_signals JOIN bank_items "
                "ON item_signals.item_id = bank_items.id WHERE item_signals.id > ? "
                "AND bank_items.id > ? AND bank_items.submission_id = ? "
                "ORDER BY item_signals.id",
                signals_before,
                items_before,
                sub_id,
            )
            added = [
                (i, r[2]) for i, r, x in zip(signal_ids, signal_rows, indexed, strict=True) if x
            ]
    counts["added"] = len(item_rows)
    sub.item_count = counts["added"]
    changefeed.record_added(s, bank.id, submission_id=sub.id, item_ids=item_ids)  # the sync feed
    audit.record(
        s,
        "bank-import",
        case=case_number,
        details={
            "bank": bank_name,
            "added": counts["added"],
            "duplicates": counts["duplicates"],
            "source": source_name,
            "consent_recorded": bool(counts["consent"]),
        },
    )
    return (
        ImportResult(
            bank=bank_name,
            case=case_number,
            added=counts["added"],
            duplicates=counts["duplicates"],
            low_quality=counts["low_quality"],
            consent_recorded=bool(counts["consent"]),
        ),
        added,
    )


ROWS_PER_STATEMENT = 200  # rows of one multi-row INSERT (SQLite allows 32,766 values)


class _Converter:
    """Values converted as SQLAlchemy would for a column (dates, JSON), rows inserted with
    multi-row INSERT statements through the driver, and ids read back through it."""

    def __init__(self, s: Session) -> None:
        self.connection = s.connection()
        self.dialect = self.connection.dialect
        self.mark = "?" if self.dialect.paramstyle == "qmark" else "%s"
        self._procs: dict[tuple[str, str], Any] = {}

    def __call__(self, table: Any, column: str, value: Any) -> Any:
        key = (table.name, column)
        if key not in self._procs:
            kind = table.c[column].type
            if isinstance(kind, DateTime):  # the dialect's own (SQLite: SQLAlchemy's text;
                kind = kind.dialect_impl(self.dialect)  # the generic type has none, and
            self._procs[key] = kind.bind_processor(self.dialect)  # sqlite3 ran isoformat
        proc = self._procs[key]
        value = proc(value) if proc is not None and value is not None else value
        # PostgreSQL's driver takes JSON as text (SQLAlchemy wraps it at a later step)
        return json.dumps(value) if isinstance(value, dict | list) else value

    def insert(self, table: Any, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        """The rows, in order (their ids increase in that order), ROWS_PER_STATEMENT to a
        statement: SQLite's work per statement (AUTOINCREMENT's counter, foreign keys)
        made an executemany, one statement per row, twice as slow."""
        quote = self.dialect.identifier_preparer.quote
        head = f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) VALUES "
        one = f"({', '.join([self.mark] * len(columns))})"
        whole = len(rows) - len(rows) % ROWS_PER_STATEMENT
        cursor = self.connection.connection.cursor()
        try:
            if whole:
                sql = head + ", ".join([one] * ROWS_PER_STATEMENT)
                for start in range(0, whole, ROWS_PER_STATEMENT):
                    chunk = rows[start : start + ROWS_PER_STATEMENT]
                    cursor.execute(sql, list(chain.from_iterable(chunk)))
            if whole < len(rows):
                rest = rows[whole:]
                cursor.execute(head + ", ".join([one] * len(rest)), list(chain.from_iterable(rest)))
        finally:
            cursor.close()

    def ids(self, sql: str, *params: int) -> list[int]:
        """The first column of a query's rows (`?` marks its parameters), fetched at once
        through the driver (SQLAlchemy's row objects cost more than the query)."""
        cursor = self.connection.connection.cursor()
        try:
            cursor.execute(sql.replace("?", self.mark), params)
            return [int(row[0]) for row in cursor.fetchall()]
        finally:
            cursor.close()


def video_signals(item: SubmissionItem) -> list[ItemSignal]:
    """One signal per video frame hash: whole frames and the picture inside black bars as
    "vpdq", frame halves as "vpdq-region"; the time (and region) in `extra`."""
    out = [
        ItemSignal(
            signal_type=VPDQ.name, value=f.pdq_hex, quality=f.quality, extra={"ts": f.timestamp}
        )
        for f in item.frames
    ]
    out += [
        ItemSignal(
            signal_type=VPDQ.name,
            value=f.pdq_hex,
            quality=f.quality,
            extra={"ts": f.timestamp, "inside": True},
        )
        for f in item.inside
    ]
    for region, frames in item.regions.items():
        out += [
            ItemSignal(
                signal_type=VPDQ_REGION.name,
                value=f.pdq_hex,
                quality=f.quality,
                extra={"ts": f.timestamp, "region": region},
            )
            for f in frames
        ]
    return out


def robust_signals(item: SubmissionItem) -> tuple[list[ItemSignal], ItemSignal | None]:
    """A photo's PDQ variants as "pdq-variant" signals (indexed with the other PDQ hashes;
    kind and name in `extra`) and its local features as one "local-features" signal (the
    encoded features in `extra`, their SHA-256 as the value)."""
    variants = [
        ItemSignal(
            signal_type=VARIANT_SIGNAL,
            value=v.hash.hex,
            quality=v.hash.quality,
            extra={"kind": v.kind, "name": v.name},
        )
        for v in item.variants
        if v.hash.quality >= MIN_QUALITY
    ]
    features = None
    if item.features is not None:
        digest = hashlib.sha256(item.features.encode("ascii")).hexdigest()
        features = ItemSignal(
            signal_type=FEATURES_SIGNAL, value=digest, extra={"data": item.features}
        )
    return variants, features


def _known_keys(s: Session, bank_id: int, case_id: int, candidates: set[str]) -> set[str]:
    """Identifying hash (sha256, else md5, else pdq) of every item the case already has in
    the bank, among `candidates`: only items holding one of them are read (a list imported
    in batches reads each batch's, not the whole case's every time)."""
    holding: set[int] = set()  # items holding one of the values (by the values' index)
    values = sorted(candidates)
    for start in range(0, len(values), 500):
        holding.update(
            s.scalars(
                select(ItemSignal.item_id).where(
                    ItemSignal.signal_type.in_(IDENTIFYING),
                    ItemSignal.value.in_(values[start : start + 500]),
                )
            )
        )
    items: set[int] = set()  # of them, this case's in this bank
    held = sorted(holding)
    for start in range(0, len(held), 500):
        items.update(
            s.scalars(
                select(BankItem.id).where(
                    BankItem.id.in_(held[start : start + 500]),
                    BankItem.bank_id == bank_id,
                    BankItem.case_id == case_id,
                )
            )
        )
    rows: list[Any] = []
    ids = sorted(items)
    for start in range(0, len(ids), 500):
        rows += s.execute(
            select(ItemSignal.item_id, ItemSignal.signal_type, ItemSignal.value).where(
                ItemSignal.item_id.in_(ids[start : start + 500]),
                ItemSignal.signal_type.in_(IDENTIFYING),
            )
        ).all()
    per_item: dict[int, dict[str, str]] = {}
    for item_id, signal_type, value in rows:
        per_item.setdefault(item_id, {})[signal_type] = value
    return {
        sig.get("sha256") or sig.get("md5") or sig.get("pdq") or "" for sig in per_item.values()
    } & candidates
