"""Where the picture lies in a re-posted video's frame: inside a frame or border, or as an
inset in a corner (picture-in-picture), found on a small grey copy, put on the full-size
frame's own pixels, and steadied over the video's frames.

The robust stage (signals/video_variants) hashes what this finds: a re-post inside a blurred
vertical frame or shown small in a corner of another video is far from her frames as a whole,
and near them once cut where the picture lies. Kept apart from the hashing: this is image
analysis (straight steps, flat borders, votes over frames), with its own constants and tests,
and the size of every scaled frame copy (`fit_size`, `scaled`) that the halves, the crops and
her page share.
"""

from __future__ import annotations

from collections import Counter

import cv2
import numpy as np

from rempart.signals import borders

Box = tuple[int, int, int, int]  # (left, top, right, bottom) in pixels

# Scan side: the frame and inset analysis runs on a grey copy this size (longest side).
WORK_SIDE = 256
FRAME_MIN_KEEP = 0.15  # the picture inside a frame is at least this share of each side
EDGE_REACH = 8  # each edge is put on the sharpest straight step this near (small copy's px)
# Picture-in-picture: an inset's inner edges lie within this share of the middle of each
# side (insets of about 30% to 70% of the frame's width and height), and are straight steps
# of at least PIP_STEP grey levels on most of their length, PIP_RATIO times the typical step.
PIP_MIDDLE = (0.3, 0.7)
PIP_OUTER = 0.15  # an inset's outer edges lie within this share of the frame's edges
PIP_STEP = 6.0
PIP_RATIO = 3.0
CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")
# An inset not seen on a frame is still hashed where it was when this many frames, and at
# least half of the frames so far, showed it.
PERSIST_SEEN = 2


def fit_size(w: int, h: int, side: int) -> tuple[int, int] | None:
    """(width, height) of a w x h picture scaled down to fit `side` pixels (at least 2 a
    side), or None when it fits already: the size of every scaled frame copy (crops, halves,
    the stage's work copies; her page's fitSize)."""
    scale = side / max(h, w)
    if scale >= 1:
        return None
    return max(2, round(w * scale)), max(2, round(h * scale))


def scaled(pixels: np.ndarray, side: int) -> np.ndarray:
    """`pixels` (grey or RGB) scaled down to fit `side` pixels (OpenCV's INTER_AREA; her
    page's resizeArea), C-contiguous; as they are when they fit."""
    size = fit_size(pixels.shape[1], pixels.shape[0], side)
    if size is None:
        return np.ascontiguousarray(pixels)
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)


def small_grey(grey: np.ndarray, side: int | None = None) -> np.ndarray:
    """The frame's luma scaled down to fit `side` (WORK_SIDE) pixels (area averaging)."""
    return scaled(grey, side or WORK_SIDE)


def _flat_mask(grey: np.ndarray) -> np.ndarray:
    """Pixels without detail, as `borders._flat_mask` judges them (the Laplacian of a lightly
    blurred copy, small in absolute terms and against the picture), but with the picture's
    detail measured across the middle band of the frame: in a vertical frame the very middle
    is picture, while a middle quarter of the frame's area is mostly blurred frame."""
    h, w = grey.shape
    blur = np.asarray(cv2.blur(grey, (3, 3), borderType=cv2.BORDER_REPLICATE), np.float32)
    p = np.pad(blur, 1, mode="edge")
    lap = np.abs(4 * blur - p[:-2, 1:-1] - p[2:, 1:-1] - p[1:-1, :-2] - p[1:-1, 2:])
    middle = lap[int(0.42 * h) : int(0.58 * h) + 1, int(0.3 * w) : int(0.7 * w) + 1]
    reference = float(np.quantile(middle, 0.75)) if middle.size else 0.0
    limit = max(0.75, min(3.0, 0.25 * reference))
    return np.asarray(lap <= limit)


def frame_box(grey: np.ndarray, size: tuple[int, int]) -> Box | None:
    """(left, top, right, bottom) in full-size pixels of the picture inside a frame, a pad or
    bars, found on the small grey copy, or None when there is none.

    As `borders.content_box` (border-like lines walked in from each side, each edge then put
    on the sharpest straight step nearby), but each side is walked over the picture's span
    only (columns over the rows between the top and bottom borders): a vertical frame is
    mostly border, so whole columns of it are border-like whatever they cross. The picture
    may be as small as FRAME_MIN_KEEP of a side (70% of the width of a 9:16 frame holding
    a 16:9 video is 22% of its height)."""
    gh, gw = grey.shape
    if gh < 32 or gw < 32:
        return None
    flat = _flat_mask(grey.astype(np.float32))
    top, bottom = borders._walk(flat.mean(axis=1)), gh - borders._walk(flat.mean(axis=1)[::-1])
    if bottom - top < FRAME_MIN_KEEP * gh:
        return None
    cols = flat[top:bottom].mean(axis=0)
    left, right = borders._walk(cols), gw - borders._walk(cols[::-1])
    if right - left < FRAME_MIN_KEEP * gw:
        return None
    rows = flat[:, left:right].mean(axis=1)  # again, over the picture's columns only
    top, bottom = borders._walk(rows), gh - borders._walk(rows[::-1])
    if bottom - top < FRAME_MIN_KEEP * gh:
        return None
    if max(top, gh - bottom) < borders.MIN_TRIM * gh and max(left, gw - right) < (
        borders.MIN_TRIM * gw
    ):
        return None  # no border
    lines = grey.astype(np.float32)
    box = [left, top, right, bottom]
    for i, (guess, span, extent) in enumerate(
        (
            (left, lines[top:bottom].T, gw),
            (top, lines[:, left:right], gh),
            (right, lines[top:bottom].T, gw),
            (bottom, lines[:, left:right], gh),
        )
    ):
        if 0 < guess < extent and (edge := borders._edge(span, guess, EDGE_REACH)) is not None:
            box[i] = edge
    w, h = size
    return (
        round(box[0] * w / gw),
        round(box[1] * h / gh),
        round(box[2] * w / gw),
        round(box[3] * h / gh),
    )


SIDE_WIDTH = 6  # lines on each side of a step whose median step is its side's
SIDE_REACH = SIDE_WIDTH + 2  # the farthest such line from the step


def _smoother_side(profile: np.ndarray, width: int = SIDE_WIDTH) -> np.ndarray:
    """Per line, the median step over the smoother of the `width` lines on either side (from
    2 lines off): an inset's edge against a plain background is clear however textured the
    inset's own picture is (a woven fabric's lines, which a whole-frame median makes typical)."""
    n, pad = len(profile), width + 2
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(profile, pad, mode="edge"), width)
    ordered = np.sort(windows, axis=1)  # a few lines: sorting beats np.median's overhead
    medians = (ordered[:, (width - 1) // 2] + ordered[:, width // 2]) / 2
    before, after = medians[:n], medians[width + 5 : width + 5 + n]
    return np.asarray(np.minimum(before, after))


def _medians(a: np.ndarray, axis: int) -> np.ndarray:
    """np.median(a, axis) of a 2-D array, through one partition (5x faster on these sizes)."""
    n = a.shape[axis]
    lo, hi = (n - 1) // 2, n // 2
    part = np.partition(a, [lo, hi], axis=axis)
    pick = (lambda i: part[i]) if axis == 0 else (lambda i: part[:, i])
    return np.asarray((pick(lo) + pick(hi)) / 2)


def _middle(values: np.ndarray) -> float:
    """The median of a 1-D array (np.median without its overhead: called many times a frame)."""
    n = len(values)
    part = np.partition(values, [(n - 1) // 2, n // 2])
    return float(part[(n - 1) // 2] + part[n // 2]) / 2


def _clear_steps(profile: np.ndarray, lo: int, hi: int, typical: float) -> tuple[slice, np.ndarray]:
    """The band [lo, hi) of `profile` (median step per line), clipped to it, and the lines in
    it that are clear straight steps: at least PIP_STEP, and PIP_RATIO times the typical step
    (`typical`, the half frame's median) or that of the smoother side next to the line
    (`_smoother_side`)."""
    n = len(profile)
    band = slice(max(0, lo), min(n, hi))
    if band.stop - band.start < 3:
        return band, np.empty(0, np.intp)
    part = profile[band]
    a, b = max(0, band.start - SIDE_REACH), min(n, band.stop + SIDE_REACH)  # the side windows
    side = _smoother_side(profile[a:b])[band.start - a : band.stop - a]
    base = np.minimum(typical, side)
    return band, band.start + np.flatnonzero(
        (part >= PIP_STEP) & (part >= PIP_RATIO * (base + 0.5))
    )


def _straight(profile: np.ndarray, band: slice, clear: np.ndarray, toward: int) -> int | None:
    """Of the clear steps (`_clear_steps`), the last (`toward` +1) or the first (-1), on its
    sharpest line; None when there is none. An inset's inner edge is the clear step nearest
    the frame's middle: the inset's own picture may hold stronger straight steps (its black
    bars, a colour bar)."""
    if not len(clear):
        return None
    k = int(clear[-1] if toward > 0 else clear[0])
    near = slice(max(band.start, k - 2), min(band.stop, k + 3))  # one edge over a few lines
    return int(near.start) + int(np.argmax(profile[near]))


def pip_boxes(
    grey: np.ndarray,
    size: tuple[int, int],
    weak: dict[str, tuple[bool, bool, bool, bool]] | None = None,
) -> dict[str, tuple[int, int, int, int]]:
    """Insets found in the frame's corners, in full-size pixels: a corner has one when a
    vertical and a horizontal straight edge, each along most of the inset's side, cross near
    the middle of the frame; its outer edges are the frame's, or a straight edge near them.
    With `weak` given, weak[corner] says which edges (left, top, right, bottom) are the
    frame's only because no straight edge was found near them (a textured inset hides its
    outer edges on some frames: `Votes` lets a found edge outvote those)."""
    g = grey.astype(np.float32)
    gh, gw = g.shape
    if gh < 32 or gw < 32:
        return {}
    gx = np.abs(np.diff(g, axis=1))  # step between column x and x + 1
    gy = np.abs(np.diff(g, axis=0))
    mid_x = (int(PIP_MIDDLE[0] * gw), int(PIP_MIDDLE[1] * gw))
    mid_y = (int(PIP_MIDDLE[0] * gh), int(PIP_MIDDLE[1] * gh))
    out: dict[str, tuple[int, int, int, int]] = {}
    w, h = size
    # the median step per line over each half of the frame, its typical step, and its clear
    # steps in the middle band (two corners share each half)
    across = {True: _medians(gx[: gh // 2], 0), False: _medians(gx[gh // 2 :], 0)}
    down = {True: _medians(gy[:, : gw // 2], 1), False: _medians(gy[:, gw // 2 :], 1)}
    typical_x = {k: _middle(v) for k, v in across.items()}
    typical_y = {k: _middle(v) for k, v in down.items()}
    clear_x = {k: _clear_steps(v, *mid_x, typical_x[k]) for k, v in across.items()}
    clear_y = {k: _clear_steps(v, *mid_y, typical_y[k]) for k, v in down.items()}
    for corner in CORNERS:
        top_side, left_side = corner.startswith("top"), corner.endswith("left")
        # the inner edges: the clear step nearest the frame's middle
        inner_x = _straight(across[top_side], *clear_x[top_side], 1 if left_side else -1)
        inner_y = _straight(down[left_side], *clear_y[left_side], 1 if top_side else -1)
        if inner_x is None or inner_y is None:
            continue
        # the inset's rows and columns, to look for its outer edges along them
        ys = slice(0, inner_y + 1) if top_side else slice(inner_y + 1, gh)
        xs = slice(0, inner_x + 1) if left_side else slice(inner_x + 1, gw)
        reach_x, reach_y = int(PIP_OUTER * gw), int(PIP_OUTER * gh)
        # the outer edges: the clear step nearest the frame's edge, on the inset's lines
        # near it only (the typical step: the half frame's)
        zx = (
            slice(0, reach_x + SIDE_REACH)
            if left_side
            else slice(gw - 1 - reach_x - SIDE_REACH, gw - 1)
        )
        zy = (
            slice(0, reach_y + SIDE_REACH)
            if top_side
            else slice(gh - 1 - reach_y - SIDE_REACH, gh - 1)
        )
        col_profile = _medians(gx[ys, zx], 0)
        row_profile = _medians(gy[zy, xs], 1)
        outer_x = _outer(col_profile, left_side, reach_x, typical_x[top_side], zx.start)
        outer_y = _outer(row_profile, top_side, reach_y, typical_y[left_side], zy.start)
        x0, x1 = _span(inner_x, outer_x, left_side, gw)
        y0, y1 = _span(inner_y, outer_y, top_side, gh)
        if x1 - x0 < 8 or y1 - y0 < 8:
            continue
        if weak is not None:
            no_x, no_y = outer_x is None, outer_y is None
            weak[corner] = (
                left_side and no_x,
                top_side and no_y,
                not left_side and no_x,
                not top_side and no_y,
            )
        out[corner] = (
            round(x0 * w / gw),
            round(y0 * h / gh),
            round(x1 * w / gw),
            round(y1 * h / gh),
        )
    return out


def _outer(
    profile: np.ndarray, at_start: bool, reach: int, typical: float, offset: int
) -> int | None:
    """An inset's outer edge: the clear step nearest the frame's edge (its start, or its
    end), in a profile of the lines near that edge only (starting at line `offset`), in the
    frame's lines; None when there is none (the inset reaches the frame's edge)."""
    if at_start:
        return _straight(profile, *_clear_steps(profile, 0, reach, typical), -1)
    band = _clear_steps(profile, SIDE_REACH, SIDE_REACH + reach, typical)
    k = _straight(profile, *band, 1)
    return None if k is None else k + offset


def _span(inner: int, outer: int | None, at_start: bool, extent: int) -> tuple[int, int]:
    """An inset's first and last-plus-one line along one axis from its inner edge's step
    and its outer edge's (None: the frame's edge)."""
    if at_start:
        return (outer + 1 if outer is not None else 0), inner + 1
    return inner + 1, (outer + 1 if outer is not None else extent)


def refine(grey: np.ndarray, box: Box, reach: int) -> Box:
    """`box` (found on the small copy) with each edge inside the frame put on the sharpest
    straight step
    within `reach` full-size pixels (`borders._edge` on the full-size grey frame,
    every second line along the edge): one pixel of the small copy is 3-8 of the frame's, and a
    picture cut 2 pixels off its edge (sharp colour bars) can be 30 bits away."""
    h, w = grey.shape
    left, top, right, bottom = box
    out = list(box)
    columns = grey[top:bottom:2].T  # the columns as lines, over the box's rows
    rows = grey[:, left:right:2]
    for i, (lines, guess, extent) in enumerate(
        ((columns, left, w), (rows, top, h), (columns, right, w), (rows, bottom, h))
    ):
        if not 0 < guess < extent:
            continue
        lo = max(0, guess - reach - 1)  # the lines around the guess, as numbers
        near = lines[lo : guess + reach + 1].astype(np.float32)
        if (edge := borders._edge(near, guess - lo, reach)) is not None:
            out[i] = lo + edge
    left, top, right, bottom = out
    return (left, top, right, bottom) if right - left >= 8 and bottom - top >= 8 else box


def centred(box: Box, w: int, h: int) -> Box:
    """The box widened to be centred in a w x h frame (each pair of edges as far out as the
    farther one): re-post layouts centre the picture, and a flat part of it (a plain door, a
    sky) next to the frame can be taken for frame on one side."""
    left, top, right, bottom = box
    left, top = min(left, w - right), min(top, h - bottom)
    return (left, top, w - left, h - top)


def tolerance(w: int, h: int) -> int:
    """Pixels within which two edges of a w x h frame's layout are the same edge: one pixel of
    the small copy the layout is found on (at least 2)."""
    return max(2, round(max(w, h) / WORK_SIDE))


def near(a: Box | None, b: Box | None, tol: int) -> bool:
    """Whether two boxes (or two None) are the same within `tol` pixels each edge."""
    if a is None or b is None:
        return a is b
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


class Votes:
    """Each edge of a box as seen on the frames so far: a re-post's layout (its frame, its
    inset) stays put for the whole video, while one frame's analysis can be fooled by flat
    parts of the picture (a sky, a wall) next to the frame. Edges within `tol` pixels of
    each other count as one (the same edge found a pixel or two apart)."""

    def __init__(self) -> None:
        self.edges: list[Counter[int]] = [Counter() for _ in range(4)]
        self.weak: list[Counter[int]] = [Counter() for _ in range(4)]  # edges only assumed
        self.last: list[dict[int, int]] = [{} for _ in range(4)]  # value -> last frame seen
        self.seen = 0  # frames that showed the box
        self.frames = 0  # frames looked at
        self.tol = 0

    def add(
        self, box: Box | None, tol: int = 0, weak: tuple[bool, ...] = (False,) * 4
    ) -> Box | None:
        """Count this frame's box (None: not seen on it; `weak` edges were only assumed, the
        frame's own, and count only while no frame found that edge); the box of the most
        supported edges so far, when this frame shows one or the layout persists (`steady`)."""
        self.frames += 1
        self.tol = tol
        if box is not None:
            self.seen += 1
            for i, value in enumerate(box):
                (self.weak if weak[i] else self.edges)[i][value] += 1
                self.last[i][value] = self.frames
        elif not self.persists():
            return None
        return self.box()

    def persists(self) -> bool:
        """Whether the layout was seen on PERSIST_SEEN frames and on at least half of those
        looked at: a textured picture hides its inset's edges on some frames."""
        return self.seen >= PERSIST_SEEN and 2 * self.seen >= self.frames

    def steady(self) -> Box | None:
        """The layout where most frames showed it, when it persists (a frame not looked at)."""
        return self.box() if self.persists() else None

    def box(self) -> Box | None:
        if not self.seen:
            return None
        left, top, right, bottom = (
            self._edge(found or assumed, last)
            for found, assumed, last in zip(self.edges, self.weak, self.last, strict=True)
        )
        return (left, top, right, bottom) if right - left >= 8 and bottom - top >= 8 else None

    def _edge(self, counter: Counter[int], last: dict[int, int]) -> int:
        # the value with the most votes within tol of it; ties: the most votes of its own,
        # then the one seen last (a layout seen once each way: the later frame's)
        def support(v: int) -> tuple[int, int, int]:
            near = sum(n for u, n in counter.items() if abs(u - v) <= self.tol)
            return near, counter[v], last[v]

        return max(counter, key=support)
