"""Liveness and readiness (readiness is false while the index loads or lags the database)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from rempart.api.services import Services, services

router = APIRouter(tags=["health"])


@router.get("/health", summary="The server is up")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    summary="The server can answer lookups",
    responses={503: {"description": "Index loading, or stale"}},
)
async def ready(svc: Services = Depends(services)) -> JSONResponse:
    # on the event loop (one small query): a probe must not queue behind busy worker threads
    keeper = svc.keeper
    error = keeper.last_error
    try:
        stale = keeper.stale()
    except Exception as exc:  # the database is unreachable: not ready, and why
        stale, error = True, f"database: {type(exc).__name__}"
    body: dict[str, Any] = {
        "ready": keeper.ready and not stale,
        "index": {"loaded": keeper.ready, "stale": stale, "hashes": keeper.size()},
    }
    if error:
        body["index"]["error"] = error
    return JSONResponse(body, status_code=200 if body["ready"] else 503)
