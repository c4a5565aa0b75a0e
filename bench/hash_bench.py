"""Hashing benchmark: Rempart's image hashing against threatexchange's PdqSignal.hash_from_file.

Generates photo-like JPEGs (abstract scenes: gradients, shapes, blur and noise, so they
compress like photos; several sizes up to 4000x3000, cached in bench/out/hash-images/),
hashes each with both in one process, and prints images/s per size and overall, the ratio,
how far apart the two hashes are (Hamming distance, max and mean), and the ratio by CPU
time of this process (which other programs on a loaded machine disturb less than the wall
clock); the machine's load average heads the table. Rempart's figure includes reading the
file once, MD5 and SHA-256, and the checks of safe decoding; both run PDQ (Rempart through
its own kernel, signals/_pdq.c, bit for bit Meta's; threatexchange through pdqhash). Each
implementation is timed `--repeat` times, alternating, and its best pass is kept (other
processes on the machine add noise, never speed). Then, unless --no-scan, it times the scan
pipeline's hashing in 1 and 2 processes (all 8 transforms), as `rempart scan` runs it.

    .venv/bin/python bench/hash_bench.py
    .venv/bin/python bench/hash_bench.py --count 3 --sizes 640x480,1600x1200
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

from threatexchange.signal_type.pdq.signal import PdqSignal

from rempart.samples import photo_like
from rempart.signals.image_hashes import hash_image_file
from rempart.signals.pdq import hamming

OUT = Path(__file__).resolve().parent / "out" / "hash-images"
DEFAULT_SIZES = "640x480,1600x1200,2592x1944,4000x3000"


def make_images(sizes: list[tuple[int, int]], count: int) -> dict[tuple[int, int], list[Path]]:
    OUT.mkdir(parents=True, exist_ok=True)
    out: dict[tuple[int, int], list[Path]] = {}
    for w, h in sizes:
        paths = []
        for i in range(count):
            path = OUT / f"{w}x{h}-{i}.jpg"
            if not path.exists():
                tmp = path.with_suffix(".tmp")
                photo_like(10_000 + i * 31 + w, (w, h)).save(tmp, "JPEG", quality=88)
                tmp.replace(path)
            paths.append(path)
        out[(w, h)] = paths
    return out


def one_pass(fn: Callable[[Path], str], paths: list[Path]) -> tuple[float, float, list[str]]:
    """Wall-clock and CPU seconds of one pass, and its hashes."""
    t0, c0 = time.perf_counter(), time.process_time()
    hashes = [fn(p) for p in paths]
    return time.perf_counter() - t0, time.process_time() - c0, hashes


def ours(path: Path) -> str:
    return hash_image_file(path).pdq.hex


def reference(path: Path) -> str:
    return PdqSignal.hash_from_file(path)


def parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for item in text.split(","):
        w, h = item.lower().split("x")
        sizes.append((int(w), int(h)))
    return sizes


def scan_rates(images: dict[tuple[int, int], list[Path]]) -> None:
    from rempart.scan.pipeline import ScanOptions, hash_refs
    from rempart.sources.base import MediaRef

    refs = [MediaRef(str(p), p) for paths in images.values() for p in paths]
    for workers in (1, 2):
        t0 = time.perf_counter()
        outcomes = hash_refs(refs, ScanOptions(workers=workers), dihedral=True)
        done = sum(1 for o in outcomes if o.hashes is not None)
        rate = done / (time.perf_counter() - t0)
        print(
            f"scan hashing (8 transforms), {workers} process(es): {rate:.1f} images/s"
            f" on {os.cpu_count()} cores"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--count", type=int, default=8, help="images per size (default 8)")
    ap.add_argument("--sizes", default=DEFAULT_SIZES, help=f"WxH,... (default {DEFAULT_SIZES})")
    ap.add_argument("--repeat", type=int, default=3, help="timed passes each; best kept")
    ap.add_argument("--no-scan", action="store_true", help="skip the scan pipeline timings")
    args = ap.parse_args()
    images = make_images(parse_sizes(args.sizes), args.count)

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"{'size':>10} {'rempart img/s':>14} {'threatexchange img/s':>21} {'ratio':>7}"
        f" {'max bits apart':>15} {'mean':>6} {'ratio by CPU time':>18}"
        f"   (load average {load} on {os.cpu_count()} cores)"
    )
    total_ours = total_ref = cpu_ours = cpu_ref = 0.0
    n_all = 0
    all_dists: list[int] = []
    for (w, h), paths in images.items():
        ours(paths[0]), reference(paths[0])  # warm up
        best_ours = best_ref = c_ours = c_ref = float("inf")
        h_ours: list[str] = []
        h_ref: list[str] = []
        for _ in range(max(args.repeat, 1)):
            t, c, h_ours = one_pass(ours, paths)
            best_ours, c_ours = min(best_ours, t), min(c_ours, c)
            t, c, h_ref = one_pass(reference, paths)
            best_ref, c_ref = min(best_ref, t), min(c_ref, c)
        dists = [hamming(a, b) for a, b in zip(h_ours, h_ref, strict=True)]
        all_dists += dists
        total_ours += best_ours
        total_ref += best_ref
        cpu_ours += c_ours
        cpu_ref += c_ref
        n_all += len(paths)
        r_ours, r_ref = len(paths) / best_ours, len(paths) / best_ref
        print(
            f"{f'{w}x{h}':>10} {r_ours:14.1f} {r_ref:21.1f} {r_ours / r_ref:6.1f}x"
            f" {max(dists):15d} {sum(dists) / len(dists):6.1f}"
            f" {c_ref / max(c_ours, 1e-9):17.1f}x"
        )
    print(
        f"{'all':>10} {n_all / total_ours:14.1f} {n_all / total_ref:21.1f}"
        f" {total_ref / total_ours:6.1f}x {max(all_dists):15d}"
        f" {sum(all_dists) / len(all_dists):6.1f} {cpu_ref / max(cpu_ours, 1e-9):17.1f}x"
    )
    if not args.no_scan:
        scan_rates(images)


if __name__ == "__main__":
    main()
