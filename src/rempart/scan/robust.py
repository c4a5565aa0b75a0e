"""The robust matching stage: judging a found picture against one banked picture from the
hash variants they share (signals.pdq_variants) and, in the grey zone, their local features
(signals.local_features).

Every verdict says which method found the match and with what score. The score is
normalised so that 1.0 is the line between a match and no match for every method: a PDQ
distance divided by that variant pair's threshold, or MIN_INLIERS divided by the number of
keypoint pairs that agree on one geometric transform. Lower is closer.

The thresholds are calibrated (bench/robustness.py) to give no false match on thousands of
unrelated pictures: a false match costs a caseworker time and could lead to a wrong takedown
request, so the regions (a part of a picture carries less evidence than the whole) have a
stricter threshold, and the local-feature verifier needs many agreeing keypoints spread
over a real part of the banked picture.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from rempart.signals.local_features import Features, Verification, verify

# PDQ thresholds per variant pair: whole-image pairs use the bank's own threshold (Meta's 31
# by default); crops, rotations, pictures found inside borders or turned upright use
# VARIANT_THRESHOLD; a region meets only the same region, within REGION_THRESHOLD.
VARIANT_THRESHOLD = 31
REGION_THRESHOLD = 22
# Candidates this close (in PDQ bits, any variant pair) go to the local-feature verifier.
CANDIDATE_RADIUS = 40
MAX_VERIFIED = 8  # candidates verified per found picture, closest first
MIN_INLIERS = 12  # agreeing keypoint pairs for a local-feature match
MIN_AREA = 0.08  # ... spread over at least this share of the banked picture's area
# Agreeing keypoints over a smaller share of it count for less (in proportion): a copy
# that keeps only a band of her photo (a "nudified" fake keeping the upper 30%) shows
# many keypoints close together, a shared logo or watermark a few; never under this share.
MIN_AREA_FLOOR = 0.02
# Descriptor votes: the found picture's strongest QUERY_DESCRIPTORS are looked up among every
# banked picture's strongest INDEXED_DESCRIPTORS within DESCRIPTOR_RADIUS bits; a banked
# picture with MIN_VOTES of them (MAX_VOTED at most, most voted first) is verified.
QUERY_DESCRIPTORS = 400
INDEXED_DESCRIPTORS = 400
DESCRIPTOR_RADIUS = 16
MIN_VOTES = 6
MAX_VOTED = 4

METHODS = {
    "pdq": "pdq",
    "trimmed": "pdq-trimmed",
    "deskewed": "pdq-deskewed",
    "crop": "pdq-crop",
    "rotation": "pdq-rotation",
    "region": "pdq-region",
    "mirrored-region": "pdq-region",
}


@dataclass(frozen=True)
class Candidate:
    """A query hash close to a stored hash of one banked picture."""

    query_kind: str  # pdq (the found picture as a whole, any of its 8 orientations), trimmed...
    query_name: str  # the dihedral transform for pdq, the region or variant name otherwise
    stored_kind: str  # pdq, crop, rotation, region
    stored_name: str
    distance: int


@dataclass(frozen=True)
class Verdict:
    score: float  # <= 1.0: a match
    method: str  # pdq, pdq-trimmed, pdq-crop, pdq-rotation, pdq-region, local-features...
    distance: int | None  # PDQ distance of the closest variant pair
    variant: str | None  # e.g. "crop85", "top33", "trimmed"
    transform: str | None  # for whole-picture pdq: the found copy's rotation/flip
    verification: Verification | None = None

    @property
    def is_match(self) -> bool:
        return self.score <= 1.0

    def details(self) -> dict[str, object]:
        out: dict[str, object] = {"method": self.method, "score": round(self.score, 3)}
        if self.variant:
            out["variant"] = self.variant
        if self.verification is not None:
            out["local_features"] = self.verification.to_json()
        return out


def threshold(c: Candidate, bank_threshold: int) -> int:
    if c.query_kind in ("region", "mirrored-region"):
        return REGION_THRESHOLD
    if c.query_kind == "pdq" and c.stored_kind == "pdq":
        return bank_threshold
    return VARIANT_THRESHOLD


def _method(c: Candidate) -> str:
    kind = c.stored_kind if c.query_kind == "pdq" else c.query_kind
    return METHODS.get(kind, "pdq")


# When several variant pairs match, the report names the most direct one: the whole
# picture first, a part of it last.
PRIORITY = ("pdq", "pdq-trimmed", "pdq-deskewed", "pdq-crop", "pdq-rotation", "pdq-region")


def best_hash_verdict(candidates: Iterable[Candidate], bank_threshold: int) -> Verdict | None:
    """The verdict of the variant pairs: the most direct method among those that match,
    else the closest pair by normalised score."""
    best: dict[str, Verdict] = {}
    for c in candidates:
        t = max(1, threshold(c, bank_threshold))
        score = c.distance / t
        method = _method(c)
        if method not in best or score < best[method].score:
            variant = None
            if c.query_kind in ("region", "mirrored-region"):
                variant = c.query_name
            elif c.stored_kind != "pdq":
                variant = c.stored_name
            # a whole found picture (as found, inside borders, upright) under one of its
            # 8 orientations: which one
            transform = (
                c.query_name
                if c.query_kind in ("pdq", "trimmed", "deskewed")
                else ("flip_horizontal" if c.query_kind == "mirrored-region" else None)
            )
            best[method] = Verdict(score, method, c.distance, variant, transform)
    matching = [best[m] for m in PRIORITY if m in best and best[m].is_match]
    if matching:
        return matching[0]
    return min(best.values(), key=lambda v: v.score, default=None)


def _area(v: Verification) -> float:
    x0, y0, x1, y1 = v.stored_area
    return (x1 - x0) * (y1 - y0)


def _spread(v: Verification) -> bool:
    return _area(v) >= MIN_AREA_FLOOR


def evidence(v: Verification) -> float:
    """The agreeing keypoints, counted in full when they cover at least MIN_AREA of the
    banked picture and in proportion to the area they cover below that (none under
    MIN_AREA_FLOOR)."""
    area = _area(v)
    return 0.0 if area < MIN_AREA_FLOOR else v.inliers * min(1.0, area / MIN_AREA)


def accept_verification(v: Verification | None) -> bool:
    return v is not None and evidence(v) >= MIN_INLIERS


def unmirror(v: Verification) -> Verification:
    """A verification of the found picture's mirror image, in the found picture's own
    coordinates (its matched area flipped back)."""
    x0, y0, x1, y1 = v.query_area
    return replace(v, query_area=(1 - x1, y0, 1 - x0, y1), angle=-v.angle)


def local_verdict(v: Verification, hash_verdict: Verdict | None) -> Verdict:
    return Verdict(
        MIN_INLIERS / max(evidence(v), 0.1),
        "local-features",
        hash_verdict.distance if hash_verdict else None,
        hash_verdict.variant if hash_verdict else None,
        None,
        v,
    )


def judge(
    per_item: dict[int, list[Candidate]],
    bank_threshold: Callable[[int], int],
    query_features: Features | None,
    stored_features: Callable[[list[int]], dict[int, Features]],
    *,
    voted: dict[int, int] | None = None,
    keep_all: bool = False,
    mirrored_features: Features | None = None,
    mirrored_for: set[int] | None = None,
) -> dict[int, Verdict]:
    """A verdict per banked picture (by item id): matches only, or, with keep_all, the best
    score of every candidate (for calibration and benchmarks). `voted`: banked pictures
    that share many local-feature descriptors with the found one (item -> votes), verified
    too, most voted first, even without a close hash. `mirrored_features`: the found
    picture's mirror image's, verified for the banked pictures in `mirrored_for` (those it
    voted for more, or met by a flipped orientation), where the found picture's own fail."""
    hashed = {
        item: v
        for item, cands in per_item.items()
        if (v := best_hash_verdict(cands, bank_threshold(item))) is not None
    }
    out: dict[int, Verdict] = {}
    grey: list[int] = []
    for item, v in hashed.items():
        if v.is_match or keep_all:
            out[item] = v
        if not v.is_match and min(c.distance for c in per_item[item]) <= CANDIDATE_RADIUS:
            grey.append(item)
    if query_features is None:
        return out
    grey.sort(key=lambda i: hashed[i].score)
    grey = grey[:MAX_VERIFIED]
    by_votes = sorted((voted or {}).items(), key=lambda kv: -kv[1])
    grey += [i for i, n in by_votes if n >= MIN_VOTES and i not in out and i not in grey][
        :MAX_VOTED
    ]
    if not grey:
        return out
    features = stored_features(grey)
    for item in grey:
        stored = features.get(item)
        if stored is None:
            continue
        checked, flipped = verify(query_features, stored), False
        if (
            mirrored_features is not None
            and item in (mirrored_for or ())
            and not (accept_verification(checked))
        ):
            w = verify(mirrored_features, stored)  # a mirrored copy?
            if w is not None and (checked is None or w.inliers > checked.inliers):
                checked, flipped = unmirror(w), True
        if checked is None or not (accept_verification(checked) or keep_all and _spread(checked)):
            continue
        verdict = local_verdict(checked, hashed.get(item))
        if flipped:
            verdict = replace(verdict, transform="flip_horizontal")
        known = out.get(item, hashed.get(item))
        if known is None or verdict.score < known.score:
            out[item] = verdict
    return out
