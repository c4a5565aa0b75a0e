"""The index is exact (recall 1.0 against brute force), updatable and persistent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rempart.index import binary_index
from rempart.index.binary_index import BinaryHashIndex, IndexCorrupt, array_to_hex, hex_to_array


def brute(hashes: np.ndarray, ids: np.ndarray, q: np.ndarray, r: int) -> dict[int, int]:
    d = np.bitwise_count(hashes.view(np.uint64) ^ q.view(np.uint64)).sum(axis=1)
    keep = d <= r
    return dict(zip(ids[keep].tolist(), d[keep].tolist(), strict=True))


def clustered(rng: np.random.Generator, n: int) -> np.ndarray:
    """70% random hashes, 30% near-duplicates of them with 1..40 bits flipped."""
    base = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    k = n * 3 // 10
    src = rng.integers(0, n - k, k)
    bits = np.unpackbits(base[src], axis=1)
    for i, flips in enumerate(rng.integers(1, 41, k)):
        pos = rng.choice(256, flips, replace=False)
        bits[i, pos] ^= 1
    base[n - k :] = np.packbits(bits, axis=1)
    return base


def queries_near(rng: np.random.Generator, hashes: np.ndarray, count: int) -> np.ndarray:
    q = hashes[rng.integers(0, len(hashes), count)].copy()
    bits = np.unpackbits(q, axis=1)
    for i in range(count):
        bits[i, rng.choice(256, int(rng.integers(0, 45)), replace=False)] ^= 1
    out = np.packbits(bits, axis=1)
    out[: count // 4] = rng.integers(0, 256, (count // 4, 32), dtype=np.uint8)
    return out


def check_exact(
    index: BinaryHashIndex, hashes: np.ndarray, ids: np.ndarray, q: np.ndarray, r: int
) -> None:
    results = index.search(q, r)
    for qi, (got_ids, got_d) in enumerate(results):
        want = brute(hashes, ids, q[qi], r)
        assert got_ids.dtype == np.int64 and got_d.dtype == np.int32
        # exactly the brute-force set, sorted by distance then id
        assert list(zip(got_d.tolist(), got_ids.tolist(), strict=True)) == sorted(
            (d, i) for i, d in want.items()
        )


@pytest.fixture(autouse=True)
def small_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Build the multi-index tables from 4,096 rows on, so small test data exercises them."""
    monkeypatch.setattr(binary_index, "MIN_MAIN", 4096)


def test_tables_are_used(data: tuple) -> None:
    hashes, ids, _ = data
    index = BinaryHashIndex()
    index.add(ids, hashes)
    assert index._entries.size == len(ids) * 11


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    hashes = clustered(rng, 30_000)
    ids = rng.choice(10**12, 30_000, replace=False).astype(np.int64)
    return hashes, ids, queries_near(rng, hashes, 200)


@pytest.mark.parametrize("radius", [0, 1, 10, 11, 12, 31, 32, 40, 63])
def test_exact_against_brute_force(data: tuple, radius: int) -> None:
    hashes, ids, q = data
    index = BinaryHashIndex()
    index.add(ids, hashes)
    assert len(index) == len(ids)
    check_exact(index, hashes, ids, q, radius)


def test_small_index_and_delta_are_exact(data: tuple) -> None:
    hashes, ids, q = data
    index = BinaryHashIndex()
    for start in range(0, 3000, 100):  # small adds: they stay in the delta
        index.add(ids[start : start + 100], hashes[start : start + 100])
    check_exact(index, hashes[:3000], ids[:3000], q, 31)


def test_add_remove_readd_without_rebuild(data: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    hashes, ids, q = data
    index = BinaryHashIndex()
    index.add(ids, hashes)
    builds = []
    real_build = binary_index._mih.build
    monkeypatch.setattr(binary_index._mih, "build", lambda *a: builds.append(1) or real_build(*a))
    gen = index.generation
    gone = ids[::600]
    assert index.remove(gone) == len(gone)
    assert index.generation == gen + 1
    assert index.remove(gone) == 0  # already gone
    assert index.generation == gen + 2  # every call counts, even one that changes nothing
    keep = np.ones(len(ids), bool)
    keep[::600] = False
    check_exact(index, hashes[keep], ids[keep], q, 31)
    assert int(gone[0]) not in index and int(ids[1]) in index
    # re-add one removed id with a new hash, and replace a live one
    new = np.random.default_rng(1).integers(0, 256, (2, 32), dtype=np.uint8)
    index.add(np.array([gone[0], ids[1]]), new)
    assert index.generation > gen
    assert builds == []  # no rebuild for these changes
    hits = index.search(new, 0)
    assert hits[0][0].tolist() == [gone[0]] and hits[1][0].tolist() == [ids[1]]
    assert len(index) == len(ids) - len(gone) + 1


def test_compaction_keeps_results(data: tuple) -> None:
    hashes, ids, q = data
    index = BinaryHashIndex()
    index.add(ids[:20000], hashes[:20000])
    index.remove(ids[:5000])
    for start in range(20000, 30000, 500):
        index.add(ids[start : start + 500], hashes[start : start + 500])
    index.compact()
    check_exact(index, hashes[5000:], ids[5000:], q, 31)


def test_save_load_round_trip(tmp_path: Path, data: tuple) -> None:
    hashes, ids, q = data
    index = BinaryHashIndex()
    index.add(ids, hashes)
    index.remove(ids[:10])
    index.add(ids[:3], hashes[:3])
    index.save(tmp_path / "idx")
    loaded = BinaryHashIndex.load(tmp_path / "idx")
    assert loaded.generation == index.generation and len(loaded) == len(index)
    for (a, b), (c, d) in zip(index.search(q, 31), loaded.search(q, 31), strict=True):
        assert a.tolist() == c.tolist() and b.tolist() == d.tolist()
    loaded.remove(ids[:3])  # a small change rewrites only the small state files
    main_files = sorted(p.name for p in (tmp_path / "idx").glob("main-*"))
    loaded.save(tmp_path / "idx")
    assert sorted(p.name for p in (tmp_path / "idx").glob("main-*")) == main_files
    assert len(BinaryHashIndex.load(tmp_path / "idx")) == len(index) - 3


def test_missing_or_corrupt_files_raise_index_corrupt(tmp_path: Path, data: tuple) -> None:
    hashes, ids, _ = data
    with pytest.raises(IndexCorrupt):
        BinaryHashIndex.load(tmp_path / "nothing")
    index = BinaryHashIndex()
    index.add(ids[:5000], hashes[:5000])
    index.save(tmp_path / "idx")
    (tmp_path / "idx" / "meta.json").write_text("{not json")
    with pytest.raises(IndexCorrupt):
        BinaryHashIndex.load(tmp_path / "idx")
    index.save(tmp_path / "idx2")
    victim = next((tmp_path / "idx2").glob("main-*-hashes.npy"))
    victim.write_bytes(victim.read_bytes()[:1000])
    with pytest.raises(IndexCorrupt):
        BinaryHashIndex.load(tmp_path / "idx2")
    # well-shaped but damaged tables: a row number past the end, offsets out of order
    for name, damage in (
        ("entries", lambda a: a.__setitem__(7, 2**29 - 1)),
        ("offsets", lambda a: a.__setitem__(5, 10**6)),
    ):
        folder = tmp_path / f"idx-{name}"
        index.save(folder)
        path = next(folder.glob(f"main-*-{name}.npy"))
        arr = np.load(path)
        damage(arr)
        np.save(path, arr)
        with pytest.raises(IndexCorrupt, match="damaged"):
            BinaryHashIndex.load(folder)
    for missing in ("meta.json", "main-*-ids.npy", "state-*-tomb.npy"):
        folder = tmp_path / "idx-missing"
        index.save(folder)
        next(folder.glob(missing)).unlink()
        with pytest.raises(IndexCorrupt):
            BinaryHashIndex.load(folder)


def test_empty_index_and_bad_input() -> None:
    index = BinaryHashIndex()
    q = np.zeros((3, 32), np.uint8)
    assert [len(ids) for ids, _ in index.search(q, 31)] == [0, 0, 0]
    assert index.search(np.zeros((0, 32), np.uint8), 31) == []
    with pytest.raises(ValueError):
        index.search(np.zeros((1, 31), np.uint8), 31)
    with pytest.raises(ValueError):
        index.add(np.array([1, 2]), np.zeros((1, 32), np.uint8))


def test_hex_helpers() -> None:
    value = "e64cc9d91e623842f8d1f1d9a398e78c9f199a3bd87924f2b7e11e0bf061b064"
    arr = hex_to_array([value])
    assert arr.shape == (1, 32) and arr[0, 0] == 0xE6
    assert array_to_hex(arr) == [value]
    for bad in ("abc", "zz" * 32):
        with pytest.raises(ValueError, match="hash|hexadecimal"):
            hex_to_array([bad])
