"""The descriptor index of every banked photo's local features, kept in step with the
database.

Built from the database's "local-features" signals (each photo's strongest descriptors,
within a total budget) and saved under REMPART_HOME/index/<instance id>/features/ with the
PDQ index's token: every bank change writes a new token, so the next load sees the saved
index is stale and rebuilds it. A withdrawal deletes the saved index at once
(`BankIndex.change`), so withdrawn descriptors do not linger on disk.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from rempart.index.descriptor_index import DescriptorIndex
from rempart.signals.local_features import FeatureFormatError, Features
from rempart.store import repository
from rempart.store.bank_index import TOKEN_KEY, BankIndex
from rempart.store.db import Database

PER_PHOTO = 400  # descriptors indexed per banked photo, strongest first...
TOTAL_BUDGET = 8_000_000  # ... fewer each when the banks hold more (at least MIN_PER_PHOTO)
MIN_PER_PHOTO = 48


class FeatureIndex:
    def __init__(self, db: Database, folder: Path) -> None:
        self.db = db
        self.folder = folder
        self._index: DescriptorIndex | None = None

    @classmethod
    def beside(cls, bank_index: BankIndex) -> FeatureIndex:
        """The descriptor index of the same database, next to its PDQ index."""
        return cls(bank_index.db, bank_index.folder.parent / "features")

    def load(self) -> DescriptorIndex:
        if self._index is not None:
            return self._index
        token = self.db.get_meta(TOKEN_KEY)
        if token is not None:
            self._index = self._read(token)
        if self._index is None:
            self._index = self._rebuild(token)
        return self._index

    def _read(self, token: str) -> DescriptorIndex | None:
        try:
            meta = json.loads((self.folder / "meta.json").read_text(encoding="utf-8"))
            if meta.get("token") != token:
                return None
            desc = np.load(self.folder / "descriptors.npy", allow_pickle=False)
            owners = np.load(self.folder / "owners.npy", allow_pickle=False)
            return DescriptorIndex(desc, owners)
        except (OSError, ValueError, TypeError):
            return None

    def _rebuild(self, token: str | None) -> DescriptorIndex:
        with self.db.session() as s:
            rows = list(repository.all_features(s))
        per = PER_PHOTO
        if rows:
            per = max(MIN_PER_PHOTO, min(PER_PHOTO, TOTAL_BUDGET // len(rows)))
        parts, owners = [], []
        for _, item_id, text in rows:
            try:
                f = Features.from_text(text)
            except FeatureFormatError:
                continue  # validated on import; a damaged row only loses this stage
            k = min(len(f), per)
            parts.append(f.descriptors[:k])
            owners.append(np.full(k, item_id, dtype=np.int64))
        desc = np.concatenate(parts) if parts else np.empty((0, 32), np.uint8)
        own = np.concatenate(owners) if owners else np.empty(0, np.int64)
        if token is not None:
            self._save(desc, own, token)
        return DescriptorIndex(desc, own)

    def _save(self, desc: np.ndarray, owners: np.ndarray, token: str) -> None:
        try:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder.mkdir(parents=True, exist_ok=True)
            np.save(self.folder / "descriptors.npy", desc, allow_pickle=False)
            np.save(self.folder / "owners.npy", owners, allow_pickle=False)
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"token": token, "rows": len(desc)}, fh)
            os.replace(tmp, self.folder / "meta.json")  # written last: the index is whole
        except OSError:
            pass  # an index that cannot be saved is rebuilt next time
