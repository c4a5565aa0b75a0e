"""What the UI's pages share: the router every area adds its routes to (under /ui), the
CSRF-checked form, a form field, a safe place to go back to, the home folder, and telling
the server that something changed."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from starlette.datastructures import FormData

from rempart.web.auth import WebForbidden
from rempart.web.routing import WebRoute, services

router = APIRouter(prefix="/ui", route_class=WebRoute, include_in_schema=False)


async def checked_form(request: Request) -> FormData:
    """The POSTed form, after its CSRF token was checked against the session's (403)."""
    form = await request.form()
    token = form.get("csrf")
    if not isinstance(token, str) or not request.state.session.check_csrf(token):
        raise WebForbidden("error.csrf")
    return form


def field(form: FormData, name: str, limit: int = 2000) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def safe_next(target: str) -> str:
    """Only a path of this UI (never another site) to go back to."""
    if target.startswith("/ui/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui/"


def home(request: Request) -> Path:
    return services(request).settings.home


def changed(request: Request) -> None:
    services(request).changed()
