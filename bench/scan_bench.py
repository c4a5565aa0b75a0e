"""Scan throughput: images/s for 1 process, a process pool of 2, and Dask with 2 worker
processes, over the same generated photos against a bank of 10,000 hashes, in alternating
rounds (best of --repeat); prints each one's rate and its ratio to 1 process, side by side.

Dask is measured two ways: a local cluster already running, reached by its address (as a
helpline's cluster is: `rempart scan --cluster tcp://HOST:8786`), and `--cluster local`,
which starts and stops a cluster for the scan (its start-up is included). The CPU seconds of
every process per photo (this one, the pool's or the cluster's workers, the scheduler) show
what each way costs beside the wall clock. JSON goes to bench/out/scan_bench.json.

    .venv/bin/python bench/scan_bench.py [--images 400] [--size 1024x768] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rempart.exchange.bank_import import import_submission
from rempart.exchange.consent import ConsentRecord
from rempart.exchange.submission import Submission, SubmissionItem
from rempart.samples import photo_like
from rempart.scan.pipeline import ScanOptions, run_scan
from rempart.store import repository
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database

OUT = Path(__file__).parent / "out" / "scan_bench.json"


def _own_cpu() -> float:
    """CPU seconds of this process and its finished children (the process pool's)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _cpu_now() -> tuple[int, float]:
    """(pid, CPU seconds so far) of the process it runs in (a worker, the scheduler)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    return os.getpid(), me.ru_utime + me.ru_stime


def _setup(root: Path, images: int, size: tuple[int, int], bank: int) -> tuple[Database, Path]:
    media = root / "media"
    media.mkdir()
    for k in range(images):
        photo_like(k, size).save(media / f"{k:05d}.jpg", quality=88)
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
        for k in range(bank)
    ]
    consent = ConsentRecord.parse(
        {"given_by": "bench", "given_at": "2026-11-22", "purpose": "benchmark"}, "bench"
    )
    import_submission(index, "bench", Submission(items=items, consent=consent), case_number="BENCH")
    return db, media


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--images", type=int, default=400)
    ap.add_argument("--size", default="1024x768")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--bank", type=int, default=10_000, help="random PDQ hashes in the bank")
    ap.add_argument("--json", type=Path, default=OUT, help="where the figures go")
    ap.add_argument(
        "--same-allocator",
        action="store_true",
        help="set glibc's thresholds as Dask workers do (rempart.scan.cluster) in this process "
        "too, so 1 process and the pool (forked from it) use them: the ratio then shows Dask's "
        "scaling alone, not the allocator's gain",
    )
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.split("x"))
    import dask
    from distributed import Client, LocalCluster

    from rempart.scan.cluster import QUIET

    if args.same_allocator:
        from rempart.scan.cluster import _tune_allocator

        _tune_allocator()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        db, media = _setup(root, args.images, (w, h), args.bank)
        index = BankIndex(db, root / "home")
        load_before = os.getloadavg()
        print(
            f"{args.images} photos of {w}x{h}, bank of {args.bank:,} hashes, best of "
            f"{args.repeat} alternating rounds; load {load_before[0]:.1f}"
            + ("; the workers' allocator settings everywhere" if args.same_allocator else "")
        )
        with (
            dask.config.set(QUIET),  # as docs/sources.md says to start a cluster
            LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):

            def cluster_cpu() -> float:
                """The workers' and scheduler's CPU, each process once (a local cluster's
                scheduler runs in this process, already counted)."""
                seen = {os.getpid(): 0.0}
                for pid, cpu in [*client.run(_cpu_now).values(), client.run_on_scheduler(_cpu_now)]:
                    seen.setdefault(pid, cpu)
                return sum(seen.values())

            modes: list[tuple[str, ScanOptions, Callable[[], float]]] = [
                ("1 process", ScanOptions(workers=1), _own_cpu),
                ("process pool, 2", ScanOptions(workers=2), _own_cpu),
                (
                    "Dask, 2 workers (running)",
                    ScanOptions(workers=2, cluster=cluster.scheduler_address),
                    lambda: _own_cpu() + cluster_cpu(),
                ),
                ("Dask --cluster local, 2", ScanOptions(workers=2, cluster="local"), _own_cpu),
            ]
            walls: dict[str, list[float]] = {label: [] for label, _, _ in modes}
            cpus: dict[str, list[float]] = {label: [] for label, _, _ in modes}
            for _ in range(args.repeat):
                for label, options, cpu in modes:
                    c0, t0 = cpu(), time.perf_counter()
                    result = run_scan(db, index, [media], options)
                    walls[label].append(time.perf_counter() - t0)
                    cpus[label].append(cpu() - c0)
                    assert result.hashed == args.images, (label, result.hashed)
        load_after = os.getloadavg()
        base = args.images / min(walls["1 process"])
        rows = []
        for label, _, _ in modes:
            rate = args.images / min(walls[label])
            cpu_ms = 1000 * min(cpus[label]) / args.images
            rows.append(
                {"mode": label, "images_per_s": round(rate, 1), "ratio": round(rate / base, 2)}
                | ({"cpu_ms_per_image": round(cpu_ms, 1)} if "local" not in label else {})
            )
            cpu_note = f"  {cpu_ms:5.1f} ms CPU/photo" if "local" not in label else ""
            print(f"  {label:28} {rate:7.1f} images/s  {rate / base:5.2f}x{cpu_note}")
        print(
            "  (CPU: every process of the run; `--cluster local` includes starting and stopping "
            f"its cluster; its workers' CPU is not counted); load {load_after[0]:.1f}"
        )
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "images": args.images,
                    "size": args.size,
                    "bank": args.bank,
                    "repeat": args.repeat,
                    "same_allocator": args.same_allocator,
                    "cpus": os.cpu_count(),
                    "load_before": [round(v, 2) for v in load_before],
                    "load_after": [round(v, 2) for v in load_after],
                    "rows": rows,
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
