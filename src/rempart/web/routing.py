"""What every UI route does around its handler: read the session cookie (or start a new
session), pick the language, turn refusals into pages (no session: the sign-in page; a case
she may not see: 404), write the cookie back when the session changed, and add the security
headers. `error_page` is the UI's one error handler: every rempart.errors.RempartError (the
UI's own, the case layer's, tenancy's), an HTTPException (a body over the limit) and an id
too large for the database become a page with the message and the status."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from rempart.access.auth import Principal
from rempart.access.ratelimit import FailureLimiter
from rempart.access.services import Services
from rempart.errors import Forbidden, NotFound, RempartError
from rempart.web import session as sessions
from rempart.web.auth import LoginRequired, WebError, principal_for
from rempart.web.i18n import Translator, pick
from rempart.web.render import HEADERS, page
from rempart.web.settings import WebSettings


@dataclass(frozen=True)
class WebState:
    settings: WebSettings
    key: bytes  # signs session cookies
    login_failures: FailureLimiter  # wrong keys per client address
    services: Services  # the server's: database, key checks (rempart.access.services)


def web_state(request: Request) -> WebState:
    return request.app.state.web


def services(request: Request) -> Services:
    return web_state(request).services


def current_user(request: Request) -> Principal:
    """The signed-in caseworker or admin; LoginRequired otherwise."""
    s: sessions.Session = request.state.session
    if s.key_row is None:
        raise LoginRequired()
    svc = services(request)
    p = principal_for(svc.db, s.key_row, svc.settings.rates)
    if p is None:
        request.state.session = sessions.Session(lang=s.lang)
        raise LoginRequired()
    request.state.user = p
    return p


def set_cookie(response: Response, state: WebState, value: str) -> None:
    response.set_cookie(
        sessions.COOKIE,
        value,
        httponly=True,
        samesite="strict",
        secure=state.settings.cookie_secure,
        path="/",
        max_age=int(state.settings.session_hours * 3600),
    )


def error_page(request: Request, exc: RempartError | HTTPException | OverflowError) -> Response:
    """The UI's answer to a refusal: no session, the sign-in page (then back here); the UI's
    own refusals in the visitor's language; something she may not see, or that does not
    exist, one "not found" page (naming nothing); any other refusal of Rempart said as it is,
    with its status."""
    t: Translator = request.state.t
    if isinstance(exc, LoginRequired):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/ui/login?next={quote(target, safe='')}", 303)
    if isinstance(exc, WebError):
        return page(request, "error.html", exc.status, message=t(exc.key, **exc.values))
    if isinstance(exc, NotFound | OverflowError):  # an id too large: there is no such thing
        return page(request, "error.html", 404, message=t("error.not_found"))
    if isinstance(exc, Forbidden):
        return page(request, "error.html", 403, message=t("error.forbidden"))
    if isinstance(exc, HTTPException):
        key = {404: "error.not_found", 403: "error.forbidden"}.get(exc.status_code, "error.refused")
        return page(request, "error.html", exc.status_code, message=t(key))
    return page(request, "error.html", exc.status, message=exc.message)


class WebRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def wrapped(request: Request) -> Response:
            state = web_state(request)
            raw = request.cookies.get(sessions.COOKIE)
            loaded = sessions.decode(raw, state.key)
            request.state.session = loaded or sessions.Session()
            request.state.user = None
            lang = pick(request.state.session.lang, request.headers.get("accept-language"))
            request.state.t = Translator(lang)
            try:
                response = await handler(request)
            except (RempartError, HTTPException, OverflowError) as exc:
                response = error_page(request, exc)
            value = sessions.encode(request.state.session, state.key)
            if value != raw:
                set_cookie(response, state, value)
            for k, v in HEADERS.items():
                response.headers.setdefault(k, v)
            return response

        return wrapped
