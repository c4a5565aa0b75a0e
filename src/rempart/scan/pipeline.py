"""The scan: walk sources, hash media on every core, match against the banks, record results.

Results are written to the database batch by batch as the scan goes, so an interrupted scan
keeps what it had finished.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rempart.media.decode import DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_PIXELS
from rempart.media.errors import MediaError
from rempart.scan.matcher import Hit, Matcher
from rempart.signals.image_hashes import ImageHashes, hash_image_file
from rempart.signals.pdq import MIN_QUALITY
from rempart.sources.base import MediaRef, SourceProblem
from rempart.sources.folder import iter_folder
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database
from rempart.store.models import Match, ScanItem, ScanRun

BATCH = 64


@dataclass(frozen=True)
class ScanOptions:
    banks: tuple[str, ...] = ()
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_bytes: int = DEFAULT_MAX_FILE_BYTES


@dataclass(frozen=True)
class Skipped:
    file: str
    reason: str
    detail: str


@dataclass(frozen=True)
class MatchRow:
    file: str
    hit: Hit
    pdq_quality: int | None


@dataclass
class ScanResult:
    scan_id: int
    started_at: datetime
    finished_at: datetime | None = None
    banks: tuple[str, ...] = ()
    files: int = 0
    hashed: int = 0
    matches: list[MatchRow] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    low_quality: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def matched_files(self) -> int:
        return len({m.file for m in self.matches})


@dataclass(frozen=True)
class Outcome:
    ref: MediaRef
    hashes: ImageHashes | None = None
    error: MediaError | None = None


def _hash_one(ref: MediaRef, options: ScanOptions, dihedral: bool) -> Outcome:
    try:
        hashes = hash_image_file(
            ref.path, dihedral=dihedral, max_pixels=options.max_pixels, max_bytes=options.max_bytes
        )
        return Outcome(ref, hashes=hashes)
    except MediaError as exc:
        return Outcome(ref, error=exc)
    except Exception as exc:  # never let one file end the scan
        return Outcome(ref, error=MediaError(ref.path, "internal-error", repr(exc)))


def hash_refs(
    refs: Sequence[MediaRef], options: ScanOptions, *, dihedral: bool
) -> Iterator[Outcome]:
    """Hash every ref, on `options.workers` processes, yielding outcomes as they complete."""
    if options.workers <= 1 or len(refs) <= 1:
        for ref in refs:
            yield _hash_one(ref, options, dihedral)
        return
    window = options.workers * 8
    with ProcessPoolExecutor(max_workers=options.workers) as pool:
        pending: set[Future[Outcome]] = set()
        queue = iter(refs)
        for ref in queue:
            pending.add(pool.submit(_hash_one, ref, options, dihedral))
            if len(pending) >= window:
                break
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                yield fut.result()
                nxt = next(queue, None)
                if nxt is not None:
                    pending.add(pool.submit(_hash_one, nxt, options, dihedral))


ProgressFn = Callable[[int, int, str], None]


def collect(roots: Iterable[Path]) -> tuple[list[MediaRef], list[Skipped]]:
    """Every media file under the roots, and what could not be read."""
    refs: list[MediaRef] = []
    problems: list[Skipped] = []
    for found in iter_folder(roots):
        if isinstance(found, SourceProblem):
            problems.append(Skipped(found.locator, found.reason, found.detail))
        else:
            refs.append(found)
    return refs, problems


def run_scan(
    db: Database,
    bank_index: BankIndex,
    roots: Iterable[Path],
    options: ScanOptions,
    progress: ProgressFn | None = None,
) -> ScanResult:
    start = time.perf_counter()
    roots = [Path(r) for r in roots]
    matcher = Matcher(db, bank_index.load(), options.banks)
    with db.session() as s:
        run = ScanRun(
            sources={"folders": [str(r) for r in roots]},
            options={"banks": list(options.banks), "workers": options.workers},
        )
        s.add(run)
        s.flush()
        result = ScanResult(
            scan_id=run.id, started_at=run.started_at, banks=tuple(sorted(matcher.thresholds))
        )
    refs, problems = collect(roots)
    result.skipped.extend(problems)
    result.files = len(refs) + len(result.skipped)
    with db.session() as s:
        s.add_all(
            ScanItem(
                scan_id=result.scan_id,
                locator=p.file,
                status="skipped",
                reason=p.reason,
                detail=p.detail,
            )
            for p in result.skipped
        )
    batch: list[Outcome] = []
    done = 0
    for outcome in hash_refs(refs, options, dihedral=True):
        batch.append(outcome)
        done += 1
        if progress is not None:
            progress(done, len(refs), outcome.ref.locator)
        if len(batch) >= BATCH:
            _record(db, matcher, result, batch)
            batch = []
    _record(db, matcher, result, batch)
    result.finished_at = datetime.now(UTC)
    result.seconds = time.perf_counter() - start
    with db.session() as s:
        run = s.get(ScanRun, result.scan_id)
        assert run is not None
        run.status = "finished"
        run.finished_at = result.finished_at
        run.summary = summary(result)
    return result


def _record(db: Database, matcher: Matcher, result: ScanResult, batch: list[Outcome]) -> None:
    if not batch:
        return
    hashed = [o for o in batch if o.hashes is not None]
    hits = matcher.match_hashes([o.hashes for o in hashed if o.hashes is not None])
    hits_by_locator = {o.ref.locator: h for o, h in zip(hashed, hits, strict=True)}
    with db.session() as s:
        for o in batch:
            if o.error is not None or o.hashes is None:
                err = o.error or MediaError(o.ref.path, "internal-error", "no result")
                result.skipped.append(Skipped(o.ref.locator, err.reason, str(err)))
                s.add(
                    ScanItem(
                        scan_id=result.scan_id,
                        locator=o.ref.locator,
                        status="skipped",
                        reason=err.reason,
                        detail=str(err),
                        provenance=o.ref.provenance,
                    )
                )
                continue
            h = o.hashes
            result.hashed += 1
            low = h.pdq.quality < MIN_QUALITY
            if low:
                result.low_quality.append(o.ref.locator)
            item_hits = hits_by_locator[o.ref.locator]
            item = ScanItem(
                scan_id=result.scan_id, locator=o.ref.locator,
                status="matched" if item_hits else ("low-quality" if low else "hashed"),
                reason="too little detail to hash" if low else None,
                md5=h.md5, sha256=h.sha256, pdq=h.pdq.hex, pdq_quality=h.pdq.quality,
                width=h.width, height=h.height, provenance=o.ref.provenance,
            )  # fmt: skip
            s.add(item)
            s.flush()
            for hit in item_hits:
                s.add(Match(scan_item_id=item.id, bank_item_id=hit.bank_entry,
                            signal_type=hit.signal, distance=hit.distance,
                            transform=hit.transform))  # fmt: skip
                result.matches.append(MatchRow(o.ref.locator, hit, h.pdq.quality))


def summary(result: ScanResult) -> dict[str, object]:
    return {
        "files": result.files,
        "hashed": result.hashed,
        "matched_files": result.matched_files,
        "matches": len(result.matches),
        "skipped": len(result.skipped),
        "too_little_detail": len(result.low_quality),
        "seconds": round(result.seconds, 3),
    }
