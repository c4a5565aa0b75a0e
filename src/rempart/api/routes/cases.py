"""Cases for caseworkers (only her organisation's), and the victim's status check with her
case number and secret (wrong secrets are limited per case number)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from rempart.access import records
from rempart.access.tenancy import MAX_ID, case_for, may_see_case, not_found, own_case
from rempart.api.auth import Principal, require
from rempart.api.services import Services, services
from rempart.cases import withdrawal, workflow
from rempart.store import audit, repository
from rempart.store.repository import StoreError

router = APIRouter(prefix="/v1", tags=["cases"])


class CaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str = Field(min_length=1, max_length=64)


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case: str = Field(min_length=1, max_length=64)
    secret: str = Field(min_length=1, max_length=100)


@router.get("/cases", summary="Cases (a caseworker: her organisation's)")
def list_cases(
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_ID),
    p: Principal = Depends(require("caseworker", "admin")),
    svc: Services = Depends(services),
) -> list[dict[str, Any]]:
    return records.cases_page(svc.db, p, limit, offset)


@router.post(
    "/cases", status_code=201, summary="Open a case; its secret (for the victim) is shown once"
)
def open_case(
    body: CaseIn,
    p: Principal = Depends(require("caseworker", "admin")),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    number = body.number.strip()
    with svc.db.session() as s:
        case = repository.get_case(s, number)
        if case is not None and not may_see_case(s, p, case):
            raise not_found()
    with audit.acting_as(p.actor):
        secret = workflow.open_case(svc.db, number)
    with svc.db.session() as s:
        case = repository.get_case(s, number)
        if case is not None:
            own_case(s, p, case)
    svc.changed()
    return {
        "case": number,
        "secret": secret,
        "note": "give the secret to the victim now: it is not stored and not shown again",
    }


@router.get("/cases/{number}", summary="A case: history, entries, matches by status")
def show_case(
    number: str,
    p: Principal = Depends(require("caseworker", "admin")),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    with svc.db.session() as s:
        case_for(s, p, number)
    return asdict(workflow.view(svc.db, number))


@router.post(
    "/cases/{number}/withdraw",
    summary="Withdraw a case: every hash and face template deleted, everywhere",
)
def withdraw_case(
    number: str,
    p: Principal = Depends(require("caseworker", "admin")),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    """As `rempart case withdraw`: her hashes leave every bank and the index at once, her
    face templates are deleted, her consents are marked withdrawn, one-way withdrawal
    records are kept for partners."""
    with svc.db.session() as s:
        case_for(s, p, number)
    try:
        with audit.acting_as(p.actor):
            done = svc.keeper.change(
                lambda bank_index: withdrawal.withdraw_case(
                    bank_index,
                    svc.settings.home,
                    number,
                    actor=p.actor,
                    note="withdrawn (through the API)",
                )
            )
    except withdrawal.NoSuchCase as exc:
        raise not_found() from exc
    svc.changed()
    return {
        "case": number,
        "status": "withdrawn",
        "indexed_hashes_removed": done.indexed_hashes,
        "face_templates_removed": done.face_templates,
    }


@router.post(
    "/status",
    summary="The victim's status check: case number and secret",
    responses={
        403: {"description": "Case number or secret not recognised"},
        429: {"description": "Too many wrong secrets for this case"},
    },
)
def victim_status(
    body: StatusIn,
    p: Principal = Depends(require("victim", "admin")),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    key = body.case.strip().upper()
    wait = svc.victim_limiter.blocked(key)
    if wait > 0:
        raise HTTPException(
            429,
            "too many wrong secrets for this case number: try later",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    try:
        status = workflow.victim_status(svc.db, body.case.strip(), body.secret)
    except StoreError as exc:
        svc.victim_limiter.failed(key)
        svc.changed()
        raise HTTPException(403, str(exc)) from exc
    status["platform_reports"] = records.platform_reports(svc.db, body.case.strip())
    svc.changed()
    return status
