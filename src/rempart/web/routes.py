"""The caseworker UI's pages (under /ui): sign-in, cases, a case, the review queue and one
match (blurred preview, reveal, decision, possible-minor flag, evidence package), notices and
their tracking, scans with live progress, statistics. Every POST carries the session's CSRF
token; a caseworker sees only her organisation's cases (rempart.access.tenancy)."""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from rempart.access import records
from rempart.access.auth import Principal
from rempart.access.tenancy import case_for, case_numbers, may_see_number, own_case, visible_banks
from rempart.cases import (
    evidence,
    mailer,
    media_rules,
    notices,
    preview,
    review_words,
    rooms_render,
    rooms_report,
    self_service,
    stats,
    workflow,
)
from rempart.cases import queue as queue_listing
from rempart.cases import review as review_queue
from rempart.cases.review import ReviewItem
from rempart.errors import InvalidInput, NotFound
from rempart.store import audit
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database
from rempart.store.models import Notice
from rempart.store.repository import StoreError
from rempart.web import scans
from rempart.web import session as sessions
from rempart.web.auth import WEB_ROLES, WebError, WebForbidden, WebNotFound, actor
from rempart.web.i18n import LANGUAGES
from rempart.web.render import page
from rempart.web.routing import WebRoute, current_user, services, web_state

router = APIRouter(prefix="/ui", route_class=WebRoute, include_in_schema=False)
root_router = APIRouter(include_in_schema=False)
LOGIN_FAILURES = (10, 900.0)  # wrong keys per client address per 15 minutes


@root_router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/ui/", 303)


async def checked_form(request: Request) -> FormData:
    """The POSTed form, after its CSRF token was checked against the session's (403)."""
    form = await request.form()
    token = form.get("csrf")
    if not isinstance(token, str) or not request.state.session.check_csrf(token):
        raise WebForbidden("error.csrf")
    return form


def _field(form: FormData, name: str, limit: int = 2000) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _safe_next(target: str) -> str:
    """Only a path of this UI (never another site) to go back to."""
    if target.startswith("/ui/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui/"


def _home(request: Request) -> Path:
    return services(request).settings.home


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


def _changed(request: Request) -> None:
    services(request).changed()


# ---- sign-in ----------------------------------------------------------------------------


@router.get("/login")
def login_form(request: Request, next: str = "/ui/") -> Response:
    return page(request, "login.html", next=_safe_next(next), error="")


@router.post("/login")
def login(request: Request, form: FormData = Depends(checked_form)) -> Response:
    svc = services(request)
    limiter = web_state(request).login_failures
    client = request.client.host if request.client else "?"
    target = _safe_next(_field(form, "next"))
    principal = svc.auth.check(_field(form, "key", 200))
    if principal is None or principal.role not in WEB_ROLES:
        # Wrong keys are limited per address (request.client: the peer, or behind a
        # trusted proxy the address it saw, api/proxies.py); a valid key is never refused
        # by a lock-out that someone else's failures caused.
        if limiter.blocked(client) > 0:
            return page(request, "login.html", 429, next=target, error="login.too_many")
        limiter.failed(client)
        return page(request, "login.html", 401, next=target, error="login.failed")
    state = web_state(request)
    request.state.session = request.state.session.signed_in(
        principal.id, state.settings.session_hours
    )
    with svc.db.session() as s:
        audit.record(
            s,
            "web-sign-in",
            actor=actor(principal),
            details={"key_id": principal.key_id, "role": principal.role},
        )
    _changed(request)
    return RedirectResponse(target, 303)


@router.post("/logout")
def logout(request: Request, form: FormData = Depends(checked_form)) -> Response:
    request.state.session = sessions.Session(lang=request.state.session.lang)
    return RedirectResponse("/ui/login", 303)


@router.post("/lang")
def set_language(request: Request, form: FormData = Depends(checked_form)) -> Response:
    lang = _field(form, "lang")
    if lang in LANGUAGES:
        request.state.session = request.state.session.with_lang(lang)
    return RedirectResponse(_safe_next(_field(form, "next")), 303)


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
        workflow.set_status(svc.db, number, _field(form, "status"), _field(form, "note"))
    _changed(request)
    return RedirectResponse(f"/ui/cases/{number}", 303)


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
    _changed(request)
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
    decision, reason = _field(form, "decision"), _field(form, "reason")
    if decision not in review_queue.DECISIONS or not reason:
        return _match_page(request, item, 400, error="match.reason_needed")
    if _field(form, "same_copies") == "1":
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
    _changed(request)
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
    decision, reason = _field(form, "decision"), _field(form, "reason")
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
    _changed(request)
    return RedirectResponse(f"/ui/matches/{ref}?saved=decided", 303)


@router.post("/matches/{ref}/flag-minor")
def match_flag_minor(
    request: Request,
    ref: str,
    p: Principal = Depends(current_user),
    form: FormData = Depends(checked_form),
) -> Response:
    item = _match(request, p, ref)
    reason = _field(form, "reason")
    if not reason:
        return _match_page(request, item, 400, error="match.reason_needed")
    with audit.acting_as(actor(p)):
        review_queue.flag_minor(services(request).db, ref, reason)
    _changed(request)
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
    _changed(request)
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="evidence-{ref}.zip"'},
    )


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
    language = _field(form, "language") or None
    with audit.acting_as(actor(p)):
        n = notices.create(
            svc.db,
            svc.settings.home,
            number,
            _field(form, "platform"),
            language=language,
            refs=refs or None,
            organisation=p.tenant or notices.ORGANISATION,
            state_ai=_field(form, "state_ai") == "1",
        )
    _changed(request)
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
        notices.mark(services(request).db, notice_id, _field(form, "status"))
    _changed(request)
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
    _changed(request)
    return RedirectResponse(f"/ui/notices/{notice_id}#mail", 303)


def _smtp_admin(p: Principal) -> str:
    """The organisation whose SMTP settings this admin keeps ("" : the instance's)."""
    if p.role != "admin":
        raise WebForbidden("error.forbidden")
    return p.tenant or ""


@router.get("/settings/smtp")
def smtp_page(request: Request, p: Principal = Depends(current_user)) -> Response:
    organisation = _smtp_admin(p)
    cfg = mailer.get_settings(services(request).db, organisation)
    return page(
        request,
        "smtp.html",
        cfg=cfg,
        organisation=organisation,
        securities=mailer.SECURITIES,
        message=request.state.t("smtp.saved") if request.query_params.get("saved") else "",
    )


@router.post("/settings/smtp")
def smtp_save(
    request: Request, p: Principal = Depends(current_user), form: FormData = Depends(checked_form)
) -> Response:
    organisation = _smtp_admin(p)
    port = _field(form, "port", 10)
    if port and not port.isdigit():
        raise InvalidInput(f"SMTP port must be a number, not {port!r}")
    password = form.get("password")
    svc = services(request)
    mailer.set_settings(
        svc.db,
        svc.settings.home,
        organisation=organisation,
        host=_field(form, "host", 300),
        port=int(port) if port else None,
        security=_field(form, "security", 20) or "starttls",
        username=_field(form, "user", 300),
        password=(
            ""
            if _field(form, "forget")
            else (password if isinstance(password, str) and password else None)
        ),
        from_address=_field(form, "from", 400),
        reply_to=_field(form, "reply_to", 400),
        actor=actor(p),
    )
    return RedirectResponse("/ui/settings/smtp?saved=1", 303)


@router.post("/settings/smtp/test")
def smtp_test(
    request: Request, p: Principal = Depends(current_user), form: FormData = Depends(checked_form)
) -> Response:
    organisation = _smtp_admin(p)
    svc = services(request)
    answer = mailer.check_server(svc.db, svc.settings.home, organisation, timeout=15.0)
    return page(
        request,
        "smtp.html",
        cfg=mailer.get_settings(svc.db, organisation),
        organisation=organisation,
        securities=mailer.SECURITIES,
        message=request.state.t("smtp.tested", answer=answer),
    )


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
            _field(form, "folder"),
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


# ---- statistics -------------------------------------------------------------------------


@router.get("/stats")
def stats_page(request: Request, case: str = "", p: Principal = Depends(current_user)) -> Response:
    db = services(request).db
    numbers = case_numbers(db, p)
    if case and case not in numbers:
        raise WebNotFound("error.not_found")
    if case:
        data = stats.collect(db, case)
    else:
        data = stats.collect(db, cases=None if p.role == "admin" else numbers)
    charts: dict[str, str] = {}
    t = request.state.t
    labels = {
        "matches_per_day": t("stats.matches_per_day"),
        "matches": t("stats.matches"),
        "removal_rate": t("stats.removal_rate") + " (%)",
        "median_hours": t("stats.median_hours"),
    }
    labels |= {
        k: t(f"stats.{k}")
        for k in ("matches_per_week", "p90_hours", "hours_to_removal", "hours_by_month")
        + ("no_matches", "no_notices", "no_removals", "in_all", "verified")
    }
    with tempfile.TemporaryDirectory(prefix="rempart-stats-") as tmp:
        for f in stats.write(data, Path(tmp), labels, pdf=False):
            if f.suffix == ".png":
                charts[f.stem] = (
                    "data:image/png;base64," + base64.b64encode(f.read_bytes()).decode()
                )
    return page(
        request,
        "stats.html",
        data=data,
        charts=charts,
        cases=numbers,
        case=case,
        alts=stats.alt_texts(data, labels),
        empty=stats.empty_states(data, labels),
    )


# ---- rooms ------------------------------------------------------------------------------


@router.get("/rooms")
def rooms_page(request: Request, room: str = "", p: Principal = Depends(current_user)) -> Response:
    """The rooms intelligence report (rempart.cases.rooms_report) over the rooms where her
    organisation's cases were found (an admin: every room), in the page's language."""
    db = services(request).db
    cases = None if p.role == "admin" else case_numbers(db, p)
    report = rooms_report.collect(db, [room[:500]] if room else None, cases)
    lang = request.state.t.lang
    images: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="rempart-rooms-") as tmp:
        for name, f in rooms_render.charts(report, Path(tmp), lang).items():
            images[name] = "data:image/png;base64," + base64.b64encode(f.read_bytes()).decode()
    body = rooms_render.body(report, lang, images)
    return page(request, "rooms.html", report=report, body=body, room=room)


# ---- her case page, the helpline's side (issue 14: rempart.cases.self_service) ------------


@router.get("/self-cases")
def self_cases_page(request: Request, p: Principal = Depends(current_user)) -> Response:
    """Cases people opened themselves, apart until a caseworker takes them, and the
    organisation's case-page settings (changed with `rempart case page-settings`)."""
    db = services(request).db
    return page(
        request,
        "self_cases.html",
        cases=self_service.self_opened_cases(db, p),  # her organisation's (an admin: all)
        settings=self_service.org_settings(db),
    )


@router.post("/self-cases/{number}/take")
def self_case_take(
    request: Request,
    number: str,
    p: Principal = Depends(current_user),
    form: FormData = Depends(checked_form),
) -> Response:
    svc = services(request)
    if not any(c.case == number for c in self_service.self_opened_cases(svc.db, p)):
        raise WebNotFound("error.not_found")  # none, taken, or another organisation's
    try:
        with audit.acting_as(actor(p)):
            self_service.take_case(
                self_service.direct(BankIndex(svc.db, _home(request))),
                number,
                on_case=lambda s, case: own_case(s, p, case),  # her case is now this org's
                viewer=p,
            )
    except NotFound as exc:
        raise WebNotFound("error.not_found") from exc
    _changed(request)
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
    _changed(request)
    response = page(request, "case_secret.html", number=number, secret=secret)
    response.headers["Cache-Control"] = "no-store"
    return response
