"""The withdrawal ledger: what a person withdrew stays withdrawn, even after a restore.

Why: the database is backed up (rempart.ops.backup) and a backup is older than the
withdrawals made after it. Restoring last week's backup would bring back the hashes and
face templates a person withdrew since: a breach of her withdrawal. So every withdrawal
(rempart.cases.withdrawal) also appends an entry here, outside the database and never in a
backup, and every restore, and every `rempart serve` start, re-applies the ledger before
anything is served (`enforce`).

What it holds: one-way digests, never a hash or a reference itself: per entry the time,
the kind of withdrawal, a digest of the case number, and digests of each withdrawn hash
(signal type and value: pdq, md5, sha256, video frames) and of each withdrawn face
template's reference. Each digest is HMAC-SHA256 under the ledger's own random 256-bit key
(the file beside the ledger, `<ledger>.key`, mode 0600; a copy travels in every encrypted
backup, so a restore on a new machine can read the ledger kept elsewhere), bound to the
case number. Keyed, not merely salted: anyone holding the ledger file alone (a copy on
another disk, in a support ticket) cannot confirm that a known hash (from a shared list of
known images) was withdrawn here by hashing a dictionary of candidates; bound to the case,
so re-applying one case's withdrawal never removes the same picture registered by another
person's case.

Integrity: one JSON line per entry, appended under an exclusive lock (several server
workers), fsynced (file and folder) before the withdrawal's transaction commits; each line
carries the MAC of the one before it and its own MAC (HMAC under the same key), so a
changed, removed or reordered line is found. The database keeps the ledger head it has
seen (meta `withdrawal_ledger`, written in the withdrawal's transaction): a ledger shorter
than what the database has seen (truncated, replaced, lost) is refused, never ignored.
An entry written whose transaction then failed is re-applied like the others: she asked
for it.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rempart import keyfile
from rempart.config import ledger_path
from rempart.errors import SetupError
from rempart.signals.types import REGISTRY
from rempart.store import audit, face_templates, repository, review_copies
from rempart.store.bank_index import BankIndex
from rempart.store.models import BankItem, Case, CaseEvent, FaceTemplate, ItemSignal

FORMAT = "rempart-withdrawal-ledger"
VERSION = 1
META_KEY = "withdrawal_ledger"
# Derived hashes of a picture (its crops, regions, keypoints): the item's own hashes are
# enough to know it again.
DERIVED_SIGNALS = frozenset(REGISTRY.derived())


class LedgerError(SetupError):
    """The ledger or its key is missing, damaged or does not belong to this database."""


def key_path(path: Path) -> Path:
    return path.with_name(path.name + ".key")


def _canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def key_fingerprint(key: bytes) -> str:
    return hashlib.sha256(b"rempart-ledger-key:" + key).hexdigest()[:16]


def write_key(path: Path, key: bytes) -> None:
    """Put the ledger key beside the ledger at `path` (0600; refuses to replace another)."""
    keyfile.create_key(key_path(path), key, error=LedgerError, durable=True)


def load_key(path: Path, *, create: bool) -> bytes | None:
    """The ledger's key; made when missing and `create` (and no ledger exists yet)."""
    kp = key_path(path)
    if kp.exists():
        return keyfile.read_key(kp, LedgerError, "the withdrawal ledger's key")
    if path.exists() and path.stat().st_size:
        raise LedgerError(
            f"the withdrawal ledger {path} has no key beside it ({kp}): restore the key from "
            "a backup (rempart restore puts it back) before anything is served"
        )
    if not create:
        return None
    key = secrets.token_bytes(32)
    write_key(path, key)
    return key


@dataclass
class Ledger:
    """The ledger's entries, checked (see the module's docstring)."""

    path: Path
    key: bytes
    entries: list[dict[str, Any]] = field(default_factory=list)
    head: str = ""  # MAC of the last line (the header's when there is no entry)

    def digest(self, kind: str, case: str, *parts: str) -> str:
        message = "\0".join((kind, case, *parts)).encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def signal_digest(self, case: str, signal_type: str, value: str) -> str:
        return self.digest("signal", case, signal_type, value)

    def template_digest(self, case: str, ref: str) -> str:
        return self.digest("template", case, ref)

    def case_digest(self, case: str) -> str:
        return self.digest("case", case)

    def mac(self, doc: dict[str, Any]) -> str:
        return hmac.new(self.key, _canonical(doc), hashlib.sha256).hexdigest()


def _parse(path: Path, key: bytes, text: str) -> Ledger:
    ledger = Ledger(path, key)
    lines = text.split("\n")
    if lines and lines[-1] != "":  # a line cut by a crash mid-write: not an entry
        lines = lines[:-1]
    lines = [line for line in lines if line]
    if not lines:
        return ledger
    for number, line in enumerate(lines, 1):
        try:
            doc = json.loads(line)
        except ValueError:
            raise LedgerError(f"{path}: line {number} is not a ledger line (altered)") from None
        if not isinstance(doc, dict):
            raise LedgerError(f"{path}: line {number} is not a ledger line (altered)")
        mac = doc.pop("mac", None)
        if number == 1:
            if doc.get("format") != FORMAT:
                raise LedgerError(f"{path}: not a Rempart withdrawal ledger")
            if doc.get("version") != VERSION:
                raise LedgerError(
                    f"{path}: ledger version {doc.get('version')} is not one this Rempart "
                    "reads (made by a newer version?)"
                )
            if doc.get("key") != key_fingerprint(key):
                raise LedgerError(
                    f"{path}: written under another key than {key_path(path)} (the key of "
                    "another ledger?)"
                )
        elif doc.get("prev") != ledger.head or doc.get("seq") != number - 1:
            raise LedgerError(
                f"{path}: line {number} does not follow the line before it (a line was "
                "removed, moved or changed)"
            )
        if not isinstance(mac, str) or not hmac.compare_digest(mac, ledger.mac(doc)):
            raise LedgerError(f"{path}: line {number} was changed (its MAC does not match)")
        ledger.head = mac
        if number > 1:
            ledger.entries.append(dict(doc, mac=mac))
    return ledger


def read(path: Path) -> Ledger | None:
    """The ledger at `path`, checked; None when there is none yet (and no key)."""
    key = load_key(path, create=False)
    if key is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Ledger(path, key)
    except (OSError, UnicodeDecodeError) as exc:
        raise LedgerError(f"{path}: cannot read the withdrawal ledger ({exc})") from exc
    return _parse(path, key, text)


def check_key(path: Path, key: bytes) -> Ledger:
    """The ledger at `path` (empty when there is none) read with `key`; LedgerError unless
    it opens with it (a restore checks the key it brings before putting it beside the
    ledger)."""
    if len(key) != 32:
        raise LedgerError("the withdrawal ledger key in the backup is not a 256-bit key")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Ledger(path, key)
    except (OSError, UnicodeDecodeError) as exc:
        raise LedgerError(f"{path}: cannot read the withdrawal ledger ({exc})") from exc
    return _parse(path, key, text)


def accept_lost(bank_index: BankIndex, home: Path) -> None:
    """The operator says the ledger the database had seen is lost (`rempart restore
    --ledger-lost`): from now on the database follows the ledger there is (perhaps none
    yet), and the audit log records how many ledgered withdrawals can no longer be
    re-applied."""
    ledger = read(ledger_path(home))
    count = len(ledger.entries) if ledger else 0
    with bank_index.db.session() as s:
        seen = _db_head(s)
        audit.record(
            s,
            "withdrawal-ledger-lost",
            details={"database_had_seen": seen[0] if seen else 0, "ledger_entries": count},
        )
        _set_head(s, count, ledger.head if ledger else "")


@contextmanager
def _locked(path: Path) -> Iterator[int]:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)  # releases the lock


def ensure(home: Path) -> bytes:
    """Make the ledger's key (and its header) when missing; returns the key (a backup
    carries it)."""
    path = ledger_path(home)
    key = load_key(path, create=True)
    assert key is not None
    with _locked(path) as fd:
        if os.fstat(fd).st_size == 0:
            ledger = Ledger(path, key)
            header = {"format": FORMAT, "version": VERSION, "key": key_fingerprint(key)}
            header["created_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            line = dict(header, mac=ledger.mac(header))
            os.write(fd, _canonical(line) + b"\n")
            os.fsync(fd)
            keyfile.fsync_dir(path.parent)
    return key


def append(
    s: Session,
    home: Path,
    event: str,
    case: str,
    signals: Iterable[tuple[str, str]] = (),
    templates: Iterable[str] = (),
) -> int:
    """Append one withdrawal (fsynced) and record the new head in the caller's transaction;
    returns its sequence number. `signals`: (type, value) of each withdrawn hash;
    `templates`: the withdrawn templates' references."""
    path = ledger_path(home)
    key = ensure(home)
    with _locked(path) as fd:
        text = os.pread(fd, os.fstat(fd).st_size, 0).decode("utf-8")
        if not text.endswith("\n"):  # a line cut by a crash: drop it before appending
            cut = text.rfind("\n") + 1
            os.ftruncate(fd, cut)
            text = text[:cut]
        ledger = _parse(path, key, text)
        seq = len(ledger.entries) + 1
        doc: dict[str, Any] = {
            "seq": seq,
            "prev": ledger.head,
            # to the microsecond: a consent recorded in the same second as the withdrawal
            # must still count as before it when the ledger is re-applied
            "at": datetime.now(UTC).isoformat(timespec="microseconds"),
            "event": event,
            "case": ledger.case_digest(case),
            "signals": sorted({ledger.signal_digest(case, t, v) for t, v in signals}),
            "templates": sorted({ledger.template_digest(case, r) for r in templates}),
        }
        mac = ledger.mac(doc)
        os.lseek(fd, 0, os.SEEK_END)
        os.write(fd, _canonical(dict(doc, mac=mac)) + b"\n")
        os.fsync(fd)
    _set_head(s, seq, mac)
    return seq


def _set_head(s: Session, count: int, mac: str) -> None:
    from rempart.store.models import Meta

    value = json.dumps({"count": count, "head": mac})
    row = s.get(Meta, META_KEY)
    if row is None:
        s.add(Meta(key=META_KEY, value=value))
    else:
        row.value = value


def withdrawn_signals(
    s: Session, item_ids: Iterable[int] | None = None, case: Case | None = None
) -> list[tuple[str, str]]:
    """The (type, value) of the hashes of some bank items, or of every item of a case, that
    the ledger records (derived hashes left out)."""
    query = select(ItemSignal.signal_type, ItemSignal.value).join(
        BankItem, ItemSignal.item_id == BankItem.id
    )
    if case is not None:
        query = query.where(BankItem.case_id == case.id)
    if item_ids is not None:
        query = query.where(BankItem.id.in_(list(item_ids)))
    return [
        (str(t), str(v))
        for t, v in s.execute(query.where(ItemSignal.signal_type.not_in(DERIVED_SIGNALS)))
    ]


def template_refs(s: Session, case: Case, ids: Iterable[int] | None = None) -> list[str]:
    query = select(FaceTemplate.ref).where(FaceTemplate.case_id == case.id)
    if ids is not None:
        query = query.where(FaceTemplate.id.in_(list(ids)))
    return [str(r) for r in s.scalars(query)]


@dataclass(frozen=True)
class Pending:
    """A withdrawal to ledger: read before its rows are deleted, written (`write`) once
    they are, in the same transaction."""

    event: str
    case: str
    signals: list[tuple[str, str]]
    templates: list[str]


def prepare_case(s: Session, case: Case) -> Pending:
    """What a whole case's withdrawal removes (call before its rows are deleted)."""
    return Pending(
        "case-withdraw", case.number, withdrawn_signals(s, case=case), template_refs(s, case)
    )


def prepare_items(s: Session, case: Case, item_ids: list[int], template_ids: list[int]) -> Pending:
    """What withdrawing some bank entries and templates of a case removes (before they go)."""
    signals = withdrawn_signals(s, item_ids, case) if item_ids else []
    refs = template_refs(s, case, template_ids) if template_ids else []
    return Pending("withdraw-items", case.number, signals, refs)


def write(s: Session, home: Path, pending: Pending) -> int:
    """Append `pending` to the ledger (fsynced) before the caller's transaction commits."""
    return append(s, home, pending.event, pending.case, pending.signals, pending.templates)


@dataclass(frozen=True)
class Enforcement:
    """What re-applying the ledger did (all zero when the database was already in step)."""

    entries: int  # entries in the ledger
    checked: bool  # False: the database had already seen this ledger's head
    bank_entries: int = 0
    face_templates: int = 0
    cases: int = 0  # whole cases marked withdrawn again

    @property
    def changed(self) -> bool:
        return bool(self.bank_entries or self.face_templates or self.cases)


def _entry_time(text: str) -> datetime:
    """An entry's time; one written to the second (older ledgers) stands for the end of
    that second, so that what was recorded within it counts as before the withdrawal."""
    at = _utc(datetime.fromisoformat(text))
    if "." not in text:
        at += timedelta(microseconds=999_999)
    return at


def _utc(value: datetime) -> datetime:
    """A time as an aware UTC datetime (SQLite gives naive UTC times, PostgreSQL aware)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _db_head(s: Session) -> tuple[int, str] | None:
    from rempart.store.models import Meta

    row = s.get(Meta, META_KEY)
    if row is None:
        return None
    try:
        doc = json.loads(row.value)
        return int(doc["count"]), str(doc["head"])
    except (ValueError, KeyError, TypeError):
        return None


def enforce(bank_index: BankIndex, home: Path, *, reason: str, force: bool = False) -> Enforcement:
    """Re-apply every withdrawal the ledger records that the database still holds (a
    restored older backup): their bank entries and face templates are deleted (with the
    partners' withdrawal records, the index in step), whole cases marked withdrawn again,
    an audit entry records it (`reason`: restore, serve), and the deleted rows leave the
    database files. Fast when the database has already seen the ledger's head (unless
    `force`). LedgerError when the ledger is damaged, or shorter than what the database
    has seen."""
    path = ledger_path(home)
    db = bank_index.db
    with db.session() as s:
        seen = _db_head(s)
    ledger = read(path) if path.exists() else None
    if ledger is None:
        if seen is not None and seen[0] > 0:
            raise LedgerError(
                f"this database has seen {seen[0]} withdrawal(s) but there is no withdrawal "
                f"ledger at {path}: put it back (or set REMPART_LEDGER to where it is) before "
                "anything is served"
            )
        return Enforcement(0, checked=False)
    count = len(ledger.entries)
    if seen is not None:
        if seen[0] > count:
            raise LedgerError(
                f"{path} has {count} withdrawal(s) but this database has seen {seen[0]}: the "
                "ledger was truncated or replaced; put the right one back"
            )
        if seen[0] and ledger.entries[seen[0] - 1]["mac"] != seen[1]:
            raise LedgerError(
                f"{path} is not the withdrawal ledger this database has seen (its entry "
                f"{seen[0]} differs): put the right one back, or set REMPART_LEDGER to it"
            )
        if seen[0] == count and seen[1] == ledger.head and not force:
            return Enforcement(count, checked=False)
    if not ledger.entries:
        return Enforcement(0, checked=True)
    # per case digest: each withdrawn signal's and template's digest -> when it was last
    # withdrawn. Only what was registered by then goes again: a photo she withdrew and
    # registered again later (a new consent) stays.
    signal_sets: dict[str, dict[str, datetime]] = {}
    template_sets: dict[str, dict[str, datetime]] = {}
    case_withdrawn: dict[str, datetime] = {}
    for entry in ledger.entries:
        cd = str(entry.get("case"))
        at = _entry_time(str(entry["at"]))
        for digests, into in (
            (entry.get("signals") or [], signal_sets.setdefault(cd, {})),
            (entry.get("templates") or [], template_sets.setdefault(cd, {})),
        ):
            for d in digests:
                into[d] = max(into.get(d, at), at)
        if entry.get("event") == "case-withdraw":
            case_withdrawn[cd] = max(case_withdrawn.get(cd, at), at)
    counts = {"items": 0, "templates": 0, "cases": 0, "indexed": 0}

    copy_files: list[Path] = []

    def apply(s: Session) -> tuple[list[tuple[int, str]], list[int]]:
        removed: list[int] = []
        for case in s.scalars(select(Case).order_by(Case.id)):
            cd = ledger.case_digest(case.number)
            if cd not in signal_sets:
                continue
            wanted = signal_sets[cd]
            items: set[int] = set()
            if wanted:
                rows = s.execute(
                    select(
                        BankItem.id, BankItem.created_at, ItemSignal.signal_type, ItemSignal.value
                    )
                    .join(ItemSignal, ItemSignal.item_id == BankItem.id)
                    .where(
                        BankItem.case_id == case.id,
                        ItemSignal.signal_type.not_in(DERIVED_SIGNALS),
                    )
                )
                for item_id, created, t, v in rows:
                    until = wanted.get(ledger.signal_digest(case.number, t, v))
                    if until is not None and _utc(created) <= until:
                        items.add(int(item_id))
            if items:
                # the encrypted review copies of their matches go with them (an older backup
                # brings their files back too)
                copy_files.extend(review_copies.discard_for_bank_items(s, sorted(items)))
                removed += repository.delete_items(s, case, sorted(items))
                counts["items"] += len(items)
            refs = template_sets.get(cd) or {}
            gone: list[int] = []
            for tpl in s.scalars(select(FaceTemplate).where(FaceTemplate.case_id == case.id)):
                until = refs.get(ledger.template_digest(case.number, tpl.ref))
                if until is not None and _utc(tpl.created_at) <= until:
                    gone.append(tpl.id)
            if gone:
                copy_files.extend(review_copies.discard_for_templates(s, gone))
                face_templates.delete_templates(s, case, gone)
                counts["templates"] += len(gone)
            at = case_withdrawn.get(cd)
            if at is not None:
                again = False
                for consent in case.consents:
                    if consent.withdrawn_at is None and _utc(consent.recorded_at) <= at:
                        consent.withdrawn_at = at
                        again = True
                if case.status != "withdrawn" and not any(
                    _utc(c.recorded_at) > at for c in case.consents
                ):
                    s.add(
                        CaseEvent(
                            case_id=case.id,
                            actor="rempart",
                            from_status=case.status,
                            to_status="withdrawn",
                            note="withdrawal re-applied from the withdrawal ledger",
                        )
                    )
                    case.status = "withdrawn"
                    again = True
                counts["cases"] += again
        if counts["items"] or counts["templates"] or counts["cases"]:
            audit.record(
                s,
                "withdrawal-reapplied",
                actor="rempart",
                details={
                    "reason": reason,
                    "ledger_entries": count,
                    "bank_entries": counts["items"],
                    "face_templates": counts["templates"],
                    "cases": counts["cases"],
                },
            )
        _set_head(s, count, ledger.head)
        counts["indexed"] = len(removed)
        return [], removed

    bank_index.change(apply)
    if copy_files:
        with db.session() as s:
            review_copies.unlink(s, copy_files)
    if (counts["items"] or counts["templates"] or counts["cases"]) and not counts["indexed"]:
        db.purge_deleted()  # (change() purged already when indexed hashes went)
    return Enforcement(
        count,
        checked=True,
        bank_entries=counts["items"],
        face_templates=counts["templates"],
        cases=counts["cases"],
    )
