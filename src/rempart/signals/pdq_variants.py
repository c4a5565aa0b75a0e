"""Several PDQ hashes per picture, so that crops, rotations, pads and partial edits still
share a hash with the original.

A whole-image PDQ hash moves by 20 to 30 bits for a 2% change of framing or a 1 degree
rotation, and by 100+ bits when part of the picture is replaced. So:

- the **stored** side (computed by `rempart hash` on the victim's device) keeps, next to the
  whole-image hash, hashes of centre crops at several scales, of rotated copies cut to fill
  the frame (as photo editors straighten), and of fixed regions (the upper
  bands where a "nudified" photo keeps face, hair and background; halves; the centre);
- the **query** side (every scanned picture) adds the hash of the picture found inside its
  borders (pads, letterbox, screenshot frame: `signals.borders`; a picture inside a phone's
  screenshot, between text lines as wide as itself: `picture_box`), of a rotated picture turned
  back upright (when its tilt can be read off the corners the rotation left), and of the same
  fixed regions, so that region meets region.

Which query variant may meet which stored variant is `compatible`; the thresholds are in
`scan.robust`. Everything is computed on one copy of at most WORK_SIDE pixels (PDQ works on a
64x64 reduction, so this changes a hash by a few bits at most and costs a fraction of the
full-size hash). Pictures under MIN_SIDE pixels, or with too little detail, get no variants.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from rempart.signals import resample
from rempart.signals.borders import ContentBox, content_box
from rempart.signals.pdq import MIN_QUALITY, Box, Luma, PdqHash, pdq_dihedral, pdq_hash
from rempart.signals.types import PDQ_VARIANT

WORK_SIDE = 512
REGION_SIDE = 256
MIN_SIDE = 64  # below this, "not enough content" for variants
MIN_TILT = 0.75  # degrees: a smaller tilt is left as it is

# Stored: centre crops (fraction of each side kept) and rotations cut to fill the frame
# (degrees, counter-clockwise). A rotation that leaves corners is turned back on the query
# side instead (`deskew`), whatever its angle.
CROP_SCALES = (0.95, 0.9, 0.85, 0.8, 0.75)
ANGLES = (-9, -6, -3, 3, 6, 9)
# Both sides: regions as (left, top, right, bottom) fractions of the picture
REGIONS: dict[str, tuple[float, float, float, float]] = {
    "top20": (0.0, 0.0, 1.0, 0.2),
    "top33": (0.0, 0.0, 1.0, 1 / 3),
    "top50": (0.0, 0.0, 1.0, 0.5),
    "bottom50": (0.0, 0.5, 1.0, 1.0),
    "left50": (0.0, 0.0, 0.5, 1.0),
    "right50": (0.5, 0.0, 1.0, 1.0),
    "centre50": (0.25, 0.25, 0.75, 0.75),
}
MIRROR_NAMES = {"left50": "right50", "right50": "left50"}  # the other regions are symmetric
WHOLE_KINDS = frozenset({"pdq", "crop", "rotation", "trimmed", "deskewed"})


@dataclass(frozen=True)
class Variant:
    kind: str  # stored: crop, rotation, region; query: trimmed, deskewed, region
    name: str  # crop90, rot-6, top33; for trimmed and deskewed: the dihedral transform
    hash: PdqHash


def work_copy(image: Image.Image) -> Image.Image:
    """An RGB copy of at most WORK_SIDE pixels a side (media.reduce.reduce_to's pixels,
    from the signals.resample kernel)."""
    return resample.reduce_to(image.convert("RGB") if image.mode != "RGB" else image, WORK_SIDE)


def _pixel_box(size: tuple[int, int], box: tuple[float, float, float, float]) -> Box:
    w, h = size
    return (round(box[0] * w), round(box[1] * h), round(box[2] * w), round(box[3] * h))


def _crop(image: Image.Image, box: tuple[float, float, float, float]) -> Image.Image:
    return image.crop(_pixel_box(image.size, box))


def _keep(kind: str, name: str, h: PdqHash, out: list[Variant]) -> None:
    if h.quality >= MIN_QUALITY:
        out.append(Variant(kind, name, h))


def _keep_turned(kind: str, image: Image.Image, out: list[Variant]) -> None:
    """A whole-picture query variant under the 8 rotations/flips (one DCT), each named by
    its transform: a mirrored copy inside a frame meets the original too."""
    for name, h in pdq_dihedral(image):
        _keep(kind, name, h, out)


def _regions(image: Image.Image, out: list[Variant], mirrored: bool = False) -> None:
    """Region hashes, on a copy of at most REGION_SIDE pixels (both sides do the same, and
    it costs a quarter of the full work copy). With `mirrored` (found pictures), also each
    region's mirror image, from the same DCT, named as the region of the original that it
    is if the found picture is a mirrored copy (left and right swap)."""
    if max(image.size) > REGION_SIDE:
        s = REGION_SIDE / max(image.size)
        image = resample.resize(  # Pillow's BILINEAR, pixel for pixel
            image, (max(1, round(image.width * s)), max(1, round(image.height * s)))
        )
    luma = Luma(image)  # one luma for every region: each is a rectangle of it
    for name, box in REGIONS.items():
        region = _pixel_box(image.size, box)
        if not mirrored:
            _keep("region", name, luma.hash(region), out)
            continue
        turned = dict(luma.dihedral(region))
        _keep("region", name, turned["original"], out)
        _keep("mirrored-region", MIRROR_NAMES.get(name, name), turned["flip_horizontal"], out)


def rotate_filled(image: Image.Image, degrees: float) -> Image.Image:
    """Rotated (counter-clockwise) and cut to the largest centred box of the same shape that
    holds no corner: how photo editors straighten or tilt a picture."""
    w, h = image.size
    a = math.radians(abs(degrees))
    c, s = math.cos(a), math.sin(a)
    scale = min(w / (w * c + h * s), h / (w * s + h * c))
    m = (1 - scale) / 2
    rotated = image.rotate(degrees, resample=Image.Resampling.BILINEAR)
    return _crop(rotated, (m, m, 1 - m, 1 - m))


def too_small(image: Image.Image) -> bool:
    return min(image.size) < MIN_SIDE


def stored_variants(image: Image.Image) -> list[Variant]:
    """The extra hashes kept for a banked picture (the whole-image PDQ is kept apart)."""
    if too_small(image):
        return []
    work = work_copy(image)
    out: list[Variant] = []
    for s in CROP_SCALES:
        m = (1 - s) / 2
        _keep("crop", f"crop{round(s * 100)}", pdq_hash(_crop(work, (m, m, 1 - m, 1 - m))), out)
    for a in ANGLES:
        _keep("rotation", f"rot{a:+d}", pdq_hash(rotate_filled(work, a)), out)
    _regions(work, out)
    return out


def deskew(work: Image.Image) -> Image.Image | None:
    """A picture rotated with `expand` (corner triangles of one flat colour around it)
    turned back upright and cut to its inside; None when it shows no such tilt."""
    grey = np.asarray(work.convert("L"), dtype=np.int16)
    h, w = grey.shape
    corners = [int(grey[y, x]) for y, x in ((0, 0), (0, -1), (-1, 0), (-1, -1))]
    if max(corners) - min(corners) > 8:
        return None  # the four corners are not one flat colour
    content = (np.abs(grey - int(np.median(corners))) > 12).astype(np.uint8)
    # the corner triangles must be there: each image corner is outside the picture
    k = max(2, min(w, h) // 40)
    if any(
        content[sl].any()
        for sl in (
            (slice(0, k), slice(0, k)),
            (slice(0, k), slice(-k, None)),
            (slice(-k, None), slice(0, k)),
            (slice(-k, None), slice(-k, None)),
        )
    ):
        return None
    points = cv2.findNonZero(content)
    if points is None or len(points) < 0.3 * w * h:
        return None
    (cx, cy), (rw, rh), angle = cv2.minAreaRect(points)
    while angle > 45:  # OpenCV's range for the angle changed between versions
        angle, rw, rh = angle - 90, rh, rw
    while angle <= -45:
        angle, rw, rh = angle + 90, rh, rw
    if abs(angle) < MIN_TILT or abs(angle) > 45 or min(rw, rh) < MIN_SIDE:
        return None
    upright = work.rotate(angle, resample=Image.Resampling.BILINEAR, center=(cx, cy))
    # a pixel inset: the rotated edges are blended with the corner colour
    return upright.crop(
        (
            round(cx - rw / 2) + 2,
            round(cy - rh / 2) + 2,
            round(cx + rw / 2) - 2,
            round(cy + rh / 2) - 2,
        )
    )


# A picture shown inside an app's screen (a phone's screenshot: status bar, header, text
# above and below, the picture at 80-95% of the width) is an axis-aligned rectangle whose
# four sides are long straight steps against the screen around it. `picture_box` looks for
# it when the border walk found borders but maybe not all of them (text bands closer to
# the picture than the walk crosses, an input bar with text).
EDGE_LEVELS = 10  # a step of at least this many grey levels between neighbouring pixels
EDGE_SPAN = 0.4  # an edge spans at least this share of the picture's width (height)
EDGE_FILL = 0.85  # ... with a step on at least this share of its pixels
EDGE_SLACK = 2  # pixels: the two sides' ends agree within this


def _long_steps(steps: np.ndarray, span: int) -> list[tuple[int, int, int]]:
    """(line, start, end) of lines whose steps cover a straight run of at least `span`
    pixels, nearly without a gap: the longest such run of each line."""
    out = []
    counts = steps.sum(axis=1)
    for y in np.flatnonzero(counts >= span * EDGE_FILL):
        row = np.concatenate([[0], steps[y].astype(np.int32), [0]])
        # runs of steps with gaps of at most 2 pixels closed
        idx = np.flatnonzero(row[1:-1])
        if idx.size == 0:
            continue
        breaks = np.flatnonzero(np.diff(idx) > 3)
        starts = np.concatenate([[idx[0]], idx[breaks + 1]])
        ends = np.concatenate([idx[breaks], [idx[-1]]]) + 1
        k = int(np.argmax(ends - starts))
        if ends[k] - starts[k] >= span:
            out.append((int(y) + 1, int(starts[k]), int(ends[k])))
    return out


def _rectangles(
    steps: np.ndarray, across: np.ndarray, span: float
) -> tuple[int, int, int, int] | None:
    """The largest rectangle (start, first line, end, last line) bounded by two parallel
    long steps (`steps`: between lines) that start or end together (a picture's side can
    fade into the screen around it for a while), whose two other sides are steps over at
    least half their length (`across`: between the pixels of a line)."""
    n, m = steps.shape
    lines = _long_steps(steps, round(span * m))
    best, area = None, 0
    for i, (first, s0, e0) in enumerate(lines):
        for last, s1, e1 in lines[i + 1 :]:
            if abs(s0 - s1) > EDGE_SLACK and abs(e0 - e1) > EDGE_SLACK:
                continue
            start, end = min(s0, s1), max(e0, e1)
            a = (end - start) * (last - first)
            if a <= area or a > 0.95 * n * m or a < 0.1 * n * m or last - first < 16:
                continue
            sides = (
                across[first:last, max(0, start - 2) : start + 1].any(axis=1).mean(),
                across[first:last, max(0, end - 2) : end + 1].any(axis=1).mean(),
            )
            if min(sides) >= 0.5:
                best, area = (start, first, end, last), a
    return best


def picture_box(work: Image.Image) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) of the largest rectangle in `work` bounded by long
    straight steps (two parallel sides whole, the two others over half their length),
    between 10% and 95% of its area; None when there is none. The left and right sides
    are looked for first: an app's text lines can be as wide as the picture, never as
    tall."""
    grey = np.asarray(work.convert("L"), dtype=np.int16)
    down = np.abs(np.diff(grey, axis=0)) >= EDGE_LEVELS  # between rows: (h - 1, w)
    right = np.abs(np.diff(grey, axis=1)) >= EDGE_LEVELS  # between columns: (h, w - 1)
    if (c := _rectangles(right.T, down.T, EDGE_SPAN / 2)) is not None:
        return (c[1], c[0], c[3], c[2])
    return _rectangles(down, right, EDGE_SPAN)


def query_variants(image: Image.Image, box: ContentBox | None = None) -> list[Variant]:
    """The extra hashes computed for a scanned picture: inside its borders, and regions (of
    the inside, when it has borders)."""
    if too_small(image):
        return []
    work = work_copy(image)
    box = box or content_box(work)
    out: list[Variant] = []
    inside = work
    if box.trimmed and not box.mostly_border:
        inside = _crop(work, box.relative())
        if (found := picture_box(work)) is not None:
            picture = work.crop(found)
            if not too_small(picture) and picture.size != inside.size:
                _keep_turned("trimmed", picture, out)
                inside = picture
        if not too_small(inside):
            _keep_turned("trimmed", inside, out)
        else:
            inside = work
    elif (upright := deskew(work)) is not None:
        _keep_turned("deskewed", upright, out)
    _regions(inside, out, mirrored=True)
    return out


def compatible(query_kind: str, query_name: str, stored_kind: str, stored_name: str) -> bool:
    """Whether a query variant may be compared with a stored one: whole pictures (as found,
    inside borders, turned upright) with whole pictures, crops and rotations; a region (or
    a mirrored one) only with the same region."""
    if query_kind in ("region", "mirrored-region") or stored_kind == "region":
        return (
            stored_kind == "region"
            and query_kind in ("region", "mirrored-region")
            and (query_name == stored_name)
        )
    return query_kind in WHOLE_KINDS and stored_kind in WHOLE_KINDS


# This module's signal types (declared in signals/types.py's registry).
SIGNAL_TYPES = (PDQ_VARIANT,)
