"""The PDQ index while serving: loaded in the background at start (readiness false until
then), searched by many threads at once, changed in place by imports and withdrawals made
through this server, and reloaded when another process (a CLI command, another worker)
changed the database: its change token is polled every `poll` seconds, so a hash added or
withdrawn anywhere is matchable, or gone, within about a second, with no full rebuild."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import numpy as np

from rempart.errors import Unavailable
from rempart.index.binary_index import BinaryHashIndex
from rempart.index.descriptor_index import DescriptorIndex
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database
from rempart.store.feature_index import FeatureIndex

log = logging.getLogger("rempart.api")
T = TypeVar("T")


class NotReady(Unavailable):
    """The index is still loading."""


class RWLock:
    """Many readers or one writer; a waiting writer holds new readers back."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._waiting = 0

    def acquire_read(self) -> None:
        with self._cond:
            while self._writer or self._waiting:
                self._cond.wait()
            self._readers += 1

    def release_read(self) -> None:
        with self._cond:
            self._readers -= 1
            if not self._readers:
                self._cond.notify_all()

    @contextmanager
    def read(self) -> Iterator[None]:
        self.acquire_read()
        try:
            yield
        finally:
            self.release_read()

    @property
    def busy(self) -> bool:
        """A writer holds the lock or waits for it (a reader would wait)."""
        return self._writer or bool(self._waiting)

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


class IndexKeeper:
    def __init__(self, db: Database, home: Path, poll: float = 0.5) -> None:
        self.db = db
        self.bank_index = BankIndex(db, home)
        self.poll = poll
        self._lock = RWLock()
        self._changing = threading.Lock()  # one import or withdrawal at a time
        self.bank_index.guard = self._lock.write
        self._index: BinaryHashIndex | None = None
        self.version = 0  # bumped on every change or reload (caches key on it)
        self.loaded_at: float | None = None
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._features: tuple[int, DescriptorIndex] | None = None
        self._features_lock = threading.Lock()

    def features(self) -> DescriptorIndex:
        """The descriptor index of the banks' keypoints (robust stage), loaded on first use
        after each change (it is rebuilt from the database when the banks changed)."""
        version = self.version
        cached = self._features
        if cached is not None and cached[0] == version:
            return cached[1]
        with self._features_lock:
            if self._features is None or self._features[0] != version:
                self._features = (version, FeatureIndex.beside(self.bank_index).load())
            return self._features[1]

    # ---- lifecycle ----
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rempart-index", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._index is None:
                    index = self.bank_index.load()
                    self._swap(index)
                    self.loaded_at = time.time()
                elif self.bank_index.refresh():
                    self._swap(self.bank_index.load())
                    log.info("index reloaded after a change by another process")
                self.last_error = None
            except Exception as exc:  # keep serving the index held; say so in readiness
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("index refresh failed")
            self._stop.wait(self.poll)

    def _swap(self, index: BinaryHashIndex) -> None:
        with self._lock.write():
            self._index = index
            self.version += 1

    # ---- use ----
    @property
    def ready(self) -> bool:
        return self._index is not None

    def busy(self) -> bool:
        """An import or withdrawal is changing the index: a search would wait for it."""
        return self._lock.busy

    def stale(self) -> bool:
        """True while the database holds a change the index does not have yet."""
        return self._index is None or not self.bank_index.is_current()

    @contextmanager
    def reading(self) -> Iterator[BinaryHashIndex]:
        if self._index is None:
            raise NotReady("the index is loading")
        with self._lock.read():
            yield self._index

    def search(self, queries: np.ndarray, radius: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """`index.search` under the read lock: what a lookup does, without the two
        generator context managers of `reading()` (a few microseconds per lookup)."""
        index = self._index
        if index is None:
            raise NotReady("the index is loading")
        lock = self._lock
        lock.acquire_read()
        try:
            index = self._index  # the index held now (a reload may have swapped it)
            assert index is not None
            if not len(index):
                return [(np.empty(0, np.int64), np.empty(0, np.int32)) for _ in queries]
            return index.search(queries, radius)
        finally:
            lock.release_read()

    def change(self, fn: Callable[[BankIndex], T]) -> T:
        """Run an import or withdrawal, one at a time through this server. Searches go on
        meanwhile: they wait only while the index in memory is changed (the bank index's
        guard is this keeper's write lock), not for the database work, which for an
        import of 20,000 hashes took seconds and stalled every lookup."""
        if self._index is None:
            raise NotReady("the index is loading")
        with self._changing:
            try:
                return fn(self.bank_index)
            finally:
                index = self.bank_index.load()  # the same object, unless it was reloaded
                with self._lock.write():
                    self._index = index
                    self.version += 1

    def size(self) -> int:
        return len(self._index) if self._index is not None else 0
