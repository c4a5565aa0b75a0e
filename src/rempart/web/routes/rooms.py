"""The rooms intelligence report (rempart.cases.rooms_report) as a page."""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path

from fastapi import Depends, Request
from fastapi.responses import Response

from rempart.access.auth import Principal
from rempart.access.tenancy import case_numbers
from rempart.cases import (
    rooms_render,
    rooms_report,
)
from rempart.web.render import page
from rempart.web.routes.common import router
from rempart.web.routing import current_user, services

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
