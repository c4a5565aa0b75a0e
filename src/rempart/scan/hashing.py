"""Hashing on every core: one item in a worker, and the process-pool loop around it.

A worker hashes a photo (PDQ, 8 transforms, the robust stage's variants and keypoints) or a
video (vPDQ frames at `seconds_per_frame`, inside black bars, and frame halves), looks for
faces when asked, and reuses the hashes of known content from the hash cache. Workers report
how far they are in each video through a queue, for per-video progress. `hash_one` is what
the Dask cluster's workers run too (cluster.py), so both ways of scanning hash alike.

The allocator (scan/allocator.py): the hashing process and every pool worker, a
forkserver's too (it does not inherit the scanning process's setting), keep freed buffers
of up to 32 MiB in the heap, so each file's decoded picture and its reduced copies reuse
memory instead of being mapped and page-faulted afresh: measured on 1024x768 JPEG files
with the robust stage, the system CPU time per photo fell from 1.0-1.7 ms to 0.3-0.8 ms
(docs/matching.md, "Cost").
"""

from __future__ import annotations

import hashlib
import multiprocessing
import queue
import tempfile
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np

from rempart.faces.detect import CnnBudget, FaceFinding, cnn_ran_here, find_faces, scan_budget
from rempart.media.decode import decode_image, read_file_bytes
from rempart.media.errors import MediaError
from rempart.media.kinds import VIDEO_EXTENSIONS, is_animated_gif, media_kind, sniff
from rempart.media.video import probe_video
from rempart.scan.allocator import tune_allocator
from rempart.scan.hash_cache import HashCache
from rempart.scan.options import Outcome, ScanOptions, VideoProgressFn
from rempart.scan.synthetic import item_findings
from rempart.signals.exact import file_digests
from rempart.signals.image_hashes import ImageHashes, hash_image_bytes
from rempart.signals.vpdq import VideoHashes, hash_video_file
from rempart.sources.base import MediaRef

_video_events: multiprocessing.Queue[tuple[str, float, float | None]] | None = None


def _init_worker(events: multiprocessing.Queue[tuple[str, float, float | None]]) -> None:
    global _video_events
    _video_events = events
    tune_allocator()  # a forkserver's worker does not inherit the scanning process's


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
            faces.extend(
                find_faces(rgb, time=ts, detector=options.face_detector, budget=_budget(options))
            )

    last = [-10.0]

    def on_frame(ts: float) -> None:
        if report is not None and ts - last[0] >= 1.0:
            last[0] = ts
            report(ref.locator, ts, duration)

    try:
        return hash_video_file(
            ref.path,
            seconds_per_frame=options.seconds_per_frame,
            progress=on_frame,
            threads=1 if options.workers > 1 else 0,
            allow_truncated=True,
            dedupe_distance=options.video_dedupe,
            regions=options.video_regions,
            robust=options.robust,
            frame_hook=look_for_faces if faces is not None else None,
            info=info,
            digests=digests,
        )
    finally:
        if report is not None:
            report(ref.locator, -1.0, duration)


def _pool_context() -> multiprocessing.context.BaseContext:
    """The default (fork), or the forkserver when this process has run dlib's CNN face
    detector: its thread pool does not survive a fork (rempart.faces.detect)."""
    if not cnn_ran_here():
        return multiprocessing.get_context()
    multiprocessing.set_forkserver_preload(["rempart.scan.hashing"])
    return multiprocessing.get_context("forkserver")


def _budget(options: ScanOptions) -> CnnBudget:
    """This process's share of the scan's CNN face-detection time."""
    return scan_budget(options.face_budget_key, options.face_cnn_seconds, options.workers)


def hash_one(
    ref: MediaRef, options: ScanOptions, dihedral: bool, report: VideoProgressFn | None = None
) -> Outcome:
    """Hash one item (in a worker process, a Dask worker or this process). Never raises:
    whatever goes wrong with this item is its outcome's error, so one file never ends a scan."""
    faces: list[FaceFinding] | None = [] if options.faces else None
    name = Path(ref.locator) if ref.data is not None else ref.path  # what messages call it
    try:
        cache = HashCache(Path(options.cache_dir)) if options.cache_dir else None
        if _kind(ref) == "video":
            if report is None and _video_events is not None:
                events = _video_events
                report = lambda *event: events.put(event)  # noqa: E731
            recipe = (
                f"video-{options.seconds_per_frame:g}-{options.video_dedupe}-"
                f"{int(options.video_regions)}-{options.robust or 'plain'}"
            )
            with _as_file(ref) as path:
                synthetic = _synthetic(path, None, ref, options)
                digests = None
                if cache is not None and faces is None:
                    digests = file_digests(path)  # read once: the cache key and the hashes
                    known = cache.get(digests[1], recipe)
                    if isinstance(known, VideoHashes):
                        return Outcome(ref, hashes=known, cached=True, synthetic=synthetic)
                video = _hash_video(replace(ref, path=path), options, report, faces, digests)
            if cache is not None:
                cache.put(recipe, video)
            return Outcome(ref, hashes=video, faces=_tuple(faces), synthetic=synthetic)
        data = ref.data
        if data is None:
            data = read_file_bytes(ref.path, max_bytes=options.max_bytes)
        recipe = f"image-{int(dihedral)}-{options.robust or 'plain'}"
        if options.full_decode:
            recipe += "-full"
        if cache is not None and faces is None:
            known = cache.get(hashlib.sha256(data).hexdigest(), recipe)
            if isinstance(known, ImageHashes):
                return Outcome(
                    ref, hashes=known, cached=True, synthetic=_synthetic(None, data, ref, options)
                )
        hashes = hash_image_bytes(
            data,
            name,
            dihedral=dihedral,
            max_pixels=options.max_pixels,
            robust=options.robust,
            full_decode=options.full_decode,
        )
        if cache is not None:
            cache.put(recipe, hashes)
        if faces is not None:
            picture = decode_image(
                data, name, max_pixels=options.max_pixels, reduce_for_hashing=False
            ).image
            rgb = np.asarray(picture.convert("RGB"))
            faces.extend(find_faces(rgb, detector=options.face_detector, budget=_budget(options)))
        return Outcome(
            ref, hashes=hashes, faces=_tuple(faces), synthetic=_synthetic(None, data, ref, options)
        )
    except MediaError as exc:
        if ref.data is not None:  # name the archive member or URL, not a temporary file
            exc = MediaError(name, exc.reason, exc.detail)
        return Outcome(ref, error=exc)
    except Exception as exc:  # never let one file end the scan
        return Outcome(ref, error=MediaError(ref.path, "internal-error", repr(exc)))


def _synthetic(
    path: Path | None, data: bytes | None, ref: MediaRef, options: ScanOptions
) -> tuple[dict[str, object], ...] | None:
    """The item's synthetic-media findings on the same file or bytes it was hashed from;
    None when the scan does not look (--no-synthetic)."""
    if not options.synthetic:
        return None
    if path is None and ref.data is None:
        path = ref.path  # a file: the readers open it, its bytes only choose the detectors
    # the watermark decoder runs on matched pictures only (recording.py: its cost)
    return tuple(item_findings(path, data, suffix=ref.path.suffix, watermark="never"))


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
    tune_allocator()
    if options.workers <= 1:
        for ref in refs:
            yield hash_one(ref, options, dihedral, on_video)
        return
    window = options.workers * 8
    context = _pool_context()
    events: multiprocessing.Queue[tuple[str, float, float | None]] = context.Queue()
    with ProcessPoolExecutor(
        max_workers=options.workers,
        initializer=_init_worker,
        initargs=(events,),
        mp_context=context,
    ) as pool:
        pending: set[Future[Outcome]] = set()
        todo = iter(refs)
        for ref in todo:
            pending.add(pool.submit(hash_one, ref, options, dihedral))
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
                    pending.add(pool.submit(hash_one, nxt, options, dihedral))
    if on_video is not None:
        _drain(events, on_video)
    events.close()
