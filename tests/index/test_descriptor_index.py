"""Descriptor votes (index.descriptor_index) against brute force."""

from __future__ import annotations

import numpy as np

from rempart.index.descriptor_index import DescriptorIndex


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
