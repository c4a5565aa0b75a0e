"""Every refusal is a JSON answer with a message: bad input is a 4xx, never a 500.

One handler answers every rempart.errors.RempartError with the status the error carries and
{"detail": its message}; the few kinds whose answer says more keep their own shape (a media
file that cannot be decoded, a URL refused while fetching: "detail" and "reason"; anything
not ready yet: Retry-After). Besides it: request validation (never echoing the input), an
id too large for the database (404), and the net under everything else (500, logged)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from rempart.errors import RempartError, Unavailable
from rempart.media.errors import MediaError
from rempart.sources.urls import Refused as UrlRefused

log = logging.getLogger("rempart.api")
INTERNAL = "internal error (logged on the server)"


def answer(exc: RempartError) -> JSONResponse:
    """The API's answer to a refusal of any part of Rempart."""
    if isinstance(exc, MediaError):  # the detail only: the path is the server's temp file
        return JSONResponse({"detail": exc.detail, "reason": exc.reason}, status_code=422)
    if isinstance(exc, UrlRefused):  # a body over the limit is 413, any other refusal 400
        status = 413 if exc.reason == "too-large" else 400
        return JSONResponse({"detail": exc.detail, "reason": exc.reason}, status_code=status)
    if isinstance(exc, Unavailable):  # the index loading: ask again in a second
        return JSONResponse(
            {"detail": exc.message}, status_code=exc.status, headers={"Retry-After": "1"}
        )
    if exc.status >= 500:  # the installation lacks something: said in the log, not to callers
        log.error("%s: %s", type(exc).__name__, exc.message)
        return JSONResponse({"detail": INTERNAL}, status_code=500)
    return JSONResponse({"detail": exc.message}, status_code=exc.status)


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes the input back, and fails (500) on a body of bytes
        # that are not UTF-8: say where and what, never echo.
        errors = [
            {
                "loc": [str(x) for x in e.get("loc", ())],
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
            for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(RempartError)
    async def refused(_: Request, exc: RempartError) -> JSONResponse:
        return answer(exc)

    @app.exception_handler(OverflowError)
    async def overflow(_: Request, exc: OverflowError) -> JSONResponse:
        # an id too large for the database (routes bound theirs; this is the net below)
        return JSONResponse({"detail": "not found"}, status_code=404)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": INTERNAL}, status_code=500)
