"""The per-tenant query log: every hash looked up through the API and what it matched
(bank entry ids, never bank hashes), buffered in memory and written in one transaction
per second, so logging adds no database write to a lookup. Entries older than
REMPART_API_QUERY_LOG_DAYS (90) are deleted, hourly."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, insert

from rempart.store.db import Database
from rempart.store.models import ApiQuery, utcnow

log = logging.getLogger("rempart.api")
MAX_BUFFER = 200_000  # rows held while the database is unavailable; older ones are dropped


class QueryLog:
    def __init__(
        self, db: Database, every: float = 1.0, mode: str = "all", keep_days: float = 90.0
    ) -> None:
        if mode not in ("all", "matches", "off"):
            raise ValueError(f"query log mode {mode!r}: all, matches or off")
        self.mode = mode
        self.keep_days = keep_days
        self._last_purge = 0.0
        self.db = db
        self.every = every
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped = 0

    def add(
        self,
        tenant_id: int | None,
        key_id: int | None,
        endpoint: str,
        entries: list[tuple[str, str, list[dict[str, Any]]]],
    ) -> None:
        if self.mode == "off":
            return
        if self.mode == "matches":
            entries = [e for e in entries if e[2]]
            if not entries:
                return
        at = utcnow()
        rows = [
            {
                "tenant_id": tenant_id,
                "api_key_id": key_id,
                "at": at,
                "endpoint": endpoint,
                "signal_type": t,
                "signal": v[:128],
                "match_count": len(m),
                "matched": m,
            }
            for t, v, m in entries
        ]
        with self._lock:
            self._rows.extend(rows)
            if len(self._rows) > MAX_BUFFER:
                self.dropped += len(self._rows) - MAX_BUFFER
                del self._rows[: len(self._rows) - MAX_BUFFER]

    def flush(self) -> None:
        with self._write_lock:
            with self._lock:
                rows, self._rows = self._rows, []
            if not rows:
                return
            try:
                # the table's INSERT, not the ORM's bulk insert: the same rows, a third
                # less CPU (it runs on a thread, but takes the interpreter from lookups)
                with self.db.engine.begin() as conn:
                    conn.execute(insert(cast(Table, ApiQuery.__table__)), rows)
            except Exception:
                log.exception("could not write %d query log rows; kept for later", len(rows))
                with self._lock:
                    self._rows[:0] = rows

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rempart-querylog", daemon=True)
        self._thread.start()

    def purge(self) -> int:
        """Delete entries older than `keep_days` (a platform's hashes are not kept for
        ever); the number deleted."""
        cutoff = utcnow() - timedelta(days=self.keep_days)
        with self.db.session() as s:
            result = s.execute(delete(ApiQuery).where(ApiQuery.at < cutoff))
        self._last_purge = time.monotonic()
        return int(getattr(result, "rowcount", 0) or 0)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.flush()
            if time.monotonic() - self._last_purge > 3600:
                try:
                    self.purge()
                except Exception:
                    log.exception("could not purge old query log entries")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()
