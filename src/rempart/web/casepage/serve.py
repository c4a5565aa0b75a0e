"""`rempart serve` hands out her case page at /case/ (no key, no cookie): built once per
process from its parts (rempart.web.casepage), with its Content-Security-Policy and the
other headers of a page that must leak nothing (no referrer, no caching, no framing)."""

from __future__ import annotations

from functools import lru_cache

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from rempart.web.casepage import CasePage, build_page

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=1)
def _page() -> CasePage:
    return build_page()


@router.get("/case/")
def case_page() -> Response:
    page = _page()
    return HTMLResponse(page.html, headers=page.headers())


@router.get("/case")
def case_page_slash() -> Response:
    return RedirectResponse("/case/", status_code=308)
