"""The scan: walk sources, hash media on every core, match against the banks, record results.

Photos and videos go through the same pipeline: a worker hashes a photo (PDQ, 8 transforms)
or a video (vPDQ frames at `seconds_per_frame`, inside black bars, and frame halves), and the
main process matches and records. Results are written to the database batch by batch as the
scan goes, so an interrupted scan keeps what it had finished. Workers report how far they are
in each video, for per-video progress.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import queue
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from rempart.faces.detect import FaceFinding, find_faces
from rempart.media.decode import (
    DEFAULT_MAX_FILE_BYTES,
    DEFAULT_MAX_PIXELS,
    decode_image,
    read_file_bytes,
)
from rempart.media.errors import MediaError
from rempart.media.kinds import VIDEO_EXTENSIONS, is_animated_gif, media_kind, sniff
from rempart.media.video import probe_video
from rempart.scan.cluster import connect, hash_on_cluster
from rempart.scan.face_match import FaceHit, FaceMatcher
from rempart.scan.hash_cache import HashCache
from rempart.scan.matcher import Candidates, Hit, Matcher
from rempart.scan.video_match import match_video
from rempart.signals.exact import file_digests
from rempart.signals.image_hashes import ImageHashes, hash_image_bytes
from rempart.signals.pdq import MIN_QUALITY
from rempart.signals.vpdq import VideoHashes, hash_video_file
from rempart.sources.base import MediaRef, SourceProblem
from rempart.sources.folder import iter_folder
from rempart.sources.urls import FetchOptions, iter_urls, read_url_list
from rempart.store import audit
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database
from rempart.store.feature_index import FeatureIndex
from rempart.store.models import (
    Bank,
    BankItem,
    Case,
    FaceMatch,
    FaceMatchOccurrence,
    FaceTemplate,
    Match,
    MatchOccurrence,
    ScanItem,
    ScanRun,
)
from rempart.store.repository import StoreError

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
    # Hashes of known content (by SHA-256) are reused from this folder instead of decoding.
    cache_dir: str | None = None
    # A Dask cluster to hash on: "local" (a cluster of `workers` processes) or an address.
    cluster: str | None = None
    # Photos: hash variants and local features for robust matching ("query": as a scan
    # looks them up, "stored": as a bank keeps them, None: whole-image hashes only).
    robust: str | None = "query"
    # The report asked for (an absolute path) and its format, kept with the scan so that
    # `scan --resume` writes it when the scan was killed before it could.
    report: str | None = None
    report_format: str = "json"


@dataclass(frozen=True)
class Skipped:
    file: str
    reason: str
    detail: str
    provenance: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MatchRow:
    file: str
    hit: Hit
    pdq_quality: int | None
    provenance: dict[str, Any] = field(default_factory=dict)


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
    not_exported: list[Skipped] = field(default_factory=list)
    resumed_items: int = 0
    from_cache: int = 0  # known content: hashes reused, not decoded again
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
    cached: bool = False  # hashes reused from the cache (known content, not decoded again)
    near: Candidates | None = None  # index search already done (by a cluster worker)


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
    digests: tuple[str, str] | None = None,
) -> VideoHashes:
    info = probe_video(ref.path)
    duration = info.duration
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
            frame_hook=look_for_faces if faces is not None else None, info=info,
            digests=digests,
        )  # fmt: skip
    finally:
        if report is not None:
            report(ref.locator, -1.0, duration)


def _hash_one(
    ref: MediaRef, options: ScanOptions, dihedral: bool, report: VideoProgressFn | None = None
) -> Outcome:
    faces: list[FaceFinding] | None = [] if options.faces else None
    name = Path(ref.locator) if ref.data is not None else ref.path  # what messages call it
    try:
        cache = HashCache(Path(options.cache_dir)) if options.cache_dir else None
        if _kind(ref) == "video":
            if report is None and _video_events is not None:
                events = _video_events
                report = lambda *event: events.put(event)  # noqa: E731
            recipe = (f"video-{options.seconds_per_frame:g}-{options.video_dedupe}-"
                      f"{int(options.video_regions)}")  # fmt: skip
            with _as_file(ref) as path:
                digests = None
                if cache is not None and faces is None:
                    digests = file_digests(path)  # read once: the cache key and the hashes
                    known = cache.get(digests[1], recipe)
                    if isinstance(known, VideoHashes):
                        return Outcome(ref, hashes=known, cached=True)
                video = _hash_video(replace(ref, path=path), options, report, faces, digests)
            if cache is not None:
                cache.put(recipe, video)
            return Outcome(ref, hashes=video, faces=_tuple(faces))
        data = ref.data
        if data is None:
            data = read_file_bytes(ref.path, max_bytes=options.max_bytes)
        recipe = f"image-{int(dihedral)}-{options.robust or 'plain'}"
        if cache is not None and faces is None:
            known = cache.get(hashlib.sha256(data).hexdigest(), recipe)
            if isinstance(known, ImageHashes):
                return Outcome(ref, hashes=known, cached=True)
        hashes = hash_image_bytes(data, name, dihedral=dihedral, max_pixels=options.max_pixels,
                                  robust=options.robust)  # fmt: skip
        if cache is not None:
            cache.put(recipe, hashes)
        if faces is not None:
            picture = decode_image(data, name, max_pixels=options.max_pixels,
                                   reduce_for_hashing=False).image  # fmt: skip
            faces.extend(find_faces(np.asarray(picture.convert("RGB"))))
        return Outcome(ref, hashes=hashes, faces=_tuple(faces))
    except MediaError as exc:
        if ref.data is not None:  # name the archive member or URL, not a temporary file
            exc = MediaError(name, exc.reason, exc.detail)
        return Outcome(ref, error=exc)
    except Exception as exc:  # never let one file end the scan
        return Outcome(ref, error=MediaError(ref.path, "internal-error", repr(exc)))


def _kind(ref: MediaRef) -> str | None:
    if ref.data is None:
        return media_kind(ref.path)
    kind = sniff(ref.data[:16])
    if kind == "image" and is_animated_gif(ref.data):
        return "video"
    if kind is None and ref.path.suffix.lower() in VIDEO_EXTENSIONS:
        return "video"
    return kind or "image"


@contextmanager
def _as_file(ref: MediaRef) -> Iterator[Path]:
    """The ref's file; bytes (from an archive or a URL) go to a private temporary file for
    the video decoder, deleted afterwards."""
    if ref.data is None:
        yield ref.path
        return
    with tempfile.TemporaryDirectory(prefix="rempart-") as folder:
        path = Path(folder) / f"media{ref.path.suffix.lower()[:10]}"
        path.write_bytes(ref.data)
        yield path


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
    refs: Iterable[MediaRef],
    options: ScanOptions,
    *,
    dihedral: bool,
    on_video: VideoProgressFn | None = None,
) -> Iterator[Outcome]:
    """Hash every ref, on `options.workers` processes, yielding outcomes as they complete.
    `on_video` hears how far each video is (from the workers, in this process)."""
    if options.workers <= 1:
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


def count_items(roots: Iterable[Path]) -> int:
    """How many media items the sources hold (listing only; for progress bars)."""
    return sum(1 for found in iter_folder(roots, read_data=False)
               if isinstance(found, MediaRef))  # fmt: skip


def start_run(
    db: Database, roots: list[Path], options: ScanOptions, url_file: Path | None = None
) -> int:
    with db.session() as s:
        run = ScanRun(
            sources={"folders": [str(r) for r in roots],
                     **({"urls": str(url_file)} if url_file is not None else {})},
            options={"banks": list(options.banks), "workers": options.workers,
                     "seconds_per_frame": options.seconds_per_frame, "faces": options.faces,
                     "robust": options.robust,
                     **({"report": options.report, "report_format": options.report_format}
                        if options.report else {})},
        )  # fmt: skip
        s.add(run)
        s.flush()
        audit.record(s, "scan-start", details={"scan": run.id, "sources": run.sources,
                                              "options": run.options})  # fmt: skip
        return run.id


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
    live = ScanResult(scan_id=scan_id, started_at=started_at,
                      banks=tuple(sorted(matcher.thresholds)), faces_looked=options.faces)
    total = max(0, count_items(roots) - len(done))
    if url_file is not None:
        total += len(read_url_list(url_file)[0])
    stream = _Stream(roots, done, url_file, fetch_options)
    batch: list[Outcome] = []
    n = 0
    with ExitStack() as stack:
        if options.cluster:
            client = stack.enter_context(connect(options.cluster, options.workers))
            outcomes: Iterable[Outcome] = hash_on_cluster(
                client, stream, options, dihedral=True, index=matcher.index,
                radius=matcher.search_radius,
            )  # fmt: skip
        else:
            outcomes = hash_refs(stream, options, dihedral=True, on_video=on_video)
        for outcome in outcomes:
            batch.append(outcome)
            n += 1
            if progress is not None:
                progress(n, max(total, n), outcome.ref.locator)
            if len(batch) >= BATCH:
                _record_problems(db, live, stream)
                _record(db, matcher, live, batch, face_matcher)
                batch = []
    _record_problems(db, live, stream)
    _record(db, matcher, live, batch, face_matcher)
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
        audit.record(s, "scan-finish", details={"scan": scan_id, "summary": run.summary,
                                               "resumed": resume is not None})  # fmt: skip
    return result


def recorded_locators(db: Database, scan_id: int) -> set[str]:
    with db.session() as s:
        return set(s.scalars(select(ScanItem.locator).where(ScanItem.scan_id == scan_id)))


def _record_problems(db: Database, result: ScanResult, stream: _Stream) -> None:
    problems, stream.problems = stream.problems, []
    if not problems:
        return
    with db.session() as s:
        for p in problems:
            status = "not-exported" if p.reason == "not-exported" else "skipped"
            s.add(ScanItem(scan_id=result.scan_id, locator=p.locator, status=status,
                           reason=p.reason, detail=p.detail, provenance=p.provenance))  # fmt: skip


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
    found = matcher.match_hashes(
        [o.hashes for o in images],  # type: ignore[misc]
        [o.near for o in images] if all(o.near is not None for o in images) else None,
    )
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
            result.from_cache += o.cached
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
                _record_match(s, item, h.sha256, hit)
                result.matches.append(MatchRow(o.ref.locator, hit, quality))


def _record_match(s: Session, item: ScanItem, sha256: str, hit: Hit) -> None:
    """One match per (found content, bank entry), reviewed once: content seen before
    (this scan or an earlier one) is another sighting of its match, not a new match."""
    match = s.scalar(select(Match).where(Match.bank_item_id == hit.bank_entry,
                                         Match.content_sha256 == sha256)
                     .order_by(Match.id).limit(1))  # fmt: skip
    if match is None:
        match = Match(scan_item_id=item.id, bank_item_id=hit.bank_entry, signal_type=hit.signal,
                      distance=hit.distance, transform=hit.transform, details=hit.details,
                      content_sha256=sha256)  # fmt: skip
        s.add(match)
        s.flush()
    s.add(MatchOccurrence(match_id=match.id, scan_item_id=item.id))


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
        _record_face_match(s, item, hit)
        result.face_matches.append(FaceRow(o.ref.locator, hit))
    if hits and item.status != "matched":
        item.status = "matched"


def _record_face_match(s: Session, item: ScanItem, hit: FaceHit) -> None:
    """One face match per (found content, template, face in it), reviewed once; a later
    sighting of the same content is a FaceMatchOccurrence."""
    match = None
    if item.sha256:
        for known in s.scalars(select(FaceMatch).where(
                FaceMatch.template_id == hit.template_id,
                FaceMatch.content_sha256 == item.sha256).order_by(FaceMatch.id)):  # fmt: skip
            if list(known.box) == list(hit.box) and known.time == hit.time:
                match = known
                break
    if match is None:
        match = FaceMatch(scan_item_id=item.id, template_id=hit.template_id,
                          distance=hit.distance, box=list(hit.box), time=hit.time,
                          content_sha256=item.sha256)  # fmt: skip
        s.add(match)
        s.flush()
    s.add(FaceMatchOccurrence(face_match_id=match.id, scan_item_id=item.id))


def load_result(
    db: Database, scan_id: int, *, banks: tuple[str, ...] = (), faces_looked: bool = False
) -> ScanResult:
    """A scan's whole result, read back from the database (also for a resumed scan)."""
    with db.session() as s:
        run = s.get(ScanRun, scan_id)
        if run is None:
            raise StoreError(f"no scan {scan_id}")
        result = ScanResult(scan_id=scan_id, started_at=run.started_at, banks=banks,
                            faces_looked=faces_looked, finished_at=run.finished_at)  # fmt: skip
        items = s.scalars(select(ScanItem).where(ScanItem.scan_id == scan_id)
                          .order_by(ScanItem.id)).all()  # fmt: skip
        by_id = {i.id: i for i in items}
        for item in items:
            if item.status == "skipped":
                result.skipped.append(Skipped(item.locator, item.reason or "", item.detail or "",
                                              item.provenance or {}))  # fmt: skip
                continue
            if item.status == "not-exported":
                result.not_exported.append(Skipped(item.locator, item.reason or "",
                                                   item.detail or "", item.provenance or {}))
                continue
            result.hashed += 1
            result.videos += item.media_type == "video"
            if item.status == "low-quality":
                result.low_quality.append(item.locator)
            for face in item.faces or []:
                result.faces_found += 1
                if face.get("status") != "ok":
                    result.faces_not_compared.append(
                        FaceNote(item.locator, tuple(face.get("box") or (0, 0, 0, 0)),
                                 str(face.get("status")), face.get("time"))
                    )  # fmt: skip
        rows = s.execute(
            select(Match, MatchOccurrence.scan_item_id, BankItem.label, Bank.name, Case.number)
            .join(MatchOccurrence, MatchOccurrence.match_id == Match.id)
            .join(BankItem, Match.bank_item_id == BankItem.id)
            .join(Bank, BankItem.bank_id == Bank.id)
            .outerjoin(Case, BankItem.case_id == Case.id)
            .where(MatchOccurrence.scan_item_id.in_(list(by_id)))
            .order_by(MatchOccurrence.id)
        ).all() if by_id else []  # every sighting in this scan, of new or known matches
        for m, seen_in, label, bank_name, case_number in rows:
            item = by_id[seen_in]
            hit = Hit(bank_name, m.bank_item_id, case_number, m.signal_type, m.distance,
                      m.transform, label, m.details)  # fmt: skip
            result.matches.append(MatchRow(item.locator, hit, item.pdq_quality,
                                           item.provenance or {}))  # fmt: skip
        face_rows = s.execute(
            select(FaceMatch, FaceMatchOccurrence.scan_item_id, FaceTemplate.source,
                   Case.number)
            .join(FaceMatchOccurrence, FaceMatchOccurrence.face_match_id == FaceMatch.id)
            .join(FaceTemplate, FaceMatch.template_id == FaceTemplate.id)
            .join(Case, FaceTemplate.case_id == Case.id)
            .where(FaceMatchOccurrence.scan_item_id.in_(list(by_id)))
            .order_by(FaceMatchOccurrence.id)
        ).all() if by_id else []  # every sighting in this scan
        for fm, seen_in, source, case_number in face_rows:
            fh = FaceHit(case_number, fm.template_id, source, fm.distance,
                         round(max(0.0, 1 - fm.distance), 4), tuple(fm.box), fm.time)  # fmt: skip
            result.face_matches.append(FaceRow(by_id[seen_in].locator, fh))
    result.files = result.hashed + len(result.skipped) + len(result.not_exported)
    return result


def summary(result: ScanResult) -> dict[str, object]:
    return {
        "files": result.files,
        "hashed": result.hashed,
        "videos": result.videos,
        "matched_files": result.matched_files,
        "matches": len(result.matches),
        "skipped": len(result.skipped),
        "not_exported": len(result.not_exported),
        "known_content_reused": result.from_cache,
        "too_little_detail": len(result.low_quality),
        "seconds": round(result.seconds, 3),
        **(
            {"faces_found": result.faces_found, "face_matches": len(result.face_matches),
             "faces_not_compared": len(result.faces_not_compared)}
            if result.faces_looked else {}
        ),
    }  # fmt: skip
