"""Scan throughput: images/s for 1 and 2 worker processes, and on a local Dask cluster of 2
workers, over the same generated photos against a bank of 10,000 hashes; prints the scaling.

    .venv/bin/python bench/scan_bench.py [--images 400] [--size 1024x768] [--repeat 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rempart.exchange.bank_import import import_submission
from rempart.exchange.consent import ConsentRecord
from rempart.exchange.submission import Submission, SubmissionItem
from rempart.samples import photo_like
from rempart.scan.cluster import connect
from rempart.scan.pipeline import ScanOptions, run_scan
from rempart.store import repository
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--images", type=int, default=400)
    ap.add_argument("--size", default="1024x768")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--bank", type=int, default=10_000, help="random PDQ hashes in the bank")
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        media = root / "media"
        media.mkdir()
        for k in range(args.images):
            photo_like(k, (w, h)).save(media / f"{k:05d}.jpg", quality=88)
        db = Database(f"sqlite:///{root / 'b.db'}")
        index = BankIndex(db, root / "home")
        with db.session() as s:
            repository.create_bank(s, "bench")
        rng = np.random.default_rng(1)
        items = [
            SubmissionItem(
                md5=f"{k:032x}",
                sha256=f"{k:064x}",
                pdq=rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex(),
                pdq_quality=100,
                width=1,
                height=1,
            )
            for k in range(args.bank)
        ]
        consent = ConsentRecord.parse(
            {"given_by": "bench", "given_at": "2026-11-22", "purpose": "benchmark"}, "bench"
        )
        import_submission(
            index, "bench", Submission(items=items, consent=consent), case_number="BENCH"
        )
        print(
            f"{args.images} photos of {w}x{h}, bank of {args.bank:,} hashes, best of {args.repeat}"
        )
        rates: dict[str, float] = {}
        for label, options in (
            ("1 process", ScanOptions(workers=1)),
            ("2 processes", ScanOptions(workers=2)),
            ("Dask local cluster, 2 workers", ScanOptions(workers=2, cluster="local")),
        ):
            best = 0.0
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                result = run_scan(db, index, [media], options)
                wall = time.perf_counter() - t0
                assert result.hashed == args.images
                best = max(best, args.images / wall)
            rates[label] = best
            print(f"  {label:32} {best:7.1f} images/s")
        t0 = time.perf_counter()
        with connect("local", 2):
            pass
        startup = time.perf_counter() - t0
        dask_wall = args.images / rates["Dask local cluster, 2 workers"]
        steady = args.images / max(1e-9, dask_wall - startup)
        print(
            f"  (a local cluster takes {startup:.1f} s to start and stop: without it, Dask "
            f"runs at {steady:.1f} images/s)"
        )
        base = rates["1 process"]
        print(
            f"scaling: 2 processes {rates['2 processes'] / base:.2f}x, "
            f"Dask 2 workers {rates['Dask local cluster, 2 workers'] / base:.2f}x "
            "(of 1 process; cluster start-up included)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
