"""Sync between Rempart instances (docs/sync.md): a partner pulls, page by page, what changed
in a bank shared with it since its last checkpoint: entries added that consent allows to
share, and hashes withdrawn (as SHA-256 digests only). `partner` keys see only the banks
shared with their tenant; admins every bank. Every page served is an audit entry."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query

from rempart.access.records import shared_bank
from rempart.api.auth import Principal, require
from rempart.api.services import Services, services
from rempart.exchange.sync_feed import DEFAULT_LIMIT, MAX_LIMIT, build_page
from rempart.store import audit

router = APIRouter(prefix="/v1/sync", tags=["sync"])


@router.get("/{name}", summary="Changes of a shared bank since a checkpoint (partner, admin)")
def pull(
    name: str,
    since: str | None = Query(
        None,
        max_length=64,
        description="The `checkpoint` of the previous page; 0 or none: from the beginning",
    ),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Changes per page"),
    p: Principal = Depends(require("partner", "admin")),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    instance = svc.db.instance_id()
    with svc.db.session() as s:
        bank = shared_bank(s, p, name)
        if bank is None:
            raise HTTPException(404, f"no bank named {name!r} shared with this key")
        try:
            doc, stats = build_page(s, bank, instance, since, limit)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
    with audit.acting_as(p.actor), svc.db.session() as s:
        audit.record(
            s,
            "sync-serve",
            details={
                "bank": name,
                "since": since or "0",
                "checkpoint": stats.checkpoint,
                "items": stats.items,
                "withdrawn": stats.withdrawn,
                "withheld": stats.withheld,
                "restarted": stats.restarted,
            },
        )
    svc.changed()
    return doc
