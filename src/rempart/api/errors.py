"""Every refusal is a JSON answer with a message: bad input is a 4xx, never a 500."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from rempart.api.index_keeper import NotReady
from rempart.exchange.consent import FormatError
from rempart.media.errors import MediaError
from rempart.sources.urls import Refused
from rempart.store.repository import StoreError

log = logging.getLogger("rempart.api")


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes the input back, and fails (500) on a body of bytes
        # that are not UTF-8: say where and what, never echo.
        errors = [{"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", "")),
                   "type": str(e.get("type", ""))} for e in exc.errors()]  # fmt: skip
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(StoreError)
    async def store_error(_: Request, exc: StoreError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(FormatError)
    async def format_error(_: Request, exc: FormatError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(MediaError)
    async def media_error(_: Request, exc: MediaError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail, "reason": exc.reason}, status_code=422)

    @app.exception_handler(Refused)
    async def refused(_: Request, exc: Refused) -> JSONResponse:
        status = 413 if exc.reason == "too-large" else 400
        return JSONResponse({"detail": exc.detail, "reason": exc.reason}, status_code=status)

    @app.exception_handler(NotReady)
    async def not_ready(_: Request, exc: NotReady) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(OverflowError)
    async def overflow(_: Request, exc: OverflowError) -> JSONResponse:
        # an id too large for the database (routes bound theirs; this is the net below)
        return JSONResponse({"detail": "not found"}, status_code=404)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error (logged on the server)"}, status_code=500)
