"""A lookup's rate limit never waits for another process's write (issue 22 item 3): while
`rempart bank import-list` holds SQLite's write lock, a lease write gives up after
LOCK_WAIT_S and the worker counts the key in memory at its rate (still limited), then goes
back to the database once the lock is released."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from rempart.access import ratelimit
from rempart.access.ratelimit import RateLimiter
from rempart.store.db import Database
from tests.conftest import migrated_sqlite_url


def test_lease_gives_up_on_a_held_write_lock_and_still_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ratelimit, "DEGRADED_S", 0.3)  # a shorter wait, the same rule
    url = migrated_sqlite_url(tmp_path / "r.db")
    db = Database(url)
    limiter = RateLimiter(db)
    other = sqlite3.connect(tmp_path / "r.db", isolation_level=None)
    try:
        assert limiter.take(1, 1.0) == 0  # the database works: counted there
        other.execute("BEGIN IMMEDIATE")  # another process's long import: the write lock
        t0 = time.monotonic()
        first = asyncio.run(limiter.take_async(2, 1.0))
        waited = time.monotonic() - t0
        assert first == 0 and waited < ratelimit.LOCK_WAIT_S + 2.0, waited
        assert limiter.degraded == 1
        # counted in memory meanwhile, at the key's rate: a bucket of 2 at 1/s
        assert asyncio.run(limiter.take_async(2, 1.0)) == 0
        assert asyncio.run(limiter.take_async(2, 1.0)) > 0
        assert limiter.take(2, 1.0) > 0
        assert limiter.degraded == 1  # no second wait for the lock within DEGRADED_S
        other.execute("ROLLBACK")
        time.sleep(ratelimit.DEGRADED_S + 0.05)
        # the database again: key 3's bucket is written there and shared
        assert limiter.take(3, 1.0) == 0
        assert RateLimiter(db).take(3, 1.0) == 0
        assert RateLimiter(db).take(3, 1.0) > 0  # two tokens taken by two limiters
        assert limiter.degraded == 1
    finally:
        other.close()
        db.dispose()
