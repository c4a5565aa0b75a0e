"""Hash lists exchanged with partners: what every format reads into and writes from.

A list file is read record by record: a malformed record (wrong type, bad hex, unknown
signal or status, duplicate) is a problem naming the file and the record, and the rest of
the file goes on. A list holds hashes to add (`items`) and hashes withdrawn by whoever
registered them (`withdrawn`, as hex values, or `withdrawn_digests`, as SHA-256 of the
value, Rempart's one-way form).

Importing respects consent: the hashes are stored under a case (hers, or a partner's case
`partner-NAME`) with a consent record, through `import_submission`, which refuses them
otherwise. A withdrawn hash is deleted from the bank entries of that case in every bank
(or of every case, when asked), removed from the index in the same change, and recorded as
a withdrawal; deletion needs no consent.

Exporting gives only what consent allows: bank entries of cases whose active consent has
`allow_exchange` true, not expired.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from rempart.exchange.bank_import import ImportResult, import_submission, store_submission
from rempart.exchange.consent import ConsentRecord
from rempart.exchange.list_model import EXCHANGED_TYPES as EXCHANGED_TYPES  # re-exported
from rempart.exchange.list_model import HEX_LENGTH as HEX_LENGTH
from rempart.exchange.list_model import MAX_JSON_BYTES as MAX_JSON_BYTES
from rempart.exchange.list_model import MAX_STREAMED_JSON_BYTES as MAX_STREAMED_JSON_BYTES
from rempart.exchange.list_model import MAX_TEXT_BYTES as MAX_TEXT_BYTES
from rempart.exchange.list_model import ExportItem as ExportItem
from rempart.exchange.list_model import ExportSet as ExportSet
from rempart.exchange.list_model import ParsedList as ParsedList
from rempart.exchange.list_model import clean_hex as clean_hex
from rempart.exchange.list_model import image_item as image_item
from rempart.exchange.list_model import load_json as load_json
from rempart.exchange.list_model import text_lines as text_lines
from rempart.exchange.list_model import video_item as video_item
from rempart.exchange.list_model import write_atomic as write_atomic
from rempart.exchange.lists import read_list
from rempart.exchange.submission import Submission, SubmissionItem
from rempart.index.binary_index import hex_to_array
from rempart.scan import hash_cache
from rempart.signals.types import VPDQ, VPDQ_REGION
from rempart.signals.video_variants import CROP_NAMES
from rempart.signals.vpdq import REGIONS, VpdqFrame
from rempart.store import audit, repository, withdrawal_ledger
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database
from rempart.store.models import Bank, BankItem, Case, Consent, ItemSignal, Withdrawal, utcnow

# --- import --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListImportResult:
    added: int
    duplicates: int  # already in the bank for this case
    low_quality: int
    withdrawn: int  # bank entries deleted by withdrawals in the list
    withdrawn_elsewhere_kept: int  # entries of other cases with a withdrawn hash, kept
    consent_recorded: bool


@dataclass
class _Tally:
    """What the submissions of one list added, found there already or stored as too little
    detail, and whether its consent record was stored (with the first)."""

    added: int = 0
    duplicates: int = 0
    low_quality: int = 0
    consent_recorded: bool = False

    def result(self, withdrawn: tuple[int, int]) -> ListImportResult:
        removed, kept = withdrawn
        return ListImportResult(
            self.added, self.duplicates, self.low_quality, removed, kept, self.consent_recorded
        )


Store = Callable[[list[SubmissionItem], str | None, ConsentRecord | None], ImportResult]


def _import_by_label(
    parsed: ParsedList,
    tally: _Tally,
    store: Store,
    *,
    consent: ConsentRecord | None,
    label: str | None = None,
) -> None:
    """The list's items (all of them, or the batch read so far) under the case: one
    submission per label (`label`, when given, for every item) stored by `store(items,
    label, consent)`, the consent record with the first; `tally` counts them."""
    by_label: dict[str | None, list[SubmissionItem]] = defaultdict(list)
    for item, item_label in zip(parsed.items, parsed.labels, strict=True):
        by_label[label if label is not None else item_label].append(item)
    for group_label, group in by_label.items():
        result = store(group, group_label, None if tally.consent_recorded else consent)
        tally.consent_recorded = tally.consent_recorded or result.consent_recorded
        tally.added += result.added
        tally.duplicates += result.duplicates
        tally.low_quality += result.low_quality


def _apply_withdrawals(
    bank_index: BankIndex,
    parsed: ParsedList,
    *,
    case_number: str,
    withdraw_everywhere: bool,
    source: str,
) -> tuple[int, int]:
    """The list's withdrawals, after its additions (a withdrawal wins): entries deleted and
    entries of other cases kept (unless `withdraw_everywhere`)."""
    if not (parsed.withdrawn or parsed.withdrawn_digests):
        return 0, 0
    return withdraw_hashes(
        bank_index,
        parsed.withdrawn,
        parsed.withdrawn_digests,
        case_number=None if withdraw_everywhere else case_number,
        source=source,
    )


def import_list(
    bank_index: BankIndex,
    bank_name: str,
    parsed: ParsedList,
    *,
    case_number: str,
    consent: ConsentRecord | None = None,
    withdraw_everywhere: bool = False,
) -> ListImportResult:
    """Store the list's hashes under the case (refused without a consent record), then
    apply its withdrawals. StoreError when refused; nothing is then stored."""
    with bank_index.db.session() as s:
        repository.get_bank(s, bank_name)  # an unknown bank is refused before anything
    source = f"{parsed.format}:{Path(parsed.source).name}"
    tally = _Tally()

    def store(
        items: list[SubmissionItem], label: str | None, record: ConsentRecord | None
    ) -> ImportResult:
        return import_submission(
            bank_index,
            bank_name,
            Submission(items=items),
            case_number=case_number,
            consent=record,
            source_name=source[:500],
            label=label,
        )

    _import_by_label(parsed, tally, store, consent=consent)
    return tally.result(
        _apply_withdrawals(
            bank_index,
            parsed,
            case_number=case_number,
            withdraw_everywhere=withdraw_everywhere,
            source=source,
        )
    )


@dataclass
class ImportProgress:
    """How far a streamed list import got (for a progress bar)."""

    bytes_read: int
    total_bytes: int
    records: int
    added: int


def import_list_file(
    bank_index: BankIndex,
    bank_name: str,
    path: Path,
    fmt: str = "auto",
    *,
    case_number: str,
    consent: ConsentRecord | None = None,
    label: str | None = None,
    withdraw_everywhere: bool = False,
    batch: int = 20_000,
    progress: Callable[[ImportProgress], None] | None = None,
) -> tuple[ParsedList, ListImportResult]:
    """Import a list file as it is read, in one transaction: each batch of `batch` hashes
    stored as `import_submission` stores them (consent checked, change feed and audit
    written), everything committed and indexed at the end, so that an import stopped
    midway (an error, a killed process) leaves the banks as they were and can simply be run
    again. The index's lock is held only for the commit (`BankIndex.commit_added`); readers
    see the banks as they were until then. A list of a million hashes takes under a
    minute, 32-40 s of CPU, and 380 MB (read whole, it took 18 minutes and 2.2 GB; a
    transaction per batch, 60 s of CPU and 415 MB; bench/list_import_bench.py).
    FormatError for a file that cannot be read at all (nothing is imported: it is checked
    before the first batch); StoreError when refused (no consent: nothing is stored).
    Withdrawals in the list are applied after its additions (a withdrawal wins)."""
    db = bank_index.db
    with db.session() as s:
        bank = repository.get_bank(s, bank_name)  # an unknown bank: refused before anything
        case = repository.get_case(s, case_number)
        # a case with no entries in the bank yet: no item can be there already (and the
        # reader drops the list's own duplicates), so batches skip that lookup
        had_entries = (
            case is not None
            and s.scalar(
                select(BankItem.id)
                .where(BankItem.bank_id == bank.id, BankItem.case_id == case.id)
                .limit(1)
            )
            is not None
        )
    try:
        total = path.stat().st_size
    except OSError:
        total = 0
    bank_index.load()  # the index the list's hashes are merged into once committed
    tally = _Tally()
    # the PDQ hashes stored, indexed once committed (40 bytes each: 40 MB for a million)
    new_ids: list[np.ndarray] = []
    new_hashes: list[np.ndarray] = []
    source = f"{path.name}"
    with db.session() as s:
        bulk = _BulkWrites(s, keep_value_index=had_entries)

        def store(
            items: list[SubmissionItem], item_label: str | None, record: ConsentRecord | None
        ) -> ImportResult:
            result, added = store_submission(
                s,
                bank_name,
                Submission(items=items),
                case_number=case_number,
                consent=record,
                source_name=source[:500],
                label=item_label,
                check_duplicates=had_entries,
            )
            if added:
                new_ids.append(np.fromiter((a[0] for a in added), np.int64, len(added)))
                new_hashes.append(_hash_rows([a[1] for a in added]))
            bulk.stored(result.added)
            return result

        def sink(parsed: ParsedList) -> None:
            nonlocal source
            source = f"{parsed.format}:{path.name}"
            _import_by_label(parsed, tally, store, consent=consent, label=label)
            if progress is not None:
                progress(ImportProgress(parsed.bytes_read, total, parsed.records, tally.added))

        try:
            parsed = read_list(path, fmt, sink=sink, batch=batch)
            parsed._seen.clear()  # the duplicate check's memory, before the index is built
            bulk.finish()
        finally:
            bulk.restore()
        ids = np.concatenate(new_ids) if new_ids else np.empty(0, np.int64)
        new_ids.clear()
        hashes = np.concatenate(new_hashes) if new_hashes else np.empty((0, 32), np.uint8)
        new_hashes.clear()  # one copy of the hashes held while the index is built
        _give_back_freed_memory()
        bank_index.commit_added(s, ids, hashes)
        del ids, hashes
    withdrawn = _apply_withdrawals(
        bank_index,
        parsed,
        case_number=case_number,
        withdraw_everywhere=withdraw_everywhere,
        source=f"{parsed.format}:{path.name}",
    )
    if progress is not None:
        progress(ImportProgress(total, total, parsed.records, tally.added))
    return parsed, tally.result(withdrawn)


def _hash_rows(values: list[str]) -> np.ndarray:
    """(n, 32) uint8 from stored PDQ hex values, converted at once (hex_to_array converts
    and checks them one by one: two seconds for a million)."""
    if values and {len(v) for v in values} == {64}:
        return np.frombuffer(bytes.fromhex("".join(values)), np.uint8).reshape(-1, 32)
    return hex_to_array(values)


def _give_back_freed_memory() -> None:
    """Return the memory the reading freed (the duplicate check's million keys, SQLite's
    import cache) to the system before the index is built: glibc keeps freed small blocks
    in its heap, and the import's peak was then the sum of both phases."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to give back this way
        pass


SQLITE_IMPORT_CACHE_KB = 64 * 1024
VALUE_INDEX = "ix_item_signals_type_value"
# Stored rows past which the value index is dropped and built again at the end (and never
# fewer than the hashes already stored: building it again sorts them all too).
REBUILD_INDEX_AFTER = 100_000


class _BulkWrites:
    """SQLite, for the one transaction of a list import: the index of hashes by value
    (item_signals by type and value) built once at the end instead of taking a million
    random values one by one, and a larger page cache while it takes them.

    Taken one at a time, the new hashes went to random places of that index: past a few
    hundred thousand, nearly every insert read and rewrote a page of it (a million hashes:
    ~100 MB of index), and that was two thirds of the import. Once the import has stored
    more rows than the table held before (and at least REBUILD_INDEX_AFTER), the index is
    dropped inside the transaction and created again, sorted, before the commit: other
    connections still read the banks as they were, index included, until the commit, and
    an import stopped midway rolls the drop back with everything else. Kept when the case
    already had entries in the bank (each batch looks its items up by value then).
    PostgreSQL keeps its index (dropping it would lock the table against every reader)."""

    def __init__(self, s: Session, *, keep_value_index: bool) -> None:
        self.connection = s.connection()
        self.sqlite = self.connection.dialect.name == "sqlite"
        self.index_sql: str | None = None  # the dropped index's own statement
        self.rows = 0
        self.threshold = 0
        self.cache_size: int | None = None
        if not self.sqlite:
            return
        self.cache_size = int(self._sql("PRAGMA cache_size").scalar() or 0)
        self._sql(f"PRAGMA cache_size=-{SQLITE_IMPORT_CACHE_KB}")
        if not keep_value_index:
            before = int(self._sql("SELECT count(*) FROM item_signals").scalar() or 0)
            self.threshold = max(REBUILD_INDEX_AFTER, before)

    def _sql(self, statement: str) -> Any:
        return self.connection.exec_driver_sql(statement)

    def stored(self, items: int) -> None:
        """Items stored so far by the import (a hash each, at least): drop the value index
        once they are many."""
        self.rows += items
        if self.threshold and self.index_sql is None and self.rows >= self.threshold:
            sql = self.connection.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (VALUE_INDEX,)
            ).scalar()
            if sql:
                self._sql(f"DROP INDEX {VALUE_INDEX}")
                self.index_sql = str(sql)
                # from now on rows are appended: the page cache goes back to its size,
                # with which SQLite's sorter also builds the index fastest (in runs of the
                # cache's size: 64 MB took 60% longer and 120 MB more)
                self._sql(f"PRAGMA cache_size={self.cache_size}")

    def finish(self) -> None:
        """Build the value index again (the statement it was created with)."""
        if self.index_sql is not None:
            self._sql(self.index_sql)
            self.index_sql = None

    def restore(self) -> None:
        """The connection's page cache back to what it was (it returns to the pool)."""
        if self.cache_size is not None:
            self._sql(f"PRAGMA cache_size={self.cache_size}")
            self.cache_size = None


def withdraw_hashes(
    bank_index: BankIndex,
    values: Iterable[tuple[str, str]],
    digests: Iterable[tuple[str, str]] = (),
    *,
    case_number: str | None,
    source: str,
) -> tuple[int, int]:
    """Delete every bank entry (of `case_number`'s case, or of any case when None) holding
    one of these hashes, given as (type, hex) or (type, SHA-256 of the hex): from every
    bank, from the index in the same change, with withdrawal records and an audit entry
    per case. Returns (entries deleted, entries of other cases holding such a hash, kept)."""
    wanted = {(k, v.lower()) for k, v in values}
    wanted_digests = {(k, d.lower()) for k, d in digests}
    counts = {"removed": 0, "kept": 0}
    copies: set[str] = set()  # scanned copies of the withdrawn content: cached hashes go
    home = bank_index.folder.parents[2]  # the bank index lives in HOME/index/<database>/pdq

    def apply(s: Session) -> tuple[list[tuple[int, str]], list[int]]:
        target = repository.get_case(s, case_number) if case_number is not None else None
        per_case: dict[int, set[int]] = defaultdict(set)
        others: set[int] = set()
        for item_id, item_case in _items_holding(s, wanted, wanted_digests):
            if item_case is None:
                others.add(item_id)  # no case, hence no consent: never exported, kept
            elif case_number is None or (target is not None and item_case == target.id):
                per_case[item_case].add(item_id)
            else:
                others.add(item_id)
        removed: list[int] = []
        for case_id, item_ids in per_case.items():
            case = s.get(Case, case_id)
            assert case is not None
            copies.update(hash_cache.matched_content(s, sorted(item_ids)))
            # digests in the withdrawal ledger, as a case's own withdrawal: no restore of an
            # older backup brings back what a partner's list withdrew
            ledgered = withdrawal_ledger.prepare_items(s, case, sorted(item_ids), [])
            removed += repository.delete_items(s, case, sorted(item_ids))
            audit.record(
                s,
                "list-withdraw",
                case=case.number,
                details={"bank_entries": sorted(item_ids), "source": source},
            )
            withdrawal_ledger.write(s, home, ledgered)
            counts["removed"] += len(item_ids)
        counts["kept"] = len(others)
        return [], removed

    bank_index.change(apply)
    if counts["removed"]:
        bank_index.db.purge_deleted()
        # as rempart.cases.withdrawal does: nothing near the withdrawn hashes stays cached
        hash_cache.purge_withdrawn(home, copies)
    return counts["removed"], counts["kept"]


def _items_holding(
    s: Session, wanted: set[tuple[str, str]], digests: set[tuple[str, str]]
) -> set[tuple[int, int | None]]:
    """(bank item id, case id) of every bank entry holding one of the hashes."""
    out: set[tuple[int, int | None]] = set()
    by_type: dict[str, list[str]] = defaultdict(list)
    for kind, value in wanted:
        by_type[kind].append(value)
    for kind, values in by_type.items():
        for start in range(0, len(values), 500):
            rows = s.execute(
                select(BankItem.id, BankItem.case_id)
                .join(ItemSignal, ItemSignal.item_id == BankItem.id)
                .where(
                    ItemSignal.signal_type == kind,
                    ItemSignal.value.in_(values[start : start + 500]),
                )
            ).all()
            out.update((int(i), c) for i, c in rows)
    if digests:
        kinds = {k for k, _ in digests}
        held = s.execute(
            select(BankItem.id, BankItem.case_id, ItemSignal.signal_type, ItemSignal.value)
            .join(ItemSignal, ItemSignal.item_id == BankItem.id)
            .where(ItemSignal.signal_type.in_(kinds))
        ).all()
        for item_id, case_id, kind, value in held:
            if (kind, repository.withdrawal_digest(value)) in digests:
                out.add((int(item_id), case_id))
    return out


# --- export --------------------------------------------------------------------------------


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def exportable(db: Database, bank_name: str, *, now: datetime | None = None) -> ExportSet:
    """The bank's entries that consent allows to share, with their hashes; and the
    one-way records of withdrawn hashes, so that partners delete their copies."""
    now = now or utcnow()
    with db.session() as s:
        bank = repository.get_bank(s, bank_name)
        sharing = _cases_allowing_exchange(s)
        rows = s.execute(
            select(BankItem, Case.number)
            .outerjoin(Case, BankItem.case_id == Case.id)
            .where(BankItem.bank_id == bank.id)
            .order_by(BankItem.id)
        ).all()
        chosen: list[tuple[BankItem, str]] = []
        withheld = 0
        for item, number in rows:
            expires = _aware(item.expires_at)
            if item.case_id not in sharing or (expires is not None and expires < now):
                withheld += 1
                continue
            chosen.append((item, number))
        signals: dict[int, list[ItemSignal]] = defaultdict(list)
        ids = [item.id for item, _ in chosen]
        for start in range(0, len(ids), 500):
            for sig in s.scalars(
                select(ItemSignal)
                .where(ItemSignal.item_id.in_(ids[start : start + 500]))
                .order_by(ItemSignal.id)
            ):
                signals[sig.item_id].append(sig)
        items = [
            ExportItem(
                _submission_item(item, signals[item.id]),
                number,
                item.label,
                _aware(item.created_at) or now,
                _aware(item.expires_at),
            )
            for item, number in chosen
        ]
        withdrawals = [
            (w.signal_type, w.value_sha256, _aware(w.withdrawn_at) or now)
            for w in s.scalars(select(Withdrawal).order_by(Withdrawal.id))
        ]
    return ExportSet(
        bank.name,
        bank.pdq_threshold,
        bank.description,
        items,
        withheld,
        withdrawals,
        db.instance_id(),
    )


def _cases_allowing_exchange(s: Session) -> set[int]:
    """Cases whose newest active consent allows exchange."""
    newest: dict[int, Consent] = {}
    for c in s.scalars(
        select(Consent)
        .where(Consent.withdrawn_at.is_(None))
        .order_by(Consent.recorded_at, Consent.id)
    ):
        newest[c.case_id] = c
    withdrawn_cases = set(s.scalars(select(Case.id).where(Case.status == "withdrawn")))
    return {cid for cid, c in newest.items() if c.allow_exchange and cid not in withdrawn_cases}


# The vpdq-region streams an export carries: the halves, and the centre crops of her frames
# (the robust stage's; exported as `vpdq_crops`, read back by submission.parse_item).
STREAMS = (*REGIONS, *CROP_NAMES)


def _submission_item(item: BankItem, sigs: list[ItemSignal]) -> SubmissionItem:
    values: dict[str, ItemSignal] = {}
    frames: list[VpdqFrame] = []
    inside: list[VpdqFrame] = []
    regions: dict[str, list[VpdqFrame]] = defaultdict(list)
    for sig in sigs:
        extra = sig.extra or {}
        if sig.signal_type in EXCHANGED_TYPES:  # pdq, md5, sha256: one each
            values.setdefault(sig.signal_type, sig)
            continue
        ts = float(extra.get("ts", 0.0))
        quality = sig.quality if sig.quality is not None else 100
        if sig.signal_type == VPDQ.name:
            target = inside if extra.get("inside") else frames
            target.append(VpdqFrame(len(target), quality, sig.value, ts))
        elif sig.signal_type == VPDQ_REGION.name and extra.get("region") in STREAMS:
            region = regions[str(extra["region"])]
            region.append(VpdqFrame(len(region), quality, sig.value, ts))
    pdq = values.get("pdq")
    return SubmissionItem(
        md5=values["md5"].value if "md5" in values else "",
        sha256=values["sha256"].value if "sha256" in values else "",
        pdq=pdq.value if pdq is not None else None,
        pdq_quality=pdq.quality if pdq is not None else None,
        width=item.width,
        height=item.height,
        media_type=item.media_type,
        frames=tuple(frames),
        inside=tuple(inside),
        regions={k: tuple(v) for k, v in regions.items()},
    )


def record_export(
    db: Database, bank_name: str, fmt: str, exported: int, withheld: int, out_name: str
) -> None:
    """An audit entry for every export: what left, in which format, to which file."""
    with db.session() as s:
        audit.record(
            s,
            "bank-export",
            details={
                "bank": bank_name,
                "format": fmt,
                "exported": exported,
                "withheld": withheld,
                "file": out_name,
            },
        )


def check_bank(db: Database, bank_name: str) -> Bank:
    with db.session() as s:
        return repository.get_bank(s, bank_name)
