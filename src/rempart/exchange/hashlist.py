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
import hashlib
import hmac
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from rempart.exchange.bank_import import import_submission
from rempart.exchange.consent import ConsentRecord, FormatError
from rempart.exchange.submission import Submission, SubmissionItem
from rempart.index.binary_index import hex_to_array
from rempart.scan import hash_cache
from rempart.signals.vpdq import REGIONS, VpdqFrame
from rempart.store import audit, repository
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database
from rempart.store.models import Bank, BankItem, Case, Consent, ItemSignal, Withdrawal, utcnow

MAX_JSON_BYTES = 64 * 1024 * 1024  # a JSON document parsed whole: keep it bounded
MAX_STREAMED_JSON_BYTES = 512 * 1024 * 1024  # JSON lists are read as a stream
MAX_TEXT_BYTES = 512 * 1024 * 1024  # CSV and text lists are streamed line by line
MAX_LINE_CHARS = 4096
MAX_PROBLEMS_SHOWN = 1000  # past this, problems are counted, not all kept
HEX_LENGTH = {"pdq": 64, "md5": 32, "sha256": 64}
EXCHANGED_TYPES = ("pdq", "md5", "sha256")


def clean_hex(value: Any, kind: str) -> str | None:
    """The lowercase hex of a `kind` hash, or None if it is not one."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if len(text) != HEX_LENGTH[kind]:
        return None
    try:
        bytes.fromhex(text)
    except ValueError:
        return None
    return text


def _seen_key(kind: str, value: str) -> bytes:
    """A compact key for a hash seen in a list (a million of them stay small): the
    signal type's initial (p, m, s) and the hash's bytes."""
    try:
        return kind[:1].encode() + bytes.fromhex(value)
    except ValueError:
        return kind.encode() + b":" + value.encode()


@dataclass
class ParsedList:
    """What one list file holds, and what was wrong in it.

    Read whole, `items` holds every hash to add. Read as a stream (`sink` set), `items`
    holds at most `batch` of them: each full batch is handed to `sink` (which imports it)
    and cleared; `handed` counts what went to the sink."""

    source: str
    format: str
    items: list[SubmissionItem] = field(default_factory=list)
    labels: list[str | None] = field(default_factory=list)  # per item
    withdrawn: list[tuple[str, str]] = field(default_factory=list)  # (pdq|md5|sha256, hex)
    withdrawn_digests: list[tuple[str, str]] = field(default_factory=list)  # (type, sha256)
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0
    records: int = 0
    sink: Callable[[ParsedList], None] | None = None  # takes `items` and `labels`
    batch: int = 20_000
    handed: int = 0
    bytes_read: int = 0  # how far reading got in the file (for progress)
    # hash key -> 2 x record number + 1 if it was withdrawn
    _seen: dict[bytes, int] = field(default_factory=dict)

    def problem(self, record: int | None, message: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS_SHOWN:
            where = f"{self.source}: record {record}" if record is not None else self.source
            self.problems.append(f"{where}: {message}")

    def add_item(self, record: int, item: SubmissionItem, label: str | None = None) -> None:
        """Add a hash to import, unless the file already had it (a duplicate, reported; if
        an earlier record withdrew it, the withdrawal stands)."""
        if item.pdq and not item.md5 and not item.sha256:  # a partner's PDQ (most lists)
            keys = [("pdq", _seen_key("pdq", item.pdq))]
        else:
            keys = [(k, _seen_key(k, v)) for k, v in (("sha256", item.sha256),
                                                      ("md5", item.md5), ("pdq", item.pdq))
                    if v]  # fmt: skip
        for kind, key in keys:
            seen = self._seen.get(key)
            if seen is not None:
                what = "withdrawn by" if seen & 1 else "a duplicate of"
                self.problem(record, f"same {kind} hash as record {seen >> 1}: {what} it, "
                                     "ignored")  # fmt: skip
                return
        for _, key in keys:
            self._seen[key] = record << 1
        self.items.append(item)
        self.labels.append(label)
        if self.sink is not None and len(self.items) >= self.batch:
            self.flush()

    def flush(self) -> None:
        """Hand the items held to the sink (streamed reading)."""
        if self.sink is not None and self.items:
            self.sink(self)
            self.handed += len(self.items)
            self.items, self.labels = [], []

    def add_withdrawal(self, record: int, kind: str, value: str) -> None:
        """A withdrawn hash. Withdrawal wins over an earlier record adding the same hash:
        in doubt, a hash is deleted, never kept (an addition already imported by a streamed
        read is deleted again when the withdrawals are applied, after the items)."""
        key = _seen_key(kind, value)
        seen = self._seen.get(key)
        if seen is not None:
            if seen & 1:
                self.problem(record, f"same {kind} hash as record {seen >> 1}: a duplicate, "
                                     "ignored")  # fmt: skip
                return
            self.problem(record, f"withdraws the {kind} hash that record {seen >> 1} adds: "
                                 "withdrawn (a withdrawal wins)")  # fmt: skip
            self._drop_item(kind, value)
        self._seen[key] = (record << 1) | 1
        self.withdrawn.append((kind, value))

    def _drop_item(self, kind: str, value: str) -> None:
        for i, item in enumerate(self.items):
            if {"pdq": item.pdq, "md5": item.md5, "sha256": item.sha256}[kind] == value:
                del self.items[i]
                del self.labels[i]
                return


# --- reading files -------------------------------------------------------------------------


def _size(path: Path, limit: int) -> int:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise FormatError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if not path.is_file():
        raise FormatError(f"{path}: not a file")
    if size > limit:
        raise FormatError(f"{path}: file is {size} bytes, over the {limit} byte limit")
    return size


def load_json(path: Path) -> Any:
    """A whole JSON file, bounded in size; FormatError names the file and what is wrong."""
    _size(path, MAX_JSON_BYTES)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise FormatError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path}: not UTF-8 text") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}"
                          ) from exc  # fmt: skip
    except RecursionError as exc:
        raise FormatError(f"{path}: JSON nested too deeply") from exc


def text_lines(path: Path, parsed: ParsedList) -> Iterable[tuple[int, str]]:
    """(line number, line) of a text file, streamed: bounded in size and line length; a
    line that is not UTF-8 or too long is a problem, and reading goes on."""
    _size(path, MAX_TEXT_BYTES)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise FormatError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    with handle:
        yield from _lines(handle, path, parsed)


def _lines(handle: Any, path: Path, parsed: ParsedList) -> Iterable[tuple[int, str]]:
    number = 0
    while True:
        try:
            raw = handle.readline(MAX_LINE_CHARS + 1)  # bounded, even with no newline
            number += 1
            if len(raw) > MAX_LINE_CHARS and not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):  # skip the rest of that line
                    raw = handle.readline(1 << 16)
                parsed.problem(number, f"line longer than {MAX_LINE_CHARS} characters")
                continue
        except OSError as exc:  # a disk error halfway: the file is refused as a whole
            raise FormatError(f"{path}: read error ({exc.strerror or exc})") from exc
        if not raw:
            return
        if number % 256 == 0:
            parsed.bytes_read = handle.tell()
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            parsed.problem(number, "not UTF-8 text")
            continue
        yield number, line.rstrip("\r\n")


def image_item(pdq: str, quality: int | None = None) -> SubmissionItem:
    return SubmissionItem(md5="", sha256="", pdq=pdq, pdq_quality=quality, width=None,
                          height=None)  # fmt: skip


def video_item(md5: str = "", sha256: str = "") -> SubmissionItem:
    return SubmissionItem(md5=md5, sha256=sha256, pdq=None, pdq_quality=None, width=None,
                          height=None, media_type="video")  # fmt: skip


# --- import --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListImportResult:
    added: int
    duplicates: int  # already in the bank for this case
    low_quality: int
    withdrawn: int  # bank entries deleted by withdrawals in the list
    withdrawn_elsewhere_kept: int  # entries of other cases with a withdrawn hash, kept
    consent_recorded: bool


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
    added = duplicates = low = 0
    consent_recorded = False
    with bank_index.db.session() as s:
        repository.get_bank(s, bank_name)  # an unknown bank is refused before anything
    by_label: dict[str | None, list[SubmissionItem]] = defaultdict(list)
    for item, label in zip(parsed.items, parsed.labels, strict=True):
        by_label[label].append(item)
    for label, items in by_label.items():
        result = import_submission(
            bank_index, bank_name, Submission(items=items), case_number=case_number,
            consent=None if consent_recorded else consent,
            source_name=f"{parsed.format}:{Path(parsed.source).name}"[:500], label=label,
        )  # fmt: skip
        consent_recorded = consent_recorded or result.consent_recorded
        added += result.added
        duplicates += result.duplicates
        low += result.low_quality
    removed, kept = 0, 0
    if parsed.withdrawn or parsed.withdrawn_digests:
        removed, kept = withdraw_hashes(
            bank_index, parsed.withdrawn, parsed.withdrawn_digests,
            case_number=None if withdraw_everywhere else case_number,
            source=f"{parsed.format}:{Path(parsed.source).name}",
        )  # fmt: skip
    return ListImportResult(added, duplicates, low, removed, kept, consent_recorded)


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
    """Import a list file as it is read: each batch of `batch` hashes in its own
    transaction (consent checked, change feed and audit written, as `import_submission`
    does), the index saved once at the end. A list of a million hashes takes about a minute
    and 410 MB (read whole, it took 18 minutes and 2.2 GB; bench/list_import_bench.py).
    FormatError for a file that
    cannot be read at all (nothing is imported: it is checked before the first batch);
    StoreError when refused (no consent: nothing is stored). Withdrawals in the list are
    applied after its additions (a withdrawal wins)."""
    from rempart.exchange.lists import read_list  # lists imports the formats, which import us

    with bank_index.db.session() as s:
        bank = repository.get_bank(s, bank_name)  # an unknown bank: refused before anything
        case = repository.get_case(s, case_number)
        # a case with no entries in the bank yet: no item can be there already (and the
        # reader drops the list's own duplicates), so batches skip that lookup
        had_entries = case is not None and s.scalar(select(BankItem.id).where(
            BankItem.bank_id == bank.id, BankItem.case_id == case.id).limit(1)) is not None
    try:
        total = path.stat().st_size
    except OSError:
        total = 0
    counts = {"added": 0, "duplicates": 0, "low": 0}
    consent_recorded = False
    # the PDQ hashes stored, indexed once at the end (40 bytes each: 40 MB for a million)
    new_ids: list[np.ndarray] = []
    new_hashes: list[np.ndarray] = []

    def to_index(added: list[tuple[int, str]]) -> None:
        if added:
            new_ids.append(np.fromiter((a[0] for a in added), np.int64, len(added)))
            new_hashes.append(hex_to_array([a[1] for a in added]))

    def sink(parsed: ParsedList) -> None:
        nonlocal consent_recorded
        by_label: dict[str | None, list[SubmissionItem]] = defaultdict(list)
        for item, item_label in zip(parsed.items, parsed.labels, strict=True):
            by_label[label if label is not None else item_label].append(item)
        for group_label, group in by_label.items():
            result = import_submission(
                bank_index, bank_name, Submission(items=group), case_number=case_number,
                consent=None if consent_recorded else consent,
                source_name=f"{parsed.format}:{path.name}"[:500], label=group_label,
                save_index=False, index_sink=to_index, check_duplicates=had_entries,
            )  # fmt: skip
            consent_recorded = consent_recorded or result.consent_recorded
            counts["added"] += result.added
            counts["duplicates"] += result.duplicates
            counts["low"] += result.low_quality
        if progress is not None:
            progress(ImportProgress(parsed.bytes_read, total, parsed.records, counts["added"]))

    try:
        with _bulk_writes(bank_index.db):
            parsed = read_list(path, fmt, sink=sink, batch=batch)
        parsed._seen.clear()  # the duplicate check's memory, before the index is built
        _give_back_freed_memory()
    finally:  # whatever was imported is indexed (in memory and in the index files)
        ids = np.concatenate(new_ids) if new_ids else np.empty(0, np.int64)
        new_ids.clear()
        hashes = np.concatenate(new_hashes) if new_hashes else np.empty((0, 32), np.uint8)
        new_hashes.clear()  # one copy of the hashes held while the index is built
        bank_index.add_batch(ids, hashes)
        del ids, hashes
    removed, kept = 0, 0
    if parsed.withdrawn or parsed.withdrawn_digests:
        removed, kept = withdraw_hashes(
            bank_index, parsed.withdrawn, parsed.withdrawn_digests,
            case_number=None if withdraw_everywhere else case_number,
            source=f"{parsed.format}:{path.name}",
        )  # fmt: skip
    if progress is not None:
        progress(ImportProgress(total, total, parsed.records, counts["added"]))
    return parsed, ListImportResult(counts["added"], counts["duplicates"], counts["low"],
                                    removed, kept, consent_recorded)  # fmt: skip


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


@contextmanager
def _bulk_writes(db: Database) -> Iterator[None]:
    """SQLite: a larger page cache on the connections a list import uses. The hash index
    (item_signals by type and value) takes the new hashes at random places: with SQLite's
    default 2 MB cache, every insert past the first few hundred thousand read its pages
    back from the file (a million hashes: ~100 MB of index). The cache goes back to what it
    was when the connection returns to the pool."""
    if db.backend != "sqlite":
        yield
        return

    def grow(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        cursor = dbapi_connection.cursor()
        if "rempart_cache_size" not in record.info:
            record.info["rempart_cache_size"] = cursor.execute("PRAGMA cache_size").fetchone()[0]
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_IMPORT_CACHE_KB}")
        cursor.close()

    def shrink(dbapi_connection: Any, record: Any) -> None:
        size = record.info.pop("rempart_cache_size", None)
        if dbapi_connection is not None and size is not None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA cache_size={int(size)}")
            cursor.close()

    event.listen(db.engine, "checkout", grow)
    event.listen(db.engine, "checkin", shrink)
    try:
        yield
    finally:
        event.remove(db.engine, "checkout", grow)
        event.remove(db.engine, "checkin", shrink)


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
            removed += repository.delete_items(s, case, sorted(item_ids))
            audit.record(s, "list-withdraw", case=case.number,
                         details={"bank_entries": sorted(item_ids), "source": source})
            counts["removed"] += len(item_ids)
        counts["kept"] = len(others)
        return [], removed

    bank_index.change(apply)
    if counts["removed"]:
        bank_index.db.purge_deleted()
        # as rempart.cases.withdrawal does: nothing near the withdrawn hashes stays cached
        # (the bank index lives in HOME/index/<database>/pdq)
        hash_cache.purge_withdrawn(bank_index.folder.parents[2], copies)
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
                .where(ItemSignal.signal_type == kind,
                       ItemSignal.value.in_(values[start : start + 500]))
            ).all()  # fmt: skip
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


@dataclass(frozen=True)
class ExportItem:
    item: SubmissionItem
    case_number: str  # never written to a file: see case_ref
    label: str | None
    created_at: datetime
    expires_at: datetime | None


@dataclass
class ExportSet:
    bank: str
    pdq_threshold: int
    description: str
    items: list[ExportItem]
    withheld: int  # entries not exported: no consent to exchange, withdrawn or expired
    withdrawals: list[tuple[str, str, datetime]]  # (type, SHA-256 of the value, when)
    instance_key: str = ""  # this database's instance id: keys the case references

    def case_ref(self, case_number: str) -> str:
        """A stable reference to a case for partners, that says nothing of it: an HMAC of
        the case number under this instance's id (a case number can be guessed; a partner
        can still group hashes by case and cite it back)."""
        mac = hmac.new(self.instance_key.encode(), case_number.encode(), hashlib.sha256)
        return "rempart-" + mac.hexdigest()[:20]


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
            select(BankItem, Case.number).outerjoin(Case, BankItem.case_id == Case.id)
            .where(BankItem.bank_id == bank.id).order_by(BankItem.id)
        ).all()  # fmt: skip
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
            for sig in s.scalars(select(ItemSignal).where(
                    ItemSignal.item_id.in_(ids[start : start + 500])).order_by(ItemSignal.id)):
                signals[sig.item_id].append(sig)  # fmt: skip
        items = [
            ExportItem(_submission_item(item, signals[item.id]), number, item.label,
                       _aware(item.created_at) or now, _aware(item.expires_at))
            for item, number in chosen
        ]  # fmt: skip
        withdrawals = [(w.signal_type, w.value_sha256, _aware(w.withdrawn_at) or now)
                       for w in s.scalars(select(Withdrawal).order_by(Withdrawal.id))]
    return ExportSet(bank.name, bank.pdq_threshold, bank.description, items, withheld,
                     withdrawals, db.instance_id())  # fmt: skip


def _cases_allowing_exchange(s: Session) -> set[int]:
    """Cases whose newest active consent allows exchange."""
    newest: dict[int, Consent] = {}
    for c in s.scalars(select(Consent).where(Consent.withdrawn_at.is_(None))
                       .order_by(Consent.recorded_at, Consent.id)):  # fmt: skip
        newest[c.case_id] = c
    withdrawn_cases = set(s.scalars(select(Case.id).where(Case.status == "withdrawn")))
    return {cid for cid, c in newest.items() if c.allow_exchange and cid not in withdrawn_cases}


def _submission_item(item: BankItem, sigs: list[ItemSignal]) -> SubmissionItem:
    values: dict[str, ItemSignal] = {}
    frames: list[VpdqFrame] = []
    inside: list[VpdqFrame] = []
    regions: dict[str, list[VpdqFrame]] = defaultdict(list)
    for sig in sigs:
        extra = sig.extra or {}
        if sig.signal_type in ("pdq", "md5", "sha256"):
            values.setdefault(sig.signal_type, sig)
            continue
        ts = float(extra.get("ts", 0.0))
        quality = sig.quality if sig.quality is not None else 100
        if sig.signal_type == "vpdq":
            target = inside if extra.get("inside") else frames
            target.append(VpdqFrame(len(target), quality, sig.value, ts))
        elif sig.signal_type == "vpdq-region" and extra.get("region") in REGIONS:
            region = regions[str(extra["region"])]
            region.append(VpdqFrame(len(region), quality, sig.value, ts))
    pdq = values.get("pdq")
    return SubmissionItem(
        md5=values["md5"].value if "md5" in values else "",
        sha256=values["sha256"].value if "sha256" in values else "",
        pdq=pdq.value if pdq is not None else None,
        pdq_quality=pdq.quality if pdq is not None else None,
        width=item.width, height=item.height, media_type=item.media_type,
        frames=tuple(frames), inside=tuple(inside),
        regions={k: tuple(v) for k, v in regions.items()},
    )  # fmt: skip


def record_export(db: Database, bank_name: str, fmt: str, exported: int, withheld: int,
                  out_name: str) -> None:  # fmt: skip
    """An audit entry for every export: what left, in which format, to which file."""
    with db.session() as s:
        audit.record(s, "bank-export", details={"bank": bank_name, "format": fmt,
                                                "exported": exported, "withheld": withheld,
                                                "file": out_name})  # fmt: skip


def write_atomic(path: Path, text: str) -> None:
    """A half-written list never replaces a good one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def check_bank(db: Database, bank_name: str) -> Bank:
    with db.session() as s:
        return repository.get_bank(s, bank_name)

