"""Limits counted in the database (issue 18 item 5): two limiters over one database (two
server workers) share their counts, on SQLite and PostgreSQL; the numbers and behaviour are
those of the in-memory limiters."""

from __future__ import annotations

import time

import pytest

from rempart.access.ratelimit import FailureLimiter, RateLimiter
from rempart.store.db import Database


@pytest.mark.both_databases
def test_failures_counted_across_workers(db_url: str) -> None:
    a, b = Database(db_url), Database(db_url)  # two workers: two engines, one database
    try:
        one = FailureLimiter(5, 60.0, a, scope="victim-secret")
        two = FailureLimiter(5, 60.0, b, scope="victim-secret")
        for i in range(5):
            assert (one if i % 2 else two).blocked("CASE-1") == 0
            (one if i % 2 else two).failed("CASE-1")
        # five wrong secrets, shared: both workers refuse now, for about the window
        assert 55 < one.blocked("CASE-1") <= 60
        assert 55 < two.blocked("case-1".upper()) <= 60
        assert one.blocked("CASE-2") == 0  # another case number is not affected
        other_scope = FailureLimiter(5, 60.0, b, scope="web-login")
        assert other_scope.blocked("CASE-1") == 0
        # a short window: the failures leave it, and the key may try again
        short = FailureLimiter(2, 0.3, a, scope="short")
        short.failed("k")
        short.failed("k")
        assert short.blocked("k") > 0
        time.sleep(0.35)
        assert short.blocked("k") == 0
    finally:
        a.dispose()
        b.dispose()


@pytest.mark.both_databases
def test_token_bucket_shared(db_url: str) -> None:
    a, b = Database(db_url), Database(db_url)
    try:
        one, two = RateLimiter(a), RateLimiter(b)
        # rate 1/s: a bucket of 2 tokens, taken by the two workers together
        assert one.take(7, 1.0) == 0
        assert two.take(7, 1.0) == 0
        wait = one.take(7, 1.0)
        assert 0 < wait <= 1.0
        assert two.take(7, 1.0) > 0
        assert one.take(8, 1.0) == 0  # another key has its own bucket
        time.sleep(1.05)
        assert two.take(7, 1.0) == 0  # refilled at the rate
        # A fast key: each worker leases a few tokens at a time (one write per 5 requests
        # at 100/s); the two together never get more than the bucket and its refill.
        fast1, fast2 = RateLimiter(a), RateLimiter(b)
        start = time.monotonic()
        allowed = sum((fast2 if i % 2 else fast1).take(9, 100.0) == 0 for i in range(300))
        elapsed = time.monotonic() - start
        assert 200 - 2 * 5 <= allowed <= 200 + 100 * elapsed + 1
        # the in-memory limiter (no database) says the same for the same calls
        mem = RateLimiter()
        assert [mem.take(1, 1.0) == 0 for _ in range(3)] == [True, True, False]
    finally:
        a.dispose()
        b.dispose()
