"""Who is signed in: caseworkers and admins sign in with their API key; the session keeps
the key's row id, checked against the database on every request (revoked: signed out).
A caseworker sees only her organisation's cases, exactly as through the API (the same
`rempart.access.tenancy` rules). The UI's own refusals are rempart.errors exceptions, so the
one handler of the UI (web/routing.py) renders them with every other."""

from __future__ import annotations

from rempart.access.auth import Principal, principal_for_row
from rempart.errors import Forbidden, NotFound, RempartError
from rempart.store.db import Database

WEB_ROLES = ("caseworker", "admin")


class LoginRequired(RempartError):
    """No valid session: the browser is sent to the sign-in page."""

    status = 401
    code = "login-required"


class WebError(RempartError):
    """A refusal shown as a page: a message key of the UI's catalogues and its values; the
    status is the class's (WebError: 400; WebForbidden: 403; WebNotFound: 404)."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key, self.values = key, values


class WebForbidden(WebError, Forbidden):
    """A form without this session's CSRF token, or a page her role may not see."""


class WebNotFound(WebError, NotFound):
    """Something that does not exist, or that she may not see (the same page)."""


def principal_for(db: Database, key_row: int, rates: dict[str, float]) -> Principal | None:
    """The key behind a session, if it still exists, is not revoked and may use the UI."""
    return principal_for_row(db, key_row, rates, WEB_ROLES)


def actor(p: Principal) -> str:
    """How audit entries name a person acting in the UI."""
    return f"web:{p.tenant or p.role}:{p.key_id}"
