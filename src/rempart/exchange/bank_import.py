"""Import a hash-submission file into a bank, under a case and its consent record."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from rempart.exchange.consent import ConsentRecord
from rempart.exchange.submission import Submission, SubmissionItem
from rempart.signals.pdq import MIN_QUALITY
from rempart.store import audit, changefeed, repository
from rempart.store.bank_index import BankIndex
from rempart.store.models import BankItem, ItemSignal, utcnow
from rempart.store.models import Submission as SubmissionRow
from rempart.store.repository import FEATURES_SIGNAL, VARIANT_SIGNAL, StoreError


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
) -> ImportResult:
    """Add every item of a submission to a bank, in one transaction.

    Refuses (StoreError) when neither the command, the file nor the case has a consent
    record: a victim's hashes are stored only with her consent on record.
    """
    counts = {"added": 0, "duplicates": 0, "low_quality": 0, "consent": False}

    def apply(s: Session) -> tuple[list[tuple[int, str]], list[int]]:
        bank = repository.get_bank(s, bank_name)
        case = repository.get_or_create_case(s, case_number)
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
        known = _known_keys(s, bank.id, case.id)
        # Bulk inserts (one statement per table, ids returned in order): a row at a time
        # with a flush each took minutes for a list of a million hashes.
        item_rows: list[dict[str, Any]] = []
        signal_rows: list[dict[str, Any]] = []
        indexed: list[bool] = []  # per signal row: goes to the PDQ index
        owner: list[int] = []  # per signal row: its item's position in item_rows
        for item in submission.items:
            key = item.sha256 or item.md5 or item.pdq or ""
            if key in known:
                counts["duplicates"] += 1
                continue
            known.add(key)
            n = len(item_rows)
            item_rows.append({"bank_id": bank.id, "case_id": case.id, "submission_id": sub.id,
                              "media_type": item.media_type, "width": item.width,
                              "height": item.height, "label": label, "created_at": now,
                              "expires_at": consent_row.retention_until})  # fmt: skip

            def signal(signal_type: str, value: str, quality: int | None = None,
                       extra: dict[str, Any] | None = None, index: bool = False,
                       n: int = n) -> None:  # fmt: skip
                signal_rows.append({"signal_type": signal_type, "value": value,
                                    "quality": quality, "extra": extra or {}})  # fmt: skip
                indexed.append(index)
                owner.append(n)

            for signal_type, value in (("md5", item.md5), ("sha256", item.sha256)):
                if value:
                    signal(signal_type, value)
            if item.pdq is not None:
                low = item.pdq_quality is not None and item.pdq_quality < MIN_QUALITY
                counts["low_quality"] += low
                signal("pdq", item.pdq, item.pdq_quality, index=not low)
            frame_signals = video_signals(item)
            if item.media_type == "video" and item.frames and not any(
                (f.quality or 0) >= MIN_QUALITY for f in frame_signals
            ):
                counts["low_quality"] += 1
            for f in frame_signals:
                signal(f.signal_type, f.value, f.quality, f.extra,
                       index=(f.quality or 0) >= MIN_QUALITY)  # fmt: skip
            variant_signals, feature_signal = robust_signals(item)
            for v in variant_signals:
                signal(v.signal_type, v.value, v.quality, v.extra, index=True)
            if feature_signal is not None:
                signal(feature_signal.signal_type, feature_signal.value, None,
                       feature_signal.extra)  # fmt: skip
        added: list[tuple[int, str]] = []
        if item_rows:
            item_ids = list(s.execute(insert(BankItem).returning(
                BankItem.id, sort_by_parameter_order=True), item_rows).scalars())  # fmt: skip
            for row, n in zip(signal_rows, owner, strict=True):
                row["item_id"] = item_ids[n]
            if signal_rows:
                signal_ids = list(s.execute(insert(ItemSignal).returning(
                    ItemSignal.id, sort_by_parameter_order=True), signal_rows).scalars())
                added = [(i, r["value"]) for i, r, x in zip(signal_ids, signal_rows, indexed,
                                                            strict=True) if x]  # fmt: skip
        counts["added"] = len(item_rows)
        sub.item_count = counts["added"]
        changefeed.record_added(s, bank.id, submission_id=sub.id)  # the sync feed
        audit.record(s, "bank-import", case=case_number,
                     details={"bank": bank_name, "added": counts["added"],
                              "duplicates": counts["duplicates"], "source": source_name,
                              "consent_recorded": bool(counts["consent"])})  # fmt: skip
        return added, []

    bank_index.change(apply)
    return ImportResult(
        bank=bank_name,
        case=case_number,
        added=counts["added"],
        duplicates=counts["duplicates"],
        low_quality=counts["low_quality"],
        consent_recorded=bool(counts["consent"]),
    )


def video_signals(item: SubmissionItem) -> list[ItemSignal]:
    """One signal per video frame hash: whole frames and the picture inside black bars as
    "vpdq", frame halves as "vpdq-region"; the time (and region) in `extra`."""
    out = [
        ItemSignal(signal_type="vpdq", value=f.pdq_hex, quality=f.quality,
                   extra={"ts": f.timestamp})
        for f in item.frames
    ]  # fmt: skip
    out += [
        ItemSignal(signal_type="vpdq", value=f.pdq_hex, quality=f.quality,
                   extra={"ts": f.timestamp, "inside": True})
        for f in item.inside
    ]  # fmt: skip
    for region, frames in item.regions.items():
        out += [
            ItemSignal(signal_type="vpdq-region", value=f.pdq_hex, quality=f.quality,
                       extra={"ts": f.timestamp, "region": region})
            for f in frames
        ]  # fmt: skip
    return out


def robust_signals(item: SubmissionItem) -> tuple[list[ItemSignal], ItemSignal | None]:
    """A photo's PDQ variants as "pdq-variant" signals (indexed with the other PDQ hashes;
    kind and name in `extra`) and its local features as one "local-features" signal (the
    encoded features in `extra`, their SHA-256 as the value)."""
    variants = [
        ItemSignal(signal_type=VARIANT_SIGNAL, value=v.hash.hex, quality=v.hash.quality,
                   extra={"kind": v.kind, "name": v.name})
        for v in item.variants if v.hash.quality >= MIN_QUALITY
    ]  # fmt: skip
    features = None
    if item.features is not None:
        digest = hashlib.sha256(item.features.encode("ascii")).hexdigest()
        features = ItemSignal(signal_type=FEATURES_SIGNAL, value=digest,
                              extra={"data": item.features})  # fmt: skip
    return variants, features


def _known_keys(s: Session, bank_id: int, case_id: int) -> set[str]:
    """Identifying hash of every item the case already has in the bank."""
    rows = s.execute(
        select(ItemSignal.item_id, ItemSignal.signal_type, ItemSignal.value)
        .join(BankItem, ItemSignal.item_id == BankItem.id)
        .where(BankItem.bank_id == bank_id, BankItem.case_id == case_id)
    ).all()
    per_item: dict[int, dict[str, str]] = {}
    for item_id, signal_type, value in rows:
        per_item.setdefault(item_id, {})[signal_type] = value
    return {
        sig.get("sha256") or sig.get("md5") or sig.get("pdq") or "" for sig in per_item.values()
    }
