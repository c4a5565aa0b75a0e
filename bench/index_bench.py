"""Index benchmark: Rempart's BinaryHashIndex against python-threatexchange's PDQIndex.

Both indexes get the same hashes (random plus clustered near-duplicates, as real PDQ
hashes cluster) and the same queries (half near-duplicates of stored hashes, half unrelated),
in one run, each in its own process on one thread so memory and speed are measured cleanly.
Both are checked against a brute-force scan. Prints queries/s, memory, build time, update
and persistence costs, and the ratio.

    .venv/bin/python bench/index_bench.py                  # 1M and 10M hashes
    .venv/bin/python bench/index_bench.py --sizes 100000 --queries 2000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "out"


def make_hashes(n: int, seed: int = 1) -> np.ndarray:
    """70% uniform random hashes, 30% near-duplicates of them (1..40 bits flipped)."""
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    k = n * 3 // 10
    for start in range(0, k, 250_000):
        m = min(250_000, k - start)
        src = rng.integers(0, n - k, m)
        p = rng.integers(1, 41, m)[:, None] / 256.0
        flips = np.packbits(rng.random((m, 256)) < p, axis=1)
        hashes[n - k + start : n - k + start + m] = hashes[src] ^ flips
    return hashes


def make_queries(hashes: np.ndarray, count: int, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    half = count // 2
    near = hashes[rng.integers(0, len(hashes), half)]
    p = rng.integers(0, 36, half)[:, None] / 256.0
    near = near ^ np.packbits(rng.random((half, 256)) < p, axis=1)
    far = rng.integers(0, 256, (count - half, 32), dtype=np.uint8)
    return np.concatenate([near, far])


def brute(hashes: np.ndarray, q: np.ndarray, radius: int) -> set[int]:
    d = np.bitwise_count(hashes.view(np.uint64) ^ q.view(np.uint64)).sum(axis=1)
    return set(np.nonzero(d <= radius)[0].tolist())


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# ---------------------------------------------------------------- children
def child_rempart(data: Path, queries: Path, radius: int, nq: int) -> dict:
    from rempart.index.binary_index import BinaryHashIndex

    hashes = np.load(data, mmap_mode="r")
    q = np.load(queries)[:nq]
    base = rss()
    t0 = time.perf_counter()
    index = BinaryHashIndex()
    index.add(np.arange(len(hashes), dtype=np.int64), np.asarray(hashes))
    build = time.perf_counter() - t0
    del hashes
    memory = rss() - base
    t0 = time.perf_counter()
    results = []
    for start in range(0, len(q), 1000):
        results.extend(index.search(q[start : start + 1000], radius))
    qps = len(q) / (time.perf_counter() - t0)
    rng = np.random.default_rng(3)
    extra = rng.integers(0, 256, (1000, 32), dtype=np.uint8)
    t0 = time.perf_counter()
    for i in range(1000):  # one at a time, as a live service would
        index.add(np.array([10**12 + i]), extra[i : i + 1])
    add_one = (time.perf_counter() - t0) / 1000
    t0 = time.perf_counter()
    for i in range(1000):
        index.remove(np.array([i * 7]))
    remove_one = (time.perf_counter() - t0) / 1000
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        t0 = time.perf_counter()
        index.save(Path(tmp) / "idx")
        save = time.perf_counter() - t0
        t0 = time.perf_counter()
        BinaryHashIndex.load(Path(tmp) / "idx")
        load = time.perf_counter() - t0
    return {
        "build_s": build,
        "memory_mb": memory / 1e6,
        "qps": qps,
        "add_one_ms": add_one * 1e3,
        "remove_one_ms": remove_one * 1e3,
        "save_s": save,
        "load_s": load,
        "results": [sorted(ids.tolist()) for ids, _ in results[:200]],
    }


def child_reference(data: Path, queries: Path, radius: int, nq: int) -> dict:
    import faiss
    from threatexchange.signal_type.pdq.pdq_index import PDQIndex

    faiss.omp_set_num_threads(1)
    hashes = np.load(data, mmap_mode="r")
    q = np.load(queries)[:nq]
    hexes = (bytes(h).hex() for h in hashes)
    base = rss()
    t0 = time.perf_counter()
    index = PDQIndex(zip(hexes, range(len(hashes)), strict=False))
    build = time.perf_counter() - t0
    memory = rss() - base
    qhex = [bytes(h).hex() for h in q]
    t0 = time.perf_counter()
    results = [index.query(h) for h in qhex]
    qps = len(q) / (time.perf_counter() - t0)
    extra = np.random.default_rng(3).integers(0, 256, (1000, 32), dtype=np.uint8)
    t0 = time.perf_counter()
    for i in range(3):  # each add rebuilds its faiss index: a few are enough to time it
        index.add(bytes(extra[i]).hex(), 10**12 + i)
    add_one = (time.perf_counter() - t0) / 3
    return {
        "build_s": build,
        "memory_mb": memory / 1e6,
        "qps": qps,
        "add_one_ms": add_one * 1e3,
        "remove_one_ms": None,
        "save_s": None,
        "load_s": None,
        "results": [sorted(m.metadata for m in r) for r in results[:200]],
    }


# ---------------------------------------------------------------- parent
def run_child(kind: str, data: Path, queries: Path, radius: int, nq: int, timeout: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        __file__,
        "--child",
        kind,
        "--data",
        str(data),
        "--query-file",
        str(queries),
        "--radius",
        str(radius),
        "--queries",
        str(nq),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {timeout} s"}
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fmt(v: float | None, spec: str = ".1f") -> str:
    return "n/a" if v is None else format(v, spec)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="1000000,10000000")
    ap.add_argument("--queries", type=int, default=10000)
    ap.add_argument("--reference-queries", type=int, default=1000)
    ap.add_argument("--radius", type=int, default=31)
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument("--reference-timeout", type=int, default=900)
    ap.add_argument("--child")
    ap.add_argument("--data")
    ap.add_argument("--query-file")
    args = ap.parse_args()
    if args.child:
        fn = child_rempart if args.child == "rempart" else child_reference
        out = fn(Path(args.data), Path(args.query_file), args.radius, args.queries)
        print(json.dumps(out))
        return
    OUT.mkdir(parents=True, exist_ok=True)
    print(
        f"radius {args.radius}; one thread per index; queries: half near-duplicates, half unrelated"
    )
    for n in (int(s) for s in args.sizes.split(",")):
        t0 = time.perf_counter()
        hashes = make_hashes(n)
        queries = make_queries(hashes, args.queries)
        data, qfile = OUT / f"hashes-{n}.npy", OUT / f"queries-{n}.npy"
        np.save(data, hashes)
        np.save(qfile, queries)
        print(f"\n== {n:,} hashes (generated in {time.perf_counter() - t0:.1f} s)")
        ours = run_child("rempart", data, qfile, args.radius, args.queries, 3600)
        ref_nq = max(100, min(args.reference_queries, args.queries) // (1 if n <= 2_000_000 else 5))
        ref = (
            {"error": "skipped"}
            if args.skip_reference
            else run_child("reference", data, qfile, args.radius, ref_nq, args.reference_timeout)
        )
        truth = [brute(hashes, queries[i], args.radius) for i in range(200)]
        hits = sum(len(t) for t in truth)
        for _name, res in (("rempart", ours), ("threatexchange", ref)):
            if "error" in res:
                continue
            got = res["results"]
            exact = sum(set(g) == t for g, t in zip(got, truth, strict=False))
            found = sum(len(set(g) & t) for g, t in zip(got, truth, strict=False))
            want = sum(len(t) for t in truth[: len(got)])
            res["check"] = f"{exact}/{len(got)} queries exact, recall {found / max(want, 1):.4f}"
        print(f"brute-force check on 200 queries ({hits} true neighbours)")
        rows = [
            ("queries/s (1 thread)", "qps", ".0f"),
            ("memory (MB)", "memory_mb", ".0f"),
            ("build (s)", "build_s", ".1f"),
            ("add one hash (ms)", "add_one_ms", ".3f"),
            ("remove one hash (ms)", "remove_one_ms", ".3f"),
            ("save (s)", "save_s", ".2f"),
            ("load (s)", "load_s", ".2f"),
        ]
        print(f"{'':30} {'rempart':>14} {'threatexchange':>16} {'ratio':>8}")
        for label, key, spec in rows:
            a, b = ours.get(key), ref.get(key)
            ratio = ""
            if isinstance(a, float) and isinstance(b, float) and a and b:
                ratio = f"{a / b:.1f}x" if key == "qps" else f"{b / a:.1f}x"
            print(f"{label:30} {fmt(a, spec):>14} {fmt(b, spec):>16} {ratio:>8}")
        print(f"{'exactness':30} {ours.get('check', ours.get('error', ''))}")
        print(f"{'':30} reference: {ref.get('check', ref.get('error', ''))}")
        if "error" not in ref:
            print(
                "(threatexchange PDQIndex has no removal and no persistence of its own: a removal"
                " means a rebuild)"
            )
        data.unlink()
        qfile.unlink()


if __name__ == "__main__":
    main()
