"""Descriptor votes (index.descriptor_index) against brute force."""

from __future__ import annotations

import numpy as np

from rempart.index.descriptor_index import DescriptorIndex, _all_keys


def test_votes_count_distinct_close_query_descriptors_per_owner() -> None:
    rng = np.random.default_rng(0)
    stored = rng.integers(0, 256, (3000, 32), dtype=np.uint8)
    owners = np.repeat(np.arange(30), 100)
    index = DescriptorIndex(stored, owners)
    query = stored[[5, 6, 7, 150, 151]].copy()
    query[:, 31] ^= 0b101  # 2 bits off, outside the first table's key
    votes = index.votes(query, 8)
    assert votes == {0: 3, 1: 2}
    assert index.votes(rng.integers(0, 256, (50, 32), dtype=np.uint8), 8) == {}


def test_empty_index_and_empty_query() -> None:
    index = DescriptorIndex(np.empty((0, 32), np.uint8), np.empty(0, np.int64))
    assert index.votes(np.zeros((4, 32), np.uint8), 16) == {}
    full = DescriptorIndex(np.zeros((4, 32), np.uint8), np.arange(4))
    assert full.votes(np.empty((0, 32), np.uint8), 16) == {}


def _reference_votes(index: DescriptorIndex, q: np.ndarray, max_distance: int) -> dict[int, int]:
    """The votes written plainly: every key of every query descriptor, its bucket unless
    empty or over max_bucket, the close pairs, each (owner, query descriptor) once."""
    d = index.descriptors
    keys = _all_keys(d)
    found: set[tuple[int, int]] = set()
    for qi, qk in enumerate(_all_keys(q)):
        for t, key in enumerate(qk):
            bucket = np.flatnonzero(keys[:, t] == key)
            if not 0 < len(bucket) <= index.max_bucket:
                continue
            dist = np.unpackbits(d[bucket] ^ q[qi], axis=1).sum(axis=1)
            found |= {(int(index.owners[r]), qi) for r in bucket[dist <= max_distance]}
    out: dict[int, int] = {}
    for owner, _ in found:
        out[owner] = out.get(owner, 0) + 1
    return out


def test_votes_equal_the_plain_algorithm_on_real_keypoints() -> None:
    """Photos' ORB descriptors (crowded buckets, near duplicates), sparse owner ids, full
    buckets ignored: the C kernel counts as the plain algorithm does."""
    from rempart.samples import photo_like
    from rempart.signals.local_features import extract

    descs, owners = [], []
    for k in range(12):
        f = extract(photo_like(500 + k, (320, 240)))
        assert f is not None
        descs.append(f.descriptors)
        owners.append(np.full(len(f.descriptors), 1000 * k + 7))
    stored = np.concatenate(descs)
    stored[:60] = stored[0]  # one over-full bucket in every table
    index = DescriptorIndex(stored, np.concatenate(owners))
    for k, radius in ((3, 16), (12, 16), (5, 40)):
        g = extract(photo_like(500 + k, (300, 225)))  # a smaller copy of a stored photo
        assert g is not None
        assert index.votes(g.descriptors, radius) == _reference_votes(index, g.descriptors, radius)
    assert index.votes(stored[:5], 0) == {}  # only in the over-full buckets
    assert index.votes(stored[60:65], 0) == _reference_votes(index, stored[60:65], 0) != {}
