"""Scans of her organisation's inbox folders against the banks she may see, with live
progress (rempart.web.scans runs them)."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from rempart.access.auth import Principal
from rempart.access.tenancy import visible_banks
from rempart.store.repository import StoreError
from rempart.web import scans
from rempart.web.auth import WebError, WebNotFound, actor
from rempart.web.render import page
from rempart.web.routes.common import checked_form, field, router
from rempart.web.routing import current_user, services, web_state

# ---- scans ------------------------------------------------------------------------------


@router.get("/scans")
def scans_page(request: Request, p: Principal = Depends(current_user)) -> Response:
    svc = services(request)
    root = scans.inbox_for(web_state(request).settings.scan_root, p)  # her organisation's
    with svc.db.session() as s:
        banks = sorted(visible_banks(s, p))
    return page(
        request,
        "scans.html",
        folders=scans.scan_folders(root) if root else [],
        banks=banks,
        root=str(root or ""),
    )


@router.post("/scans")
def scan_start(
    request: Request, p: Principal = Depends(current_user), form: FormData = Depends(checked_form)
) -> Response:
    svc = services(request)
    settings = web_state(request).settings
    with svc.db.session() as s:
        allowed = visible_banks(s, p)
    banks = [b for b in form.getlist("bank") if isinstance(b, str)]
    root = scans.inbox_for(settings.scan_root, p)  # her organisation's inbox only
    if any(b not in allowed for b in banks) or root is None:
        raise WebError("scan.bad_request")
    try:
        job = scans.start(
            svc.db,
            svc.settings.home,
            root,
            field(form, "folder"),
            banks,
            p.id,
            p.tenant_id if p.role != "admin" else None,
            actor(p),
            settings.scan_workers,
        )
    except StoreError as exc:
        raise WebError("scan.bad_request") from exc
    return RedirectResponse(f"/ui/scans/{job.id}", 303)


def _job(request: Request, p: Principal, job_id: str) -> scans.Job:
    job = scans.load(services(request).settings.home, job_id)
    if job is None or (p.role != "admin" and job.key_row != p.id):
        raise WebNotFound("error.not_found")
    return job


@router.get("/scans/{job_id}")
def scan_page(request: Request, job_id: str, p: Principal = Depends(current_user)) -> Response:
    return page(request, "scan.html", job=_job(request, p, job_id))


@router.get("/scans/{job_id}/progress")
def scan_progress(request: Request, job_id: str, p: Principal = Depends(current_user)) -> Response:
    return JSONResponse(_job(request, p, job_id).public())
