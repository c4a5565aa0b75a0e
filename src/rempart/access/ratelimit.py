"""Rate limits: a token bucket per API key, and caps on failures (wrong secrets per case
number for her status check and case page, wrong keys per address at the web UI's sign-in).

Why in the database: `rempart serve --workers N` runs N processes, and a limit each process
counted for itself let N times as many tries through (with two workers, ten wrong secrets
got past a limit of five). Given the server's database, a limiter counts in it, which every
worker shares (SQLite or PostgreSQL): a bucket is one row updated by one atomic upsert that
reads the result back (INSERT ... ON CONFLICT DO UPDATE ... RETURNING), a failure is one row
(scope, key, time) counted over the window, rows older than the window deleted as new ones
come. Times are wall-clock seconds (`time.time`), the same for every worker. The numbers and
the behaviour are the same as in memory; without a database (a limiter built alone, in
tests of other parts) the limiter counts in memory, as before.

One race remains by design: two workers checking the same key at the same instant both see
it below the limit, so at most one extra try per worker can slip in at the very edge; tries
one after the other (what a person or a script guessing secrets does) are all counted.

A rate limit never makes a lookup wait for another process's write: SQLite has one writer
at a time, and `rempart bank import-list` holds the write lock for the whole list (a
minute for a million hashes). A lease write that cannot get the lock within LOCK_WAIT_S
gives up; for the next DEGRADED_S the worker counts the key's tokens in memory, at the
key's rate, as a limiter without a database does (so N workers let at most N times the rate
through while the lock is held), then tries the database again. Failure counts (wrong
secrets) still wait for the lock: they are never skipped."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    case,
    create_engine,
    delete,
    event,
    exc,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.pool import QueuePool

from rempart.store.db import Database
from rempart.store.models import LimitBucket, LimitFailure


def _insert(db: Database) -> Any:
    return postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert


_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


LOCK_WAIT_S = 0.1  # a lease write waits this long for the write lock, then counts in memory
DEGRADED_S = 1.0  # and goes on counting in memory this long before it tries again


def _sqlite_fast(dbapi_connection: Any, _record: Any, busy_ms: int = 30000) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
    cursor.execute("PRAGMA synchronous=NORMAL")  # WAL: no fsync per commit
    cursor.close()


def _sqlite_brief(dbapi_connection: Any, record: Any) -> None:
    _sqlite_fast(dbapi_connection, record, busy_ms=int(LOCK_WAIT_S * 1000))


@contextmanager
def _counting(db: Database, brief: bool = False) -> Iterator[Connection]:
    """A transaction for counting. A count need not survive a power cut, so it is not
    flushed to disk at each commit: an fsync per API request took ~7 ms on SQLite (WAL,
    synchronous=FULL), ~0.1 ms without. SQLite: an engine of its own over the same file
    (synchronous=NORMAL on its connections only); PostgreSQL: synchronous_commit off for
    this transaction only. `brief`: the write lock is waited for LOCK_WAIT_S at most (an
    OperationalError then), for the rate limiter's leases."""
    if db.engine.dialect.name == "sqlite":
        url = str(db.engine.url)
        with _ENGINES_LOCK:
            engine = _ENGINES.get(f"{url} brief" if brief else url)
            if engine is None:
                engine = create_engine(url, poolclass=QueuePool, pool_size=2, max_overflow=8)
                event.listen(engine, "connect", _sqlite_brief if brief else _sqlite_fast)
                _ENGINES[f"{url} brief" if brief else url] = engine
        with engine.begin() as conn:
            yield conn
        return
    with db.engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
        if brief:
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(LOCK_WAIT_S * 1000)}ms'")
        yield conn


LEASE_S = 0.25  # a worker takes up to this many seconds' worth of a key's tokens at once
LEASE_TTL_S = 1.0  # tokens it took but did not use within this are given up


class RateLimiter:
    """Token buckets: `rate` tokens per second, up to 2 x rate (at least 2) held. With a
    database, counted there (shared by every worker), else in this process.

    A worker does not write to the database for every request: it takes a lease of up to
    LEASE_S seconds' worth of tokens (at least one) in one atomic upsert and spends it
    locally, giving up what it did not use within LEASE_TTL_S. A key at 1 request/s (or any
    rate under 8/s) is counted exactly, one database write per request; a platform key at
    200/s costs one write per 50 requests; a benchmark's key at a million/s, one write per
    second. A lease never makes more tokens than the bucket holds (at most a quarter of
    it): across workers the limit holds, at worst a worker's unused lease is unavailable to
    the others for a second.

    The API's routes call `take_async`: spending a lease is a dictionary update on the
    event loop; only when the lease is spent does the database write run, on a thread, so
    the loop never waits for the database (an upsert waits for SQLite's write lock while
    the query log writes its second's rows)."""

    def __init__(self, db: Database | None = None, scope: str = "api-key") -> None:
        self._buckets: dict[int, tuple[float, float]] = {}
        self._leases: dict[int, tuple[float, float]] = {}  # key -> (tokens left, expires)
        self._lock = threading.Lock()
        self.db = db
        self.scope = scope
        self._degraded_until = 0.0  # counting in memory until then (the database was locked)
        self.degraded = 0  # times a lease write gave up waiting for the write lock

    def take(self, key: int, rate: float, cost: float = 1.0) -> float:
        """0 if allowed (the cost is taken), else the seconds to wait."""
        if self.db is not None and time.monotonic() >= self._degraded_until:
            return self._take_leased(self.db, key, rate, cost)
        return self._take_here(key, rate, cost)

    def _take_here(self, key: int, rate: float, cost: float) -> float:
        """The token bucket of this process (no database, or the database is locked)."""
        now = time.monotonic()
        depth = max(2.0, 2.0 * rate)
        with self._lock:
            tokens, last = self._buckets.get(key, (depth, now))
            tokens = min(depth, tokens + (now - last) * rate)
            if tokens >= cost:
                self._buckets[key] = (tokens - cost, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (cost - tokens) / rate

    async def take_async(self, key: int, rate: float, cost: float = 1.0) -> float:
        """As `take`, for the event loop: from this worker's lease when it holds enough
        (no database, no thread hop), else the database write on a thread."""
        if self.db is None or time.monotonic() < self._degraded_until:
            return self._take_here(key, rate, cost)
        if self._spend(key, cost):
            return 0.0
        return await asyncio.to_thread(self._take_leased, self.db, key, rate, cost)

    def _spend(self, key: int, cost: float) -> bool:
        """Take `cost` from this worker's unexpired lease of the key, if it holds enough."""
        now = time.monotonic()
        with self._lock:
            left, expires = self._leases.get(key, (0.0, 0.0))
            if now < expires and left >= cost:
                self._leases[key] = (left - cost, expires)
                return True
        return False

    def _take_leased(self, db: Database, key: int, rate: float, cost: float) -> float:
        if self._spend(key, cost):
            return 0.0
        units = max(1, round(cost))
        chunk = max(units, int(rate * LEASE_S))
        try:
            taken, level = self._lease(db, str(key), rate, units, chunk)
        except exc.OperationalError:  # the write lock is held (an import): count here
            with self._lock:
                self._degraded_until = time.monotonic() + DEGRADED_S
                self.degraded += 1
            return self._take_here(key, rate, cost)
        if taken <= 0:
            return (units - level) / rate
        with self._lock:
            # several requests may have leased at once (on threads): their leases add up,
            # none is lost
            left, expires = self._leases.get(key, (0.0, 0.0))
            now = time.monotonic()
            left = left if now < expires else 0.0
            self._leases[key] = (left + float(taken - units), now + LEASE_TTL_S)
        return 0.0

    def _lease(
        self, db: Database, key: str, rate: float, units: int, chunk: int
    ) -> tuple[int, float]:
        """Take `chunk` tokens of the shared bucket, or `units` when fewer are left, or none:
        (tokens taken, tokens left in the bucket), in one atomic statement."""
        now = time.time()
        depth = max(2.0, 2.0 * rate)
        t = LimitBucket.__table__
        refilled = t.c.tokens + (literal(now) - t.c.last) * literal(rate)
        # min(depth, refilled) in SQL both databases know (no LEAST in SQLite, no 2-arg min
        # in PostgreSQL); a clock gone back never adds tokens.
        level = case(
            (refilled > literal(depth), literal(depth)),
            (refilled < t.c.tokens, t.c.tokens),
            else_=refilled,
        )
        taken = case(
            (level >= literal(chunk), literal(chunk)),
            (level >= literal(units), literal(units)),
            else_=literal(0),
        )
        first = chunk if depth >= chunk else units if depth >= units else 0
        stmt = (
            _insert(db)(t)
            .values(scope=self.scope, key=key, tokens=depth - first, last=now, ok=first)
            .on_conflict_do_update(
                index_elements=[t.c.scope, t.c.key],
                set_={"tokens": level - taken, "last": literal(now), "ok": taken},
            )
            .returning(t.c.tokens, t.c.ok)
        )
        with _counting(db, brief=True) as conn:
            tokens, ok = conn.execute(stmt).one()
        return int(ok), float(tokens)


class FailureLimiter:
    """At most `limit` failures per key within `window` seconds; then refused until the
    oldest failure leaves the window. With a database, counted there (shared by every
    worker), else in this process."""

    def __init__(
        self, limit: int, window: float, db: Database | None = None, scope: str = "failures"
    ) -> None:
        self.limit = limit
        self.window = window
        self.db = db
        self.scope = scope
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def blocked(self, key: str) -> float:
        """0 if the key may try, else the seconds to wait."""
        key = key[:200]
        if self.db is not None:
            now = time.time()
            t = LimitFailure
            with self.db.engine.connect() as conn:
                count, oldest = conn.execute(
                    select(func.count(), func.min(t.at)).where(
                        and_(t.scope == self.scope, t.key == key, t.at > now - self.window)
                    )
                ).one()
            if count < self.limit or oldest is None:
                return 0.0
            return max(0.001, float(oldest) + self.window - now)
        now = time.monotonic()
        with self._lock:
            q = self._recent(key, now)
            return (q[0] + self.window - now) if len(q) >= self.limit else 0.0

    def failed(self, key: str) -> None:
        key = key[:200]
        if self.db is not None:
            now = time.time()
            t = LimitFailure
            with _counting(self.db) as conn:
                # the failures that left the window go (every key's: the table stays small)
                conn.execute(
                    delete(t).where(and_(t.scope == self.scope, t.at <= now - self.window))
                )
                conn.execute(insert(t).values(scope=self.scope, key=key, at=now))
            return
        with self._lock:
            self._recent(key, time.monotonic()).append(time.monotonic())
            if len(self._failures) > 100_000:  # bound memory under a flood of case numbers
                self._failures.clear()
