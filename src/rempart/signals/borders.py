"""Normalisation before hashing: find the picture inside borders, pads, letterboxes and
screenshot frames.

A re-shared copy is often the victim's photo inside something: black or white pads, a blurred
enlarged copy of itself behind it (the "blurred pad" of social apps), letterbox bars, or a
screenshot's status bar, header and footer. The whole-image hash of such a copy is far from the
original's; the hash of the picture inside is close.

`content_box` walks in from each side while the rows (or columns) are *border-like*: nearly
every pixel is flat, that is its local gradient is small, both in absolute terms and compared
with the content in the middle of the picture. A row with a line of text on a flat bar is
still border-like (text covers few of its pixels); a row of the photo is not. It never trims
to less than `MIN_KEEP` of a side, and says when a picture is mostly border.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from rempart.signals import resample

WORK_SIDE = 384  # the analysis runs on a copy this size (the box is returned in full size)
MIN_KEEP = 0.3  # a box is at least this fraction of the width and of the height
FLAT_SHARE = 0.9  # a border row: at least this share of its pixels is flat
MIN_TRIM = 0.02  # trims smaller than this fraction of a side are ignored (noise, JPEG edges)
GAP = 0.05  # a band of detail this thin (fraction of a side) inside a border is border
STEP_MIN = 4.0  # a pad's edge: a step of at least this many grey levels between two lines
STEP_RATIO = 4.0  # ... and this many times the steps around it


@dataclass(frozen=True)
class ContentBox:
    """Where the picture is, in pixels of the full image: (left, top, right, bottom)."""

    box: tuple[int, int, int, int]
    size: tuple[int, int]
    mostly_border: bool = False  # the content would be under MIN_KEEP of a side

    @property
    def trimmed(self) -> bool:
        return self.box != (0, 0, *self.size)

    def relative(self) -> tuple[float, float, float, float]:
        w, h = self.size
        left, top, right, bottom = self.box
        return (left / w, top / h, right / w, bottom / h)


def _luma(image: Image.Image) -> tuple[np.ndarray, float, float]:
    w, h = image.size
    scale = min(1.0, WORK_SIDE / max(w, h))
    size = (w, h) if scale == 1.0 else (max(1, round(w * scale)), max(1, round(h * scale)))
    # Pillow's BILINEAR copy in grey (L), pixel for pixel, from the signals.resample kernel
    grey = resample.resize_grey(image, size).astype(np.float32)
    return grey, grey.shape[1] / w, grey.shape[0] / h


def _flat_mask(grey: np.ndarray) -> np.ndarray:
    """Pixels without detail: small second derivative (Laplacian, after a light blur that
    removes noise and JPEG ringing), in absolute terms and against the picture's middle.
    Solid pads, bars and blurred pads have none; a photo's texture and edges have it."""
    h, w = grey.shape
    # sums of 3x3 whole grey levels: exact in float32 whatever the order of the additions
    taps = cv2.boxFilter(grey, -1, (3, 3), normalize=False, borderType=cv2.BORDER_REPLICATE)
    blur = taps / np.float32(9.0)
    q = cv2.copyMakeBorder(blur, 1, 1, 1, 1, cv2.BORDER_REPLICATE)
    lap = np.abs(4 * blur - q[:-2, 1:-1] - q[2:, 1:-1] - q[1:-1, :-2] - q[1:-1, 2:])
    middle = lap[h // 4 : h - h // 4, w // 4 : w - w // 4]
    reference = float(np.quantile(middle, 0.75)) if middle.size else 0.0
    limit = max(0.75, min(3.0, 0.25 * reference))
    return np.asarray(lap <= limit)


def _edge(lines: np.ndarray, guess: int, reach: int) -> int | None:
    """The exact edge near `guess` (index of the first line past the border), where
    consecutive full-size lines differ the most; None unless that step is a clear, straight
    one (a pad's edge, not a soft transition inside the photo)."""
    lo, hi = max(1, guess - reach), min(len(lines) - 1, guess + reach)
    if hi - lo < 3:
        return None
    steps = np.abs(np.diff(lines[lo - 1 : hi + 1], axis=0)).mean(axis=1)
    k = int(np.argmax(steps))
    rest = np.delete(steps, range(max(0, k - 1), min(len(steps), k + 2)))
    background = float(np.median(rest)) if rest.size else 0.0
    if steps[k] < STEP_MIN or steps[k] < STEP_RATIO * (background + 0.5):
        return None
    return lo + k


def _walk(flat_share: np.ndarray) -> int:
    """How many lines from the start are border-like; a thin band of detail inside the
    border (a line of text, the edge between a bar and a margin) is part of it when a run
    of border-like lines follows within GAP."""
    flat = flat_share >= FLAT_SHARE
    n = len(flat)
    gap = max(3, int(GAP * n))
    i = end = 0
    while i < n:
        if flat[i]:
            i += 1
            end = i
            continue
        nxt = next((j for j in range(i + 1, min(n - 2, i + gap)) if flat[j : j + 3].all()), None)
        if nxt is None:
            break
        i = nxt
    return end


def content_box(image: Image.Image) -> ContentBox:
    """The box of the picture inside its borders (the whole image when it has none)."""
    w, h = image.size
    whole = ContentBox((0, 0, w, h), (w, h))
    if w < 16 or h < 16:
        return whole
    grey, sx, sy = _luma(image)
    flat = _flat_mask(grey)
    gh, gw = flat.shape
    # coarse: border-like lines from each side, on the work copy
    rows, cols = flat.mean(axis=1), flat.mean(axis=0)
    top, bottom = _walk(rows), gh - _walk(rows[::-1])
    left, right = _walk(cols), gw - _walk(cols[::-1])
    if bottom - top < MIN_KEEP * gh or right - left < MIN_KEEP * gw:
        # a (nearly) flat picture, or one that is mostly border
        return ContentBox((0, 0, w, h), (w, h), mostly_border=True)
    trims = (
        top >= MIN_TRIM * gh,
        gh - bottom >= MIN_TRIM * gh,
        left >= MIN_TRIM * gw,
        gw - right >= MIN_TRIM * gw,
    )
    if not any(trims):  # no side to trim (most photos): no full-size grey copy needed
        return whole
    # fine: each candidate edge put on the sharpest straight step nearby, in full size
    full = np.asarray(image.convert("L"), dtype=np.float32)
    reach = int(3 / min(sx, sy)) + 2
    x0, x1 = round(left / sx), round(right / sx)
    y0, y1 = round(top / sy), round(bottom / sy)
    span_rows = full[:, x0:x1] if x1 - x0 >= 8 else full
    span_cols = (full[y0:y1, :] if y1 - y0 >= 8 else full).T
    box = [0, 0, w, h]
    if trims[0] and (e := _edge(span_rows, y0, reach)) is not None:
        box[1] = e
    if trims[1] and (e := _edge(span_rows, y1, reach)) is not None:
        box[3] = e
    if trims[2] and (e := _edge(span_cols, x0, reach)) is not None:
        box[0] = e
    if trims[3] and (e := _edge(span_cols, x1, reach)) is not None:
        box[2] = e
    if box[2] - box[0] < MIN_KEEP * w or box[3] - box[1] < MIN_KEEP * h:
        return ContentBox((0, 0, w, h), (w, h), mostly_border=True)
    return ContentBox((box[0], box[1], box[2], box[3]), (w, h))
