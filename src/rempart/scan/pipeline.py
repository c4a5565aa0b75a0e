"""The scan: walk sources, hash media on every core, match against the banks, record results.

Photos and videos go through the same pipeline: the sources' items are streamed (a resumed
scan passes over those it recorded already) to the hashing workers (hashing.py, or a Dask
cluster: cluster.py), and this process matches and records them batch by batch
(recording.py), so an interrupted scan keeps what it had finished. The types are in
options.py; this module still exports the names other modules import from it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from rempart.scan.allocator import tune_allocator
from rempart.scan.cluster import connect, hash_on_cluster
from rempart.scan.face_match import FaceMatcher
from rempart.scan.hashing import hash_one, hash_refs
from rempart.scan.matcher import Matcher
from rempart.scan.options import (
    FaceNote,
    FaceRow,
    MatchRow,
    Outcome,
    ProgressFn,
    ScanOptions,
    ScanResult,
    Skipped,
    VideoProgressFn,
)
from rempart.scan.recording import (
    load_result,
    record_batch,
    record_problems,
    recorded_locators,
    start_run,
    summary,
)
from rempart.sources.base import MediaRef, SourceProblem
from rempart.sources.folder import iter_folder
from rempart.sources.urls import FetchOptions, iter_urls, read_url_list
from rempart.store import audit
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database
from rempart.store.feature_index import FeatureIndex
from rempart.store.models import ScanRun
from rempart.store.repository import StoreError

__all__ = [
    "BATCH",
    "FaceNote",
    "FaceRow",
    "MatchRow",
    "Outcome",
    "ProgressFn",
    "ScanOptions",
    "ScanResult",
    "Skipped",
    "VideoProgressFn",
    "collect",
    "count_items",
    "hash_one",
    "hash_refs",
    "load_result",
    "recorded_locators",
    "run_scan",
    "start_run",
    "summary",
]

BATCH = 64


def collect(roots: Iterable[Path]) -> tuple[list[MediaRef], list[Skipped]]:
    """Every media file under the roots, and what could not be read."""
    refs: list[MediaRef] = []
    problems: list[Skipped] = []
    for found in iter_folder(roots):
        if isinstance(found, SourceProblem):
            problems.append(found)
        else:
            refs.append(found)
    return refs, problems


def _unique(locator: str, seen: set[str]) -> str:
    """A locator not used yet in this scan (two items may name the same place)."""
    out, n = locator, 1
    while out in seen:
        n += 1
        out = f"{locator} ({n})"
    seen.add(out)
    return out


class _Stream:
    """Media items from the sources, one at a time; problems are kept aside to be recorded
    with the next batch. Items already recorded (a resumed scan) are passed over."""

    def __init__(
        self,
        roots: list[Path],
        done: set[str],
        url_file: Path | None = None,
        fetch_options: FetchOptions | None = None,
    ) -> None:
        self.roots = roots
        self.url_file = url_file
        self.fetch_options = fetch_options
        self.done = done
        self.seen: set[str] = set()
        self.problems: list[SourceProblem] = []
        self.passed_over = 0

    def _sources(self) -> Iterator[MediaRef | SourceProblem]:
        yield from iter_folder(self.roots)
        if self.url_file is not None:
            urls, problems = read_url_list(self.url_file)
            yield from problems
            yield from iter_urls([u for u in urls if u not in self.done], self.fetch_options)

    def __iter__(self) -> Iterator[MediaRef]:
        for found in self._sources():
            locator = _unique(found.locator, self.seen)
            if locator in self.done:
                self.passed_over += 1
                continue
            if isinstance(found, SourceProblem):
                self.problems.append(replace(found, locator=locator))
            else:
                yield replace(found, locator=locator) if locator != found.locator else found

    def take_problems(self) -> list[SourceProblem]:
        """The problems met since the last call (recorded with the next batch)."""
        problems, self.problems = self.problems, []
        return problems


def count_items(roots: Iterable[Path]) -> int:
    """How many media items the sources hold (listing only; for progress bars)."""
    return sum(1 for found in iter_folder(roots, read_data=False) if isinstance(found, MediaRef))


def run_scan(
    db: Database,
    bank_index: BankIndex,
    roots: Iterable[Path],
    options: ScanOptions,
    progress: ProgressFn | None = None,
    on_video: VideoProgressFn | None = None,
    face_matcher: FaceMatcher | None = None,
    resume: int | None = None,
    url_file: Path | None = None,
    fetch_options: FetchOptions | None = None,
) -> ScanResult:
    """Scan the roots (or finish scan `resume`, with its roots) and return the whole scan's
    result, read back from the database."""
    start = time.perf_counter()
    tune_allocator()  # this process and the pool forked from it: a fifth less CPU (allocator.py)
    roots = [Path(r) for r in roots]
    features = FeatureIndex.beside(bank_index).load() if options.robust else None
    matcher = Matcher(db, bank_index.load(), options.banks, features=features)
    scan_id = resume if resume is not None else start_run(db, roots, options, url_file)
    done = recorded_locators(db, scan_id)
    with db.session() as s:
        run = s.get(ScanRun, scan_id)
        if run is None:
            raise StoreError(f"no scan {scan_id}")
        started_at = run.started_at
        run.status = "running"
    live = ScanResult(
        scan_id=scan_id,
        started_at=started_at,
        banks=tuple(sorted(matcher.thresholds)),
        faces_looked=options.faces,
    )
    total = max(0, count_items(roots) - len(done))
    if url_file is not None:
        total += len(read_url_list(url_file)[0])
    stream = _Stream(roots, done, url_file, fetch_options)
    # review copies of matches from bytes go to the working folder whose hash cache the
    # scan uses (REMPART_HOME/cache/hashes: the CLI and the web UI both set it)
    home = Path(options.cache_dir).parents[1] if options.cache_dir else None
    batch: list[Outcome] = []
    n = 0
    with ExitStack() as stack:
        if options.cluster:
            client = stack.enter_context(connect(options.cluster, options.workers))
            outcomes: Iterable[Outcome] = hash_on_cluster(
                client,
                stream,
                options,
                dihedral=True,
                index=matcher.index,
                radius=matcher.search_radius,
            )
        else:
            outcomes = hash_refs(stream, options, dihedral=True, on_video=on_video)
        for outcome in outcomes:
            batch.append(outcome)
            n += 1
            if progress is not None:
                progress(n, max(total, n), outcome.ref.locator)
            if len(batch) >= BATCH:
                record_problems(db, scan_id, stream.take_problems())
                record_batch(db, matcher, live, batch, face_matcher, home)
                batch = []
    record_problems(db, scan_id, stream.take_problems())
    record_batch(db, matcher, live, batch, face_matcher, home)
    result = load_result(db, scan_id, banks=live.banks, faces_looked=options.faces)
    result.seconds = time.perf_counter() - start
    result.resumed_items = len(done) if resume is not None else 0
    result.from_cache = live.from_cache
    with db.session() as s:
        run = s.get(ScanRun, scan_id)
        assert run is not None
        run.status = "finished"
        run.finished_at = result.finished_at = datetime.now(UTC)
        run.summary = summary(result)
        # the banks it was matched against (all of them when none was named), for its report
        run.options = {**(run.options or {}), "banks_matched": list(result.banks)}
        audit.record(
            s,
            "scan-finish",
            details={"scan": scan_id, "summary": run.summary, "resumed": resume is not None},
        )
    return result
