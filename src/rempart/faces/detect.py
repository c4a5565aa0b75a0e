"""Find the faces in a picture and compute a 128-d template for each one that can be compared.

A face is reported with its box (in the picture's own pixels) and a status:
- "ok": a template was computed;
- "too-small": the face is narrower than MIN_FACE_PX (templates of tiny faces are unreliable);
- "blurred": too little sharpness in the face (variance of the Laplacian < MIN_SHARPNESS).
Pictures are scaled to at most DETECT_SIDE px on their long side for detection; small
pictures are upsampled once so faces down to ~40 px are found.

Two detectors (issue 21): dlib's HOG frontal detector (fast, ~0.1 s a picture, but it misses
turned faces) and dlib's CNN (MMOD) detector, which finds faces turned sideways or tilted but
costs ~6 us a pixel on a CPU core (no BLAS in the dlib wheel). `detector` chooses:
- "hog": HOG only;
- "hog+cnn": HOG; when it found no face of comparable size, HOG again on the detection copy
  turned by -ROLL_ANGLE and +ROLL_ANGLE (a face tilted 15-75 degrees in the picture's plane
  stands upright there: HOG finds it, and its landmarks and template come from that upright
  copy, where the 5-point predictor places them well); when that finds none either, the CNN
  on a copy scaled to at most CNN_MAX_PIXELS (most pictures with a face cost HOG alone);
- "cnn": the CNN on the scaled copy only (HOG when the scan's CNN budget is spent).
The second passes' time (turned HOG and CNN) is bounded per picture (the pixel cap) and per
scan (a `CnnBudget` in CPU seconds: when spent, pictures get HOG alone and are counted).
Landmarks and templates are the same for every detector: the 5-point shape predictor and
the ResNet encoder, on the picture at detection size (turned, for a face found turned).
"""

from __future__ import annotations

import logging
import os
import time as clock
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from rempart.faces import models

DETECT_SIDE = 1280
UPSAMPLE_BELOW = 800  # long side (after scaling) under which the detector upsamples once
MIN_FACE_PX = 40  # face box width in the original picture
MIN_SHARPNESS = 12.0  # variance of the Laplacian of the face, grey 0-255, at 100 px wide
MIN_SCORE = 0.0  # HOG detector score
ENROLL_JITTERS = 10  # enrolment averages 10 jittered copies (+1 point of composite recall)

DETECTORS = ("hog", "hog+cnn", "cnn")
# "hog+cnn" looks for tilted faces on the detection copy turned by this many degrees each
# way before the CNN: HOG finds faces within about 30 degrees of upright, so +-45 covers
# faces tilted 15-75 degrees (bench/face_bench.py: tilted 45 and 60).
ROLL_ANGLE = 45.0
UPRIGHT_WITHIN = 20.0  # a face tilted more gets its landmarks again on an upright copy
DEFAULT_DETECTOR = "hog+cnn"  # scans (bench/face_bench.py, docs/faces.md)
ENROLL_DETECTOR = "hog+cnn"  # her reference photos: a turned face is enrolled too
# The CNN runs on a copy of at most this many pixels, never upsampled: it finds faces of
# ~80 px and more at that size (a face a sixth of the picture's width and more). Its time
# is proportional to the pixels: this cap is the per-picture bound.
CNN_MAX_PIXELS = 250_000
CNN_MIN_CONFIDENCE = 0.3  # MMOD detection confidence (dlib's own threshold is 0)
# Seconds of CNN time a scan may spend, all its worker processes together (each process
# gets its share): about 400 pictures without a HOG face at ~1.5 s each on one core.
DEFAULT_CNN_SECONDS = 600.0


@dataclass(frozen=True)
class FaceFinding:
    box: tuple[int, int, int, int]  # left, top, right, bottom in the original picture
    score: float  # detector confidence
    status: str  # ok, too-small, blurred
    sharpness: float
    template: tuple[float, ...] | None = None  # 128 floats when status is ok
    time: float | None = None  # for video frames: seconds
    detector: str = "hog"  # which detector found it: hog, hog-turned (on a turned copy), cnn

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]


@dataclass
class CnnBudget:
    """The CNN time (CPU seconds) one scan, or this process's share of it, may spend."""

    seconds: float = DEFAULT_CNN_SECONDS
    spent: float = 0.0
    runs: int = 0  # pictures given the CNN pass
    skipped: int = 0  # pictures that needed it when the budget was spent

    def allows(self) -> bool:
        return self.spent < self.seconds


_budgets: dict[str, CnnBudget] = {}

# dlib's CNN starts a thread pool in the process that first runs it; a process forked after
# that inherits the pool without its threads, and the CNN then waits for them for ever. So:
# the scan's worker pool is not forked from a process where the CNN ran (cnn_ran_here();
# rempart.scan.hashing uses the forkserver then), and a process forked anyway gives up the
# CNN pass (HOG alone, counted as skipped, logged) instead of hanging.
_cnn_pid: int | None = None  # the process that ran the CNN
_cnn_broken = False  # this process was forked from one that had run the CNN
_warned = False


def _after_fork_in_child() -> None:
    global _cnn_broken
    if _cnn_pid is not None and _cnn_pid != os.getpid():
        _cnn_broken = True


os.register_at_fork(after_in_child=_after_fork_in_child)


def cnn_ran_here() -> bool:
    """Whether this process has run the CNN (a process forked from it could not)."""
    return _cnn_pid == os.getpid()


def scan_budget(key: str, seconds: float, processes: int = 1) -> CnnBudget:
    """This process's share of a scan's CNN budget (one per scan key, kept for the process's
    life: worker processes hash many items of the same scan)."""
    budget = _budgets.get(key)
    if budget is None:
        if len(_budgets) >= 16:  # an old scan's, in a long-lived process
            _budgets.pop(next(iter(_budgets)))
        budget = _budgets[key] = CnnBudget(seconds / max(1, processes))
    return budget


def check_detector(name: str) -> str:
    if name not in DETECTORS:
        raise ValueError(f"unknown face detector {name!r}: use one of {', '.join(DETECTORS)}")
    return name


def _sharpness(grey: np.ndarray) -> float:
    """Variance of a 4-neighbour Laplacian."""
    g = grey.astype(np.float32)
    if g.shape[0] < 3 or g.shape[1] < 3:
        return 0.0
    lap = -4 * g[1:-1, 1:-1] + g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]
    return float(lap.var())


def _face_sharpness(rgb: np.ndarray, box: tuple[int, int, int, int]) -> float:
    left, top, right, bottom = box
    h, w = rgb.shape[:2]
    crop = rgb[max(0, top) : min(h, bottom), max(0, left) : min(w, right)]
    if crop.size == 0:
        return 0.0
    img = Image.fromarray(crop).convert("L").resize((100, 100), Image.Resampling.BILINEAR)
    return _sharpness(np.asarray(img))


def _resized(rgb: np.ndarray, scale: float) -> np.ndarray:
    if scale >= 1.0:
        return np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.ascontiguousarray(
        np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))
    )


def _hog(small: np.ndarray) -> list[tuple[Any, float]]:
    """(rectangle in `small`'s pixels, score) for each face HOG finds."""
    upsample = 1 if max(small.shape[:2]) <= UPSAMPLE_BELOW else 0
    rects, scores, _ = models.detector().run(small, upsample, MIN_SCORE)
    return [(r, float(s)) for r, s in zip(rects, scores, strict=True)]


def cnn_pixels(h: int, w: int) -> int:
    """The pixels the CNN pass works on for an h x w picture (its time is proportional)."""
    scale = min(1.0, (CNN_MAX_PIXELS / (h * w)) ** 0.5)
    return int(round(h * scale) * round(w * scale))


def _cnn(rgb: np.ndarray, small_scale: float) -> list[tuple[Any, float]]:
    """(rectangle in the detection copy's pixels, confidence) for each face the CNN finds on
    a copy of the picture of at most CNN_MAX_PIXELS."""
    import dlib

    global _cnn_pid
    _cnn_pid = os.getpid()

    h, w = rgb.shape[:2]
    scale = min(1.0, (CNN_MAX_PIXELS / (h * w)) ** 0.5)
    copy = _resized(rgb, scale)
    found = models.cnn_detector()(copy, 0)
    ratio = small_scale / scale  # CNN copy -> detection copy
    out: list[tuple[Any, float]] = []
    for d in found:
        if d.confidence < CNN_MIN_CONFIDENCE:
            continue
        r = d.rect
        rect = dlib.rectangle(
            round(r.left() * ratio),
            round(r.top() * ratio),
            round(r.right() * ratio),
            round(r.bottom() * ratio),
        )
        out.append((rect, float(d.confidence)))
    return out


@dataclass(frozen=True)
class _Turned:
    """A face HOG found on a turned copy of the detection copy: that copy (landmarks and the
    template are computed there, upright), the face's rectangle in it, and its box back in
    the detection copy's pixels."""

    picture: np.ndarray
    rect: Any
    score: float
    box: tuple[int, int, int, int]


def _turned_hog(small: np.ndarray, angles: tuple[float, ...]) -> list[_Turned]:
    """Faces HOG finds on `small` turned by each angle (the canvas grown to hold it all), each
    with its axis-aligned box in `small`'s pixels."""
    import cv2

    h, w = small.shape[:2]
    out: list[_Turned] = []
    for angle in angles:
        turned, m = _turn(small, angle)
        back = cv2.invertAffineTransform(m)
        for rect, score in _hog(turned):
            corners = np.array(
                [
                    [rect.left(), rect.top(), 1.0],
                    [rect.right(), rect.top(), 1.0],
                    [rect.left(), rect.bottom(), 1.0],
                    [rect.right(), rect.bottom(), 1.0],
                ]
            )
            xy = corners @ back.T
            box = (
                max(0, int(np.floor(xy[:, 0].min()))),
                max(0, int(np.floor(xy[:, 1].min()))),
                min(w, int(np.ceil(xy[:, 0].max()))),
                min(h, int(np.ceil(xy[:, 1].max()))),
            )
            out.append(_Turned(turned, rect, score, box))
    # one face seen on both turned copies (near 0 or 90 degrees): the better score
    kept: list[_Turned] = []
    for t in sorted(out, key=lambda t: -t.score):
        if not _covered(t.box, kept):
            kept.append(t)
    return kept


def _covered(box: tuple[int, int, int, int], turned: list[_Turned]) -> bool:
    """Whether a face's box is mostly that of one found on a turned copy already."""
    return any(_overlap(box, t.box) >= 0.5 for t in turned)


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over the smaller box."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return w * h / max(1, smaller)


def find_faces(
    rgb: np.ndarray,
    *,
    time: float | None = None,
    jitters: int = 0,
    detector: str = "hog",
    budget: CnnBudget | None = None,
) -> list[FaceFinding]:
    """Every face in an RGB uint8 picture, largest first. `jitters` > 0 averages the
    template over that many randomly shifted, zoomed and mirrored copies of the face (dlib's
    option): slower, steadier templates, used when enrolling. `detector`: hog, hog+cnn or
    cnn (module docstring); `budget`: the scan's CNN time (None: no limit but the pixel
    cap, as for enrolment)."""
    check_detector(detector)
    h, w = rgb.shape[:2]
    if h < 20 or w < 20:
        return []
    scale = min(1.0, DETECT_SIDE / max(h, w))
    small = _resized(rgb, scale)
    allowed = (budget is None or budget.allows()) and not _cnn_broken
    global _warned
    if _cnn_broken and detector != "hog" and not _warned:
        _warned = True
        logging.getLogger(__name__).warning(
            "face detector: the CNN cannot run in a process forked from one that ran it; "
            "HOG alone here"
        )
    found: list[tuple[Any, float, str]] = []
    if detector != "cnn" or not allowed:
        found = [(r, s, "hog") for r, s in _hog(small)]
    wants_cnn = detector == "cnn" or (
        detector == "hog+cnn" and all(r.width() / scale < MIN_FACE_PX for r, _, _ in found)
    )
    turned: list[_Turned] = []
    if wants_cnn and allowed and detector == "hog+cnn":  # tilted faces, upright on a copy
        started = clock.process_time()
        turned = [
            t
            for t in _turned_hog(small, (-ROLL_ANGLE, ROLL_ANGLE))
            if (t.box[2] - t.box[0]) / scale >= MIN_FACE_PX
        ]
        if budget is not None:
            budget.spent += clock.process_time() - started
        if turned:
            wants_cnn = False
            found = [f for f in found if not _covered(_box(f[0], scale), turned)]
    if wants_cnn and allowed:
        started = clock.process_time()  # CPU: the same on a loaded machine
        extra = _cnn(rgb, scale)
        if budget is not None:
            budget.spent += clock.process_time() - started
            budget.runs += 1
        for rect, conf in extra:
            box = _box(rect, scale)
            # a CNN face over a tiny HOG one replaces it
            found = [f for f in found if _overlap(_box(f[0], scale), box) < 0.5]
            found.append((rect, conf, "cnn"))
    elif wants_cnn and budget is not None:
        budget.skipped += 1
    out: list[FaceFinding] = []
    for rect, score, source in found:
        box = _box(rect, scale)
        sharp = _face_sharpness(rgb, box)
        if box[2] - box[0] < MIN_FACE_PX:
            out.append(FaceFinding(box, score, "too-small", sharp, None, time, source))
            continue
        if sharp < MIN_SHARPNESS:
            out.append(FaceFinding(box, score, "blurred", sharp, None, time, source))
            continue
        out.append(
            FaceFinding(box, score, "ok", sharp, _template(small, rect, jitters), time, source)
        )
    for t in turned:
        box = _box_of(t.box, scale)
        sharp = _face_sharpness(rgb, box)
        if sharp < MIN_SHARPNESS:
            out.append(FaceFinding(box, t.score, "blurred", sharp, None, time, "hog-turned"))
            continue
        template = _template(t.picture, t.rect, jitters)
        out.append(FaceFinding(box, t.score, "ok", sharp, template, time, "hog-turned"))
    return sorted(out, key=lambda f: -f.width)


def _template(picture: np.ndarray, rect: Any, jitters: int) -> tuple[float, ...]:
    """The face's 128-d template: 5 landmarks, then the ResNet encoder (dlib aligns the face
    chip on the landmarks). A face tilted more than UPRIGHT_WITHIN degrees (its eyes' line)
    gets its landmarks again on a copy turned to hold it upright: the 5-point predictor
    places them worse on a tilted face, and the template drifts (a face HOG finds tilted 45
    degrees was matched 10 times in 12, 12 in 12 upright)."""
    import dlib

    shape = models.landmarks()(picture, rect)
    points = [(shape.part(i).x, shape.part(i).y) for i in range(4)]
    (ax, ay), (bx, by) = np.mean(points[:2], axis=0), np.mean(points[2:4], axis=0)
    # the eyes' line, left to right in the picture: down to the right (> 0) is a face tilted
    # clockwise, which turning the picture that many degrees counter-clockwise sets upright
    angle = float(np.degrees(np.arctan2(ay - by, ax - bx)))
    if abs(angle) > 90:  # measured right to left: the same line
        angle -= 180 if angle > 0 else -180
    if abs(angle) > UPRIGHT_WITHIN:
        turned, m = _turn(picture, angle)
        cx, cy = (rect.left() + rect.right()) / 2, (rect.top() + rect.bottom()) / 2
        x, y = m @ np.array([cx, cy, 1.0])
        half_w, half_h = rect.width() / 2, rect.height() / 2
        rect = dlib.rectangle(
            round(x - half_w), round(y - half_h), round(x + half_w), round(y + half_h)
        )
        picture = turned
        shape = models.landmarks()(picture, rect)
    vec = models.encoder().compute_face_descriptor(picture, shape, jitters)
    return tuple(float(v) for v in np.asarray(vec, dtype=np.float32))


def _turn(picture: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """`picture` turned `angle` degrees counter-clockwise about its centre on a canvas grown
    to hold all of it, and the 2x3 matrix from its pixels to the turned copy's."""
    import cv2

    h, w = picture.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = round(w * cos + h * sin), round(w * sin + h * cos)
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(picture, m, (nw, nh), flags=cv2.INTER_LINEAR), m


def _box_of(box: tuple[int, int, int, int], scale: float) -> tuple[int, int, int, int]:
    """A box in the detection copy's pixels, in the picture's own."""
    return (
        round(box[0] / scale),
        round(box[1] / scale),
        round(box[2] / scale),
        round(box[3] / scale),
    )


def _box(rect: Any, scale: float) -> tuple[int, int, int, int]:
    """A dlib rectangle in the detection copy's pixels, as a box in the picture's own."""
    return _box_of((rect.left(), rect.top(), rect.right(), rect.bottom()), scale)
