"""Which stored pictures share local-feature descriptors with a query picture: votes from
locality-sensitive hashing over 256-bit binary descriptors (ORB).

Each descriptor is filed under TABLES keys, each key two of its 32 bytes (16 bits); the
tables use disjoint bytes. Two descriptors of the same keypoint differ in a few bits, so they
usually share at least one key; unrelated descriptors rarely do. A query looks up its
descriptors' keys (sorted arrays, `searchsorted`: no Python loop over descriptors), checks
each pair found by its full Hamming distance, and counts, per stored picture (owner), how
many query descriptors found a close descriptor of it. Buckets far fuller than average
(texture that every picture has) are ignored. The lookups run in C (`_mih.votes`: each
bucket found through an offsets table, each pair checked with four popcounts, each owner
counted once per query descriptor), with no array of candidate pairs in between.

This finds candidates only; `signals.local_features.verify` decides, geometrically.
"""

from __future__ import annotations

import numpy as np

from rempart.index import _mih

TABLES = 8
# Buckets holding more than this many descriptors (per table, on average 16 times a uniform
# key's share, at least 48) are texture that every picture has: ignored.
MIN_BUCKET_CAP = 48
DESCRIPTOR_BYTES = 32


def _all_keys(d: np.ndarray) -> np.ndarray:
    """(n, TABLES) keys, table t's key offset by t << 16 so that all live in one array."""
    pairs = d[:, : 2 * TABLES].astype(np.uint32).reshape(len(d), TABLES, 2)
    return (pairs[:, :, 0] << 8 | pairs[:, :, 1]) + (np.arange(TABLES, dtype=np.uint32) << 16)


class DescriptorIndex:
    def __init__(self, descriptors: np.ndarray, owners: np.ndarray) -> None:
        d = np.ascontiguousarray(descriptors, dtype=np.uint8)
        if d.ndim != 2 or d.shape[1] != DESCRIPTOR_BYTES or len(d) != len(owners):
            raise ValueError("descriptors must be (n, 32) uint8 with one owner each")
        self.descriptors = d
        self.owners = np.asarray(owners, dtype=np.int64)
        self._words = d.view(np.uint64).reshape(-1, 4)
        keys = _all_keys(d).ravel()  # row-major: entry i*TABLES+t is row i, table t
        order = np.argsort(keys, kind="stable")
        self._rows = np.ascontiguousarray(order // TABLES, dtype=np.uint32)
        counts = np.bincount(keys, minlength=TABLES << 16)
        self._offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.uint32)
        # owners as dense numbers for the kernel, and back
        self._owner_ids, dense = np.unique(self.owners, return_inverse=True)
        self._dense = np.ascontiguousarray(dense, dtype=np.int32)
        self.max_bucket = max(MIN_BUCKET_CAP, 16 * len(d) // 65536)

    def __len__(self) -> int:
        return len(self.descriptors)

    def votes(self, query: np.ndarray, max_distance: int) -> dict[int, int]:
        """Owner -> number of query descriptors with a stored descriptor of that owner
        within `max_distance` bits."""
        q = np.ascontiguousarray(query, dtype=np.uint8)
        if not len(q) or not len(self):
            return {}
        if q.ndim != 2 or q.shape[1] != DESCRIPTOR_BYTES:
            raise ValueError("query descriptors must be (n, 32) uint8")
        raw = _mih.votes(
            self._offsets,
            self._rows,
            self.descriptors,
            self._dense,
            len(self._owner_ids),
            q,
            self.max_bucket,
            max_distance,
        )
        counts = np.frombuffer(raw, dtype=np.int32)[: len(self._owner_ids)]
        voted = np.flatnonzero(counts)
        return dict(zip(self._owner_ids[voted].tolist(), counts[voted].tolist(), strict=True))
