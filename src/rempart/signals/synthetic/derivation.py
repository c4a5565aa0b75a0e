"""The derivation signal: a found picture that matched a banked photo through a region or
through keypoints, while the rest of the found picture is something else, is an altered copy
of her photo, and the match already says which part of her photo is unchanged.

Why: "this found picture is her photo with the lower 55% replaced" is Rempart's strongest
evidence that a picture was altered, stronger than any detector: it needs no model and it
points at her own photo. It says WHAT was kept and what was replaced, never HOW the rest was
made (by AI, by hand, by a collage): the wording is "altered copy of a banked photo: this part
unchanged, the rest replaced". `indicates` is "ai-modified" because the laws this evidence
serves (digital forgeries, deepfakes) name altered copies as such.

Where the areas come from (scan/robust.py, scan/matcher.py, kept in the match's `details`):
- a `pdq-region` match names the region of her photo that matched (`variant`: top33,
  bottom50, left50, right50, centre50...; signals/pdq_variants.REGIONS);
- the keypoint verifier (signals/local_features.Verification) gives the box of the agreeing
  keypoints in her photo (`local_features.bank_area`) and in the found picture
  (`local_features.found_area`), as fractions (left, top, right, bottom).
The unchanged area is the box covering both (each is inside what was kept; the keypoints'
box is grown by about one keypoint spacing, as the outermost keypoints lie inside the kept
area, not on its edge); edges within SNAP of the frame are taken to the frame. The raw
keypoint box is kept in the evidence (`keypoint_area`). The changed
area is the rest of her photo's frame, as up to four boxes.

Not a derivation: a match of the whole picture (pdq, crop, rotation: nothing was replaced),
and a keypoint match that covers most of the found picture (a crop or a screenshot of her
photo: the found picture is all hers, cut or framed, not completed with something else).

Pure: it reads a match's details and returns a Finding; no store import (signals layer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rempart.signals.pdq_variants import REGIONS
from rempart.signals.synthetic.base import Finding

Box = tuple[float, float, float, float]  # left, top, right, bottom; fractions of the frame

SNAP = 0.06  # an edge this close to the frame is on it
MAX_FOUND_SHARE = 0.75  # a keypoint match over more of the found picture is not "replaced"
MAX_UNCHANGED = 0.9  # more of her photo unchanged: nothing worth calling replaced
MIN_STRIP = 0.02  # a changed strip thinner than this is not listed
WORDING = "altered copy of a banked photo: this part unchanged, the rest replaced"
METHODS = ("pdq-region", "local-features")


def _box(value: object) -> Box | None:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 4:
        return None
    try:
        x0, y0, x1, y1 = (min(1.0, max(0.0, float(v))) for v in value)
    except (TypeError, ValueError):
        return None
    if not (x1 > x0 and y1 > y0):
        return None
    return (x0, y0, x1, y1)


def area(box: Box) -> float:
    return (box[2] - box[0]) * (box[3] - box[1])


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, w) * max(0.0, h)
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


def _snap(box: Box) -> Box:
    x0, y0, x1, y1 = box
    return (
        0.0 if x0 <= SNAP else x0,
        0.0 if y0 <= SNAP else y0,
        1.0 if x1 >= 1 - SNAP else x1,
        1.0 if y1 >= 1 - SNAP else y1,
    )


def changed_boxes(kept: Box) -> list[Box]:
    """The rest of the unit frame around `kept`: bands above and below, sides between."""
    x0, y0, x1, y1 = kept
    out: list[Box] = [
        (0.0, 0.0, 1.0, y0),
        (0.0, y1, 1.0, 1.0),
        (0.0, y0, x0, y1),
        (x1, y0, 1.0, y1),
    ]
    return [b for b in out if b[2] - b[0] >= MIN_STRIP and b[3] - b[1] >= MIN_STRIP]


def _grown(box: Box, inliers: object) -> Box:
    """The kept area around the box of n agreeing keypoints: they lie inside it, about
    sqrt(n) per side, so its edge is about one spacing, span / (sqrt(n) + 1), beyond the
    outermost ones (ORB also finds none within its patch radius of an edge)."""
    n = (
        inliers
        if isinstance(inliers, int) and not isinstance(inliers, bool) and inliers > 0
        else 12
    )
    gx = (box[2] - box[0]) / (n**0.5 + 1)
    gy = (box[3] - box[1]) / (n**0.5 + 1)
    return (
        max(0.0, box[0] - gx),
        max(0.0, box[1] - gy),
        min(1.0, box[2] + gx),
        min(1.0, box[3] + gy),
    )


def _round(box: Box) -> list[float]:
    return [round(v, 3) for v in box]


def from_details(details: Mapping[str, Any] | None) -> Finding | None:
    """The derivation finding of a photo match from its stored details, or None when the
    match does not show a replaced part (a whole-picture match, a crop, a video)."""
    if not isinstance(details, Mapping):
        return None
    method = details.get("method")
    if method not in METHODS:
        return None
    boxes: list[Box] = []
    used: list[str] = []
    if method == "pdq-region":
        region = REGIONS.get(str(details.get("variant")))
        if region is not None:
            boxes.append(region)
            used.append(f"pdq-region:{details.get('variant')}")
    features = details.get("local_features")
    if isinstance(features, Mapping):
        bank = _box(features.get("bank_area"))
        found = _box(features.get("found_area"))
        if bank is not None:
            if method == "local-features" and (found is None or area(found) > MAX_FOUND_SHARE):
                return None  # her whole photo, cut or framed: nothing replaced
            boxes.append(_grown(bank, features.get("inliers")))
            used.append("local-features")
    if not boxes:
        return None
    kept = _snap(
        (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )
    )
    share = area(kept)
    if share > MAX_UNCHANGED:
        return None
    evidence: dict[str, Any] = {
        "unchanged": [_round(kept)],
        "changed": [_round(b) for b in changed_boxes(kept)],
        "method": "+".join(used),
        "unchanged_fraction": round(share, 3),
        "frame": "the banked photo, fractions of its width and height (left, top, right, bottom)",
        "wording": WORDING,
    }
    if isinstance(features, Mapping) and "local-features" in used:
        evidence["keypoint_area"] = features.get("bank_area")
        evidence["agreeing_keypoints"] = features.get("inliers")
    return Finding("derivation", "ai-modified", "strong", evidence)
