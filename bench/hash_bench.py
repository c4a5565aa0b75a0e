"""Hashing benchmark: Rempart's image hashing against threatexchange's PdqSignal.hash_from_file.

Generates photo-like JPEGs (abstract scenes, several sizes up to 4000x3000, cached in
bench/out/), hashes each with both in one process, one after the other, and prints images/s
per size, the ratio, and how far apart the two hashes are. Rempart's figure includes MD5 and
SHA-256 of the file too. Then times a 2-process run of Rempart (how scans use both cores).

    .venv/bin/python bench/hash_bench.py
    .venv/bin/python bench/hash_bench.py --count 3 --sizes 640x480,1600x1200
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from threatexchange.signal_type.pdq.signal import PdqSignal

from rempart.samples import photo_like
from rempart.scan.pipeline import ScanOptions, hash_refs
from rempart.signals.image_hashes import hash_image_file
from rempart.signals.pdq import hamming
from rempart.sources.base import MediaRef

OUT = Path(__file__).resolve().parent / "out" / "hash-images"


def make_images(sizes: list[tuple[int, int]], count: int) -> dict[tuple[int, int], list[Path]]:
    OUT.mkdir(parents=True, exist_ok=True)
    out: dict[tuple[int, int], list[Path]] = {}
    for w, h in sizes:
        paths = []
        for i in range(count):
            path = OUT / f"{w}x{h}-{i}.jpg"
            if not path.exists():
                photo_like(10_000 + i * 31 + w, (w, h)).save(path, quality=88)
            paths.append(path)
        out[(w, h)] = paths
    return out


def timed(fn, paths: list[Path], repeat: int) -> tuple[float, list[str]]:
    hashes: list[str] = []
    t0 = time.perf_counter()
    for _ in range(repeat):
        hashes = [fn(p) for p in paths]
    return (len(paths) * repeat) / (time.perf_counter() - t0), hashes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--count", type=int, default=8, help="images per size")
    ap.add_argument("--sizes", default="640x480,1600x1200,2592x1944,4000x3000")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    images = make_images(sizes, args.count)  # type: ignore[arg-type]

    def ours(p: Path) -> str:
        return hash_image_file(p).pdq.hex

    def reference(p: Path) -> str:
        return PdqSignal.hash_from_file(p)

    print(f"{'size':>10} {'rempart img/s':>14} {'threatexchange img/s':>21} {'ratio':>7}"
          f" {'max bits apart':>15} {'mean':>6}")  # fmt: skip
    total_ours = total_ref = 0.0
    n_all = 0
    for size, paths in images.items():
        ours(paths[0]), reference(paths[0])  # warm up
        r_ours, h_ours = timed(ours, paths, args.repeat)
        r_ref, h_ref = timed(reference, paths, args.repeat)
        dists = [hamming(a, b) for a, b in zip(h_ours, h_ref, strict=True) if b]
        total_ours += len(paths) / r_ours
        total_ref += len(paths) / r_ref
        n_all += len(paths)
        print(f"{size[0]}x{size[1]:<5} {r_ours:14.1f} {r_ref:21.1f} {r_ours / r_ref:6.1f}x"
              f" {max(dists, default=0):15d} {sum(dists) / max(len(dists), 1):6.1f}")  # fmt: skip
    print(f"{'all':>10} {n_all / total_ours:14.1f} {n_all / total_ref:21.1f}"
          f" {total_ref / total_ours:6.1f}x")  # fmt: skip

    refs = [MediaRef(str(p), p) for paths in images.values() for p in paths]
    for workers in (1, 2):
        options = ScanOptions(workers=workers)
        t0 = time.perf_counter()
        done = sum(1 for o in hash_refs(refs, options, dihedral=True) if o.hashes is not None)
        rate = done / (time.perf_counter() - t0)
        print(f"scan hashing (8 transforms), {workers} process(es): {rate:.1f} images/s"
              f" on {os.cpu_count()} cores")  # fmt: skip


if __name__ == "__main__":
    main()
