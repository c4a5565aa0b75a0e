"""Queries and changes on banks, cases and their signals, in one transaction each."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, delete, or_, select, text
from sqlalchemy.orm import Session

from rempart.signals.types import LOCAL_FEATURES, PDQ_VARIANT, REGISTRY
from rempart.store import changefeed, light
from rempart.store.errors import StoreError as StoreError  # re-exported
from rempart.store.light import BankSummary as BankSummary  # re-exported
from rempart.store.models import Bank, BankItem, Case, Consent, ItemSignal, Withdrawal

BANK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
CASE_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ConsentRecordLike(Protocol):
    """What the store reads from a consent record (read-only: exchange's is a frozen dataclass)."""

    @property
    def given_by(self) -> str: ...
    @property
    def given_at(self) -> datetime: ...
    @property
    def purpose(self) -> str: ...
    @property
    def retention_until(self) -> datetime | None: ...
    @property
    def allow_exchange(self) -> bool: ...

    def to_json(self) -> dict[str, Any]: ...


def create_bank(s: Session, name: str, *, description: str = "", pdq_threshold: int = 31) -> Bank:
    if not BANK_NAME.match(name):
        raise StoreError(
            f"invalid bank name {name!r}: use letters, digits, '-', '_' or '.' (max 100)"
        )
    if not 0 <= pdq_threshold <= 63:
        raise StoreError("the PDQ threshold must be between 0 and 63")
    if s.scalar(select(Bank).where(Bank.name == name)) is not None:
        raise StoreError(f"a bank named {name!r} already exists")
    bank = Bank(name=name, description=description, pdq_threshold=pdq_threshold)
    s.add(bank)
    s.flush()
    return bank


def get_bank(s: Session, name: str) -> Bank:
    bank = s.scalar(select(Bank).where(Bank.name == name))
    if bank is None:
        raise StoreError(f"no bank named {name!r} (see `rempart bank list`)")
    return bank


def list_banks(s: Session) -> list[BankSummary]:
    """Every bank with its entry and case counts: `rempart.store.light.list_banks`'s one
    query (SQL text, also run without SQLAlchemy by `rempart bank list`), in this session."""
    return light.bank_summaries(s.execute(text(light.BANKS_SQL)).all())


def get_case(s: Session, number: str) -> Case | None:
    return s.scalar(select(Case).where(Case.number == number))


def check_case_number(number: str) -> str:
    """The case number, stripped, if it is one (letters, digits, '-', '_', '.', 1 to 64,
    starting with a letter or digit: no '/', no '..' path); StoreError saying so otherwise.
    Every new case (CLI, API, import, UI) passes here."""
    number = number.strip()
    if not CASE_NUMBER.match(number) or ".." in number:
        raise StoreError(
            f"invalid case number {number[:80]!r}: 1 to 64 letters, digits, "
            "'-', '_' or '.', starting with a letter or digit"
        )
    return number


def get_or_create_case(s: Session, number: str) -> Case:
    number = number.strip()
    if not number or len(number) > 64:
        raise StoreError("a case number must be 1 to 64 characters")
    case = get_case(s, number)
    if case is None:
        case = Case(number=check_case_number(number))
        s.add(case)
        s.flush()
    return case


def case_number(s: Session, case_id: int) -> str | None:
    case = s.get(Case, case_id)
    return case.number if case is not None else None


def active_consent(s: Session, case: Case) -> Consent | None:
    return s.scalar(
        select(Consent)
        .where(Consent.case_id == case.id, Consent.withdrawn_at.is_(None))
        .order_by(Consent.recorded_at.desc())
        .limit(1)
    )


def record_consent(s: Session, case_id: int, record: ConsentRecordLike) -> Consent:
    """Store a consent record (who, when, what for, until when, exchange allowed) on a case."""
    allowed_before = changefeed.allows_exchange(s, case_id)
    row = Consent(
        case_id=case_id,
        given_by=record.given_by,
        given_at=record.given_at,
        purpose=record.purpose,
        retention_until=record.retention_until,
        allow_exchange=record.allow_exchange,
        document=record.to_json(),
    )
    s.add(row)
    s.flush()
    changefeed.consent_changed(s, case_id, allowed_before)  # partners: offered or withdrawn
    return row


# Signals kept in the PDQ index: image PDQ, video frames (vPDQ, whole or inside black bars)
# and video frame halves. Stills and videos share one index, so each finds the other.
# Photos also have PDQ variants (crops, rotations, regions: "pdq-variant", matched only by
# the robust stage) and local features ("local-features": never indexed by value).
VARIANT_SIGNAL = PDQ_VARIANT.name  # "pdq-variant"
FEATURES_SIGNAL = LOCAL_FEATURES.name  # "local-features"
# the types in the bank's PDQ index: pdq, vpdq, vpdq-region, pdq-variant
INDEXED_SIGNAL_TYPES = REGISTRY.indexed("pdq")


def pdq_signals(s: Session, min_quality: int) -> Sequence[tuple[int, str]]:
    """(signal id, hex) of every PDQ-type signal detailed enough to index, to (re)build it."""
    rows = s.execute(
        select(ItemSignal.id, ItemSignal.value).where(
            ItemSignal.signal_type.in_(INDEXED_SIGNAL_TYPES),
            or_(ItemSignal.quality.is_(None), ItemSignal.quality >= min_quality),
        )
    ).all()
    return [(int(i), str(v)) for i, v in rows]


@dataclass(frozen=True)
class SignalHit:
    signal_id: int
    signal_type: str
    item_id: int
    bank_name: str
    pdq_threshold: int
    case_number: str | None
    label: str | None
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. a video frame's time, region
    media_type: str = "image"


# Built once (SQLAlchemy then caches its compiled form by this object): building the
# statement for each call cost ~0.5 ms of CPU, 8 times the query (an API lookup that matched).
_DESCRIBE = (
    select(
        ItemSignal.id,
        ItemSignal.signal_type,
        ItemSignal.extra,
        BankItem.id,
        BankItem.label,
        BankItem.media_type,
        Bank.name,
        Bank.pdq_threshold,
        Case.number,
    )
    .join(BankItem, ItemSignal.item_id == BankItem.id)
    .join(Bank, BankItem.bank_id == Bank.id)
    .outerjoin(Case, BankItem.case_id == Case.id)
    .where(ItemSignal.id.in_(bindparam("ids", expanding=True)))
)


def describe_signals(s: Session | Connection, signal_ids: Iterable[int]) -> dict[int, SignalHit]:
    """What each signal id is (bank, entry, case, label); a Session or a plain Connection
    (the API's lookups: no ORM session to open for a read)."""
    ids = list(set(signal_ids))
    out: dict[int, SignalHit] = {}
    for start in range(0, len(ids), 500):
        # Columns, not ORM objects: this runs for every lookup that matched (API, scans).
        rows = s.execute(_DESCRIBE, {"ids": ids[start : start + 500]}).all()
        for (
            sid,
            signal_type,
            extra,
            item_id,
            label,
            media_type,
            bank_name,
            threshold,
            case_number,
        ) in rows:
            out[sid] = SignalHit(
                sid,
                signal_type,
                item_id,
                bank_name,
                threshold,
                case_number,
                label,
                dict(extra or {}),
                media_type,
            )
    return out


@dataclass(frozen=True)
class ItemInfo:
    item_id: int
    bank_name: str
    pdq_threshold: int
    case_number: str | None
    label: str | None
    media_type: str = "image"


def describe_items(s: Session, item_ids: Iterable[int]) -> dict[int, ItemInfo]:
    """Bank, case and label of bank items, by id."""
    ids = list(set(item_ids))
    out: dict[int, ItemInfo] = {}
    for start in range(0, len(ids), 500):
        rows = s.execute(
            select(BankItem, Bank.name, Bank.pdq_threshold, Case.number)
            .join(Bank, BankItem.bank_id == Bank.id)
            .outerjoin(Case, BankItem.case_id == Case.id)
            .where(BankItem.id.in_(ids[start : start + 500]))
        ).all()
        for item, bank_name, threshold, number in rows:
            out[item.id] = ItemInfo(
                item.id, bank_name, threshold, number, item.label, item.media_type
            )
    return out


def _item_signals(
    s: Session, signal_type: str, item_ids: Iterable[int]
) -> Iterator[tuple[int, str, Any]]:
    """(item id, value, extra) of one signal type of these bank items, 500 ids a query."""
    wanted = list(set(item_ids))
    for start in range(0, len(wanted), 500):
        rows = s.execute(
            select(ItemSignal.item_id, ItemSignal.value, ItemSignal.extra).where(
                ItemSignal.signal_type == signal_type,
                ItemSignal.item_id.in_(wanted[start : start + 500]),
            )
        )
        for item_id, value, extra in rows:
            yield int(item_id), str(value), extra


def item_features(s: Session, item_ids: Iterable[int]) -> dict[int, str]:
    """The encoded local features of banked photos, by item id."""
    return {
        int(item_id): extra["data"]
        for item_id, _, extra in _item_signals(s, FEATURES_SIGNAL, item_ids)
        if isinstance(extra, dict) and isinstance(extra.get("data"), str)
    }


def item_pdq(s: Session, item_ids: Iterable[int]) -> dict[int, str]:
    """The whole-image PDQ hash of banked photos, by item id."""
    return {int(i): str(v) for i, v, _ in _item_signals(s, "pdq", item_ids)}


def all_features(s: Session) -> Iterator[tuple[int, int, str]]:
    """(signal id, item id, encoded features) of every banked photo with local features."""
    rows = s.execute(
        select(ItemSignal.id, ItemSignal.item_id, ItemSignal.extra)
        .where(ItemSignal.signal_type == FEATURES_SIGNAL)
        .execution_options(yield_per=1000)
    )
    for sid, item_id, extra in rows:
        if isinstance(extra, dict) and isinstance(extra.get("data"), str):
            yield int(sid), int(item_id), extra["data"]


_EXACT = select(ItemSignal.value, ItemSignal.id).where(
    ItemSignal.signal_type == bindparam("kind"),
    ItemSignal.value.in_(bindparam("values", expanding=True)),
)


def exact_lookup(
    s: Session | Connection, signal_type: str, values: Iterable[str]
) -> dict[str, list[int]]:
    """Signal ids per value for exact hashes (md5, sha256)."""
    wanted = list(set(values))
    out: dict[str, list[int]] = {}
    for start in range(0, len(wanted), 500):
        rows = s.execute(_EXACT, {"kind": signal_type, "values": wanted[start : start + 500]}).all()
        for value, sid in rows:
            out.setdefault(value, []).append(sid)
    return out


def withdrawal_digest(value: str) -> str:
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()


def record_withdrawals(s: Session, case_number: str, item_ids: Any) -> None:
    """Keep a one-way record of every hash of these bank items, for exchanges."""
    changefeed.record_withdrawn(s, item_ids)  # and in the sync feed of their banks
    rows = s.execute(
        select(ItemSignal.signal_type, ItemSignal.value).where(
            ItemSignal.item_id.in_(item_ids),
            ItemSignal.signal_type.in_(REGISTRY.exchanged()),
        )
    ).all()
    for signal_type, value in rows:
        s.add(
            Withdrawal(
                case_number=case_number,
                signal_type=signal_type,
                value_sha256=withdrawal_digest(value),
            )
        )


def delete_items(s: Session, case: Case, item_ids: list[int]) -> list[int]:
    """Delete some bank items of a case (with withdrawal records); returns the indexed
    signal ids to drop from the index."""
    owned = list(
        s.scalars(select(BankItem.id).where(BankItem.case_id == case.id, BankItem.id.in_(item_ids)))
    )
    missing = set(item_ids) - set(owned)
    if missing:
        raise StoreError(f"case {case.number} has no bank entry {sorted(missing)}")
    record_withdrawals(s, case.number, owned)
    pdq_ids = list(
        s.scalars(
            select(ItemSignal.id).where(
                ItemSignal.item_id.in_(owned), ItemSignal.signal_type.in_(INDEXED_SIGNAL_TYPES)
            )
        )
    )
    s.execute(delete(ItemSignal).where(ItemSignal.item_id.in_(owned)))
    s.execute(delete(BankItem).where(BankItem.id.in_(owned)))
    return pdq_ids


def delete_case_items(s: Session, case: Case) -> list[int]:
    """Delete every bank item of a case; returns the indexed signal ids to drop from the
    index."""
    item_ids = select(BankItem.id).where(BankItem.case_id == case.id)
    record_withdrawals(s, case.number, item_ids)
    pdq_ids = list(
        s.scalars(
            select(ItemSignal.id).where(
                ItemSignal.item_id.in_(item_ids),
                ItemSignal.signal_type.in_(INDEXED_SIGNAL_TYPES),
            )
        )
    )
    s.execute(delete(ItemSignal).where(ItemSignal.item_id.in_(item_ids)))
    s.execute(delete(BankItem).where(BankItem.case_id == case.id))
    return pdq_ids


def now_expired_items(s: Session, now: datetime) -> list[int]:
    return list(
        s.scalars(
            select(BankItem.id).where(BankItem.expires_at.is_not(None), BankItem.expires_at < now)
        )
    )
