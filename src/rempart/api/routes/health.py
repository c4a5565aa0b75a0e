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


@router.get("/ready", summary="The server can answer lookups",
            responses={503: {"description": "Index loading, or stale"}})  # fmt: skip
async def ready(svc: Services = Depends(services)) -> JSONResponse:
    # on the event loop (one small query): a probe must not queue behind busy worker threads
    keeper = svc.keeper
    stale = keeper.stale()
    body: dict[str, Any] = {
        "ready": keeper.ready and not stale,
        "index": {"loaded": keeper.ready, "stale": stale, "hashes": keeper.size()},
    }
    if keeper.last_error:
        body["index"]["error"] = keeper.last_error
    return JSONResponse(body, status_code=200 if body["ready"] else 503)
