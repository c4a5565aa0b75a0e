"""The robust stage for videos: per-frame hashes that survive mirroring, frames, crops and
picture-in-picture (issue 21 item 2).

Whole-frame vPDQ misses a re-posted video that is mirrored, shown inside a blurred vertical
frame, cropped, or shown small in a corner of another video: each moves every frame's PDQ
far beyond the threshold. Photos have a robust stage for this (docs/matching.md); this module
gives video frames the same ideas, within a video's budget (many frames):

- scan side, per sampled frame (`ScanStage`): the 8 rotations/flips of the whole frame from
  one DCT (the PDQ kernel's dihedral output costs what one hash costs); the picture inside a
  frame or border (blurred pads, solid pads, bars), with its 8 rotations/flips (and its
  centred twin); and an inset in a corner (picture-in-picture), hashed as it stands. Where
  they lie is `signals.video_layout`'s job (found on a small grey copy, refined on the full
  frame, steadied over frames); this module looks on the first frames and then every few,
  hashes, and at the end hashes the first frames again where the layout settled;
- bank side, per frame of hers (`bank_hashes`): centre crops (CROPS), hashed from a grey
  copy scaled to fit BANK_SIDE, kept per frame and deduplicated like her frames (stored as
  "vpdq-region" signals named by the crop, so existing banks and readers are unchanged).

Each hash is a stream named `KIND/NAME` ("whole/flip_horizontal", "frame/original",
"pip/top-right") or a crop's name; `vpdq.hash_frames` keeps them in `VideoHashes.regions`
beside the halves, and `scan.video_match` matches them per method with a consistency check
(same transform across frames, monotone time).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rempart.media.video import grey_of
from rempart.signals import _pdq as pdq_kernel
from rempart.signals import video_layout as layout
from rempart.signals.pdq import DIHEDRAL

if TYPE_CHECKING:  # vpdq calls this module (its hooks); types only, no import circle
    from rempart.media.video import DecodedFrame
    from rempart.signals.vpdq import ExtraHashes, FrameHashes

# Bank side: centre crops (share of each side kept), 5% and 10% off each side; a crop of 2%
# already moves PDQ by 20-30 bits, one of 10% by 60+.
CROPS: tuple[tuple[str, float], ...] = (("crop90", 0.9), ("crop80", 0.8))
CROP_NAMES = tuple(name for name, _ in CROPS)
BANK_DEDUPE = 8  # = vpdq.BANK_DEDUPE_DISTANCE (her frames' deduplication)
BANK_SIDE = 384  # crops are hashed from the frame scaled to fit this (as the halves)
# The layout is looked for on the first SETTLE_FRAMES sampled frames, then on every
# ANALYSE_EVERY-th; the first KEEP_FRAMES frames (at most KEEP_PIXELS grey pixels in all: 12
# frames of 1080p) are kept for the late pass.
SETTLE_FRAMES = 8
ANALYSE_EVERY = 4
KEEP_FRAMES = 12
KEEP_PIXELS = 12 * 1920 * 1080

Hashed = tuple[str, str, int]  # (stream name, PDQ hex, quality)
Box = layout.Box


def pdq_box(rgb: np.ndarray, box: Box, dihedral: bool = False) -> tuple[list[str], int]:
    """PDQ hex of the rectangle `box` of a C-contiguous RGB (or grey: 2-D) frame, where it lies
    (no copy); with `dihedral`, its 8 rotations/flips in DIHEDRAL's order from one DCT."""
    h, w = rgb.shape[:2]
    cn = 1 if rgb.ndim == 2 else 3
    left, top, right, bottom = box
    raw, quality = pdq_kernel.hash_pixels(rgb, w, h, w * cn, cn, left, top, right, bottom, dihedral)
    return [raw[i : i + 32].hex() for i in range(0, len(raw), 32)], int(quality)


@dataclass
class _Kept:
    """A frame of the start of the video, kept for the late pass: its grey pixels and the
    boxes its hashes were made of (None: no hash)."""

    number: int
    time: float
    grey: np.ndarray
    hashed: dict[str, Box | None]


class ScanStage:
    """The scan side's robust hashes of one video's sampled frames, in order (one instance
    per video: the layout found on earlier frames steadies the later ones).

    The frame box and the insets are looked for on the first SETTLE_FRAMES frames and then on
    every ANALYSE_EVERY-th: a re-post's layout does not move, and the looking costs more than
    the hashing; the frames between are hashed where the layout steadily was. The first
    frames are kept (KEEP_PIXELS of grey in all) until `finish`, which hashes them again
    where the layout settled when they were hashed elsewhere or not at all: a layout is
    seldom clear on the first frame, and a short clip has few frames to lose."""

    def __init__(self) -> None:
        self.frame = layout.Votes()
        self.insets = {corner: layout.Votes() for corner in layout.CORNERS}
        self.count = 0
        self.kept: list[_Kept] = []
        self.kept_pixels = 0

    def hashes(
        self,
        grey: np.ndarray,
        bars: tuple[int, int, int, int] | None = None,
        number: int = 0,
        time: float = 0.0,
    ) -> list[Hashed]:
        """The robust hashes of one sampled frame (its luma), but the whole frame's
        rotations/flips (those come with its hash, `vpdq.frame_hashes`): the picture inside
        a frame or border under all 8 ("frame/NAME"; also centred, when the box is not),
        and insets in corners ("pip/CORNER"), each where this frame shows one (or the layout
        persists: `video_layout.Votes`), at the place most frames so far showed it. Hashed
        from the grey frame (the PDQ kernel's luma, rounded: within a bit or two of the RGB's
        hash). A frame that is only black bars (`bars`: vpdq's (top, bottom, left, right)) is
        left to the inside-bars hash and the whole frame's flips. `number` and `time` are kept
        with the first frames for the late pass (`finish`)."""
        h, w = grey.shape
        grey = np.ascontiguousarray(grey)
        tol = layout.tolerance(w, h)
        hashed: dict[str, Box | None] = {}
        if self.count < SETTLE_FRAMES or self.count % ANALYSE_EVERY == 0:
            small = layout.small_grey(grey)
            reach = tol + 2
            box = layout.frame_box(small, (w, h))
            if box is not None and bars is not None and _same_box(box, bars, w, h):
                box = None
            if box is not None:
                box = layout.refine(grey, box, reach)
            hashed["frame"] = self.frame.add(box, tol)
            weak: dict[str, tuple[bool, bool, bool, bool]] = {}
            found = layout.pip_boxes(small, (w, h), weak)
            for corner, votes in self.insets.items():
                inset = found.get(corner)
                if inset is not None:
                    inset = layout.refine(grey, inset, reach)
                hashed[corner] = votes.add(inset, tol, weak.get(corner, (False,) * 4))
        else:
            hashed["frame"] = self.frame.steady()
            for corner, votes in self.insets.items():
                hashed[corner] = votes.steady()
        self.count += 1
        size = grey.size
        if self.count <= KEEP_FRAMES and self.kept_pixels + size <= KEEP_PIXELS:
            self.kept.append(_Kept(number, time, grey, hashed))
            self.kept_pixels += size
        return self._hash(grey, hashed)

    def _hash(self, grey: np.ndarray, boxes: Mapping[str, Box | None]) -> list[Hashed]:
        h, w = grey.shape
        out: list[Hashed] = []
        for key, box in boxes.items():
            if box is None:
                continue
            if key != "frame":
                (value,), q = pdq_box(grey, box)
                out.append((f"pip/{key}", value, q))
                continue
            twin = layout.centred(box, w, h)
            tol = layout.tolerance(w, h)
            for b in (box,) if layout.near(twin, box, tol) else (box, twin):
                inner, q = pdq_box(grey, b, dihedral=True)
                out += [(f"frame/{n}", v, q) for n, v in zip(DIHEDRAL, inner, strict=True)]
        return out

    def finish(self) -> list[tuple[int, float, str, str, int]]:
        """The late pass: (frame number, time, stream, hex, quality) of the kept first frames
        hashed again where the layout settled, when they were hashed elsewhere or not at
        all."""
        final = {"frame": self.frame.steady()}
        final.update({corner: votes.steady() for corner, votes in self.insets.items()})
        out: list[tuple[int, float, str, str, int]] = []
        for kept in self.kept:
            h, w = kept.grey.shape
            tol = layout.tolerance(w, h)
            redo = {
                key: box
                for key, box in final.items()
                if box is not None and not layout.near(box, kept.hashed.get(key), tol)
            }
            out += [(kept.number, kept.time, *got) for got in self._hash(kept.grey, redo)]
        self.kept.clear()
        return out


def _same_box(box: Box, bars: tuple[int, int, int, int], w: int, h: int) -> bool:
    """Whether a frame box (left, top, right, bottom) is the black bars' (top, bottom, left,
    right) box, within 2% of each side."""
    top, bottom, left, right = bars
    return all(
        abs(a - b) <= 0.02 * side
        for a, b, side in zip(box, (left, top, right, bottom), (w, h, w, h), strict=True)
    )


def bank_hashes(picture: np.ndarray) -> list[Hashed]:
    """The bank side's robust hashes of one frame of hers: its centre crops (CROPS), from its
    grey copy (`DecodedFrame.grey()`, the one the halves use; an RGB frame is made grey first,
    as `media.video.grey_of`) scaled to fit BANK_SIDE. Grey, not RGB: the scaling, most of the
    crops' cost, is a third of the work (crops from RGB, as banks made before hold, are
    within a few bits of these: docs/video.md)."""
    small = layout.scaled(grey_of(picture) if picture.ndim == 3 else picture, BANK_SIDE)
    sh, sw = small.shape[:2]
    out: list[Hashed] = []
    for name, keep in CROPS:
        dy, dx = round(sh * (1 - keep) / 2), round(sw * (1 - keep) / 2)
        (value,), q = pdq_box(small, (dx, dy, sw - dx, sh - dy))
        out.append((name, value, q))
    return out


class _ScanExtra:
    def __init__(self) -> None:
        self.stage = ScanStage()

    def __call__(self, frame: DecodedFrame, got: FrameHashes) -> list[Hashed]:
        turned = [(f"whole/{name}", value, q) for name, (value, q) in got.turned.items()]
        return turned + self.stage.hashes(frame.grey(), got.box, frame.number, frame.time)

    def finish(self) -> list[tuple[int, float, str, str, int]]:
        return self.stage.finish()


class _BankExtra:
    """Her frames' crops, computed only for frames that moved: a frame whose whole hash is
    within BANK_DEDUPE bits of the last one cropped would give crops the deduplication drops."""

    def __init__(self) -> None:
        self.last = -1

    def __call__(self, frame: DecodedFrame, got: FrameHashes) -> list[Hashed]:
        value = int(got.whole[0], 16)
        if self.last >= 0 and (self.last ^ value).bit_count() <= BANK_DEDUPE:
            return []
        self.last = value
        return bank_hashes(frame.grey())

    def finish(self) -> list[tuple[int, float, str, str, int]]:
        return []


def extra_hashes(robust: str | None) -> ExtraHashes | None:
    """vpdq's per-frame hook for the robust stage: "query" (a scanned copy), "stored" (hers),
    None (none)."""
    if robust == "query":
        return _ScanExtra()  # one per video
    return _BankExtra() if robust == "stored" else None


def stream_kind(name: str) -> str:
    """The kind of a robust stream: whole, frame, pip, crop; "" for anything else (the
    halves and unknown names)."""
    if name in CROP_NAMES:
        return "crop"
    kind, sep, _ = name.partition("/")
    return kind if sep and kind in ("whole", "frame", "pip") else ""


def transform_of(name: str) -> str:
    """The rotation/flip or corner a scan-side stream is under ("original" for the rest)."""
    return name.partition("/")[2] or "original"


def is_flipped(names: Sequence[str]) -> bool:
    return any(n in ("flip_horizontal", "flip_vertical", "transpose", "transverse") for n in names)
