"""Her case page, the helpline's side (issue 14: rempart.cases.self_opened): cases people
opened themselves, taking one, and a new secret for her."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from rempart.access.auth import Principal
from rempart.access.tenancy import case_for, own_case
from rempart.cases import (
    self_opened,
    self_settings,
    workflow,
)
from rempart.errors import NotFound
from rempart.store import audit
from rempart.store.bank_index import BankIndex
from rempart.web.auth import WebNotFound, actor
from rempart.web.render import page
from rempart.web.routes.common import changed, checked_form, home, router
from rempart.web.routing import current_user, services

# ---- her case page, the helpline's side (issue 14: rempart.cases.self_opened) -------------


@router.get("/self-cases")
def self_cases_page(request: Request, p: Principal = Depends(current_user)) -> Response:
    """Cases people opened themselves, apart until a caseworker takes them, and the
    organisation's case-page settings (changed with `rempart case page-settings`)."""
    db = services(request).db
    return page(
        request,
        "self_cases.html",
        cases=self_opened.self_opened_cases(db, p),  # her organisation's (an admin: all)
        settings=self_settings.org_settings(db),
    )


@router.post("/self-cases/{number}/take")
def self_case_take(
    request: Request,
    number: str,
    p: Principal = Depends(current_user),
    form: FormData = Depends(checked_form),
) -> Response:
    svc = services(request)
    if not any(c.case == number for c in self_opened.self_opened_cases(svc.db, p)):
        raise WebNotFound("error.not_found")  # none, taken, or another organisation's
    try:
        with audit.acting_as(actor(p)):
            self_opened.take_case(
                self_settings.direct(BankIndex(svc.db, home(request))),
                number,
                on_case=lambda s, case: own_case(s, p, case),  # her case is now this org's
                viewer=p,
            )
    except NotFound as exc:
        raise WebNotFound("error.not_found") from exc
    changed(request)
    return RedirectResponse(f"/ui/cases/{quote(number, safe='')}", 303)


@router.get("/cases/{number}/secret")
def case_secret_page(
    request: Request, number: str, p: Principal = Depends(current_user)
) -> Response:
    with services(request).db.session() as s:
        case_for(s, p, number)
    return page(request, "case_secret.html", number=number, secret="")


@router.post("/cases/{number}/secret")
def case_new_secret(
    request: Request,
    number: str,
    p: Principal = Depends(current_user),
    form: FormData = Depends(checked_form),
) -> Response:
    """A new secret for her (shown once); the old one stops working at once (audited)."""
    svc = services(request)
    with svc.db.session() as s:
        case_for(s, p, number)
    with audit.acting_as(actor(p)):
        secret = workflow.give_new_secret(svc.db, number)
    changed(request)
    response = page(request, "case_secret.html", number=number, secret=secret)
    response.headers["Cache-Control"] = "no-store"
    return response
