"""Rate limits, in memory (each server process counts for itself): a token bucket per API
key, and a cap on wrong secrets per case number for the victim's status check."""

from __future__ import annotations

import threading
import time
from collections import deque


class RateLimiter:
    """Token buckets: `rate` tokens per second, up to 2 x rate (at least 2) held."""

    def __init__(self) -> None:
        self._buckets: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: int, rate: float, cost: float = 1.0) -> float:
        """0 if allowed (the cost is taken), else the seconds to wait."""
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


class FailureLimiter:
    """At most `limit` failures per key within `window` seconds; then refused until the
    oldest failure leaves the window."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def blocked(self, key: str) -> float:
        """0 if the key may try, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            q = self._recent(key, now)
            return (q[0] + self.window - now) if len(q) >= self.limit else 0.0

    def failed(self, key: str) -> None:
        with self._lock:
            self._recent(key, time.monotonic()).append(time.monotonic())
            if len(self._failures) > 100_000:  # bound memory under a flood of case numbers
                self._failures.clear()
