"""The review queue and one match: blurred preview, reveal (audited), decision (alone or with
its exact copies), possible-minor flag, evidence package."""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from rempart.access.auth import Principal
from rempart.access.tenancy import case_numbers, may_see_number
from rempart.cases import (
    evidence,
    media_rules,
    preview,
    review_words,
)
from rempart.cases import queue as queue_listing
from rempart.cases import review as review_queue
from rempart.cases.review import ReviewItem
from rempart.store import audit
from rempart.store.db import Database
from rempart.store.repository import StoreError
from rempart.web.auth import WebNotFound, actor
from rempart.web.render import page
from rempart.web.routes.common import changed, checked_form, field, router
from rempart.web.routing import current_user, services


def _match(request: Request, p: Principal, ref: str) -> ReviewItem:
    """A match she may see; 404 otherwise (the same whether it exists)."""
    db = services(request).db
    try:
        item = review_queue.get(db, ref)
    except StoreError as exc:
        raise WebNotFound("error.not_found") from exc
    if not may_see_number(db, p, item.case):
        raise WebNotFound("error.not_found")
    return item


# ---- review -----------------------------------------------------------------------------


REVIEW_FILTERS = ("case", "method", "source", "since", "until", "minor", "sort")


@router.get("/review")
def review_page(
    request: Request, status: str = "pending", p: Principal = Depends(current_user)
) -> Response:
    """The queue, each card in words (rempart.cases.review_words), narrowed and sorted by
    the GET parameters REVIEW_FILTERS (in the queue's SQL), which every link keeps."""
    db = services(request).db
    wanted = status if status in review_queue.DECISIONS or status == "pending" else None
    numbers = set(case_numbers(db, p))
    q = {k: request.query_params.get(k, "").strip()[:200] for k in REVIEW_FILTERS}
    sort = q["sort"] if q["sort"] in queue_listing.SORTS else "found"
    filters = queue_listing.Filters(
        q["method"] or None,
        q["source"] or None,
        q["since"] or None,
        q["until"] or None,
        q["minor"] == "1",
        sort,
    )
    error = ""
    try:
        found = review_queue.queue(db, case=q["case"] or None, status=wanted, filters=filters)
    except StoreError as exc:
        found, error = [], str(exc)
    items = [i for i in found if (i.case in numbers) or (p.role == "admin")]
    lang = request.state.t.lang
    kept = urlencode({k: v for k, v in q.items() if v})
    return page(
        request,
        "review.html",
        items=items,
        words={i.ref: review_words.describe(i, lang) for i in items},
        status=wanted or "all",
        q=q,
        kept=kept,
        sorts=queue_listing.SORTS,
        cases=sorted(numbers),
        filter_error=error,
    )


def _png(db: Database, item: ReviewItem, reveal: bool) -> bytes:
    with tempfile.TemporaryDirectory(prefix="rempart-preview-") as tmp:
        out = Path(tmp) / "preview.png"
        preview.show(db, item, out, reveal=reveal)
        return out.read_bytes()


def _match_page(request: Request, item: ReviewItem, status: int = 200, **extra: Any) -> Response:
    return page(
        request,
        "match.html",
        status,
        item=item,
        words=review_words.describe(item, request.state.t.lang),
        decisions=review_queue.DECISIONS,
        media_allowed=media_rules.evidence_media_allowed(services(request).settings.policy),
        saved=request.query_params.get("saved", ""),
        **{"revealed": "", "error": "", **extra},
    )


@router.get("/matches/{ref}")
def match_page(request: Request, ref: str, p: Principal = Depends(current_user)) -> Response:
    return _match_page(request, _match(request, p, ref))


@router.get("/matches/{ref}/preview.png")
def match_preview(request: Request, ref: str, p: Principal = Depends(current_user)) -> Response:
    """The blurred greyscale preview (never the clear picture: that is a POST, audited)."""
    item = _match(request, p, ref)
    try:
        data = _png(services(request).db, item, reveal=False)
    except StoreError:
        return Response(status_code=404)
    return Response(data, media_type="image/png")


@router.post("/matches/{ref}/reveal")
def match_reveal(
    request: Request,
    ref: str,
    p: Principal = Depends(current_user),
    form: FormData = Depends(checked_form),
) -> Response:
    """The clear (greyscale) picture of this one match, written to the audit log before it
    is shown, embedded in this answer only (no address to come back to)."""
    item = _match(request, p, ref)
    with audit.acting_as(actor(p)):
        try:
            data = _png(services(request).db, item, reveal=True)
        except media_rules.MediaRefused:
            return _match_page(request, item, 403, error="match.minor_no_reveal")
        except StoreError:
            return _match_page(request, item, 404, error="match.no_preview")
    changed(request)
    uri = "data:image/png;base64," + base64.b64encode(data).decode()
    return _match_page(request, item, revealed=uri)


@router.post("/matches/{ref}/decide")
def match_decide(
    request: Request,
    ref: str,
    p: Principal = Depends(current_user),
    form: FormData = Depends(checked_form),
) -> Response:
    item = _match(request, p, ref)
    svc = services(request)
    decision, reason = field(form, "decision"), field(form, "reason")
    if decision not in review_queue.DECISIONS or not reason:
        return _match_page(request, item, 400, error="match.reason_needed")
    if field(form, "same_copies") == "1":
        # listed before anything is applied: a confirmation page with the copies
        copies = review_queue.same_copies(svc.db, ref)
        return page(
            request,
            "review_copies.html",
            item=item,
            copies=copies,
            words={c.ref: review_words.describe(c, request.state.t.lang) for c in copies},
            decision=decision,
            reason=reason,
        )
    with audit.acting_as(actor(p)):
        item = review_queue.decide(svc.db, ref, decision, reason, actor=actor(p))
        if decision == "confirmed":
            media_rules.preserve_confirmed(svc.db, svc.settings.home, item, svc.settings.policy)
    changed(request)
    return RedirectResponse(f"/ui/matches/{ref}?saved=decided", 303)


@router.post("/matches/{ref}/decide-copies")
def match_decide_copies(
    request: Request,
    ref: str,
    p: Principal = Depends(current_user),
    form: FormData = Depends(checked_form),
) -> Response:
    """The decision on this match and on the exact copies the confirmation page listed (and
    she kept ticked), in one transaction, audited per match."""
    item = _match(request, p, ref)
    svc = services(request)
    decision, reason = field(form, "decision"), field(form, "reason")
    if decision not in review_queue.DECISIONS or not reason:
        return _match_page(request, item, 400, error="match.reason_needed")
    copies = [c for c in form.getlist("copy") if isinstance(c, str)][:1000]
    with audit.acting_as(actor(p)):
        try:
            done = review_queue.decide_with_copies(
                svc.db, ref, decision, reason, copies, actor=actor(p)
            )
        except StoreError as exc:
            return _match_page(request, item, 409, error="error.message_raw", message=str(exc))
        if decision == "confirmed":
            for one in done:
                media_rules.preserve_confirmed(svc.db, svc.settings.home, one, svc.settings.policy)
    changed(request)
    return RedirectResponse(f"/ui/matches/{ref}?saved=decided", 303)


@router.post("/matches/{ref}/flag-minor")
def match_flag_minor(
    request: Request,
    ref: str,
    p: Principal = Depends(current_user),
    form: FormData = Depends(checked_form),
) -> Response:
    item = _match(request, p, ref)
    reason = field(form, "reason")
    if not reason:
        return _match_page(request, item, 400, error="match.reason_needed")
    with audit.acting_as(actor(p)):
        review_queue.flag_minor(services(request).db, ref, reason)
    changed(request)
    return RedirectResponse(f"/ui/matches/{ref}?saved=flagged", 303)


@router.post("/matches/{ref}/evidence")
def match_evidence(
    request: Request,
    ref: str,
    p: Principal = Depends(current_user),
    form: FormData = Depends(checked_form),
) -> Response:
    """The signed evidence package of a confirmed match, as a download."""
    item = _match(request, p, ref)
    svc = services(request)
    allowed = media_rules.evidence_media_allowed(svc.settings.policy)
    with tempfile.TemporaryDirectory(prefix="rempart-evidence-") as tmp:
        out = Path(tmp) / f"evidence-{ref}.zip"
        with audit.acting_as(actor(p)):
            try:
                evidence.export_package(
                    svc.db,
                    svc.settings.home,
                    ref,
                    out,
                    include_media=form.get("include_media") == "1",
                    media_allowed=allowed,
                    policy=svc.settings.policy,
                )
            except (StoreError, OSError) as exc:
                return _match_page(request, item, 400, error="error.message_raw", message=str(exc))
        data = out.read_bytes()
    changed(request)
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="evidence-{ref}.zip"'},
    )
