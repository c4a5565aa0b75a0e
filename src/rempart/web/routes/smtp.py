"""The SMTP settings an admin keeps for her organisation (or the instance), and a test of the
server (rempart.cases.mail_settings; the test: rempart.cases.mailer)."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from rempart.access.auth import Principal
from rempart.cases import (
    mail_settings,
    mailer,
)
from rempart.errors import InvalidInput
from rempart.web.auth import WebForbidden, actor
from rempart.web.render import page
from rempart.web.routes.common import checked_form, field, router
from rempart.web.routing import current_user, services


def _smtp_admin(p: Principal) -> str:
    """The organisation whose SMTP settings this admin keeps ("" : the instance's)."""
    if p.role != "admin":
        raise WebForbidden("error.forbidden")
    return p.tenant or ""


@router.get("/settings/smtp")
def smtp_page(request: Request, p: Principal = Depends(current_user)) -> Response:
    organisation = _smtp_admin(p)
    cfg = mail_settings.get_settings(services(request).db, organisation)
    return page(
        request,
        "smtp.html",
        cfg=cfg,
        organisation=organisation,
        securities=mail_settings.SECURITIES,
        message=request.state.t("smtp.saved") if request.query_params.get("saved") else "",
    )


@router.post("/settings/smtp")
def smtp_save(
    request: Request, p: Principal = Depends(current_user), form: FormData = Depends(checked_form)
) -> Response:
    organisation = _smtp_admin(p)
    port = field(form, "port", 10)
    if port and not port.isdigit():
        raise InvalidInput(f"SMTP port must be a number, not {port!r}")
    password = form.get("password")
    svc = services(request)
    mail_settings.set_settings(
        svc.db,
        svc.settings.home,
        organisation=organisation,
        host=field(form, "host", 300),
        port=int(port) if port else None,
        security=field(form, "security", 20) or "starttls",
        username=field(form, "user", 300),
        password=(
            ""
            if field(form, "forget")
            else (password if isinstance(password, str) and password else None)
        ),
        from_address=field(form, "from", 400),
        reply_to=field(form, "reply_to", 400),
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
        cfg=mail_settings.get_settings(svc.db, organisation),
        organisation=organisation,
        securities=mail_settings.SECURITIES,
        message=request.state.t("smtp.tested", answer=answer),
    )
