"""Banks and bank entries: list (a platform sees only the banks shared with it), create and
share (admin), add entries under a case and its consent, list and withdraw them (a
caseworker: only her organisation's cases). Every change is audited, naming the key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from rempart.access import records
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
from rempart.store.models import Case

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
        None, description="Items of a hash-submission file (pdq, md5, sha256, ...)"
    )
    submission: dict[str, Any] | None = Field(
        None, description="A whole hash-submission file (instead of items)"
    )
    consent: dict[str, Any] | None = Field(None, description="Consent record, if none is on file")
    label: str | None = Field(None, max_length=200)


@router.get("", summary="Banks this key may match against")
def list_banks(
    p: Principal = Depends(require(*READERS)), svc: Services = Depends(services)
) -> list[dict[str, Any]]:
    with svc.db.session() as s:
        names = visible_banks(s, p)
        return [records.bank_summary(s, b, p) for b in records.banks_named(s, names)]


@router.post("", status_code=201, summary="Create a bank (admin)")
def create_bank(
    body: BankIn, p: Principal = Depends(require("admin")), svc: Services = Depends(services)
) -> dict[str, Any]:
    with audit.acting_as(p.actor):
        sharing.create_bank(
            svc.db,
            body.name,
            description=body.description,
            pdq_threshold=body.pdq_threshold,
            actor=p.actor,
        )
    with svc.db.session() as s:
        out = records.bank_summary(s, repository.get_bank(s, body.name), p)
    svc.lookups.invalidate()
    svc.changed()
    return out


@router.get("/{name}", summary="One bank")
def get_bank(
    name: str, p: Principal = Depends(require(*READERS)), svc: Services = Depends(services)
) -> dict[str, Any]:
    with svc.db.session() as s:
        return records.bank_summary(s, bank_for(s, p, name), p)


class BankChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str | None = Field(None, max_length=2000)
    pdq_threshold: int | None = Field(None, ge=0, le=63)


@router.patch("/{name}", summary="Change a bank's description or PDQ threshold (admin)")
def change_bank(
    name: str,
    body: BankChange,
    p: Principal = Depends(require("admin")),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    with audit.acting_as(p.actor), svc.db.session() as s:
        bank = bank_for(s, p, name)
        before = {"description": bank.description, "pdq_threshold": bank.pdq_threshold}
        if body.description is not None:
            bank.description = body.description
        if body.pdq_threshold is not None:
            bank.pdq_threshold = body.pdq_threshold
        audit.record(
            s,
            "bank-change",
            details={"bank": name, "before": before, "after": body.model_dump(exclude_none=True)},
        )
        out = records.bank_summary(s, bank, p)
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
def share(
    name: str,
    tenant: str,
    p: Principal = Depends(require("admin")),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    return _share(svc, p, name, tenant, True)


@router.delete("/{name}/shares/{tenant}", summary="Stop sharing a bank with a platform (admin)")
def unshare(
    name: str,
    tenant: str,
    p: Principal = Depends(require("admin")),
    svc: Services = Depends(services),
) -> dict[str, Any]:
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
        entries = records.bank_entries(s, bank_for(s, p, name), p, case, limit, offset)
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
                raise HTTPException(
                    400, f"case {number} was withdrawn: its hashes may not be stored again under it"
                )
        else:
            repository.check_case_number(number)


@router.post(
    "/{name}/entries",
    status_code=201,
    summary="Add hashes to a bank under a case (consent required)",
)
def add_entries(
    name: str,
    body: EntriesIn,
    p: Principal = Depends(require(*KEEPERS)),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    submission = _submission(body)
    consent = ConsentRecord.parse(body.consent, "consent") if body.consent else None
    with svc.db.session() as s:
        bank_for(s, p, name)
    _check_case(svc, p, body.case)

    number = body.case.strip()
    new_ids: list[int] = []

    def claim(s: Any, case: Case) -> None:
        """In the import's transaction: a new case becomes the caller's organisation's; one
        another organisation holds (made meanwhile) is refused."""
        own_case(s, p, case)
        if not may_see_case(s, p, case):
            raise not_found()

    def run(bank_index: BankIndex) -> Any:
        # under the index's write lock: no other import through this server in between
        before = records.last_entry_id(svc.db, name, number)
        result = import_submission(
            bank_index,
            name,
            submission,
            case_number=number,
            consent=consent,
            source_name="api",
            label=body.label,
            on_case=claim,
        )
        new_ids.extend(records.entry_ids_after(svc.db, name, number, before))
        return result

    with audit.acting_as(p.actor):  # a refused import leaves nothing (one transaction)
        result = svc.keeper.change(run)
    svc.changed()
    return {
        "bank": result.bank,
        "case": result.case,
        "added": result.added,
        "duplicates": result.duplicates,
        "low_quality": result.low_quality,
        "consent_recorded": result.consent_recorded,
        "bank_entries": new_ids,
    }


@router.delete(
    "/{name}/entries/{entry}",
    summary="Withdraw a bank entry: deleted from the bank and the index at once",
)
def withdraw_entry(
    name: str,
    entry: int = Path(ge=0, le=MAX_ID),
    p: Principal = Depends(require(*KEEPERS)),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    with svc.db.session() as s:
        number = records.entry_case(s, bank_for(s, p, name), entry)
        if number is None:
            raise not_found()
        case_for(s, p, number)

    try:
        with audit.acting_as(p.actor):
            svc.keeper.change(
                lambda bank_index: withdrawal.withdraw_items(
                    bank_index, svc.settings.home, number, [entry], actor=p.actor
                )
            )
    except withdrawal.NoSuchCase as exc:
        raise not_found() from exc
    svc.changed()
    return {"bank": name, "bank_entry": entry, "withdrawn": True}
