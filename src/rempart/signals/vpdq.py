"""Video hashing compatible with Meta's vPDQ: a PDQ hash per sampled frame.

This module hashes a video's frames (`hash_video_file`, `hash_frames`, `frame_hashes`) and
holds the types the other vPDQ modules share (`VpdqFrame`, `VideoHashes`) and the constants.
vPDQ's text and JSON forms are read and written by signals/vpdq_text.py, two videos are
compared by signals/vpdq_match.py; both import this module, never the other way round.

Beyond vPDQ, frames framed by black bars (letterbox/pillarbox) get a second hash of the
picture inside the bars (`VideoHashes.trimmed_frames`), so that a copy with bars added or
removed still matches (`vpdq_match.match_video_hashes`).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from rempart.media.errors import MediaError
from rempart.media.video import DecodedFrame, VideoInfo, grey_of, iter_frames, probe_video
from rempart.signals import _pdq as pdq_kernel
from rempart.signals import video_layout, video_variants
from rempart.signals.exact import file_digests
from rempart.signals.pdq import DIHEDRAL
from rempart.signals.types import VPDQ, VPDQ_REGION

# Consecutive sampled frames whose hashes are this close keep only the first (0 = identical
# hashes only: vPDQ's matcher ignores repeated hashes anyway, so percentages are unchanged).
DEDUPE_DISTANCE = 0
# Her videos (the bank side) are hashed at every frame, dropping a frame within this distance
# of the last one kept: a copy sampled at 1 frame/s at any moment then finds its own frame,
# whatever the cut, frame rate or time shift (1 frame/s on both sides misses re-cut copies).
BANK_SECONDS_PER_FRAME = 0.0
BANK_DEDUPE_DISTANCE = 8
# Bars: edge rows/columns with no channel above this level are trimmed for `trimmed_frames`.
BAR_MAX_LEVEL = 40
BAR_MIN_FRACTION = 0.04  # bars thinner than this share of the side are ignored
CONTENT_MIN_FRACTION = 0.4  # never trim to less than this share of a side


@dataclass(frozen=True)
class VpdqFrame:
    frame: int
    quality: int
    pdq_hex: str
    timestamp: float


@dataclass(frozen=True)
class VideoHashes:
    md5: str
    sha256: str
    frames: tuple[VpdqFrame, ...]  # vPDQ-compatible, one per sampled frame (deduplicated)
    duration: float | None
    width: int
    height: int
    # Hashes of the picture inside black bars, for the sampled frames that have bars.
    trimmed_frames: tuple[VpdqFrame, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())
    # Hashes of each half of the picture (REGIONS), when asked for: they survive large logos.
    regions: dict[str, tuple[VpdqFrame, ...]] = field(default_factory=dict)
    seconds_per_frame: float = 1.0  # sampling used (0: every frame)


def _bar_run(coarse: np.ndarray) -> int:
    """Leading True values of a boolean vector."""
    return len(coarse) if coarse.all() else int(np.argmin(coarse))


def _bar_depth(coarse: np.ndarray, line_max: Callable[[int], int], n: int) -> int:
    """How many leading lines are black bar lines: `coarse` says it for every 4th line (from
    the first), then line by line (`line_max(i)`: the brightest sample of line i) from the
    last coarse hit."""
    run = _bar_run(coarse)
    if run == 0:
        return 0
    depth = 4 * (run - 1) + 1
    while depth < n and line_max(depth) <= BAR_MAX_LEVEL:
        depth += 1
    return depth


def content_box(rgb: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the picture inside black bars, or None without bars.

    A bar line is a row or column at an edge where every pixel (looked at every 4th pixel)
    has all three channels <= BAR_MAX_LEVEL. Bars thinner than BAR_MIN_FRACTION of the side
    are ignored; a frame that is mostly black (a fade) is left alone. Every 4th line from
    each side is read from a 1-in-16 sample of the frame (one to three of them); only the
    lines near a bar's inner edge are read on their own.
    """
    h, w = rgb.shape[:2]
    if h < 32 or w < 32:
        return None

    def darkest(rows: slice, cols: slice) -> np.ndarray:
        """The brightest channel of every 4th pixel of every 4th line."""
        part: np.ndarray = rgb[rows, cols]
        if part.ndim == 2:
            return part
        brightest: np.ndarray = np.maximum(np.maximum(part[..., 0], part[..., 1]), part[..., 2])
        return brightest

    every4 = slice(None, None, 4)
    front = darkest(every4, every4)
    dark_rows = front.max(axis=1) <= BAR_MAX_LEVEL  # rows 0, 4, 8, ...
    dark_cols = front.max(axis=0) <= BAR_MAX_LEVEL  # columns 0, 4, 8, ...
    # from the far sides: rows h-1, h-5, ... and columns w-1, w-5, ...
    back_rows = front if (h - 1) % 4 == 0 else darkest(slice((h - 1) % 4, None, 4), every4)
    back_cols = front if (w - 1) % 4 == 0 else darkest(every4, slice((w - 1) % 4, None, 4))
    dark_rows_back = back_rows.max(axis=1)[::-1] <= BAR_MAX_LEVEL
    dark_cols_back = back_cols.max(axis=0)[::-1] <= BAR_MAX_LEVEL

    def row(i: int) -> int:
        return int(rgb[i, ::4].max())

    def col(j: int) -> int:
        return int(rgb[::4, j].max())

    top = _bar_depth(dark_rows, row, h)
    bottom = _bar_depth(dark_rows_back, lambda i: row(h - 1 - i), h)
    left = _bar_depth(dark_cols, col, w)
    right = _bar_depth(dark_cols_back, lambda j: col(w - 1 - j), w)
    top, bottom = (v if v >= BAR_MIN_FRACTION * h else 0 for v in (top, bottom))
    left, right = (v if v >= BAR_MIN_FRACTION * w else 0 for v in (left, right))
    if not (top or bottom or left or right):
        return None
    if h - top - bottom < CONTENT_MIN_FRACTION * h or w - left - right < CONTENT_MIN_FRACTION * w:
        return None  # a mostly black frame (a fade, a title card): nothing to trim to
    return top, h - bottom, left, w - right


def pdq_of(pixels: np.ndarray, box: tuple[int, int, int, int] | None = None) -> tuple[str, int]:
    """PDQ (hex, quality) of an RGB uint8 HxWx3 or grey uint8 HxW picture, or of the
    rectangle `box` = (top, bottom, left, right) of it, hashed where it lies (no copy).

    Bit for bit Meta's pdqhash on the same RGB pixels (Rempart's PDQ kernel, `_pdq`); a grey
    picture hashes as its luma. This is the per-frame primitive: every hash of a frame
    (whole, inside bars, halves, and any other rectangle) goes through it."""
    pixels = np.ascontiguousarray(pixels)
    h, w = pixels.shape[:2]
    top, bottom, left, right = box if box is not None else (0, h, 0, w)
    pixel = 1 if pixels.ndim == 2 else pixels.shape[2]
    raw, quality = pdq_kernel.hash_pixels(
        pixels, w, h, w * pixel, pixel, left, top, right, bottom, False
    )
    return raw.hex(), int(quality)


REGIONS = ("top", "bottom", "left", "right")  # halves of the picture (inside any bars)


REGION_SIDE = 384  # halves are hashed from the picture scaled to fit this (speed, and the
# same scale whatever the video's resolution)


def region_picture(picture: np.ndarray) -> np.ndarray:
    """The picture scaled down to fit REGION_SIDE (BOX filter: area averaging),
    C-contiguous. A grey picture is scaled as it is (a third of the work of RGB)."""
    size = video_layout.fit_size(picture.shape[1], picture.shape[0], REGION_SIDE)
    if size is None:
        return np.ascontiguousarray(picture)
    return np.asarray(Image.fromarray(picture).resize(size, Image.Resampling.BOX))


def region_boxes(h: int, w: int) -> dict[str, tuple[int, int, int, int]]:
    """(top, bottom, left, right) of each half of an h x w picture."""
    return {
        "top": (0, h // 2, 0, w),
        "bottom": (h // 2, h, 0, w),
        "left": (0, h, 0, w // 2),
        "right": (0, h, w // 2, w),
    }


def region_views(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """The four halves of a frame, from the frame scaled down to fit REGION_SIDE. A logo or
    caption covering part of a frame usually leaves one half untouched, so a half still
    matches when the whole frame no longer does."""
    small = region_picture(rgb)
    return {
        name: small[top:bottom, left:right]
        for name, (top, bottom, left, right) in region_boxes(*small.shape[:2]).items()
    }


def region_hashes(picture: np.ndarray) -> dict[str, tuple[str, int]]:
    """PDQ (hex, quality) of each half (REGIONS) of `picture`, from one scaled-down copy."""
    small = region_picture(picture)
    return {name: pdq_of(small, box) for name, box in region_boxes(*small.shape[:2]).items()}


@dataclass(frozen=True)
class FrameHashes:
    """The hashes of one frame: whole (vPDQ's), inside black bars (None without bars), and
    of each half of the picture inside any bars (empty unless asked for)."""

    whole: tuple[str, int]
    inside: tuple[str, int] | None
    halves: dict[str, tuple[str, int]]
    box: tuple[int, int, int, int] | None  # (top, bottom, left, right) inside the bars
    # the whole frame's 7 other rotations/flips (DIHEDRAL's names), when asked for
    turned: dict[str, tuple[str, int]] = field(default_factory=dict)


def _whole_dihedral(rgb: np.ndarray) -> tuple[tuple[str, int], dict[str, tuple[str, int]]]:
    """The whole frame's PDQ and its 7 other rotations/flips, from one DCT."""
    h, w = rgb.shape[:2]
    raw, quality = pdq_kernel.hash_pixels(rgb, w, h, w * 3, 3, 0, 0, w, h, True)
    hexes = [raw[32 * i : 32 * (i + 1)].hex() for i in range(len(DIHEDRAL))]
    return (hexes[0], int(quality)), {
        name: (value, int(quality)) for name, value in zip(DIHEDRAL[1:], hexes[1:], strict=True)
    }


def frame_hashes(
    rgb: np.ndarray,
    *,
    inside: bool = True,
    halves: bool = False,
    dihedral: bool = False,
    grey: np.ndarray | None = None,
) -> FrameHashes:
    """Every hash Rempart keeps of one decoded frame (RGB uint8 HxWx3), sharing its pixels:
    the whole frame, the picture inside black bars (`inside`), its halves (`halves`), and
    the whole frame's other rotations/flips (`dihedral`, from the same DCT).

    The whole frame and the picture inside the bars are hashed from the RGB pixels (bit for
    bit Meta's vPDQ); the halves from the frame's grey copy (`grey`: the luma of `rgb`
    rounded, `DecodedFrame.grey()`, made here when not given), scaled down: a third of the
    work of scaling RGB. Her hashing page computes the same grey copy (`grey_of`'s
    arithmetic) and the same halves, bit for bit. Halves hashed before (from the RGB scaled
    down) lie within a few bits of these: matching is by distance, so older banks still
    match."""
    turned: dict[str, tuple[str, int]] = {}
    if dihedral:
        whole, turned = _whole_dihedral(np.ascontiguousarray(rgb))
    else:
        whole = pdq_of(rgb)
    box = content_box(rgb) if inside or halves else None
    trimmed = pdq_of(rgb, box) if inside and box is not None else None
    regions: dict[str, tuple[str, int]] = {}
    if halves:
        top, bottom, left, right = box if box is not None else (0, rgb.shape[0], 0, rgb.shape[1])
        if grey is None:
            picture = grey_of(rgb[top:bottom, left:right])
        else:
            picture = grey[top:bottom, left:right]
        regions = region_hashes(picture)
    return FrameHashes(whole, trimmed, regions, box, turned)


class _Stream:
    """Frames of one hash stream, dropping a frame within `distance` of the last one kept."""

    def __init__(self, distance: int | None) -> None:
        self.distance = distance
        self.frames: list[VpdqFrame] = []
        self._last = -1  # the last kept hash as an integer

    def add(self, frame: VpdqFrame) -> bool:
        value = int(frame.pdq_hex, 16)
        if (
            self.distance is not None
            and self._last >= 0
            and (self._last ^ value).bit_count() <= self.distance
        ):
            return False
        self.frames.append(frame)
        self._last = value
        return True

    def insert(self, frame: VpdqFrame) -> None:
        """A frame hashed after later ones (the robust stage's late pass), kept in frame order
        (after any frame of the same number) and never deduplicated."""
        bisect.insort(self.frames, frame, key=lambda f: f.frame)


class ExtraHashes(Protocol):
    """Extra per-frame hashes (the robust stage's, signals/video_variants): each stream is
    kept in VideoHashes.regions, deduplicated like the halves."""

    def __call__(self, frame: DecodedFrame, got: FrameHashes) -> Iterable[tuple[str, str, int]]:
        """(stream name, PDQ hex, quality) of one decoded frame, in order."""
        ...

    def finish(self) -> Iterable[tuple[int, float, str, str, int]]:
        """After the last frame: (frame number, time, stream, hex, quality) of earlier frames
        hashed again (a layout known only once several frames were seen)."""
        ...


def hash_frames(
    path: Path,
    *,
    seconds_per_frame: float = 1.0,
    dedupe_distance: int | None = DEDUPE_DISTANCE,
    progress: Callable[[float], None] | None = None,
    threads: int = 0,
    trimmed: list[VpdqFrame] | None = None,
    regions: dict[str, list[VpdqFrame]] | None = None,
    notes: list[str] | None = None,
    frame_hook: Callable[[float, np.ndarray], None] | None = None,
    extra: ExtraHashes | None = None,
    dihedral: bool = False,
) -> list[VpdqFrame]:
    """vPDQ frames of a video; with `trimmed` given, also fill it with inside-bars hashes,
    and with `regions` given, fill regions[name] with the hashes of each half (REGIONS) of
    the picture inside any bars.

    `dedupe_distance` None keeps every sampled frame (as vPDQ's reference output); otherwise
    each stream (whole frames, inside bars, each half) drops a frame within that distance of
    the last frame it kept. `progress` gets the timestamp (seconds) of each frame hashed.
    With `notes` given, a file that breaks off mid-way keeps the frames hashed before the
    break and a note says so; otherwise MediaError "truncated". `frame_hook(time, rgb)` sees
    every sampled frame (e.g. to look for faces). `extra(frame)` (with `regions`) adds named
    streams of hashes per frame, from the same decoded frame (`DecodedFrame.rgb()`/`grey()`
    convert once).
    """
    whole = _Stream(dedupe_distance)
    inside = _Stream(dedupe_distance)
    streams: dict[str, _Stream] = {name: _Stream(dedupe_distance) for name in REGIONS}
    sampled = iter_frames(path, seconds_per_frame=seconds_per_frame, threads=threads)
    while True:
        try:
            decoded = next(sampled)
        except StopIteration:
            break
        except MediaError as exc:
            if exc.reason != "truncated" or notes is None or not whole.frames:
                raise
            notes.append(exc.detail)
            break
        number, ts = decoded.number, decoded.time
        rgb = decoded.rgb()
        got = frame_hashes(
            rgb,
            inside=trimmed is not None,
            halves=regions is not None,
            dihedral=dihedral,
            grey=decoded.grey() if regions is not None else None,
        )
        if progress is not None:
            progress(ts)
        if frame_hook is not None:
            frame_hook(ts, rgb)
        whole.add(VpdqFrame(number, got.whole[1], got.whole[0], ts))
        if got.inside is not None:
            inside.add(VpdqFrame(number, got.inside[1], got.inside[0], ts))
        for name, (r_hex, r_quality) in got.halves.items():
            streams[name].add(VpdqFrame(number, r_quality, r_hex, ts))
        if extra is not None and regions is not None:
            for name, e_hex, e_quality in extra(decoded, got):
                stream = streams.get(name)
                if stream is None:
                    stream = streams[name] = _Stream(dedupe_distance)
                stream.add(VpdqFrame(number, e_quality, e_hex, ts))
    if extra is not None and regions is not None:
        for number, ts, name, e_hex, e_quality in extra.finish():
            if name not in streams:
                streams[name] = _Stream(dedupe_distance)
            streams[name].insert(VpdqFrame(number, e_quality, e_hex, ts))
    if trimmed is not None:
        trimmed.extend(inside.frames)
    if regions is not None:
        for name, stream in streams.items():
            regions[name] = stream.frames
    return whole.frames


def hash_video_file(
    path: Path,
    *,
    seconds_per_frame: float = 1.0,
    progress: Callable[[float], None] | None = None,
    threads: int = 0,
    allow_truncated: bool = False,
    dedupe_distance: int | None = DEDUPE_DISTANCE,
    regions: bool = False,
    frame_hook: Callable[[float, np.ndarray], None] | None = None,
    info: VideoInfo | None = None,
    digests: tuple[str, str] | None = None,
    robust: str | None = None,
) -> VideoHashes:
    """MD5, SHA-256 and vPDQ frames of a video file. MediaError (naming it) when unusable.

    `robust` (with `regions`): the robust stage's per-frame hashes (signals/video_variants)
    in `regions` beside the halves: "query" a scanned copy's (rotations/flips, the picture
    inside a frame, insets), "stored" hers (centre crops).

    A file that breaks off before its announced duration raises MediaError "truncated",
    unless `allow_truncated`: then the frames decoded before the break are kept, with a note.
    `info` (probe_video's) and `digests` (MD5, SHA-256) are used when the caller already has
    them, so the file is not probed or read twice.
    """
    info = info or probe_video(path)
    trimmed: list[VpdqFrame] = []
    halves: dict[str, list[VpdqFrame]] | None = {} if regions else None
    notes: list[str] = []
    seen = [0.0]  # timestamp of the last frame decoded (kept or not)

    def on_frame(ts: float) -> None:
        seen[0] = ts
        if progress is not None:
            progress(ts)

    frames = hash_frames(
        path,
        seconds_per_frame=seconds_per_frame,
        progress=on_frame,
        threads=threads,
        trimmed=trimmed,
        regions=halves,
        dedupe_distance=dedupe_distance,
        notes=notes if allow_truncated else None,
        frame_hook=frame_hook,
        extra=video_variants.extra_hashes(robust) if regions else None,
        dihedral=bool(regions) and robust == "query",
    )
    last = seen[0]
    slack = max(2.0, 2 * seconds_per_frame, 0.1 * (info.duration or 0.0))
    if info.duration and last < info.duration - slack:
        detail = f"decoded up to {last:.1f} s of {info.duration:.1f} s: the file is cut short"
        if not allow_truncated:
            raise MediaError(path, "truncated", detail)
        notes.append(detail)
    md5, sha256 = digests or file_digests(path)
    return VideoHashes(
        md5,
        sha256,
        tuple(frames),
        info.duration,
        info.width,
        info.height,
        tuple(trimmed),
        tuple(notes),
        {name: tuple(fs) for name, fs in (halves or {}).items()},
        seconds_per_frame,
    )


# This module's signal types (declared in signals/types.py's registry).
SIGNAL_TYPES = (VPDQ, VPDQ_REGION)
