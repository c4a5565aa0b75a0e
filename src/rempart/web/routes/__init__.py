"""The caseworker UI's pages (under /ui), one module per area: sign-in (signin), cases
(cases), the review queue and one match (review: blurred preview, reveal, decision,
possible-minor flag, evidence package), notices and their tracking (notices), the SMTP
settings (smtp), scans with live progress (scans), statistics (stats), rooms (rooms), and
her case page's helpline side (self_cases). Every POST carries the session's CSRF token
(common.checked_form); a caseworker sees only her organisation's cases
(rempart.access.tenancy).

Each area adds its routes to the one `router` (common.py) when it is imported below, so
`router.routes` lists them all (tests/web/test_web_units.py checks every POST there). No
two areas' paths overlap, so the order of the areas does not change which route answers; a
catch-all path would have to be added last. `root_router` sends / to the UI."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from rempart.web.routes import (  # noqa: F401  (importing an area adds its routes)
    cases,
    notices,
    review,
    rooms,
    scans,
    self_cases,
    signin,
    smtp,
    stats,
)
from rempart.web.routes.common import router
from rempart.web.routes.signin import LOGIN_FAILURES

__all__ = ["LOGIN_FAILURES", "root_router", "router"]

root_router = APIRouter(include_in_schema=False)


@root_router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/ui/", 303)
