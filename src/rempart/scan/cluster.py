"""Scale-out on a Dask cluster: hashing and the index search run on the cluster's workers.

`rempart scan --cluster tcp://SCHEDULER:8786` uses a running Dask cluster;
`--cluster local` starts one on this machine with `--workers` worker processes. The index
is shipped to every worker once (scattered, broadcast); each task hashes a batch of up to 32
items and searches the index for its photos (all 8 transforms) in one call, then the scan
process matches the candidates against the banks' rules and records results, as without a
cluster. Files must be readable at the same path on the workers (shared storage); items
from archives and URLs travel with their bytes (one way: results come back without them).
Videos are hashed on the workers and matched in the scan process. Workers of a cluster
reached by its address keep no hash cache (a withdrawal purges the cache of this machine's
home folder only); those of `--cluster local` share this machine's.

Why batches, and why the allocator settings (docs/sources.md, "Scale-out on Dask"): each
task costs the scheduler, this process and the worker 15-20 ms of CPU whatever it does (one
file per task cost about as much as the hashing; 8 files, 8-10% more CPU per photo), so a
task takes up to 32 items, and the last ones fewer ("guided": once the end of the items is
in sight, each batch takes a share of what is left) so that the workers finish together.
And Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which pins glibc's mmap
threshold at 128 KiB, so every decoded picture was mapped and page-faulted afresh (1.5x the
CPU per photo): each worker sets the thresholds back on its first task, whoever started it
(rempart.scan.allocator, which the scan process and its process pool use too).
"""

from __future__ import annotations

import gc
import math
import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

from rempart.index.binary_index import BinaryHashIndex
from rempart.media.kinds import VIDEO_EXTENSIONS
from rempart.scan.allocator import tune_allocator
from rempart.scan.hashing import hash_one
from rempart.scan.matcher import near_candidates
from rempart.scan.options import Outcome, ScanOptions
from rempart.signals.image_hashes import ImageHashes
from rempart.sources.base import MediaRef

if TYPE_CHECKING:
    from distributed import Client, Future

# The most items per task, the fewest once the end is in sight, and the bytes that items read
# from archives or URLs may carry in one task (and wait, read ahead, in this process).
BATCH_ITEMS = 32
MIN_BATCH_ITEMS = 2
BATCH_BYTES = 32 * 1024 * 1024
# Tasks in flight per worker thread: one running, the next one waiting on the worker.
TASKS_PER_THREAD = 2
# The last items are spread over this many tasks per worker thread (guided batches).
TAIL_PARTS_PER_THREAD = 2

_settled = False


def _settle_worker() -> None:
    """Once per worker process, on its first task: glibc's allocator thresholds, and the
    objects the worker holds by then (the hashing stack's modules, the index) moved out of the
    garbage collector's sight (gc.freeze). A worker's exit spent seconds collecting them: the
    nanny killed it after 4 s at load 16, so `--cluster local` took that long to stop; 0.4 s
    with them frozen. Frozen only in a worker process of its own (a nanny's child), never in
    a process that also runs the scan."""
    global _settled
    if _settled:
        return
    _settled = True
    tune_allocator()
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return
    if multiprocessing.parent_process() is not None:
        gc.freeze()


def hash_and_search(
    ref: MediaRef, options: ScanOptions, dihedral: bool, index: BinaryHashIndex, radius: int
) -> Outcome:
    """Hash one item and, for a photo, search the index for it (one item of a batch)."""
    return hash_batch([ref], options, dihedral, index, radius)[0]


def hash_batch(
    refs: list[MediaRef],
    options: ScanOptions,
    dihedral: bool,
    index: BinaryHashIndex,
    radius: int,
) -> list[Outcome]:
    """Runs on a worker: hash a batch of items and search the index for its photos in one
    call. The outcomes come back without the items' bytes (the scan process has them)."""
    _settle_worker()
    outcomes = [hash_one(ref, options, dihedral) for ref in refs]
    photos = [i for i, o in enumerate(outcomes) if isinstance(o.hashes, ImageHashes)]
    if photos:
        hashes = [outcomes[i].hashes for i in photos]
        found = near_candidates(index, hashes, radius)  # type: ignore[arg-type]
        for i, near in zip(photos, found, strict=True):
            outcomes[i] = replace(outcomes[i], near=near)
    return [
        replace(o, ref=replace(o.ref, data=None)) if o.ref.data is not None else o for o in outcomes
    ]


def _weight(ref: MediaRef, items: int) -> int:
    """Items a ref counts for: a video (seconds to minutes of hashing) fills a batch alone."""
    return items if ref.path.suffix.lower() in VIDEO_EXTENSIONS else 1


def _batches(
    refs: Iterable[MediaRef], items: int, max_bytes: int, parts: int = 0
) -> Iterator[list[MediaRef]]:
    """The items in batches of `items`, fewer where their bytes would pass `max_bytes`, a
    video alone. With `parts`, the items are read ahead (`parts` full batches, at most
    `max_bytes` of bytes) and, once the end is in sight, each batch takes 1/`parts` of what
    is left (at least MIN_BATCH_ITEMS): the last tasks are small, and the workers finish
    together instead of one waiting for another's last large batch."""
    todo = iter(refs)
    ahead: deque[MediaRef] = deque()
    ahead_bytes = 0
    ended = False
    lookahead = max(1, parts) * items
    while True:
        while not ended and len(ahead) < lookahead and (not ahead or ahead_bytes < max_bytes):
            ref = next(todo, None)
            if ref is None:
                ended = True
                break
            ahead.append(ref)
            ahead_bytes += len(ref.data) if ref.data is not None else 0
        if not ahead:
            return
        size = items
        if ended and parts > 0:
            left = sum(_weight(r, items) for r in ahead)
            size = min(items, max(MIN_BATCH_ITEMS, math.ceil(left / parts)))
        batch: list[MediaRef] = []
        count = weight = 0
        while ahead:
            ref = ahead[0]
            nbytes = len(ref.data) if ref.data is not None else 0
            w = _weight(ref, items)
            if batch and (count + w > size or weight + nbytes > max_bytes):
                break
            batch.append(ahead.popleft())
            ahead_bytes -= nbytes
            count += w
            weight += nbytes
        yield batch


# Dask's defaults made an idle local cluster of 2 workers use 11-12% of a core (its event
# loops' 20 ms "tick" watchdog in every process, memory and system monitors, the scheduler's
# work stealing) and sample every running task's stack each 10 ms (the profiler): on a
# machine whose cores do the hashing, that CPU comes out of the scan. With these, 1.6%.
# A cluster started by hand takes them from its environment (docs/sources.md).
QUIET = {
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.worker.profile.enabled": False,
    "distributed.scheduler.work-stealing": False,
}


@contextmanager
def connect(address: str, workers: int) -> Iterator[Client]:
    """A Dask client: to the scheduler at `address`, or ("local") to a cluster of `workers`
    processes started here and stopped afterwards."""
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set(QUIET):
        if address == "local":
            cluster = LocalCluster(
                n_workers=max(1, workers),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
            with cluster, Client(cluster) as client:
                yield client
        else:
            with Client(address, timeout="30s") as client:
                yield client


def hash_on_cluster(
    client: Client,
    refs: Iterable[MediaRef],
    options: ScanOptions,
    *,
    dihedral: bool,
    index: BinaryHashIndex,
    radius: int,
    batch_items: int = BATCH_ITEMS,
) -> Iterator[Outcome]:
    """Outcomes as the cluster finishes them, a batch at a time, with a bounded number of
    batches in flight."""
    from distributed import as_completed

    if getattr(client, "cluster", None) is None:
        # a cluster reached by its address: its workers' disks are not this machine's home
        # folder, where a withdrawal purges cached hashes close to hers; they cache nothing
        options = replace(options, cache_dir=None)
    shipped = client.scatter(index, broadcast=True)  # the index goes to each worker once
    threads = sum(client.nthreads().values()) or 1
    window = threads * TASKS_PER_THREAD
    todo = _batches(refs, max(1, batch_items), BATCH_BYTES, threads * TAIL_PARTS_PER_THREAD)
    sent: dict[object, list[MediaRef]] = {}  # by task key
    futures = as_completed()

    def submit(batch: list[MediaRef]) -> None:
        fut: Future[list[Outcome]] = client.submit(
            hash_batch, batch, options, dihedral, shipped, radius, pure=False
        )
        sent[fut.key] = batch
        futures.add(fut)

    for batch in todo:
        submit(batch)
        if len(sent) >= window:
            break
    for fut in futures:
        batch = sent.pop(fut.key)
        outcomes = fut.result()
        fut.release()
        nxt = next(todo, None)
        if nxt is not None:
            submit(nxt)
        for ref, outcome in zip(batch, outcomes, strict=True):
            yield replace(outcome, ref=ref) if ref.data is not None else outcome
