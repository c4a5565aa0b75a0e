"""The PDQ index of every bank's signals, kept in step with the database.

The database is the source of truth. The index lives in a folder named after the database's
instance id, with a token file. Every change writes a fresh token to the database (in the
same transaction as the change) and, once the index is saved, to the folder. An index whose
token differs from the database's is stale (a crash, another process) and is rebuilt.
"""

from __future__ import annotations

import fcntl
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from rempart.index.binary_index import BinaryHashIndex, IndexCorrupt, hex_to_array
from rempart.signals.pdq import MIN_QUALITY
from rempart.store import repository
from rempart.store.db import Database

TOKEN_KEY = "pdq_index_token"


class BankIndex:
    def __init__(self, db: Database, home: Path) -> None:
        self.db = db
        self.folder = home / "index" / db.instance_id() / "pdq"
        self._index: BinaryHashIndex | None = None
        self.token: str | None = None  # the token of the index held in memory
        # Held while the index in memory is changed (the API's keeper sets it to its write
        # lock, so searches wait only for that moment); by default nothing.
        self.guard: Callable[[], AbstractContextManager[Any]] = nullcontext

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One process (or thread) at a time changes, rebuilds or reloads the index."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "lock", "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    @property
    def token_file(self) -> Path:
        return self.folder / "token"

    def _read_token(self) -> str | None:
        try:
            return self.token_file.read_text(encoding="ascii").strip()
        except OSError:
            return None

    def _write_token(self, token: str) -> None:
        tmp = self.token_file.with_suffix(".tmp")
        tmp.write_text(token, encoding="ascii")
        tmp.replace(self.token_file)

    def load(self) -> BinaryHashIndex:
        """The current index: loaded from disk if up to date, else rebuilt from the database."""
        if self._index is not None:
            return self._index
        with self._exclusive():
            return self._load_locked()

    def _load_locked(self) -> BinaryHashIndex:
        wanted = self.db.get_meta(TOKEN_KEY)
        if wanted is not None and self._read_token() == wanted:
            try:
                self._index = BinaryHashIndex.load(self.folder / "data")
                self.token = wanted
                return self._index
            except IndexCorrupt:
                pass
        self._index = self._rebuild_locked()
        return self._index

    def is_current(self) -> bool:
        """Whether the index held in memory reflects every change in the database."""
        return self._index is not None and self.db.get_meta(TOKEN_KEY) == self.token

    def refresh(self) -> bool:
        """Reload the index when another process changed the database since it was loaded
        (from its saved folder, else rebuilt); True when the held index was replaced. The
        old index object is left untouched, for readers still using it."""
        if self.is_current():
            return False
        with self._exclusive():
            if self.is_current():  # the change was our own, finished while we waited
                return False
            self._index = None
            self._load_locked()
        return True

    def add_batch(self, ids: np.ndarray, hashes: np.ndarray) -> None:
        """Index hashes already stored by changes that handed them over instead of indexing
        them: added in one go, which builds the search tables once (a batch at a time,
        every batch rebuilt them: minutes for a million). If another process changed the
        database meanwhile, the index is rebuilt from it."""
        with self._exclusive():
            if self._index is None or not self.is_current():
                self._index = self._rebuild_locked()
                return
            token = uuid.uuid4().hex
            self.db.set_meta(TOKEN_KEY, token)
            self._merge_locked(ids, hashes, token)

    def commit_added(self, s: Session, ids: np.ndarray, hashes: np.ndarray) -> None:
        """Commit a transaction that stored new PDQ hashes (signal ids, hashes as rows of
        32 bytes) without holding the index's lock, then index them: a list import writes
        for a minute and must not hold up the changes of others meanwhile (issue 19, M4);
        the lock is held only from the token's change to the saved index, as `change`
        holds it. Readers of the database see the hashes and the index sees them at the
        same moment for every process (the token changes with the commit). If the index in
        memory was not current (another process's change, or never loaded), it is rebuilt
        from the database once committed."""
        with self._exclusive():
            current = self._index is not None and self.is_current()
            token = uuid.uuid4().hex
            self.db.set_meta(TOKEN_KEY, token, s)
            s.commit()
            if not current:
                self._index = self._rebuild_locked()
                return
            self._merge_locked(ids, hashes, token)

    def _merge_locked(self, ids: np.ndarray, hashes: np.ndarray, token: str) -> None:
        """Merge new rows (fresh ids) into the index held in memory, and save it under the
        token already committed to the database."""
        assert self._index is not None
        if len(ids):
            with self.guard():  # new rows (fresh ids): merged straight into the main
                # segment, without add()'s per-id bookkeeping (a million Python ints)
                self._index.compact(
                    extra=(
                        np.asarray(ids, dtype=np.int64),
                        np.ascontiguousarray(hashes, dtype=np.uint8),
                    )
                )
                self._index.generation += 1
        self._save(self._index, token)
        self.token = token

    def save(self) -> None:
        """Write the index held in memory (after changes made with save=False)."""
        with self._exclusive():
            if self._index is not None and self.is_current():
                self._save(self._index, self.token or "")

    def rebuild(self) -> BinaryHashIndex:
        with self._exclusive():
            self._index = self._rebuild_locked()
            return self._index

    def _rebuild_locked(self) -> BinaryHashIndex:
        token = uuid.uuid4().hex
        with self.db.session() as s:
            rows = repository.pdq_signals(s, MIN_QUALITY)
            self.db.set_meta(TOKEN_KEY, token, s)
        index = BinaryHashIndex()
        if rows:
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            index.add(ids, hex_to_array([r[1] for r in rows]))
        self._save(index, token)
        self.token = token
        return index

    def _save(self, index: BinaryHashIndex, token: str) -> None:
        if self.token_file.exists():
            self.token_file.unlink()
        self.folder.mkdir(parents=True, exist_ok=True)
        index.save(self.folder / "data")
        self._write_token(token)

    def change(
        self,
        apply: Callable[[Session], tuple[Sequence[tuple[int, str]], Sequence[int]]],
        save: bool = True,
    ) -> None:
        """Run a database change that adds and/or removes PDQ signals, then mirror it.

        `apply` runs inside one transaction and returns (added (id, hex) pairs, removed ids).
        The index held in memory is changed under `guard` (searches wait only for that,
        not for the database work). With `save` false the index files are left stale
        (`save()` writes them later; a crash before that rebuilds them on open).
        """
        with self._exclusive():
            if not self.is_current():  # another process changed it: start from its index
                self._index = None
            index = self._index if self._index is not None else self._load_locked()
            token = uuid.uuid4().hex
            with self.db.session() as s:
                added, removed = apply(s)
                self.db.set_meta(TOKEN_KEY, token, s)
            ids = np.asarray([a[0] for a in added], dtype=np.int64)
            hashes = hex_to_array([a[1] for a in added]) if added else None
            with self.guard():
                if removed:
                    index.remove(np.asarray(list(removed), dtype=np.int64))
                    index.compact()  # removed hashes must not linger in the index files
                if hashes is not None:
                    index.add(ids, hashes)
            if save or removed:
                self._save(index, token)
            elif self.token_file.exists():
                self.token_file.unlink()  # stale until saved
            self.token = token
            if removed:  # the descriptor index (store/feature_index.py) is rebuilt without
                shutil.rmtree(self.folder.parent / "features", ignore_errors=True)  # them
        if removed:
            self.db.purge_deleted()
