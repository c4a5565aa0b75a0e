"""Scan throughput: images/s for 1 process, a process pool of 2, and Dask with 2 worker
processes, over the same generated photos against a bank of 10,000 hashes, in alternating
rounds; prints each one's rate (best round), its ratio to 1 process, its CPU per photo (median
round, every process of the scan) and the ratio CPU time alone predicts on 2 idle cores, with
the load average at the start and the end.

Dask is measured two ways: a local cluster already running, reached by its address (as a
helpline's cluster is: `rempart scan --cluster tcp://HOST:8786`), and `--cluster local`,
which starts and stops a cluster for the scan (its start-up is included). Every scan sets
glibc's allocator thresholds itself (rempart.scan.allocator), so each way of scanning has them.
JSON goes to bench/out/scan_bench.json. One command, about 2 minutes on 2 idle cores:

    .venv/bin/python bench/scan_bench.py [--images 400] [--size 1024x768] [--repeat 3]

The wall-clock ratios mean something only on an otherwise idle machine (the bench says when
the load average was above half the cores); the CPU columns hold under load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import psutil

from rempart.exchange.bank_import import import_submission
from rempart.exchange.consent import ConsentRecord
from rempart.exchange.submission import Submission, SubmissionItem
from rempart.samples import photo_like
from rempart.scan.pipeline import ScanOptions, run_scan
from rempart.store import repository
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database

OUT = Path(__file__).parent / "out" / "scan_bench.json"


def _threads_cpu(ids: set[int]) -> float:
    """CPU seconds of these threads of this process (those still running)."""
    return sum(t.user_time + t.system_time for t in psutil.Process().threads() if t.id in ids)


def _tree_cpu() -> tuple[float, float]:
    """(this process and its finished children, its live descendants: a local cluster's
    workers): the CPU of every process a Dask scan runs in, each counted once (a local
    cluster's scheduler and nannies run in this process)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    live = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.Error:
            continue
        live += times.user + times.system
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime, live


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


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--images", type=int, default=400)
    ap.add_argument("--size", default="1024x768")
    ap.add_argument("--repeat", type=int, default=3, help="alternating rounds")
    ap.add_argument("--bank", type=int, default=10_000, help="random PDQ hashes in the bank")
    ap.add_argument("--json", type=Path, default=OUT, help="where the figures go")
    ap.add_argument(
        "--no-local",
        action="store_true",
        help="leave out `--cluster local` (its start-up dominates a short run)",
    )
    ap.add_argument(
        "--same-allocator",
        action="store_true",
        help="kept for earlier command lines: every scan now sets glibc's thresholds itself "
        "(rempart.scan.allocator: 1 process, the pool forked from it, Dask's workers)",
    )
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.split("x"))
    import dask
    from distributed import Client, LocalCluster

    from rempart.scan.cluster import QUIET

    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        db, media = _setup(root, args.images, (w, h), args.bank)
        index = BankIndex(db, root / "home")
        load_before = os.getloadavg()
        print(
            f"{args.images} photos of {w}x{h}, bank of {args.bank:,} hashes, {args.repeat} "
            f"alternating rounds; {cores} cores, load {load_before[0]:.1f} at the start"
        )
        with (
            dask.config.set(QUIET),  # as docs/sources.md says to start a cluster
            LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            # the running cluster: its threads in this process (scheduler, nannies, client)
            # and its workers, idle while another way scans: their CPU is not that scan's
            running_pids = set(client.run(os.getpid).values())
            main = threading.main_thread().native_id
            dask_threads = {t.id for t in psutil.Process().threads() if t.id != main}

            def tree() -> float:
                return sum(_tree_cpu())

            def without_dask() -> float:
                idle = _threads_cpu(dask_threads)
                for pid in running_pids:
                    times = psutil.Process(pid).cpu_times()
                    idle += times.user + times.system
                return tree() - idle

            modes: list[tuple[str, ScanOptions, Callable[[], float]]] = [
                ("1 process", ScanOptions(workers=1), without_dask),
                ("process pool, 2", ScanOptions(workers=2), without_dask),
                (
                    "Dask, 2 workers (running)",
                    ScanOptions(workers=2, cluster=cluster.scheduler_address),
                    tree,
                ),
            ]
            if not args.no_local:
                modes.append(
                    (
                        "Dask --cluster local, 2",
                        ScanOptions(workers=2, cluster="local"),
                        without_dask,
                    )
                )
            walls: dict[str, list[float]] = {label: [] for label, _, _ in modes}
            cpus: dict[str, list[float]] = {label: [] for label, _, _ in modes}
            split: list[tuple[float, float]] = []  # Dask (running): this process, workers
            for _ in range(args.repeat):
                for label, options, cpu in modes:
                    parts = _tree_cpu()
                    c0, t0 = cpu(), time.perf_counter()
                    result = run_scan(db, index, [media], options)
                    walls[label].append(time.perf_counter() - t0)
                    cpus[label].append(cpu() - c0)
                    if "running" in label:
                        after = _tree_cpu()
                        split.append((after[0] - parts[0], after[1] - parts[1]))
                    assert result.hashed == args.images, (label, result.hashed)
        load_after = os.getloadavg()
        base_rate = args.images / min(walls["1 process"])
        base_cpu = _median(cpus["1 process"])
        rows = []
        print(
            f"  {'':28} {'images/s':>9} {'x 1 process':>12} {'CPU ms/photo':>13} "
            f"{'x 1 process, 2 free cores (CPU)':>32}"
        )
        for label, _, _ in modes:
            rate = args.images / min(walls[label])
            cpu_ms = 1000 * _median(cpus[label]) / args.images
            workers = 1 if label == "1 process" else 2
            by_cpu = min(workers, min(workers, cores) * base_cpu / _median(cpus[label]))
            rows.append(
                {
                    "mode": label,
                    "images_per_s": round(rate, 1),
                    "ratio": round(rate / base_rate, 2),
                    "cpu_ms_per_image": round(cpu_ms, 1),
                    "ratio_by_cpu": round(by_cpu, 2),
                    "wall_s": [round(v, 3) for v in walls[label]],
                    "cpu_s": [round(v, 3) for v in cpus[label]],
                }
            )
            print(
                f"  {label:28} {rate:9.1f} {rate / base_rate:11.2f}x {cpu_ms:13.1f} {by_cpu:31.2f}x"
            )
        this, workers_cpu = (_median([p[i] for p in split]) for i in (0, 1))
        print(
            f"  Dask (running), CPU ms/photo: workers {1000 * workers_cpu / args.images:.1f}, "
            f"this process (scheduler, client, matching, recording) "
            f"{1000 * this / args.images:.1f}"
        )
        print(
            f"  load {load_before[0]:.1f} at the start, {load_after[0]:.1f} at the end. "
            "images/s: the best round; CPU: the median round, every process of the scan "
            "(`--cluster local`: with its start and stop). The last column is what CPU time "
            "alone predicts on 2 idle cores."
        )
        if max(load_before[0], load_after[0]) > cores / 2:
            print(
                f"  the machine was busy (load > {cores / 2:g}): the wall-clock ratios show its "
                "other jobs, not scaling; compare CPU, or rerun on an idle machine"
            )
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "images": args.images,
                    "size": args.size,
                    "bank": args.bank,
                    "repeat": args.repeat,
                    "cpus": cores,
                    "load_before": [round(v, 2) for v in load_before],
                    "load_after": [round(v, 2) for v in load_after],
                    "rows": rows,
                    "dask_cpu_ms_per_image": {
                        "workers": round(1000 * workers_cpu / args.images, 1),
                        "scan_process": round(1000 * this / args.images, 1),
                    },
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
