"""The scan: walk sources, hash media on every core, match against the banks, record results.

Photos and videos go through the same pipeline: a worker hashes a photo (PDQ, 8 transforms)
or a video (vPDQ frames at `seconds_per_frame`, inside black bars, and frame halves), and the
main process matches and records. Results are written to the database batch by batch as the
scan goes, so an interrupted scan keeps what it had finished. Workers report how far they are
in each video, for per-video progress.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from rempart.faces.detect import FaceFinding, find_faces
from rempart.media.decode import (
    DEFAULT_MAX_FILE_BYTES,
    DEFAULT_MAX_PIXELS,
    decode_image,
    read_file_bytes,
)
from rempart.media.errors import MediaError
from rempart.media.kinds import media_kind
from rempart.media.video import probe_video
from rempart.scan.face_match import FaceHit, FaceMatcher
from rempart.scan.matcher import Hit, Matcher
from rempart.scan.video_match import match_video
from rempart.signals.image_hashes import ImageHashes, hash_image_bytes
from rempart.signals.pdq import MIN_QUALITY
from rempart.signals.vpdq import VideoHashes, hash_video_file
from rempart.sources.base import MediaRef, SourceProblem
from rempart.sources.folder import iter_folder
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database
from rempart.store.models import FaceMatch, Match, ScanItem, ScanRun

BATCH = 64


@dataclass(frozen=True)
class ScanOptions:
    banks: tuple[str, ...] = ()
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_bytes: int = DEFAULT_MAX_FILE_BYTES
    # Videos: one frame every `seconds_per_frame` (0: every frame), consecutive frames this
    # close dropped, and hashes of frame halves (they survive large logos).
    seconds_per_frame: float = 1.0
    video_dedupe: int | None = 0
    video_regions: bool = True
    # Faces (--faces): look for faces in photos, and in video frames every `face_seconds`.
    faces: bool = False
    face_seconds: float = 2.0


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


@dataclass(frozen=True)
class FaceRow:
    file: str
    hit: FaceHit


@dataclass(frozen=True)
class FaceNote:
    """A face found but not compared (too small or blurred)."""

    file: str
    box: tuple[int, int, int, int]
    status: str
    time: float | None


@dataclass
class ScanResult:
    scan_id: int
    started_at: datetime
    finished_at: datetime | None = None
    banks: tuple[str, ...] = ()
    files: int = 0
    hashed: int = 0
    videos: int = 0
    matches: list[MatchRow] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    low_quality: list[str] = field(default_factory=list)
    seconds: float = 0.0
    faces_looked: bool = False
    faces_found: int = 0
    face_matches: list[FaceRow] = field(default_factory=list)
    faces_not_compared: list[FaceNote] = field(default_factory=list)

    @property
    def matched_files(self) -> int:
        return len({m.file for m in self.matches} | {m.file for m in self.face_matches})


@dataclass(frozen=True)
class Outcome:
    ref: MediaRef
    hashes: ImageHashes | VideoHashes | None = None
    error: MediaError | None = None
    faces: tuple[FaceFinding, ...] | None = None  # when the scan looks for faces


# (locator, seconds hashed, duration or None; seconds -1 when the video is done)
VideoProgressFn = Callable[[str, float, float | None], None]
_video_events: multiprocessing.Queue[tuple[str, float, float | None]] | None = None


def _init_worker(events: multiprocessing.Queue[tuple[str, float, float | None]]) -> None:
    global _video_events
    _video_events = events


def _hash_video(
    ref: MediaRef,
    options: ScanOptions,
    report: VideoProgressFn | None,
    faces: list[FaceFinding] | None = None,
) -> VideoHashes:
    duration = probe_video(ref.path).duration
    next_face = [0.0]

    def look_for_faces(ts: float, rgb: np.ndarray) -> None:
        if faces is not None and ts >= next_face[0]:
            next_face[0] = ts + options.face_seconds
            faces.extend(find_faces(rgb, time=ts))

    last = [-10.0]

    def on_frame(ts: float) -> None:
        if report is not None and ts - last[0] >= 1.0:
            last[0] = ts
            report(ref.locator, ts, duration)

    try:
        return hash_video_file(
            ref.path, seconds_per_frame=options.seconds_per_frame, progress=on_frame,
            threads=1 if options.workers > 1 else 0, allow_truncated=True,
            dedupe_distance=options.video_dedupe, regions=options.video_regions,
            frame_hook=look_for_faces if faces is not None else None,
        )  # fmt: skip
    finally:
        if report is not None:
            report(ref.locator, -1.0, duration)


def _hash_one(
    ref: MediaRef, options: ScanOptions, dihedral: bool, report: VideoProgressFn | None = None
) -> Outcome:
    faces: list[FaceFinding] | None = [] if options.faces else None
    try:
        if media_kind(ref.path) == "video":
            if report is None and _video_events is not None:
                events = _video_events
                report = lambda *event: events.put(event)  # noqa: E731
            video = _hash_video(ref, options, report, faces)
            return Outcome(ref, hashes=video, faces=_tuple(faces))
        data = read_file_bytes(ref.path, max_bytes=options.max_bytes)
        hashes = hash_image_bytes(data, ref.path, dihedral=dihedral, max_pixels=options.max_pixels)
        if faces is not None:
            picture = decode_image(data, ref.path, max_pixels=options.max_pixels,
                                   reduce_for_hashing=False).image  # fmt: skip
            faces.extend(find_faces(np.asarray(picture.convert("RGB"))))
        return Outcome(ref, hashes=hashes, faces=_tuple(faces))
    except MediaError as exc:
        return Outcome(ref, error=exc)
    except Exception as exc:  # never let one file end the scan
        return Outcome(ref, error=MediaError(ref.path, "internal-error", repr(exc)))


def _tuple(faces: list[FaceFinding] | None) -> tuple[FaceFinding, ...] | None:
    return None if faces is None else tuple(faces)


def _drain(
    events: multiprocessing.Queue[tuple[str, float, float | None]], on_video: VideoProgressFn
) -> None:
    while True:
        try:
            on_video(*events.get_nowait())
        except queue.Empty:
            return


def hash_refs(
    refs: Sequence[MediaRef],
    options: ScanOptions,
    *,
    dihedral: bool,
    on_video: VideoProgressFn | None = None,
) -> Iterator[Outcome]:
    """Hash every ref, on `options.workers` processes, yielding outcomes as they complete.
    `on_video` hears how far each video is (from the workers, in this process)."""
    if options.workers <= 1 or len(refs) <= 1:
        for ref in refs:
            yield _hash_one(ref, options, dihedral, on_video)
        return
    window = options.workers * 8
    events: multiprocessing.Queue[tuple[str, float, float | None]] = multiprocessing.Queue()
    with ProcessPoolExecutor(
        max_workers=options.workers, initializer=_init_worker, initargs=(events,)
    ) as pool:
        pending: set[Future[Outcome]] = set()
        todo = iter(refs)
        for ref in todo:
            pending.add(pool.submit(_hash_one, ref, options, dihedral))
            if len(pending) >= window:
                break
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            if on_video is not None:
                _drain(events, on_video)
            for fut in done:
                yield fut.result()
                nxt = next(todo, None)
                if nxt is not None:
                    pending.add(pool.submit(_hash_one, nxt, options, dihedral))
    if on_video is not None:
        _drain(events, on_video)
    events.close()


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
    on_video: VideoProgressFn | None = None,
    face_matcher: FaceMatcher | None = None,
) -> ScanResult:
    start = time.perf_counter()
    roots = [Path(r) for r in roots]
    matcher = Matcher(db, bank_index.load(), options.banks)
    with db.session() as s:
        run = ScanRun(
            sources={"folders": [str(r) for r in roots]},
            options={"banks": list(options.banks), "workers": options.workers,
                     "seconds_per_frame": options.seconds_per_frame},
        )
        s.add(run)
        s.flush()
        result = ScanResult(
            scan_id=run.id, started_at=run.started_at, banks=tuple(sorted(matcher.thresholds)),
            faces_looked=options.faces,
        )  # fmt: skip
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
    for outcome in hash_refs(refs, options, dihedral=True, on_video=on_video):
        batch.append(outcome)
        done += 1
        if progress is not None:
            progress(done, len(refs), outcome.ref.locator)
        if len(batch) >= BATCH:
            _record(db, matcher, result, batch, face_matcher)
            batch = []
    _record(db, matcher, result, batch, face_matcher)
    result.finished_at = datetime.now(UTC)
    result.seconds = time.perf_counter() - start
    with db.session() as s:
        run = s.get(ScanRun, result.scan_id)
        assert run is not None
        run.status = "finished"
        run.finished_at = result.finished_at
        run.summary = summary(result)
    return result


def _record(
    db: Database,
    matcher: Matcher,
    result: ScanResult,
    batch: list[Outcome],
    face_matcher: FaceMatcher | None = None,
) -> None:
    if not batch:
        return
    images = [o for o in batch if isinstance(o.hashes, ImageHashes)]
    videos = [o for o in batch if isinstance(o.hashes, VideoHashes)]
    found = matcher.match_hashes([o.hashes for o in images])  # type: ignore[misc]
    hits_by_locator = {o.ref.locator: h for o, h in zip(images, found, strict=True)}
    exact = matcher.exact([o.hashes for o in videos])  # type: ignore[misc]
    for o, exact_hits in zip(videos, exact, strict=True):
        assert isinstance(o.hashes, VideoHashes)
        best: dict[tuple[str, int], Hit] = {}
        for h in exact_hits + match_video(matcher, o.hashes):
            best.setdefault((h.bank, h.bank_entry), h)  # exact first: it wins
        hits_by_locator[o.ref.locator] = list(best.values())
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
            item_hits = hits_by_locator[o.ref.locator]
            if isinstance(h, VideoHashes):
                result.videos += 1
                low = not any(f.quality >= MIN_QUALITY for f in h.frames)
                quality = max((f.quality for f in h.frames), default=0)
                first = h.frames[0].pdq_hex if h.frames else None
                extra = {"media_type": "video", "duration": h.duration}
                note = "; ".join(h.notes) or None
            else:
                low = h.pdq.quality < MIN_QUALITY
                quality, first, extra, note = h.pdq.quality, h.pdq.hex, {}, None
            if low:
                result.low_quality.append(o.ref.locator)
            item = ScanItem(
                scan_id=result.scan_id, locator=o.ref.locator,
                status="matched" if item_hits else ("low-quality" if low else "hashed"),
                reason="too little detail to hash" if low else None, detail=note,
                md5=h.md5, sha256=h.sha256, pdq=first, pdq_quality=quality,
                width=h.width, height=h.height, provenance=o.ref.provenance, **extra,
            )  # fmt: skip
            if o.faces is not None:
                item.faces = [
                    {"box": list(f.box), "status": f.status, "score": round(f.score, 3),
                     "time": f.time}
                    for f in o.faces
                ]  # fmt: skip
            s.add(item)
            s.flush()
            if o.faces is not None:
                _record_faces(s, item, o, result, face_matcher)
            for hit in item_hits:
                s.add(Match(scan_item_id=item.id, bank_item_id=hit.bank_entry,
                            signal_type=hit.signal, distance=hit.distance,
                            transform=hit.transform, details=hit.details))  # fmt: skip
                result.matches.append(MatchRow(o.ref.locator, hit, quality))


def _record_faces(
    s: Session, item: ScanItem, o: Outcome, result: ScanResult, face_matcher: FaceMatcher | None
) -> None:
    faces = o.faces or ()
    result.faces_found += len(faces)
    result.faces_not_compared.extend(
        FaceNote(o.ref.locator, f.box, f.status, f.time) for f in faces if f.status != "ok"
    )
    hits = face_matcher.match(faces) if face_matcher is not None else []
    for hit in hits:
        s.add(FaceMatch(scan_item_id=item.id, template_id=hit.template_id,
                        distance=hit.distance, box=list(hit.box), time=hit.time))  # fmt: skip
        result.face_matches.append(FaceRow(o.ref.locator, hit))
    if hits and item.status != "matched":
        item.status = "matched"


def summary(result: ScanResult) -> dict[str, object]:
    return {
        "files": result.files,
        "hashed": result.hashed,
        "videos": result.videos,
        "matched_files": result.matched_files,
        "matches": len(result.matches),
        "skipped": len(result.skipped),
        "too_little_detail": len(result.low_quality),
        "seconds": round(result.seconds, 3),
        **(
            {"faces_found": result.faces_found, "face_matches": len(result.face_matches),
             "faces_not_compared": len(result.faces_not_compared)}
            if result.faces_looked else {}
        ),
    }  # fmt: skip
