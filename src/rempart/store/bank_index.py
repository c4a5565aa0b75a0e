"""The PDQ index of every bank's signals, kept in step with the database.

The database is the source of truth. The index lives in a folder named after the database's
instance id, with a token file. Every change writes a fresh token to the database (in the
same transaction as the change) and, once the index is saved, to the folder. An index whose
token differs from the database's is stale (a crash, another process) and is rebuilt.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

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
        wanted = self.db.get_meta(TOKEN_KEY)
        if wanted is not None and self._read_token() == wanted:
            try:
                self._index = BinaryHashIndex.load(self.folder / "data")
                return self._index
            except IndexCorrupt:
                pass
        self._index = self.rebuild()
        return self._index

    def rebuild(self) -> BinaryHashIndex:
        token = uuid.uuid4().hex
        with self.db.session() as s:
            rows = repository.pdq_signals(s, MIN_QUALITY)
            self.db.set_meta(TOKEN_KEY, token, s)
        index = BinaryHashIndex()
        if rows:
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            index.add(ids, hex_to_array([r[1] for r in rows]))
        self._save(index, token)
        return index

    def _save(self, index: BinaryHashIndex, token: str) -> None:
        if self.token_file.exists():
            self.token_file.unlink()
        self.folder.mkdir(parents=True, exist_ok=True)
        index.save(self.folder / "data")
        self._write_token(token)

    def change(
        self, apply: Callable[[Session], tuple[Sequence[tuple[int, str]], Sequence[int]]]
    ) -> None:
        """Run a database change that adds and/or removes PDQ signals, then mirror it.

        `apply` runs inside one transaction and returns (added (id, hex) pairs, removed ids).
        """
        index = self.load()
        token = uuid.uuid4().hex
        with self.db.session() as s:
            added, removed = apply(s)
            self.db.set_meta(TOKEN_KEY, token, s)
        if removed:
            index.remove(np.asarray(list(removed), dtype=np.int64))
            index.compact()  # removed hashes must not linger in the index files
        if added:
            ids = np.asarray([a[0] for a in added], dtype=np.int64)
            index.add(ids, hex_to_array([a[1] for a in added]))
        self._save(index, token)
        if removed:
            self.db.purge_deleted()
