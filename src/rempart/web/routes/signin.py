"""Signing in and out of the caseworker UI, and the language she reads it in. Wrong keys
are limited per client address across all workers (LOGIN_FAILURES, web/app.py)."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from rempart.store import audit
from rempart.web import session as sessions
from rempart.web.auth import WEB_ROLES, actor
from rempart.web.i18n import LANGUAGES
from rempart.web.render import page
from rempart.web.routes.common import changed, checked_form, field, router, safe_next
from rempart.web.routing import services, web_state

LOGIN_FAILURES = (10, 900.0)  # wrong keys per client address per 15 minutes


# ---- sign-in ----------------------------------------------------------------------------


@router.get("/login")
def login_form(request: Request, next: str = "/ui/") -> Response:
    return page(request, "login.html", next=safe_next(next), error="")


@router.post("/login")
def login(request: Request, form: FormData = Depends(checked_form)) -> Response:
    svc = services(request)
    limiter = web_state(request).login_failures
    client = request.client.host if request.client else "?"
    target = safe_next(field(form, "next"))
    principal = svc.auth.check(field(form, "key", 200))
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
    changed(request)
    return RedirectResponse(target, 303)


@router.post("/logout")
def logout(request: Request, form: FormData = Depends(checked_form)) -> Response:
    request.state.session = sessions.Session(lang=request.state.session.lang)
    return RedirectResponse("/ui/login", 303)


@router.post("/lang")
def set_language(request: Request, form: FormData = Depends(checked_form)) -> Response:
    lang = field(form, "lang")
    if lang in LANGUAGES:
        request.state.session = request.state.session.with_lang(lang)
    return RedirectResponse(safe_next(field(form, "next")), 303)
