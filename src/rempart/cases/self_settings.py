"""The organisation's settings for her case page (issue 14), and the little that her side
(rempart.cases.self_service) and the helpline's side (rempart.cases.self_opened) both use.

Why a module of its own: both sides read these settings (may she open a case, where what she
sends goes, is it held until review, which organisation a self-opened case belongs to), and
`rempart case page-settings`, the web UI and the page's config route show them; with them
here, neither side imports the other, and this module imports neither.

- The settings (`org_settings`, `set_org_settings`; `settings_in` inside a transaction;
  table org_settings): `self_open` (may a person open a case herself on the page; off by
  default), `intake_bank` (the bank her hashes go to), `act_before_review` (match what she
  sends at once; off by default: her hash files are held, never indexed nor matched, until a
  caseworker takes her case); `intake_organisation` (an organisation's name, or None): on an
  instance several organisations share, the organisation a self-opened case belongs to from
  the moment it is opened (its case_owners row is written in the same transaction), so only
  its caseworkers (and admins) see it, list it and take it; unset, today's
  single-organisation behaviour: any caseworker sees the self-opened cases no organisation
  holds, and taking one gives it to hers.
- What both sides share: `Runner` and `direct` (a change to the bank index, one at a time),
  `organisation_id`, `ensure_bank` (the intake bank, created on first use) and `intake_of`
  (a case's case_intake row: self-opened or not, taken or not).
Every change of the settings is in the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rempart.store import audit, repository, tenants
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database
from rempart.store.models import Case, CaseIntake, OrgSetting, utcnow
from rempart.store.repository import StoreError

# Runs a function with the bank index, one change at a time: the server's index keeper's
# `change`, or `direct(bank_index)` (the command line, tests).
Runner = Callable[[Callable[[BankIndex], Any]], Any]
DEFAULTS: dict[str, Any] = {
    "self_open": False,
    "intake_bank": "intake",
    "act_before_review": False,
    "intake_organisation": None,
}


def direct(bank_index: BankIndex) -> Runner:
    """A Runner for one process (the command line, tests): runs the function at once."""
    return lambda fn: fn(bank_index)


@dataclass(frozen=True)
class OrgSettings:
    self_open: bool  # may a person open a case herself on the case page
    intake_bank: str  # the bank what she sends goes to
    act_before_review: bool  # match what she sends before a caseworker has seen the case
    # the organisation self-opened cases belong to from the start (None: no organisation
    # holds them until a caseworker takes one; for instances one organisation runs)
    intake_organisation: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "self_open": self.self_open,
            "intake_bank": self.intake_bank,
            "act_before_review": self.act_before_review,
            "intake_organisation": self.intake_organisation,
        }


def org_settings(db: Database) -> OrgSettings:
    with db.session() as s:
        return settings_in(s)


def settings_in(s: Session) -> OrgSettings:
    values = dict(DEFAULTS)
    for row in s.scalars(select(OrgSetting).where(OrgSetting.name.in_(list(DEFAULTS)))):
        values[row.name] = row.value
    return OrgSettings(
        self_open=bool(values["self_open"]),
        intake_bank=str(values["intake_bank"]),
        act_before_review=bool(values["act_before_review"]),
        intake_organisation=str(values["intake_organisation"])
        if values["intake_organisation"]
        else None,
    )


def set_org_settings(
    db: Database,
    *,
    self_open: bool | None = None,
    intake_bank: str | None = None,
    act_before_review: bool | None = None,
    intake_organisation: str | None = None,
) -> OrgSettings:
    """Change the organisation's settings (audited: who, what from, what to). The intake
    bank is created when it does not exist yet. `intake_organisation`: an existing
    organisation's name, or "" to unset it (StoreError: no such organisation)."""
    wanted: dict[str, Any] = {"self_open": self_open, "intake_bank": intake_bank}
    wanted["act_before_review"] = act_before_review
    actor = audit.current_actor()
    with db.session() as s:
        before = settings_in(s)
        if intake_bank is not None:
            ensure_bank(s, intake_bank)
        if intake_organisation is not None:
            name = intake_organisation.strip()
            if name:
                organisation_id(s, name)
            wanted["intake_organisation"] = name or None
        for name, value in wanted.items():
            if value is None and name != "intake_organisation":
                continue
            row = s.get(OrgSetting, name)
            if row is None:
                s.add(OrgSetting(name=name, value=value, updated_by=actor))
            else:
                row.value, row.updated_by, row.updated_at = value, actor, utcnow()
        s.flush()
        after = settings_in(s)
        audit.record(
            s,
            "org-settings",
            actor=actor,
            details={"before": before.to_json(), "after": after.to_json()},
        )
    return after


def organisation_id(s: Session, name: str) -> int:
    """The id of the organisation (a helpline, not a platform) of this name; StoreError."""
    tenant = tenants.get_tenant(s, name)
    if tenant.kind != "organisation":
        raise StoreError(f"tenant {name!r} is a {tenant.kind}, not an organisation")
    return tenant.id


def ensure_bank(s: Session, name: str) -> None:
    """The intake bank of this name, created when it does not exist yet."""
    try:
        repository.get_bank(s, name)
    except StoreError:
        repository.create_bank(s, name, description="what people send from the case page")


def intake_of(s: Session, case: Case) -> CaseIntake:
    """How the case came in (its case_intake row; written for a caseworker's case)."""
    row = s.get(CaseIntake, case.id)
    if row is None:  # a case a caseworker opened: taken from the start
        row = CaseIntake(case_id=case.id, self_opened=False, taken_by="", taken_at=case.created_at)
        s.add(row)
        s.flush()
    return row
