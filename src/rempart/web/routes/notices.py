"""Takedown notices: the list, a new notice from a case, one notice, marking and sending it
by e-mail."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from rempart.access import records
from rempart.access.auth import Principal
from rempart.access.tenancy import case_for, case_numbers, may_see_number
from rempart.cases import (
    mailer,
    notices,
)
from rempart.store import audit
from rempart.store.models import Notice
from rempart.web.auth import WebNotFound, actor
from rempart.web.render import page
from rempart.web.routes.common import changed, checked_form, field, router
from rempart.web.routing import current_user, services

# ---- notices ----------------------------------------------------------------------------


def _notice(request: Request, p: Principal, notice_id: int) -> tuple[Notice, str]:
    db = services(request).db
    found = records.notice_with_case(db, notice_id)
    if found is None or not may_see_number(db, p, found[1]):
        raise WebNotFound("error.not_found")
    return found


@router.get("/notices")
def notices_page(request: Request, p: Principal = Depends(current_user)) -> Response:
    db = services(request).db
    numbers = set(case_numbers(db, p))
    case_of = records.case_numbers_by_id(db)
    rows = [
        (n, case_of.get(n.case_id, ""))
        for n in notices.all_notices(db)
        if case_of.get(n.case_id) in numbers
    ]
    due = {n.id for n in notices.due(db)}
    return page(request, "notices.html", rows=rows, due=due)


@router.post("/cases/{number}/notices")
def notice_create(
    request: Request,
    number: str,
    p: Principal = Depends(current_user),
    form: FormData = Depends(checked_form),
) -> Response:
    svc = services(request)
    with svc.db.session() as s:
        case_for(s, p, number)
    refs = [r for r in form.getlist("match") if isinstance(r, str)]
    language = field(form, "language") or None
    with audit.acting_as(actor(p)):
        n = notices.create(
            svc.db,
            svc.settings.home,
            number,
            field(form, "platform"),
            language=language,
            refs=refs or None,
            organisation=p.tenant or notices.ORGANISATION,
            state_ai=field(form, "state_ai") == "1",
        )
    changed(request)
    return RedirectResponse(f"/ui/notices/{n.id}", 303)


@router.get("/notices/{notice_id}")
def notice_page(request: Request, notice_id: int, p: Principal = Depends(current_user)) -> Response:
    n, number = _notice(request, p, notice_id)
    data = notices.load_data(services(request).settings.home)
    return page(
        request,
        "notice.html",
        notice=n,
        case=number,
        hotlines=notices.hotlines_for(n, data),
        statuses=notices.STATUSES[1:],
        platform=data.platforms.get(n.platform, {}).get("name", n.platform),
        contact=data.platforms.get(n.platform, {}).get("contact", ""),
        mail=mailer.view(services(request).db, services(request).settings.home, notice_id),
    )


@router.post("/notices/{notice_id}/mark")
def notice_mark(
    request: Request,
    notice_id: int,
    p: Principal = Depends(current_user),
    form: FormData = Depends(checked_form),
) -> Response:
    _notice(request, p, notice_id)
    with audit.acting_as(actor(p)):
        notices.mark(services(request).db, notice_id, field(form, "status"))
    changed(request)
    return RedirectResponse(f"/ui/notices/{notice_id}", 303)


@router.post("/notices/{notice_id}/send")
def notice_send(
    request: Request,
    notice_id: int,
    p: Principal = Depends(current_user),
    form: FormData = Depends(checked_form),
) -> Response:
    """Send a notice by e-mail (rempart.cases.mailer): a caseworker of its case's
    organisation or an admin; recorded, audited, marked sent. A web-form platform: nothing
    sent, the page shows the form's address."""
    _notice(request, p, notice_id)
    svc = services(request)
    with audit.acting_as(actor(p)):
        mailer.send(svc.db, svc.settings.home, notice_id, actor=actor(p))
    changed(request)
    return RedirectResponse(f"/ui/notices/{notice_id}#mail", 303)
