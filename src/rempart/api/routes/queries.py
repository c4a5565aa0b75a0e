"""The query log: a tenant sees only its own lookups (admins: everyone's, or one tenant's)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from rempart.access.keys import get_tenant
from rempart.api.auth import Principal, require
from rempart.api.services import Services, services
from rempart.store.models import ApiQuery

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
    query = select(ApiQuery)
    with svc.db.session() as s:
        if p.role != "admin":
            query = query.where(ApiQuery.tenant_id == p.tenant_id)
        elif tenant is not None:
            query = query.where(ApiQuery.tenant_id == get_tenant(s, tenant).id)
        if matched_only:
            query = query.where(ApiQuery.match_count > 0)
        rows = s.scalars(query.order_by(ApiQuery.id.desc()).limit(limit)).all()
        return [{"at": q.at.isoformat(timespec="seconds"), "endpoint": q.endpoint,
                 "signal_type": q.signal_type, "signal": q.signal,
                 "match_count": q.match_count, "matched": q.matched} for q in rows]
