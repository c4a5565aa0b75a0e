"""API keys and tenants (admin only). A new key is shown once, in the creation answer."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from rempart.access import keys, records
from rempart.api.auth import Principal, require
from rempart.api.services import Services, services
from rempart.store import audit

router = APIRouter(prefix="/v1", tags=["admin"])


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str = Field(description="admin, caseworker, platform or victim")
    tenant: str | None = Field(None, description="The organisation (caseworker) or platform")
    label: str = Field("", max_length=200)
    rate_limit: float | None = Field(None, gt=0, description="Requests per second")


def _json(info: keys.KeyInfo) -> dict[str, Any]:
    out = asdict(info)
    out["created_at"] = info.created_at.isoformat(timespec="seconds")
    out["revoked_at"] = info.revoked_at.isoformat(timespec="seconds") if info.revoked_at else None
    del out["id"]
    return out


@router.post("/keys", status_code=201, summary="Create an API key (shown once)")
def create_key(
    body: KeyIn, p: Principal = Depends(require("admin")), svc: Services = Depends(services)
) -> dict[str, Any]:
    with audit.acting_as(p.actor):
        key, info = keys.issue_key(
            svc.db, body.role, body.tenant, label=body.label, rate_limit=body.rate_limit
        )
    svc.changed()
    return {"key": key, **_json(info)}


@router.get("/keys", summary="API keys (never the keys themselves)")
def list_keys(
    p: Principal = Depends(require("admin")), svc: Services = Depends(services)
) -> list[dict[str, Any]]:
    with svc.db.session() as s:
        return [_json(k) for k in keys.list_keys(s)]


@router.delete("/keys/{key_id}", summary="Revoke an API key (at once on this server)")
def revoke_key(
    key_id: str, p: Principal = Depends(require("admin")), svc: Services = Depends(services)
) -> dict[str, Any]:
    with audit.acting_as(p.actor):
        info = keys.withdraw_key(svc.db, key_id)
    svc.auth.forget(key_id)
    svc.changed()
    return _json(info)


@router.get("/tenants", summary="Organisations and platforms")
def list_tenants(
    p: Principal = Depends(require("admin")), svc: Services = Depends(services)
) -> list[dict[str, Any]]:
    return records.tenants(svc.db)
