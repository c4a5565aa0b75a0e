"""What platforms did about matches: removed, not violating, false positive. A platform
reports on entries of the banks shared with it and sees only its own reports; a caseworker
sees the reports on her organisation's cases."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from rempart.access.tenancy import MAX_ID, not_found, visible_banks
from rempart.api.auth import Principal, require
from rempart.api.services import Services, services
from rempart.store import audit
from rempart.store.models import Bank, BankItem, Case, CaseOwner, PlatformFeedback, Tenant

router = APIRouter(prefix="/v1/feedback", tags=["feedback"])
Verdict = Literal["removed", "not_violating", "false_positive"]


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bank_entry: int = Field(ge=0, le=MAX_ID,
                            description="The bank entry the platform's content matched")
    verdict: Verdict
    content_ref: str = Field("", max_length=500,
                             description="The platform's own reference to its content")
    note: str = Field("", max_length=2000)


@router.post("", status_code=201, summary="Report what was done about a match (platform)")
def add_feedback(body: FeedbackIn, p: Principal = Depends(require("platform")),
                 svc: Services = Depends(services)) -> dict[str, Any]:  # fmt: skip
    with audit.acting_as(p.actor), svc.db.session() as s:
        row = s.execute(select(BankItem, Bank.name).join(Bank, BankItem.bank_id == Bank.id)
                        .where(BankItem.id == body.bank_entry)).first()  # fmt: skip
        if row is None or row[1] not in visible_banks(s, p):
            raise not_found()
        item, bank_name = row
        fb = PlatformFeedback(tenant_id=p.tenant_id, api_key_id=p.id, bank_item_id=item.id,
                              case_id=item.case_id, bank_name=bank_name, verdict=body.verdict,
                              content_ref=body.content_ref, note=body.note)  # fmt: skip
        s.add(fb)
        s.flush()
        number = s.scalar(select(Case.number).where(Case.id == item.case_id))
        audit.record(s, "platform-feedback", case=number,
                     details={"platform": p.tenant, "bank": bank_name, "bank_entry": item.id,
                              "verdict": body.verdict, "content_ref": body.content_ref})
        out = {"id": fb.id, "bank_entry": item.id, "bank": bank_name, "verdict": body.verdict}
    svc.changed()
    return out


@router.get("", summary="Feedback: a platform's own; a caseworker's cases'; all for admins")
def list_feedback(
    limit: int = Query(100, ge=1, le=1000),
    p: Principal = Depends(require("platform", "caseworker", "admin")),
    svc: Services = Depends(services),
) -> list[dict[str, Any]]:
    query = (select(PlatformFeedback, Tenant.name, Case.number)
             .join(Tenant, PlatformFeedback.tenant_id == Tenant.id)
             .outerjoin(Case, PlatformFeedback.case_id == Case.id))  # fmt: skip
    if p.role == "platform":
        query = query.where(PlatformFeedback.tenant_id == p.tenant_id)
    elif p.role == "caseworker":
        query = query.join(CaseOwner, CaseOwner.case_id == PlatformFeedback.case_id).where(
            CaseOwner.tenant_id == p.tenant_id)
    with svc.db.session() as s:
        rows = s.execute(query.order_by(PlatformFeedback.id.desc()).limit(limit)).all()
        return [{"id": f.id, "platform": t, "bank": f.bank_name, "bank_entry": f.bank_item_id,
                 "verdict": f.verdict, "content_ref": f.content_ref, "note": f.note,
                 "at": f.created_at.isoformat(timespec="seconds"),
                 **({"case": n} if p.role != "platform" else {})}
                for f, t, n in rows]  # fmt: skip
