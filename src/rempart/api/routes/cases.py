"""Cases for caseworkers (only her organisation's), the victim's status check with her
case number and secret (wrong secrets are limited per case number, counted in the database
for every worker), and the keyless routes of her case page (/v1/case-page/...: sign in,
open a case where the helpline allows it, status, send a hash file, withdraw; domain in
rempart.cases.self_service; the settings in rempart.cases.self_settings)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, ClassVar
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from rempart.access import records
from rempart.access.ratelimit import FailureLimiter
from rempart.access.tenancy import MAX_ID, case_for, may_see_case, not_found, own_case
from rempart.api.auth import Principal, require
from rempart.api.services import Services, services
from rempart.cases import self_service, self_settings, withdrawal, workflow
from rempart.errors import Forbidden, InvalidInput, RempartError, TooLarge
from rempart.store import audit, repository
from rempart.store.repository import StoreError

router = APIRouter(prefix="/v1", tags=["cases"])


class TooManyOpens(RempartError):
    """Too many cases opened from one address (the page's own limit)."""

    status: ClassVar[int] = 429
    code = "too-many-opens"


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


# ---- her case page (issue 14): no key; her session token in X-Case-Session -----------------
# Cross-site requests are refused: every change needs either her session header (which a
# page elsewhere cannot send without a CORS preflight, and this server allows none) or, to
# sign in or open a case, a JSON body from this origin (Origin and Sec-Fetch-Site checked).

SESSION_HEADER = "X-Case-Session"
_OPENS_PER_ADDRESS = (5, 3600.0)  # cases she may open per address per hour


class SignInIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case: str = Field(min_length=1, max_length=64)
    secret: str = Field(min_length=1, max_length=100)


class WithdrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    confirm: bool


def _same_origin(request: Request) -> None:
    """Refuse a request another site's page made (CSRF): its Origin names another host, or
    the browser says it is cross-site."""
    site = request.headers.get("sec-fetch-site")
    if site and site not in ("same-origin", "none"):
        raise Forbidden("refused: this request did not come from the case page")
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("host", "")
        if urlsplit(origin).netloc != host:
            raise Forbidden("refused: this request did not come from the case page")


def _json_only(request: Request) -> None:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise InvalidInput("send JSON (Content-Type: application/json)")


def _her_case(request: Request, svc: Services) -> str:
    _same_origin(request)
    token = request.headers.get(SESSION_HEADER, "")
    return self_service.session_case(svc.db, svc.settings.home, token)


_NO_STORE = {"Cache-Control": "no-store"}


@router.get("/case-page/config", summary="Her case page: what this helpline allows")
def case_page_config(svc: Services = Depends(services)) -> JSONResponse:
    cfg = self_settings.org_settings(svc.db)
    return JSONResponse({"self_open": cfg.self_open}, headers=_NO_STORE)


@router.post("/case-page/sign-in", summary="Her case page: case number and secret -> a session")
def case_page_sign_in(
    body: SignInIn, request: Request, svc: Services = Depends(services)
) -> JSONResponse:
    _same_origin(request)
    _json_only(request)
    try:
        done = self_service.sign_in(
            svc.db, svc.settings.home, svc.victim_limiter, body.case, body.secret
        )
    finally:
        svc.changed()
    return JSONResponse(
        {"case": done.case, "token": done.token, "minutes": done.minutes}, headers=_NO_STORE
    )


@router.post("/case-page/open", status_code=201, summary="Her case page: she opens a case")
def case_page_open(request: Request, svc: Services = Depends(services)) -> JSONResponse:
    _same_origin(request)
    _json_only(request)
    client = request.client.host if request.client else "?"
    opens = FailureLimiter(*_OPENS_PER_ADDRESS, svc.db, scope="case-page-open")
    if opens.blocked(client) > 0:
        raise TooManyOpens("too many cases opened from here: try again later")
    done = self_service.open_self_case(svc.db, svc.settings.home)
    opens.failed(client)  # counted: each case opened
    svc.changed()
    return JSONResponse(
        {
            "case": done.case,
            "secret": done.secret,
            "token": done.token,
            "minutes": self_service.SESSION_MINUTES,
        },
        status_code=201,
        headers=_NO_STORE,
    )


@router.get("/case-page/status", summary="Her case page: counts only")
def case_page_status(request: Request, svc: Services = Depends(services)) -> JSONResponse:
    number = _her_case(request, svc)
    out = self_service.status(svc.db, number)
    with svc.db.session() as s:
        audit.record(s, "case-page-status", case=number, actor=self_service.VICTIM, details={})
    svc.changed()
    return JSONResponse(out, headers=_NO_STORE)


@router.post("/case-page/send", summary="Her case page: send a hash file (hashes and consent)")
async def case_page_send(request: Request, svc: Services = Depends(services)) -> JSONResponse:
    number = _her_case(request, svc)
    _json_only(request)
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > self_service.MAX_FILE_BYTES:
            raise TooLarge(
                f"this file is too large (at most {self_service.MAX_FILE_BYTES // 1024} KB): "
                "send your photos in several smaller files"
            )
    document = self_service.parse_file(bytes(raw))
    sent = await run_in_threadpool(
        self_service.submit, svc.keeper.change, svc.settings.home, number, document
    )
    svc.changed()
    return JSONResponse(asdict(sent), headers=_NO_STORE)


@router.post("/case-page/withdraw", summary="Her case page: withdraw everything")
def case_page_withdraw(
    body: WithdrawIn, request: Request, svc: Services = Depends(services)
) -> JSONResponse:
    number = _her_case(request, svc)
    _json_only(request)
    if not body.confirm:
        raise InvalidInput("confirm the withdrawal")
    done = self_service.withdraw(svc.keeper.change, svc.settings.home, number)
    svc.changed()
    return JSONResponse(
        {
            "case": number,
            "status": "withdrawn",
            "hashes_removed": done.indexed_hashes,
            "face_templates_removed": done.face_templates,
        },
        headers=_NO_STORE,
    )
