"""Banks and bank entries: list (a platform sees only the banks shared with it), create and
share (admin), add entries under a case and its consent, list and withdraw them (a
caseworker: only her organisation's cases). Every change is audited, naming the key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rempart.access.tenancy import (
    MAX_ID,
    bank_for,
    case_for,
    may_see_case,
    not_found,
    own_case,
    visible_banks,
)
from rempart.api.auth import Principal, require
from rempart.api.services import Services, services
from rempart.cases import withdrawal
from rempart.exchange import sharing
from rempart.exchange.bank_import import import_submission
from rempart.exchange.consent import ConsentRecord
from rempart.exchange.submission import FORMAT, VERSION, parse_submission
from rempart.store import audit, repository
from rempart.store.bank_index import BankIndex
from rempart.store.models import (
    Bank,
    BankItem,
    BankShare,
    Case,
    CaseOwner,
    ItemSignal,
    Tenant,
)

router = APIRouter(prefix="/v1/banks", tags=["banks"])
READERS = ("admin", "caseworker", "platform")
KEEPERS = ("admin", "caseworker")


class BankIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=100)
    description: str = Field("", max_length=2000)
    pdq_threshold: int = Field(31, ge=0, le=63)


class EntriesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case: str = Field(min_length=1, max_length=64, description="Case number")
    items: list[dict[str, Any]] | None = Field(
        None, description="Items of a hash-submission file (pdq, md5, sha256, ...)")
    submission: dict[str, Any] | None = Field(
        None, description="A whole hash-submission file (instead of items)")
    consent: dict[str, Any] | None = Field(None, description="Consent record, if none is on file")
    label: str | None = Field(None, max_length=200)


def _bank_json(s: Session, bank: Bank, p: Principal) -> dict[str, Any]:
    out: dict[str, Any] = {"name": bank.name, "description": bank.description,
                           "pdq_threshold": bank.pdq_threshold}  # fmt: skip
    if p.role != "platform":
        out["entries"] = s.scalar(select(func.count(BankItem.id)).where(
            BankItem.bank_id == bank.id))  # fmt: skip
    if p.role == "admin":
        out["shared_with"] = sorted(s.scalars(select(Tenant.name).join(
            BankShare, BankShare.tenant_id == Tenant.id).where(BankShare.bank_id == bank.id)))
    return out


@router.get("", summary="Banks this key may match against")
def list_banks(p: Principal = Depends(require(*READERS)),
               svc: Services = Depends(services)) -> list[dict[str, Any]]:  # fmt: skip
    with svc.db.session() as s:
        names = visible_banks(s, p)
        banks = s.scalars(select(Bank).where(Bank.name.in_(names)).order_by(Bank.name)).all()
        return [_bank_json(s, b, p) for b in banks]


@router.post("", status_code=201, summary="Create a bank (admin)")
def create_bank(body: BankIn, p: Principal = Depends(require("admin")),
                svc: Services = Depends(services)) -> dict[str, Any]:  # fmt: skip
    with audit.acting_as(p.actor):
        sharing.create_bank(svc.db, body.name, description=body.description,
                            pdq_threshold=body.pdq_threshold, actor=p.actor)  # fmt: skip
    with svc.db.session() as s:
        out = _bank_json(s, repository.get_bank(s, body.name), p)
    svc.lookups.invalidate()
    svc.changed()
    return out


@router.get("/{name}", summary="One bank")
def get_bank(name: str, p: Principal = Depends(require(*READERS)),
             svc: Services = Depends(services)) -> dict[str, Any]:  # fmt: skip
    with svc.db.session() as s:
        return _bank_json(s, bank_for(s, p, name), p)


class BankChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str | None = Field(None, max_length=2000)
    pdq_threshold: int | None = Field(None, ge=0, le=63)


@router.patch("/{name}", summary="Change a bank's description or PDQ threshold (admin)")
def change_bank(name: str, body: BankChange, p: Principal = Depends(require("admin")),
                svc: Services = Depends(services)) -> dict[str, Any]:  # fmt: skip
    with audit.acting_as(p.actor), svc.db.session() as s:
        bank = bank_for(s, p, name)
        before = {"description": bank.description, "pdq_threshold": bank.pdq_threshold}
        if body.description is not None:
            bank.description = body.description
        if body.pdq_threshold is not None:
            bank.pdq_threshold = body.pdq_threshold
        audit.record(s, "bank-change", details={"bank": name, "before": before,
                                                "after": body.model_dump(exclude_none=True)})
        out = _bank_json(s, bank, p)
    svc.lookups.invalidate()  # other workers: within the cache's 2 s
    svc.changed()
    return out


def _share(svc: Services, p: Principal, name: str, tenant_name: str, on: bool) -> dict[str, Any]:
    with svc.db.session() as s:
        bank_for(s, p, name)
    change = sharing.share_bank if on else sharing.unshare_bank
    with audit.acting_as(p.actor):
        change(svc.db, name, tenant_name, actor=p.actor)
    svc.lookups.invalidate()
    svc.changed()
    return {"bank": name, "tenant": tenant_name, "shared": on}


@router.put("/{name}/shares/{tenant}", summary="Share a bank with a platform (admin)")
def share(name: str, tenant: str, p: Principal = Depends(require("admin")),
          svc: Services = Depends(services)) -> dict[str, Any]:  # fmt: skip
    return _share(svc, p, name, tenant, True)


@router.delete("/{name}/shares/{tenant}", summary="Stop sharing a bank with a platform (admin)")
def unshare(name: str, tenant: str, p: Principal = Depends(require("admin")),
            svc: Services = Depends(services)) -> dict[str, Any]:  # fmt: skip
    return _share(svc, p, name, tenant, False)


@router.get("/{name}/entries", summary="Entries of a bank (a caseworker: her cases only)")
def list_entries(
    name: str,
    case: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_ID),
    p: Principal = Depends(require(*KEEPERS)),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    with svc.db.session() as s:
        bank = bank_for(s, p, name)
        query = (select(BankItem, Case.number).outerjoin(Case, BankItem.case_id == Case.id)
                 .where(BankItem.bank_id == bank.id))  # fmt: skip
        if p.role == "caseworker":
            query = query.join(CaseOwner, CaseOwner.case_id == BankItem.case_id).where(
                CaseOwner.tenant_id == p.tenant_id)
        if case is not None:
            query = query.where(Case.number == case)
        rows = s.execute(query.order_by(BankItem.id).limit(limit).offset(offset)).all()
        ids = [item.id for item, _ in rows]
        kinds: dict[int, list[str]] = {}
        for item_id, signal_type in s.execute(select(ItemSignal.item_id, ItemSignal.signal_type)
                                              .where(ItemSignal.item_id.in_(ids))).all():
            if signal_type not in kinds.setdefault(item_id, []):
                kinds[item_id].append(signal_type)
        entries = [{"bank_entry": item.id, "case": number, "media_type": item.media_type,
                    "label": item.label, "signals": sorted(kinds.get(item.id, [])),
                    "created_at": item.created_at.isoformat(timespec="seconds"),
                    "expires_at": item.expires_at.isoformat(timespec="seconds")
                    if item.expires_at else None} for item, number in rows]  # fmt: skip
    return {"bank": name, "entries": entries, "limit": limit, "offset": offset}


def _submission(body: EntriesIn) -> Any:
    if (body.items is None) == (body.submission is None):
        raise HTTPException(422, "give either 'items' or 'submission'")
    doc = body.submission or {"format": FORMAT, "version": VERSION, "items": body.items}
    return parse_submission(doc, "request")


def _check_case(svc: Services, p: Principal, number: str) -> None:
    """Check the caller may add to this case (a new one is made by the import itself, in
    its transaction, and becomes the caller's organisation's there)."""
    with svc.db.session() as s:
        case = repository.get_case(s, number.strip())
        if case is not None:
            if not may_see_case(s, p, case):
                raise not_found()
            if case.status == "withdrawn":
                raise HTTPException(400, f"case {number} was withdrawn: its hashes may not "
                                    "be stored again under it")  # fmt: skip
        else:
            repository.check_case_number(number)


@router.post("/{name}/entries", status_code=201,
             summary="Add hashes to a bank under a case (consent required)")  # fmt: skip
def add_entries(name: str, body: EntriesIn, p: Principal = Depends(require(*KEEPERS)),
                svc: Services = Depends(services)) -> dict[str, Any]:  # fmt: skip
    submission = _submission(body)
    consent = ConsentRecord.parse(body.consent, "consent") if body.consent else None
    with svc.db.session() as s:
        bank_for(s, p, name)
    _check_case(svc, p, body.case)

    number = body.case.strip()
    new_ids: list[int] = []

    def entries(column: Any) -> Any:
        return (select(column).join(Bank, BankItem.bank_id == Bank.id)
                .join(Case, BankItem.case_id == Case.id)
                .where(Bank.name == name, Case.number == number))  # fmt: skip

    def entry_ids(s: Session, after: int) -> list[int]:
        return list(s.scalars(entries(BankItem.id).where(BankItem.id > after)
                              .order_by(BankItem.id)))  # fmt: skip

    def claim(s: Session, case: Case) -> None:
        """In the import's transaction: a new case becomes the caller's organisation's; one
        another organisation holds (made meanwhile) is refused."""
        own_case(s, p, case)
        if not may_see_case(s, p, case):
            raise not_found()

    def run(bank_index: BankIndex) -> Any:
        # under the index's write lock: no other import through this server in between
        with svc.db.session() as s:
            before = s.scalar(entries(func.max(BankItem.id))) or 0
        result = import_submission(bank_index, name, submission, case_number=number,
                                   consent=consent, source_name="api", label=body.label,
                                   on_case=claim)  # fmt: skip
        with svc.db.session() as s:
            new_ids.extend(entry_ids(s, before))
        return result

    with audit.acting_as(p.actor):  # a refused import leaves nothing (one transaction)
        result = svc.keeper.change(run)
    svc.changed()
    return {"bank": result.bank, "case": result.case, "added": result.added,
            "duplicates": result.duplicates, "low_quality": result.low_quality,
            "consent_recorded": result.consent_recorded,
            "bank_entries": new_ids}  # fmt: skip


@router.delete("/{name}/entries/{entry}",
               summary="Withdraw a bank entry: deleted from the bank and the index at once")
def withdraw_entry(name: str, entry: int = Path(ge=0, le=MAX_ID),
                   p: Principal = Depends(require(*KEEPERS)),
                   svc: Services = Depends(services)) -> dict[str, Any]:  # fmt: skip
    with svc.db.session() as s:
        bank = bank_for(s, p, name)
        item = s.get(BankItem, entry)
        number = repository.case_number(s, item.case_id) if item and item.case_id else None
        if item is None or item.bank_id != bank.id or number is None:
            raise not_found()
        case_for(s, p, number)

    try:
        with audit.acting_as(p.actor):
            svc.keeper.change(lambda bank_index: withdrawal.withdraw_items(
                bank_index, svc.settings.home, number, [entry], actor=p.actor))
    except withdrawal.NoSuchCase as exc:
        raise not_found() from exc
    svc.changed()
    return {"bank": name, "bank_entry": entry, "withdrawn": True}
