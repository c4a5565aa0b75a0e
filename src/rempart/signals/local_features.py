"""Local features (OpenCV ORB keypoints) and their geometric verification.

A copy that shares an unchanged region with the original (a "nudified" photo keeps face,
hair and background; a meme crops and frames it; a screenshot shrinks it) keeps many of the
original's keypoints, in the same arrangement up to a shift, a scale and a rotation. ORB
gives each keypoint a 256-bit descriptor; `verify` pairs descriptors (Hamming distance,
Lowe's ratio test, mutual best) and keeps the pairs that agree on one similarity transform
(RANSAC). Unrelated pictures leave a handful of pairs that agree by chance; a copy leaves
dozens. The pairs that agree say which area of each picture matched.

What is stored for a banked picture is only keypoint positions (relative to the picture's
size) and descriptors, computed on the victim's device: no pixels. The positions are rounded
to 1/4096 of a side and there are at most MAX_POINTS of them.
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from rempart.errors import InvalidInput
from rempart.media.reduce import reduce_to
from rempart.signals import _keypoints
from rempart.signals.types import LOCAL_FEATURES

WORK_SIDE = 512  # features are computed on a copy this size
MAX_POINTS = 400
MIN_POINTS = 24  # fewer keypoints than this: "not enough content" for local features
RATIO = 0.8  # Lowe's ratio test
MAX_DESCRIPTOR_DISTANCE = 64  # of 256 bits
RANSAC_PIXELS = 0.012  # reprojection tolerance, as a fraction of the query's diagonal
_MAGIC = b"RPO1"

cv2.setNumThreads(1)  # scans run one worker process per core already


class FeatureFormatError(InvalidInput, ValueError):
    """Stored features that cannot be read (damaged or from another program)."""


@dataclass(frozen=True)
class Features:
    points: np.ndarray  # (n, 2) float32, x/width and y/height in [0, 1]
    descriptors: np.ndarray  # (n, 32) uint8
    width: int
    height: int

    def __len__(self) -> int:
        return len(self.points)

    def to_text(self) -> str:
        """A compact, portable text form (base64): header, positions (uint16), descriptors."""
        n = len(self.points)
        head = _MAGIC + struct.pack("<HII", n, self.width, self.height)
        pos = np.clip(np.rint(self.points * 4095), 0, 4095).astype("<u2").tobytes()
        return base64.b64encode(head + pos + self.descriptors.tobytes()).decode("ascii")

    @classmethod
    def from_text(cls, text: str) -> Features:
        try:
            raw = base64.b64decode(text.encode("ascii"), validate=True)
        except (ValueError, UnicodeEncodeError) as exc:
            raise FeatureFormatError("local features: not base64") from exc
        if len(raw) < 14 or raw[:4] != _MAGIC:
            raise FeatureFormatError("local features: unknown format")
        n, width, height = struct.unpack("<HII", raw[4:14])
        if n > MAX_POINTS * 4 or len(raw) != 14 + n * 4 + n * 32 or not width or not height:
            raise FeatureFormatError("local features: wrong length or size")
        pos = np.frombuffer(raw, dtype="<u2", count=2 * n, offset=14).astype(np.float32) / 4095
        desc = np.frombuffer(raw, dtype=np.uint8, count=32 * n, offset=14 + 4 * n)
        return cls(pos.reshape(n, 2), desc.reshape(n, 32).copy(), width, height)


@dataclass(frozen=True)
class Verification:
    inliers: int  # keypoint pairs that agree on one transform
    pairs: int  # pairs that passed the descriptor tests
    scale: float  # pixels of the found picture per pixel of the banked one
    angle: float  # degrees, counter-clockwise
    query_area: tuple[float, float, float, float]  # where it matched in the found picture
    stored_area: tuple[float, float, float, float]  # ... and in the banked one (fractions)

    def to_json(self) -> dict[str, object]:
        return {
            "inliers": self.inliers,
            "pairs": self.pairs,
            "scale": round(self.scale, 3),
            "angle": round(self.angle, 1),
            "found_area": [round(v, 3) for v in self.query_area],
            "bank_area": [round(v, 3) for v in self.stored_area],
        }


# Many candidate keypoints (a low FAST threshold finds them in smooth areas too), then at
# most MAX_POINTS spread over a GRID x GRID grid: a copy that keeps only part of the picture
# (the upper third, the sides) still shares many keypoints with it, where keeping only the
# strongest would spend them all on the most textured part.
GRID = 4
_ORB = cv2.ORB.create(
    nfeatures=2000, scaleFactor=1.2, nlevels=8, edgeThreshold=15, patchSize=31, fastThreshold=7
)


def _spread(points: np.ndarray, response: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Indices of at most MAX_POINTS keypoints: the strongest of each grid cell up to its
    share, then the strongest of the rest; strongest first."""
    w, h = size
    col = np.minimum((points[:, 0] * GRID // w).astype(np.int64), GRID - 1)
    row = np.minimum((points[:, 1] * GRID // h).astype(np.int64), GRID - 1)
    cell = row * GRID + col
    by_cell = np.lexsort((-response, cell))  # by cell, strongest first within each
    starts = np.searchsorted(cell[by_cell], np.arange(GRID * GRID))
    rank = np.empty(len(cell), dtype=np.int64)
    rank[by_cell] = np.arange(len(cell)) - starts[cell[by_cell]]
    order = np.argsort(-response, kind="stable")
    share = MAX_POINTS // (GRID * GRID)
    first = order[rank[order] < share]
    rest = order[rank[order] >= share][: max(0, MAX_POINTS - len(first))]
    chosen = np.concatenate([first, rest])
    return chosen[np.argsort(-response[chosen], kind="stable")]


def extract(image: Image.Image) -> Features | None:
    """ORB keypoints and descriptors of a picture (reduced to WORK_SIDE first); None when it
    has too little detail."""
    w, h = image.size
    if min(w, h) < 32:
        return None
    grey = reduce_to(image.convert("L"), WORK_SIDE)
    arr = np.ascontiguousarray(np.asarray(grey, dtype=np.uint8))
    found = _ORB.detect(arr, None)
    if len(found) < MIN_POINTS:
        return None
    gw, gh = arr.shape[1], arr.shape[0]
    pts = np.asarray(cv2.KeyPoint.convert(found), np.float32).reshape(-1, 2)  # kp.pt, in C
    chosen = _spread(pts, np.array([kp.response for kp in found], np.float32), (gw, gh))
    # descriptors only for the chosen keypoints (compute may drop some near the edges)
    keypoints, descriptors = _ORB.compute(arr, [found[i] for i in chosen.tolist()])
    if descriptors is None or len(keypoints) < MIN_POINTS:
        return None
    pts = np.asarray(cv2.KeyPoint.convert(keypoints), np.float32).reshape(-1, 2)
    rel = pts / np.array([gw, gh], np.float32)
    return Features(np.clip(rel, 0, 1), np.ascontiguousarray(descriptors, np.uint8), w, h)


def _pairs(q: np.ndarray, s: np.ndarray) -> np.ndarray:
    """(k, 2) indices of query/stored descriptors that are mutual best matches (the first
    on ties), close, and pass Lowe's ratio test: in C (_keypoints.pairs), the same pairs as
    OpenCV's brute-force matcher gives (`_pairs_opencv`) at an eighth of its cost."""
    if len(q) < 2 or len(s) < 2:
        return np.empty((0, 2), dtype=np.int64)
    found = _keypoints.pairs(
        np.ascontiguousarray(q, np.uint8),
        np.ascontiguousarray(s, np.uint8),
        MAX_DESCRIPTOR_DISTANCE,
        RATIO,
    )
    return np.frombuffer(found, dtype=np.int32).reshape(-1, 2).astype(np.int64)


_BF = cv2.BFMatcher(cv2.NORM_HAMMING)


def _pairs_opencv(q: np.ndarray, s: np.ndarray) -> np.ndarray:
    """`_pairs` through OpenCV's matcher (the tests' reference)."""
    if len(q) < 2 or len(s) < 2:
        return np.empty((0, 2), dtype=np.int64)
    out = []
    back = {m.queryIdx: m.trainIdx for m in _BF.match(s, q)}  # stored -> its best query
    for pair in _BF.knnMatch(q, s, k=2):
        if len(pair) < 2:
            continue
        best, second = pair
        if (
            best.distance <= MAX_DESCRIPTOR_DISTANCE
            and best.distance < RATIO * second.distance
            and back.get(best.trainIdx) == best.queryIdx
        ):
            out.append((best.queryIdx, best.trainIdx))
    return np.asarray(out, dtype=np.int64).reshape(-1, 2)


def _area(pts: np.ndarray) -> tuple[float, float, float, float]:
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))


def verify(query: Features, stored: Features) -> Verification | None:
    """The geometric agreement of two pictures' local features, or None (too few pairs)."""
    pairs = _pairs(query.descriptors, stored.descriptors)
    if len(pairs) < 6:
        return None
    qs = np.array([query.width, query.height], np.float32)
    ss = np.array([stored.width, stored.height], np.float32)
    qp = query.points[pairs[:, 0]] * qs
    sp = stored.points[pairs[:, 1]] * ss
    tolerance = RANSAC_PIXELS * float(np.hypot(*qs))
    matrix, mask = cv2.estimateAffinePartial2D(
        sp,
        qp,
        method=cv2.RANSAC,
        ransacReprojThreshold=tolerance,
        maxIters=500,
        confidence=0.99,
        refineIters=5,
    )
    if matrix is None or mask is None:
        return None
    keep = mask.ravel().astype(bool)
    inliers = int(keep.sum())
    scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))
    if inliers < 3 or not 0.02 <= scale <= 50:
        return None
    # counter-clockwise, as PIL's Image.rotate (image rows go down)
    angle = -float(np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0])))
    return Verification(
        inliers,
        len(pairs),
        scale,
        angle,
        _area(query.points[pairs[keep, 0]]),
        _area(stored.points[pairs[keep, 1]]),
    )


# This module's signal types (declared in signals/types.py's registry).
SIGNAL_TYPES = (LOCAL_FEATURES,)
