"""The statistics page: matches, notices and removal times, as charts embedded in the page
(rempart.cases.stats)."""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path

from fastapi import Depends, Request
from fastapi.responses import Response

from rempart.access.auth import Principal
from rempart.access.tenancy import case_numbers
from rempart.cases import (
    stats,
)
from rempart.web.auth import WebNotFound
from rempart.web.render import page
from rempart.web.routes.common import router
from rempart.web.routing import current_user, services

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
