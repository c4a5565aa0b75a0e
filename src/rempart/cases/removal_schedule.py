"""The schedule of `rempart serve`: the removal check (cases/removal_check.py) run every
`--check-removals` interval by one worker of however many serve the database.

Why a module of its own: the check itself (fetching noticed places, deciding up, gone or
changed, recording proof) is one job; deciding which worker runs it and when is another. The
claim is one row of `scheduled_jobs` taken by an atomic UPDATE (due, and no live lease), so
two workers, or two servers on one database, never both run it; a worker that dies leaves a
lease that runs out.
"""

from __future__ import annotations

import logging
import re
import threading
from datetime import timedelta
from pathlib import Path

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError

from rempart.cases.removal_check import CHECK_OPTIONS, PACE_S, CheckResult, check_notices
from rempart.sources.urls import FetchOptions
from rempart.store import audit
from rempart.store.db import Database
from rempart.store.models import ScheduledJob, utcnow
from rempart.store.repository import StoreError

log = logging.getLogger("rempart.removal_check")

JOB = "removal-check"


def claim(db: Database, holder: str, every: timedelta, lease: timedelta) -> bool:
    """Take the scheduled check if it is due (not run within `every`) and no other worker
    holds it (or its claim ran out): one atomic UPDATE, so two workers never both win."""
    now = utcnow()
    try:
        with db.session() as s:
            if s.get(ScheduledJob, JOB) is None:
                s.add(ScheduledJob(name=JOB))
    except IntegrityError:  # another worker made the row first
        pass
    with db.session() as s:
        won = s.execute(
            update(ScheduledJob)
            .where(
                ScheduledJob.name == JOB,
                or_(ScheduledJob.locked_until.is_(None), ScheduledJob.locked_until < now),
                or_(ScheduledJob.last_run_at.is_(None), ScheduledJob.last_run_at <= now - every),
            )
            .values(holder=holder[:200], locked_until=now + lease)
            .execution_options(synchronize_session=False)
        )
        return bool(won.rowcount)  # type: ignore[attr-defined]


def release(db: Database, holder: str) -> None:
    with db.session() as s:
        s.execute(
            update(ScheduledJob)
            .where(ScheduledJob.name == JOB, ScheduledJob.holder == holder[:200])
            .values(holder=None, locked_until=None, last_run_at=utcnow())
            .execution_options(synchronize_session=False)
        )


def run_scheduled(
    db: Database,
    home: Path,
    holder: str,
    every: timedelta,
    *,
    options: FetchOptions = CHECK_OPTIONS,
    pace: float = PACE_S,
) -> CheckResult | None:
    """One turn of the schedule: the check of every open notice if this worker won the
    claim, else None."""
    if not claim(db, holder, every, lease=timedelta(hours=2)):
        return None
    try:
        with audit.acting_as("rempart serve (scheduled removal check)"):
            return check_notices(db, home, all_due=True, options=options, pace=pace)
    finally:
        release(db, holder)


class Schedule:
    """A thread of a server worker that runs the removal check every `every`; it wakes
    every `poll` seconds and runs only when the database's claim says it is due."""

    def __init__(
        self,
        db: Database,
        home: Path,
        every: timedelta,
        holder: str,
        poll: float = 60.0,
        options: FetchOptions = CHECK_OPTIONS,
        pace: float = PACE_S,
    ) -> None:
        self.db, self.home, self.every, self.holder = db, home, every, holder
        self.poll, self.options, self.pace = poll, options, pace
        self.runs = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rempart-removals", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                done = run_scheduled(
                    self.db,
                    self.home,
                    self.holder,
                    self.every,
                    options=self.options,
                    pace=self.pace,
                )
                if done is not None:
                    self.runs += 1
                    log.info("removal check: %s", done.counts())
            except Exception:  # keep serving; say so in the log, try again next turn
                log.exception("scheduled removal check failed")
            self._stop.wait(self.poll)


def parse_every(text: str) -> timedelta:
    """'24h', '90m', '30s', '2d' as a timedelta; StoreError for anything else."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text or "")
    if not m:
        raise StoreError(f"{text!r}: give an interval such as 24h, 90m or 2d")
    value = float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    if value <= 0:
        raise StoreError(f"{text!r}: the interval must be more than zero")
    return timedelta(seconds=value)
