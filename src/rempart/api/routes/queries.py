"""The query log: a tenant sees only its own lookups (admins: everyone's, or one tenant's)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from rempart.access import records
from rempart.api.auth import Principal, require
from rempart.api.services import Services, services

router = APIRouter(prefix="/v1", tags=["queries"])


@router.get("/queries", summary="Lookups made by your tenant, newest first")
def list_queries(
    limit: int = Query(100, ge=1, le=1000),
    matched_only: bool = False,
    tenant: str | None = Query(None, description="Admins: only this tenant"),
    p: Principal = Depends(require("platform", "caseworker", "admin")),
    svc: Services = Depends(services),
) -> list[dict[str, Any]]:
    svc.querylog.flush()
    return records.query_log(svc.db, p, tenant, matched_only, limit)
