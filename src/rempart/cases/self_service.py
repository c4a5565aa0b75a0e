"""Her case without an account (issue 14): what the case page does with her case number and
secret. The API's keyless routes for the page (rempart.api.routes.cases) call these
functions; the organisation's settings are in rempart.cases.self_settings, the helpline's
side (listing and taking self-opened cases) in rempart.cases.self_opened.

Why a module of its own: her session, what she may see and send, and her one withdrawal are
the page's whole trust boundary (no account, one secret); kept together, how her session ends
when she gets a new secret and that a withdrawal happens once are read in one place.

- Opening a case herself (`open_self_case`), where the organisation allows it (SelfOpenOff
  otherwise): a new case number and secret, its intake organisation's case_owners row in the
  same transaction.
- Signing in (`sign_in`): her case number and secret; a wrong number, a wrong secret and a
  locked-out number get one answer (`NotRecognised`); wrong secrets are counted per case
  number by a FailureLimiter that counts in the database (every server worker shares it).
  A right secret gives a session token: HMAC-signed (a key in REMPART_HOME/keys), valid
  SESSION_MINUTES, naming the case and a digest of its stored secret hash, so a new secret
  ends every session of the old one at once. The page keeps the token in memory only.
- What she may see (`status`): counts only (hashes registered or waiting, found, waiting for
  review, confirmed, notices sent, removed): never images, names or places.
- Sending a hash file (`submit`): the file `rempart hash --out` or her hashing page writes
  (hashes and her consent record; never image bytes), at most MAX_FILE_BYTES; held or
  imported as the settings and the case's state say.
- Withdrawing (`withdraw`): claimed once (case_intake.withdraw_claim, an atomic conditional
  update: two tabs withdrawing at once make one withdrawal, audited once), then
  rempart.cases.withdrawal.withdraw_case, the same as `rempart case withdraw`.
Every action is in the audit log (actor "victim (case page)").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from sqlalchemy import and_, func, or_, select, update

from rempart import keyfile, tokens
from rempart.cases import withdrawal, workflow
from rempart.cases.self_settings import (
    Runner,
    ensure_bank,
    intake_of,
    org_settings,
    organisation_id,
    settings_in,
)
from rempart.errors import Forbidden, InvalidInput, Refused, RempartError, TooLarge
from rempart.exchange.bank_import import import_submission
from rempart.exchange.submission import parse_submission
from rempart.store import audit, repository
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database
from rempart.store.models import CaseEvent, CaseIntake, CaseOwner, HeldSubmission, Notice
from rempart.store.repository import StoreError

VICTIM = "victim (case page)"  # the audit log's actor for what she does on the page
SESSION_MINUTES = 30
MAX_FILE_BYTES = 8 * 1024 * 1024  # a hash file of a few hundred photos is well under
MAX_FILE_ITEMS = 5000
KEY_FILE = "case-page.key"
CLAIM_STALE_S = 600  # a withdrawal claim older than this was left by a killed server
_NUMBER_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class NotRecognised(Forbidden):
    """The one answer to a wrong case number, a wrong secret and a locked-out number."""

    code = "not-recognised"


class SessionEnded(RempartError):
    """Her session on the page ended (time, a new secret, a forged token): sign in again."""

    status: ClassVar[int] = 401
    code = "session-ended"


class CaseClosed(Refused):
    """Her case was withdrawn: nothing can be sent to it or done with it any more."""

    code = "case-closed"


class SelfOpenOff(Forbidden):
    """The organisation does not let people open cases themselves."""

    code = "self-open-off"


class FailureLimiterLike(Protocol):
    """rempart.access.ratelimit.FailureLimiter (counting in the database), as used here."""

    def blocked(self, key: str) -> float: ...

    def failed(self, key: str) -> None: ...


NOT_RECOGNISED = "case number or secret not recognised"
CLOSED = "this case is closed: everything in it was withdrawn"


# ---- her session ------------------------------------------------------------------------


def _key(home: Path) -> bytes:
    """32 random bytes, made on first use (mode 0600); two workers racing read the same."""
    return keyfile.load_or_create(home / "keys" / KEY_FILE)


def _fingerprint(secret_hash: str | None) -> str:
    return hashlib.sha256((secret_hash or "").encode()).hexdigest()[:24]


def _token(home: Path, number: str, secret_hash: str | None) -> str:
    expires = time.time() + SESSION_MINUTES * 60
    return tokens.sign({"c": number, "f": _fingerprint(secret_hash), "e": expires}, _key(home))


def session_case(db: Database, home: Path, token: str) -> str:
    """The case number her session token names; SessionEnded when it is forged, expired or
    the secret changed since; CaseClosed when the case was withdrawn."""
    ended = SessionEnded("your session has ended: sign in again with your case number and secret")
    data = tokens.open_signed(token, _key(home), max_chars=1000)
    if data is None:
        raise ended
    try:
        number, fingerprint, expires = str(data["c"]), str(data["f"]), float(data["e"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ended from exc
    if expires < time.time():
        raise ended
    with db.session() as s:
        case = repository.get_case(s, number)
        if case is None or not hmac.compare_digest(fingerprint, _fingerprint(case.secret_hash)):
            raise ended
        if case.status == "withdrawn":
            raise CaseClosed(CLOSED)
    return number


@dataclass(frozen=True)
class SignedIn:
    case: str
    token: str  # her session (kept in the page's memory only)
    minutes: int = SESSION_MINUTES


def sign_in(
    db: Database, home: Path, limiter: FailureLimiterLike, number: str, secret: str
) -> SignedIn:
    """Her case number and secret -> a session. NotRecognised, the same answer, for a case
    that does not exist, a wrong secret and a case number locked out after too many wrong
    secrets (counted in the database: every worker's tries); CaseClosed for the right
    secret of a withdrawn case. Every try is audited (a refused one names no case)."""
    number = number.strip()
    key = number.upper()
    if not number or len(number) > 64 or len(secret) > 100:
        raise NotRecognised(NOT_RECOGNISED)
    if limiter.blocked(key) > 0:
        with db.session() as s:
            audit.record(
                s, "case-page-sign-in", actor=VICTIM, details={"granted": False, "locked": True}
            )
        raise NotRecognised(NOT_RECOGNISED)
    with db.session() as s:
        case = repository.get_case(s, number)
        ok = case is not None and workflow.check_secret(secret, case.secret_hash)
        audit.record(
            s,
            "case-page-sign-in",
            case=number if ok else None,
            actor=VICTIM,
            details={"granted": ok},
        )
        closed = ok and case is not None and case.status == "withdrawn"
        secret_hash = case.secret_hash if case is not None else None
    if not ok:
        limiter.failed(key)
        raise NotRecognised(NOT_RECOGNISED)
    if closed:
        raise CaseClosed(CLOSED)
    return SignedIn(number, _token(home, number, secret_hash))


@dataclass(frozen=True)
class Opened:
    case: str
    secret: str  # shown to her once, never stored plain
    token: str


def open_self_case(db: Database, home: Path) -> Opened:
    """She opens a case herself (only when the organisation allows it: SelfOpenOff
    otherwise): a new case number and secret, shown to her once; the case is listed apart
    for the helpline until a caseworker takes it."""
    off = SelfOpenOff("this helpline does not open cases here: contact it to get a case number")
    if not org_settings(db).self_open:
        raise off
    secret = workflow.new_secret()
    secret_hash = workflow.hash_secret(secret)  # scrypt: before the transaction, not in it
    for _ in range(10):
        number = "S-" + "".join(secrets.choice(_NUMBER_ALPHABET) for _ in range(8))
        with db.session() as s:
            if repository.get_case(s, number) is not None:
                continue
            settings = settings_in(s)
            if not settings.self_open:
                raise off
            owner: int | None = None
            if settings.intake_organisation is not None:
                try:
                    owner = organisation_id(s, settings.intake_organisation)
                except StoreError as exc:  # the organisation is gone: open nothing unowned
                    raise off from exc
            # One transaction: the case, how it came in, and (on an instance several
            # organisations share) the organisation it belongs to from the start.
            case = repository.get_or_create_case(s, number)
            s.flush()
            case.secret_hash = secret_hash
            s.add(
                CaseEvent(
                    case_id=case.id,
                    actor=VICTIM,
                    from_status=None,
                    to_status="open",
                    note="case opened",
                )
            )
            s.add(CaseIntake(case_id=case.id, self_opened=True))
            if owner is not None:
                s.add(CaseOwner(case_id=case.id, tenant_id=owner))
            audit.record(
                s,
                "case-open",
                case=number,
                actor=VICTIM,
                details={"self_opened": True, "organisation": settings.intake_organisation},
            )
        return Opened(number, secret, _token(home, number, secret_hash))
    raise StoreError("could not find a free case number: try again")


# ---- what she sees and sends ------------------------------------------------------------


def status(db: Database, number: str) -> dict[str, Any]:
    """What she may see of her case: counts only, never images, names or places."""
    v = workflow.view(db, number)
    with db.session() as s:
        case = repository.get_case(s, number)
        if case is None:
            raise SessionEnded("your session has ended: sign in again")
        held = s.scalar(
            select(func.coalesce(func.sum(HeldSubmission.items), 0)).where(
                HeldSubmission.case_id == case.id
            )
        )
        notices = s.scalar(
            select(func.count())
            .select_from(Notice)
            .where(and_(Notice.case_id == case.id, Notice.status != "draft"))
        )
        intake = s.get(CaseIntake, case.id)
        seen = intake is None or intake.taken_at is not None
    return {
        "case": v.number,
        "status": v.status,
        "seen_by_caseworker": seen,
        "hashes_registered": v.bank_items,
        "hashes_waiting": int(held or 0),
        "face_templates_registered": v.face_templates,
        "found": sum(v.matches.values()),
        "waiting_for_review": v.matches.get("pending", 0) + v.matches.get("unsure", 0),
        "confirmed": v.matches.get("confirmed", 0),
        "notices_sent": int(notices or 0),
        "removed": v.removed,
    }


@dataclass(frozen=True)
class Sent:
    case: str
    items: int
    held: bool  # kept until a caseworker has seen the case (not matched yet)
    added: int  # imported into the intake bank (0 when held)
    duplicates: int


def parse_file(raw: bytes) -> Any:
    """Her hash file's bytes as JSON; TooLarge or InvalidInput with a message for her."""
    if len(raw) > MAX_FILE_BYTES:
        raise TooLarge(
            f"this file is too large ({len(raw) // 1024} KB; at most {MAX_FILE_BYTES // 1024} KB): "
            "send your photos in several smaller files"
        )
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(
            "this is not a hash file: choose the file the hashing page saved (my-hashes.json)"
        ) from exc


def submit(
    change: Runner,
    home: Path,
    number: str,
    document: Any,
) -> Sent:
    """Her hash file, sent from the page, for her case: held until a caseworker has seen the
    case, unless the organisation acts before review (then imported into the intake bank
    and matched from now on). `change`: a Runner. InvalidInput: not a hash file, no
    consent record in it, no items or too many."""
    if isinstance(document, dict) and "items" not in document and "format" not in document:
        raise InvalidInput(
            "this is not a hash file: choose the file the hashing page saved (my-hashes.json)"
        )
    try:
        sub = parse_submission(document, "your file")
    except InvalidInput as exc:
        raise InvalidInput(
            f"this is not a hash file the hashing page made ({exc.message})"
        ) from exc
    if not sub.items:
        raise InvalidInput("this hash file has no photos or videos in it")
    if len(sub.items) > MAX_FILE_ITEMS:
        raise TooLarge(f"this hash file has {len(sub.items)} items; at most {MAX_FILE_ITEMS}")
    if sub.consent is None:
        raise InvalidInput(
            "this hash file has no agreement in it: on the hashing page, fill in and tick "
            "the agreement, then save the file again"
        )
    out: Sent = change(lambda bank_index: _submit(bank_index, number, document, sub))
    return out


def _submit(bank_index: BankIndex, number: str, document: Any, sub: Any) -> Sent:
    db = bank_index.db
    with db.session() as s:
        case = repository.get_case(s, number)
        if case is None:
            raise SessionEnded("your session has ended: sign in again")
        if case.status == "withdrawn":
            raise CaseClosed(CLOSED)
        settings = settings_in(s)
        intake = intake_of(s, case)
        hold = intake.taken_at is None and not settings.act_before_review
        if hold:
            s.add(HeldSubmission(case_id=case.id, items=len(sub.items), document=document))
            audit.record(
                s,
                "case-page-send",
                case=number,
                actor=VICTIM,
                details={"items": len(sub.items), "held": True},
            )
            return Sent(number, len(sub.items), True, 0, 0)
        ensure_bank(s, settings.intake_bank)
    with audit.acting_as(VICTIM):
        result = import_submission(
            bank_index,
            settings.intake_bank,
            sub,
            case_number=number,
            consent=sub.consent,
            source_name="case page",
        )
    with db.session() as s:
        audit.record(
            s,
            "case-page-send",
            case=number,
            actor=VICTIM,
            details={"items": len(sub.items), "held": False, "added": result.added},
        )
    return Sent(number, len(sub.items), False, result.added, result.duplicates)


# ---- withdrawal ---------------------------------------------------------------------------


def withdraw(
    change: Runner,
    home: Path,
    number: str,
    *,
    actor: str = VICTIM,
    note: str = "withdrawn by her (case page)",
) -> withdrawal.CaseWithdrawal:
    """Her whole case withdrawn, once: the first of two tabs claims it (an atomic
    conditional update), the second gets CaseClosed; then withdrawal.withdraw_case, the
    same as `rempart case withdraw` (hashes, held files, templates, index, audit)."""

    def go(bank_index: BankIndex) -> withdrawal.CaseWithdrawal:
        db = bank_index.db
        # the claim starts with its time: one left by a server killed mid-withdrawal is
        # taken over after CLAIM_STALE_S, so her case never stays half-withdrawn
        now = int(time.time())
        claim, stale = f"{now:012d}-{secrets.token_hex(8)}", f"{now - CLAIM_STALE_S:012d}"
        with db.session() as s:
            case = repository.get_case(s, number)
            if case is None:
                raise SessionEnded("your session has ended: sign in again")
            if case.status == "withdrawn":
                raise CaseClosed(CLOSED)
            case_id = intake_of(s, case).case_id
        with db.session() as s:
            won = s.execute(  # type: ignore[attr-defined]
                update(CaseIntake)
                .where(
                    and_(
                        CaseIntake.case_id == case_id,
                        or_(CaseIntake.withdraw_claim.is_(None), CaseIntake.withdraw_claim < stale),
                    )
                )
                .values(withdraw_claim=claim)
            ).rowcount
        if won != 1:
            raise CaseClosed(CLOSED)
        try:
            return withdrawal.withdraw_case(bank_index, home, number, actor=actor, note=note)
        except BaseException:
            with db.session() as s:  # not withdrawn: she may try again
                s.execute(
                    update(CaseIntake)
                    .where(CaseIntake.case_id == case_id)
                    .values(withdraw_claim=None)
                )
            raise

    done: withdrawal.CaseWithdrawal = change(go)
    return done
