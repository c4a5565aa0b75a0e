"""`rempart serve` hands out her hashing page at /hash/ (no key, no session, no cookie): the
same file `rempart hash-page` writes, with its Content-Security-Policy as a header too (plus
frame-ancestors 'none', no referrer, no sniffing, no caching). The page itself sends nothing
back to this server: serving it is the only request it ever makes."""

from __future__ import annotations

import os
from functools import lru_cache

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from rempart.web import pageshell
from rempart.web.hashpage import HashPage, HashPageError, build_page, page_folder

router = APIRouter(include_in_schema=False)


def _stamp() -> tuple[float, ...]:
    """When the page's parts last changed (a rebuild is served without a restart)."""
    base, shared = page_folder(), pageshell.folder()
    out: list[float] = []
    for part in [
        base / rel for rel in ("page.html", "page.css", "dist/page.js", "dist/worker.js")
    ] + [shared / file for file in (*pageshell.INCLUDES.values(), "languages.js")]:
        try:
            out.append(os.stat(str(part)).st_mtime)
        except OSError:
            out.append(-1.0)
    return tuple(out)


@lru_cache(maxsize=2)
def _page(stamp: tuple[float, ...]) -> HashPage:
    return build_page()


@router.get("/hash/")
def hash_page() -> Response:
    try:
        page = _page(_stamp())
    except HashPageError as exc:
        return PlainTextResponse(
            str(exc), status_code=503, headers={"X-Content-Type-Options": "nosniff"}
        )
    return HTMLResponse(page.html, headers=page.headers())


@router.get("/hash")
def hash_page_slash() -> Response:
    return RedirectResponse("/hash/", status_code=308)
