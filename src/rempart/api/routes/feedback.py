"""What platforms did about matches: removed, not violating, false positive. A platform
reports on entries of the banks shared with it and sees only its own reports; a caseworker
sees the reports on her organisation's cases."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from rempart.access import records
from rempart.access.tenancy import MAX_ID, not_found
from rempart.api.auth import Principal, require
from rempart.api.services import Services, services
from rempart.store import audit

router = APIRouter(prefix="/v1/feedback", tags=["feedback"])
Verdict = Literal["removed", "not_violating", "false_positive"]


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bank_entry: int = Field(
        ge=0, le=MAX_ID, description="The bank entry the platform's content matched"
    )
    verdict: Verdict
    content_ref: str = Field(
        "", max_length=500, description="The platform's own reference to its content"
    )
    note: str = Field("", max_length=2000)


@router.post("", status_code=201, summary="Report what was done about a match (platform)")
def add_feedback(
    body: FeedbackIn, p: Principal = Depends(require("platform")), svc: Services = Depends(services)
) -> dict[str, Any]:
    with audit.acting_as(p.actor):
        out = records.add_feedback(
            svc.db, p, body.bank_entry, body.verdict, body.content_ref, body.note
        )
    if out is None:
        raise not_found()
    svc.changed()
    return out


@router.get("", summary="Feedback: a platform's own; a caseworker's cases'; all for admins")
def list_feedback(
    limit: int = Query(100, ge=1, le=1000),
    p: Principal = Depends(require("platform", "caseworker", "admin")),
    svc: Services = Depends(services),
) -> list[dict[str, Any]]:
    return records.feedback_list(svc.db, p, limit)
