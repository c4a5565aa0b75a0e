"""Exact Hamming-radius search over 256-bit hashes (PDQ), with cheap updates and persistence.

Layout:
- a *main segment*: hashes, their ids (ascending) and multi-index tables built by the C
  kernel `_mih` (11 chunk tables, see _mih.c), plus a tombstone bitmap for removed rows;
- a small *delta*: hashes added since the main segment was built, searched by a linear scan.

Adding or removing one hash never rebuilds the main segment: an add goes to the delta, a
removal sets a tombstone. When the delta outgrows 1/16 of the main segment or 32,768 rows
(or a quarter of the main rows are dead) the two are merged in one pass (compaction, O(n)).

Search is exact: every stored hash within the radius is returned (recall 1.0).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rempart.errors import RempartError
from rempart.index import _mih

HASH_BYTES = 32
FORMAT_VERSION = 1
MIN_MAIN = 65536  # below this, the main segment is scanned linearly (tables cost ~60 MB)
BRUTE_RADIUS = 40  # above this radius, a linear scan beats enumerating chunk neighbours
MIN_DELTA = 4096
MAX_DELTA = 32768  # the delta is scanned linearly by every query: keep it small


class IndexCorrupt(RempartError):
    """The index folder is missing, incomplete or damaged: rebuild it from the database."""


def hex_to_array(hexes: Sequence[str]) -> np.ndarray:
    """(n, 32) uint8 from 64-character hex strings (big-endian, as bytes.fromhex)."""
    out = np.empty((len(hexes), HASH_BYTES), dtype=np.uint8)
    for i, value in enumerate(hexes):
        if not isinstance(value, str) or len(value) != 2 * HASH_BYTES:
            raise ValueError(f"not a 256-bit hash (64 hex characters): {value!r}")
        try:
            out[i] = np.frombuffer(bytes.fromhex(value), dtype=np.uint8)
        except ValueError as exc:
            raise ValueError(f"not hexadecimal: {value!r}") from exc
    return out


def array_to_hex(arr: np.ndarray) -> list[str]:
    return [bytes(row).hex() for row in np.asarray(arr, dtype=np.uint8).reshape(-1, HASH_BYTES)]


def _hash_matrix(hashes: np.ndarray) -> np.ndarray:
    arr = np.ascontiguousarray(hashes, dtype=np.uint8)
    if arr.ndim != 2 or arr.shape[1] != HASH_BYTES:
        raise ValueError(f"hashes must have shape (n, {HASH_BYTES}), not {arr.shape}")
    return arr


class BinaryHashIndex:
    """Exact radius search over 256-bit hashes, keyed by int64 ids."""

    def __init__(self) -> None:
        self.generation = 0
        self._set_main(np.empty((0, HASH_BYTES), np.uint8), np.empty(0, np.int64))
        self._delta: dict[int, bytes] = {}
        self._delta_cache: tuple[np.ndarray, np.ndarray] | None = None

    # ---- main segment ----
    def _set_main(
        self,
        hashes: np.ndarray,
        ids: np.ndarray,
        tables: tuple[np.ndarray, np.ndarray] | None = None,
        tomb: np.ndarray | None = None,
    ) -> None:
        self._main_hashes = hashes
        self._main_ids = ids
        n = len(ids)
        if tables is None:
            if n >= MIN_MAIN:
                tables = (np.empty(n * _mih.CHUNKS, np.uint32), np.empty(_mih.OFFSETS, np.uint32))
                _mih.build(hashes, tables[0], tables[1])
            else:
                tables = (np.empty(0, np.uint32), np.empty(0, np.uint32))
        self._entries, self._offsets = tables
        self._tomb = tomb if tomb is not None else np.zeros((n + 7) // 8, dtype=np.uint8)
        self._dead = int(np.unpackbits(self._tomb, bitorder="little").sum()) if n else 0
        self._main_version = uuid.uuid4().hex

    def _main_rows(self, ids: np.ndarray) -> np.ndarray:
        """Rows of the main segment holding these ids (alive or not); -1 where absent."""
        if not len(self._main_ids):
            return np.full(len(ids), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self._main_ids, ids), len(self._main_ids) - 1)
        return np.where(self._main_ids[pos] == ids, pos, -1)

    def _alive(self, row: int) -> bool:
        return not (self._tomb[row >> 3] >> (row & 7)) & 1

    def _kill(self, row: int) -> bool:
        if not self._alive(row):
            return False
        self._tomb[row >> 3] |= np.uint8(1 << (row & 7))
        self._dead += 1
        return True

    # ---- updates ----
    def add(self, ids: np.ndarray, hashes: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        arr = _hash_matrix(hashes)
        if len(ids) != len(arr):
            raise ValueError("ids and hashes differ in length")
        if not len(ids):
            return
        uniq, last = np.unique(ids[::-1], return_index=True)  # the last copy of an id wins
        ids, arr = uniq, arr[::-1][last]
        for row in self._main_rows(ids).tolist():
            if row >= 0:
                self._kill(row)
        self.generation += 1
        if len(ids) > max(MIN_DELTA, min(len(self._main_ids) // 16, MAX_DELTA)):
            for i in ids.tolist():  # a bulk load: merged straight into the main segment
                self._delta.pop(i, None)
            self._delta_cache = None
            self.compact(extra=(ids, arr))
            return
        for i, h in zip(ids.tolist(), arr, strict=True):
            self._delta[i] = h.tobytes()
        self._delta_cache = None
        self._maybe_compact()

    def remove(self, ids: np.ndarray) -> int:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        removed = 0
        for i, row in zip(ids.tolist(), self._main_rows(ids).tolist(), strict=True):
            if self._delta.pop(i, None) is not None:
                removed += 1
            elif row >= 0 and self._kill(row):
                removed += 1
        self._delta_cache = None
        self.generation += 1
        self._maybe_compact()
        return removed

    def _maybe_compact(self) -> None:
        n_main = len(self._main_ids)
        if len(self._delta) > max(MIN_DELTA, min(n_main // 16, MAX_DELTA)) or self._dead > max(
            MIN_DELTA, n_main // 4
        ):
            self.compact()

    def compact(self, extra: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Merge the delta (and `extra` rows) into the main segment, dropping removed rows."""
        alive = ~np.unpackbits(self._tomb, count=len(self._main_ids), bitorder="little").astype(
            bool
        )
        d_ids, d_hashes = self._delta_arrays()
        e_ids, e_hashes = extra if extra is not None else (d_ids[:0], d_hashes[:0])
        parts = [
            (i, h)
            for i, h in (
                (self._main_ids[alive], self._main_hashes[alive]),
                (d_ids, d_hashes),
                (e_ids, e_hashes),
            )
            if len(i)
        ]
        if len(parts) == 1:  # one part (a bulk load into an empty index): no copy of it
            ids, hashes = np.asarray(parts[0][0], np.int64), _hash_matrix(parts[0][1])
        else:
            ids = np.concatenate([self._main_ids[alive], d_ids, e_ids])
            hashes = np.concatenate([self._main_hashes[alive], d_hashes, e_hashes])
        del parts
        if len(ids) > 1 and not bool(np.all(ids[1:] > ids[:-1])):  # new ids come last,
            order = np.argsort(ids, kind="stable")  # in order: sorted only when needed
            ids, hashes = ids[order], hashes[order]
        self._set_main(np.ascontiguousarray(hashes), np.ascontiguousarray(ids))
        self._delta = {}
        self._delta_cache = None

    def _delta_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if self._delta_cache is None:
            ids = np.fromiter(self._delta.keys(), dtype=np.int64, count=len(self._delta))
            hashes = np.frombuffer(b"".join(self._delta.values()), dtype=np.uint8).reshape(
                -1, HASH_BYTES
            )
            self._delta_cache = (ids, np.ascontiguousarray(hashes))
        return self._delta_cache

    # ---- queries ----
    def __len__(self) -> int:
        return len(self._main_ids) - self._dead + len(self._delta)

    def __contains__(self, id_: object) -> bool:
        if not isinstance(id_, int | np.integer):
            return False
        if int(id_) in self._delta:
            return True
        row = int(self._main_rows(np.array([id_], dtype=np.int64))[0])
        return row >= 0 and self._alive(row)

    def search(self, queries: np.ndarray, radius: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per query: (ids, distances) of every stored hash within `radius`, nearest first."""
        q = _hash_matrix(queries)
        if not 0 <= radius <= 256:
            raise ValueError("radius must be between 0 and 256")
        nq = len(q)
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        if len(self._main_ids):
            if len(self._main_ids) >= MIN_MAIN and radius <= BRUTE_RADIUS and self._entries.size:
                raw = _mih.search(
                    self._main_hashes, self._entries, self._offsets, self._tomb, q, radius
                )
            else:
                raw = _mih.brute(self._main_hashes, self._tomb, q, radius)
            parts.append(self._decode(raw, self._main_ids))
        if self._delta:
            d_ids, d_hashes = self._delta_arrays()
            raw = _mih.brute(d_hashes, b"", q, radius)
            parts.append(self._decode(raw, d_ids))
        if not parts:
            return [(np.empty(0, np.int64), np.empty(0, np.int32)) for _ in range(nq)]
        if len(parts) == 1 and len(self._main_ids):
            # the kernel sorts by (distance, row), and main rows ascend with ids
            counts, ids, dists = parts[0]
            ends = np.cumsum(counts).tolist()
            starts = [0, *ends[:-1]]
            return [(ids[a:b], dists[a:b]) for a, b in zip(starts, ends, strict=True)]
        out: list[tuple[np.ndarray, np.ndarray]] = []
        splits = [
            (np.split(ids, np.cumsum(c)[:-1]), np.split(d, np.cumsum(c)[:-1]))
            for c, ids, d in parts
        ]
        for qi in range(nq):
            ids = np.concatenate([s[0][qi] for s in splits])
            dists = np.concatenate([s[1][qi] for s in splits])
            if len(ids) > 1:
                order = np.lexsort((ids, dists))
                ids, dists = ids[order], dists[order]
            out.append((ids, dists))
        return out

    @staticmethod
    def _decode(
        raw: tuple[bytes, bytes, bytes], id_map: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        counts = np.frombuffer(raw[0], dtype=np.uint32).astype(np.int64)
        rows = np.frombuffer(raw[1], dtype=np.uint32)
        dists = np.frombuffer(raw[2], dtype=np.int32)
        return counts, id_map[rows], dists

    # ---- persistence ----
    def save(self, directory: Path) -> None:
        """Write the index to a folder. The main segment is written only when it changed."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        main = f"main-{self._main_version}"
        if not (directory / f"{main}-ids.npy").exists():
            _atomic_npy(directory / f"{main}-ids.npy", self._main_ids)
            _atomic_npy(directory / f"{main}-hashes.npy", self._main_hashes)
            _atomic_npy(directory / f"{main}-entries.npy", self._entries)
            _atomic_npy(directory / f"{main}-offsets.npy", self._offsets)
        state = f"state-{uuid.uuid4().hex}"
        d_ids, d_hashes = self._delta_arrays()
        _atomic_npy(directory / f"{state}-tomb.npy", self._tomb)
        _atomic_npy(directory / f"{state}-delta-ids.npy", d_ids)
        _atomic_npy(directory / f"{state}-delta-hashes.npy", d_hashes)
        meta = {
            "format": "rempart-binary-index",
            "version": FORMAT_VERSION,
            "generation": self.generation,
            "main": main,
            "main_rows": len(self._main_ids),
            "state": state,
            "delta_rows": len(d_ids),
        }
        tmp = directory / "meta.json.tmp"
        tmp.write_text(json.dumps(meta))
        os.replace(tmp, directory / "meta.json")
        for path in directory.iterdir():  # files of older versions
            if path.name.startswith(("main-", "state-")) and not path.name.startswith(
                (main, state)
            ):
                path.unlink(missing_ok=True)

    @classmethod
    def load(cls, directory: Path) -> BinaryHashIndex:
        directory = Path(directory)
        try:
            meta = json.loads((directory / "meta.json").read_text())
            if meta.get("format") != "rempart-binary-index" or meta.get("version") != 1:
                raise IndexCorrupt(f"{directory}: unknown index format")
            main, state = meta["main"], meta["state"]
            ids = np.load(directory / f"{main}-ids.npy", allow_pickle=False)
            hashes = np.load(directory / f"{main}-hashes.npy", allow_pickle=False)
            entries = np.load(directory / f"{main}-entries.npy", allow_pickle=False)
            offsets = np.load(directory / f"{main}-offsets.npy", allow_pickle=False)
            tomb = np.load(directory / f"{state}-tomb.npy", allow_pickle=False)
            d_ids = np.load(directory / f"{state}-delta-ids.npy", allow_pickle=False)
            d_hashes = np.load(directory / f"{state}-delta-hashes.npy", allow_pickle=False)
            n = int(meta["main_rows"])
            chunks = int(_mih.CHUNKS)
            shapes_ok = (
                ids.shape == (n,)
                and ids.dtype == np.int64
                and hashes.shape == (n, HASH_BYTES)
                and hashes.dtype == np.uint8
                and entries.dtype == np.uint32
                and offsets.dtype == np.uint32
                and entries.ndim == 1
                and offsets.ndim == 1
                and (entries.size, offsets.size) in ((0, 0), (n * chunks, int(_mih.OFFSETS)))
                and tomb.shape == ((n + 7) // 8,)
                and tomb.dtype == np.uint8
                and d_ids.shape == (int(meta["delta_rows"]),)
                and d_ids.dtype == np.int64
                and d_hashes.shape == (len(d_ids), HASH_BYTES)
                and bool(np.all(ids[1:] > ids[:-1]))
            )
            if not shapes_ok:
                raise IndexCorrupt(f"{directory}: index files do not fit together")
            if entries.size and not _mih.check(entries, offsets, n):
                raise IndexCorrupt(f"{directory}: damaged multi-index tables")
        except IndexCorrupt:
            raise
        except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
            raise IndexCorrupt(f"{directory}: cannot read the index ({exc})") from exc
        index = cls()
        tables = (entries, offsets) if entries.size else None
        index._set_main(hashes, ids, tables, tomb.copy())
        index._main_version = main.removeprefix("main-")
        index._delta = {int(i): h.tobytes() for i, h in zip(d_ids, d_hashes, strict=True)}
        index.generation = int(meta["generation"])
        return index


def _atomic_npy(path: Path, arr: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, arr, allow_pickle=False)
    os.replace(tmp, path)
