"""Scale-out on a Dask cluster: hashing and the index search run on the cluster's workers.

`rempart scan --cluster tcp://SCHEDULER:8786` uses a running Dask cluster;
`--cluster local` starts one on this machine with `--workers` worker processes. The index
is shipped to every worker once (scattered, broadcast); each worker hashes an item and
searches the index for it (photos: all 8 transforms), then the scan process matches the
candidates against the banks' rules and records results, as without a cluster. Files must be
readable at the same path on the workers (shared storage); items from archives and URLs
travel with their bytes. Videos are hashed on the workers and matched in the scan process.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

from rempart.index.binary_index import BinaryHashIndex
from rempart.scan.hashing import hash_one
from rempart.scan.matcher import near_candidates
from rempart.scan.options import Outcome, ScanOptions
from rempart.signals.image_hashes import ImageHashes
from rempart.sources.base import MediaRef

if TYPE_CHECKING:
    from distributed import Client


def hash_and_search(
    ref: MediaRef, options: ScanOptions, dihedral: bool, index: BinaryHashIndex, radius: int
) -> Outcome:
    """Runs on a worker: hash one item and, for a photo, search the index for it."""
    outcome = hash_one(ref, options, dihedral)
    if isinstance(outcome.hashes, ImageHashes):
        outcome = replace(outcome, near=near_candidates(index, [outcome.hashes], radius)[0])
    return outcome


@contextmanager
def connect(address: str, workers: int) -> Iterator[Client]:
    """A Dask client: to the scheduler at `address`, or ("local") to a cluster of `workers`
    processes started here and stopped afterwards."""
    from distributed import Client, LocalCluster

    if address == "local":
        cluster = LocalCluster(
            n_workers=max(1, workers), threads_per_worker=1, processes=True, dashboard_address=None
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
) -> Iterator[Outcome]:
    """Outcomes as the cluster finishes them, with a bounded number of items in flight."""
    from distributed import as_completed

    shipped = client.scatter(index, broadcast=True)  # the index goes to each worker once
    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    window = n_workers * 8
    todo = iter(refs)
    futures = as_completed()
    in_flight = 0
    for ref in todo:
        futures.add(
            client.submit(hash_and_search, ref, options, dihedral, shipped, radius, pure=False)
        )
        in_flight += 1
        if in_flight >= window:
            break
    for fut in futures:
        yield fut.result()
        fut.release()
        nxt = next(todo, None)
        if nxt is not None:
            futures.add(
                client.submit(hash_and_search, nxt, options, dihedral, shipped, radius, pure=False)
            )
