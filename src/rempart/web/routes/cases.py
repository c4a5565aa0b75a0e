"""The cases she may see (the UI's front page), one case with its matches and notices, and
its status."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from rempart.access.auth import Principal
from rempart.access.tenancy import case_for, case_numbers
from rempart.cases import (
    notices,
    workflow,
)
from rempart.cases import review as review_queue
from rempart.store import audit
from rempart.web.auth import actor
from rempart.web.render import page
from rempart.web.routes.common import changed, checked_form, field, router
from rempart.web.routing import current_user, services

# ---- cases ------------------------------------------------------------------------------


@router.get("/")
def cases_page(request: Request, p: Principal = Depends(current_user)) -> Response:
    db = services(request).db
    numbers = case_numbers(db, p)
    pending: dict[str, int] = {}
    minors: dict[str, int] = {}
    for item in review_queue.queue(db, status="pending"):
        if item.case in numbers:
            pending[item.case] = pending.get(item.case, 0) + 1
            minors[item.case] = minors.get(item.case, 0) + int(item.possible_minor)
    rows = [workflow.view(db, n) for n in numbers[:500]]
    return page(request, "cases.html", cases=rows, pending=pending, minors=minors)


@router.get("/cases/{number}")
def case_page(request: Request, number: str, p: Principal = Depends(current_user)) -> Response:
    svc = services(request)
    with svc.db.session() as s:
        case_for(s, p, number)
    data = notices.load_data(svc.settings.home)
    items = review_queue.queue(svc.db, case=number, status=None)
    # The new notice's form ticks only the matches found on the chosen platform (by default
    # the first one with confirmed matches): a letter never lists another platform's items.
    where = notices.platforms_of(svc.db, [i for i in items if i.status == "confirmed"], data)
    chosen = request.query_params.get("platform", "")
    if chosen not in data.platforms:
        chosen = next((w[0] for w in where.values() if w), next(iter(data.platforms), ""))
    return page(
        request,
        "case.html",
        case=workflow.view(svc.db, number),
        items=items,
        notices=notices.all_notices(svc.db, number),
        platforms={k: v.get("name", k) for k, v in data.platforms.items()},
        where=where,
        chosen=chosen,
        states=workflow.STATES,
        error=request.query_params.get("error", ""),
    )


@router.post("/cases/{number}/status")
def case_status(
    request: Request,
    number: str,
    p: Principal = Depends(current_user),
    form: FormData = Depends(checked_form),
) -> Response:
    svc = services(request)
    with svc.db.session() as s:
        case_for(s, p, number)
    with audit.acting_as(actor(p)):
        workflow.set_status(svc.db, number, field(form, "status"), field(form, "note"))
    changed(request)
    return RedirectResponse(f"/ui/cases/{number}", 303)
