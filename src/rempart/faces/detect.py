"""Find the faces in a picture and compute a 128-d template for each one that can be compared.

A face is reported with its box (in the picture's own pixels) and a status:
- "ok": a template was computed;
- "too-small": the face is narrower than MIN_FACE_PX (templates of tiny faces are unreliable);
- "blurred": too little sharpness in the face (variance of the Laplacian < MIN_SHARPNESS).
Pictures are scaled to at most DETECT_SIDE px on their long side for detection; small
pictures are upsampled once so faces down to ~40 px are found.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from rempart.faces import models

DETECT_SIDE = 1280
UPSAMPLE_BELOW = 800  # long side (after scaling) under which the detector upsamples once
MIN_FACE_PX = 40  # face box width in the original picture
MIN_SHARPNESS = 12.0  # variance of the Laplacian of the face, grey 0-255, at 100 px wide
MIN_SCORE = 0.0  # HOG detector score
ENROLL_JITTERS = 10  # enrolment averages 10 jittered copies (+1 point of composite recall)


@dataclass(frozen=True)
class FaceFinding:
    box: tuple[int, int, int, int]  # left, top, right, bottom in the original picture
    score: float  # detector confidence
    status: str  # ok, too-small, blurred
    sharpness: float
    template: tuple[float, ...] | None = None  # 128 floats when status is ok
    time: float | None = None  # for video frames: seconds

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]


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


def find_faces(
    rgb: np.ndarray, *, time: float | None = None, jitters: int = 0
) -> list[FaceFinding]:
    """Every face in an RGB uint8 picture, largest first. `jitters` > 0 averages the
    template over that many randomly shifted, zoomed and mirrored copies of the face (dlib's
    option): slower, steadier templates, used when enrolling."""
    h, w = rgb.shape[:2]
    if h < 20 or w < 20:
        return []
    scale = min(1.0, DETECT_SIDE / max(h, w))
    small = rgb
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))
    small = np.ascontiguousarray(small)
    upsample = 1 if max(small.shape[:2]) <= UPSAMPLE_BELOW else 0
    rects, scores, _ = models.detector().run(small, upsample, MIN_SCORE)
    out: list[FaceFinding] = []
    for rect, score in zip(rects, scores, strict=True):
        box = (
            round(rect.left() / scale),
            round(rect.top() / scale),
            round(rect.right() / scale),
            round(rect.bottom() / scale),
        )
        sharp = _face_sharpness(rgb, box)
        if box[2] - box[0] < MIN_FACE_PX:
            out.append(FaceFinding(box, float(score), "too-small", sharp, None, time))
            continue
        if sharp < MIN_SHARPNESS:
            out.append(FaceFinding(box, float(score), "blurred", sharp, None, time))
            continue
        shape = models.landmarks()(small, rect)
        vec = models.encoder().compute_face_descriptor(small, shape, jitters)
        template = tuple(float(v) for v in np.asarray(vec, dtype=np.float32))
        out.append(FaceFinding(box, float(score), "ok", sharp, template, time))
    return sorted(out, key=lambda f: -f.width)
