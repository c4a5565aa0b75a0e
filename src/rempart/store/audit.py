"""The audit log: every action on a case, every reveal and export, with who and when.

Append-only and hash-chained: each entry's hash covers its fields and the previous entry's
hash, starting from GENESIS. `verify` recomputes the chain: a changed entry, a deleted
entry in the middle, or entries out of order are found; the head (count and last hash) is
also kept in a file outside the database (REMPART_HOME/audit-head), so deleting the last
entries (a truncated log) is found too. Entries are written in the same transaction as the
action they record: an action that fails leaves no entry, an entry never lacks its action.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import false, select, text, update
from sqlalchemy.orm import Session

from rempart.config import Policy
from rempart.store.db import Database
from rempart.store.models import AuditEntry

GENESIS = "0" * 64
HEAD_FILE = "audit-head"
ACTOR_CHARS = 200
_PG_AUDIT_LOCK_KEY = 0x41554454  # "AUDT": one audit writer at a time


_ACTING_AS: ContextVar[str | None] = ContextVar("rempart_actor", default=None)


@contextmanager
def acting_as(actor: str) -> Iterator[None]:
    """Record `actor` as who acts, in this thread or task only (the API: the key's owner)."""
    token = _ACTING_AS.set(actor)
    try:
        yield
    finally:
        _ACTING_AS.reset(token)


def current_actor() -> str:
    """Who is acting: the `acting_as` actor, else REMPART_USER, else the operating-system
    user; at most ACTOR_CHARS characters (the columns' size: PostgreSQL refuses longer)."""
    if (acting := _ACTING_AS.get()) is not None:
        return acting[:ACTOR_CHARS]
    try:
        return (Policy.from_env().user or getpass.getuser())[:ACTOR_CHARS]
    except Exception:  # no user name (containers): say so rather than fail
        return "unknown"


def _canonical(details: dict[str, Any]) -> str:
    return json.dumps(
        details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


def entry_hash(
    entry_id: int, at: str, actor: str, action: str, case: str | None, details: str, prev: str
) -> str:
    payload = json.dumps(
        [entry_id, at, actor, action, case, details, prev],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def record(
    s: Session,
    action: str,
    *,
    case: str | None = None,
    details: dict[str, Any] | None = None,
    actor: str | None = None,
) -> AuditEntry:
    """Append an entry in the caller's transaction."""
    # Take the write lock before reading the chain's head, so that two writers append one
    # after the other (SQLite: an UPDATE opens the write transaction, even on no row;
    # PostgreSQL: an advisory lock held until the transaction ends).
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_AUDIT_LOCK_KEY})
    else:
        s.execute(update(AuditEntry).where(false()).values(actor=AuditEntry.actor))
    last = s.execute(
        select(AuditEntry.id, AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    entry_id = (last[0] + 1) if last else 1
    prev = last[1] if last else GENESIS
    at = datetime.now(UTC).isoformat(timespec="microseconds")
    who = (actor or current_actor())[:ACTOR_CHARS]
    body = _canonical(details or {})
    entry = AuditEntry(
        id=entry_id,
        at=at,
        actor=who,
        action=action,
        case_number=case,
        details=body,
        prev_hash=prev,
        entry_hash=entry_hash(entry_id, at, who, action, case, body, prev),
    )
    s.add(entry)
    s.flush()
    return entry


def write_head(db: Database, home: Path) -> None:
    """Keep the chain's head outside the database (after a committed change).

    Server workers and threads write it at the same time: each holds an exclusive lock on
    audit-head.lock while it reads the newest entry and replaces the file (through its own
    temporary name), so a writer never loses the other's temporary file and an older head
    never replaces a newer one. A head is only moved forward along the same chain
    (`_continues`): after a truncation or a changed last entry the old head stays."""
    home.mkdir(parents=True, exist_ok=True)
    with open(home / (HEAD_FILE + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with db.session() as s:
            last = s.execute(
                select(AuditEntry.id, AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)
            ).first()
            if last is None or not _continues(s, db, home / HEAD_FILE):
                return
        tmp = home / f"{HEAD_FILE}.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp.write_text(json.dumps({"db": db.instance_id(), "count": last[0], "head": last[1]}))
        tmp.replace(home / HEAD_FILE)


def _continues(s: Session, db: Database, path: Path) -> bool:
    """Whether the log still holds the head recorded in `path` unchanged, so that writing a
    newer head hides nothing. A log whose recorded last entry was deleted or changed keeps
    its old head file: `verify` goes on reporting the truncation or the change, whatever
    commands run after it (before, any command rewrote the head and hid a truncation)."""
    try:
        head = json.loads(path.read_text())
    except FileNotFoundError:
        return True
    except (OSError, ValueError):
        return False  # an unreadable head record is left for verify to report
    if not isinstance(head, dict) or head.get("db") != db.instance_id():
        return True  # another database's head (a restore, a new database): replaced
    count, recorded = head.get("count"), head.get("head")
    if not isinstance(count, int) or count < 1:
        return True
    stored = s.scalar(select(AuditEntry.entry_hash).where(AuditEntry.id == count))
    return bool(stored == recorded)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    entries: int
    problems: list[str]


def verify(db: Database, home: Path | None = None) -> Verdict:
    problems: list[str] = []
    prev = GENESIS
    expected_id = 1
    count = 0
    last_hash = GENESIS
    with db.session() as s:
        for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id)):
            count += 1
            if e.id != expected_id:
                problems.append(f"entries {expected_id}..{e.id - 1} are missing (deleted)")
            if e.prev_hash != prev:
                problems.append(
                    f"entry {e.id}: does not follow the entry before it (an entry "
                    "was deleted or changed before it)"
                )
            again = entry_hash(e.id, e.at, e.actor, e.action, e.case_number, e.details, e.prev_hash)
            if again != e.entry_hash:
                problems.append(f"entry {e.id} ({e.action}, {e.at}): its content was changed")
            prev = e.entry_hash
            expected_id = e.id + 1
            last_hash = e.entry_hash
    if home is not None and (home / HEAD_FILE).exists():
        try:
            head = json.loads((home / HEAD_FILE).read_text())
        except (OSError, ValueError):
            problems.append(f"{home / HEAD_FILE}: unreadable head record")
            head = None
        if head and head.get("db") == db.instance_id():
            if head.get("count", 0) > count:
                problems.append(
                    f"the log ends at entry {count} but {head['count']} were "
                    "written: entries at the end were deleted (truncated log)"
                )
            elif head.get("count") == count and head.get("head") != last_hash:
                problems.append("the last entry differs from the one recorded outside the database")
    return Verdict(not problems, count, problems)
