"""Matching hashed media against the banks: exact (MD5/SHA-256) and near (PDQ, 8 transforms),
and the robust stage (scan/robust.py): PDQ variants (crops, rotations, regions, the picture
inside its borders or turned upright) and local features (candidates from shared hashes or
shared descriptors, confirmed geometrically).

A photo also matches a frame of a banked video (signal "vpdq", with the frame's time);
videos are matched by rempart.scan.video_match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from sqlalchemy import select

from rempart.index.binary_index import BinaryHashIndex, hex_to_array
from rempart.index.descriptor_index import DescriptorIndex
from rempart.scan import robust
from rempart.signals import pdq_variants, video_variants
from rempart.signals.image_hashes import ImageHashes
from rempart.signals.local_features import FeatureFormatError, Features, verify
from rempart.signals.pdq import DIHEDRAL, MIN_QUALITY, hamming
from rempart.signals.types import PDQ, REGISTRY, VPDQ, VPDQ_REGION
from rempart.store import repository
from rempart.store.db import Database
from rempart.store.models import Bank
from rempart.store.repository import VARIANT_SIGNAL, SignalHit, StoreError

_FLIPPED = frozenset({"flip_horizontal", "flip_vertical", "transpose", "transverse"})
# A dihedral variant T of the query matched the stored image, so the query is the stored image
# transformed by the inverse of T: that inverse is what we report.
_INVERSE = {"rotate90": "rotate270", "rotate270": "rotate90"}
# The exact digests, in the order an item's hits are listed (sha256, then md5).
EXACT_TYPES = REGISTRY.exact()
# The hex length of each exact digest: a hex value's length says which it may be (md5: 32,
# sha256: 64; 64 may also be a PDQ hash).
_EXACT_BY_LENGTH = {REGISTRY[t].hex_chars: t for t in reversed(EXACT_TYPES)}
# A banked video's signals in the PDQ index: vpdq, vpdq-region.
_VIDEO_INDEXED = frozenset(t for t in REGISTRY.indexed("pdq") if REGISTRY[t].media == "video")


class HasDigests(Protocol):
    @property
    def md5(self) -> str: ...
    @property
    def sha256(self) -> str: ...


@dataclass(frozen=True)
class Hit:
    bank: str
    bank_entry: int
    case: str | None
    signal: str  # sha256, md5 or pdq
    distance: int
    transform: str | None  # for pdq: how the found copy relates to the bank's image
    label: str | None = None
    # Video matches: percentages and time ranges; a still in a video: the frame's time.
    details: dict[str, Any] | None = None


class Matcher:
    """Matches hashes against the selected banks (all banks when none are named)."""

    def __init__(
        self,
        db: Database,
        index: BinaryHashIndex,
        banks: Sequence[str] = (),
        features: DescriptorIndex | None = None,
    ) -> None:
        """`features`: the descriptor index of the banks' local features, for candidates
        that share no close hash (robust stage; without it, only hash candidates are
        verified)."""
        self.db = db
        self.index = index
        self.features = features
        with db.session() as s:
            rows = s.execute(select(Bank.name, Bank.pdq_threshold)).all()
        thresholds = {name: int(t) for name, t in rows}
        for name in banks:
            if name not in thresholds:
                raise StoreError(f"no bank named {name!r} (see `rempart bank list`)")
        self.thresholds = {n: thresholds[n] for n in banks} if banks else thresholds
        self.radius = max(self.thresholds.values(), default=0)
        # the index search of photos reaches the robust stage's candidates too
        self.search_radius = max(self.radius, robust.CANDIDATE_RADIUS) if self.radius else 0

    def match_hashes(
        self,
        hashes: Sequence[ImageHashes],
        candidates: Sequence[Candidates | None] | None = None,
    ) -> list[list[Hit]]:
        """Hits for each hashed item, best first, one per bank entry. `candidates`: index
        search results already computed (by cluster workers), else searched here."""
        if not self.thresholds:
            return [[] for _ in hashes]
        exact = self.exact(hashes)
        near = self._near(hashes, candidates)
        out: list[list[Hit]] = []
        for i in range(len(hashes)):
            best: dict[tuple[str, int], Hit] = {}
            for hit in exact[i] + near[i]:
                key = (hit.bank, hit.bank_entry)
                if key not in best:  # exact hits come first and win
                    best[key] = hit
            out.append(sorted(best.values(), key=lambda h: (h.distance, h.bank, h.bank_entry)))
        return out

    def hit(
        self,
        d: SignalHit | None,
        signal: str,
        distance: int = 0,
        transform: str | None = None,
        limit: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> Hit | None:
        """A hit on a described signal when its bank is selected and the distance is within
        `limit` (by default, the bank's own threshold)."""
        if d is None or d.bank_name not in self.thresholds:
            return None
        if distance > (self.thresholds[d.bank_name] if limit is None else limit):
            return None
        return Hit(
            d.bank_name, d.item_id, d.case_number, signal, distance, transform, d.label, details
        )

    def still_hit(
        self,
        d: SignalHit | None,
        distance: int,
        transform: str | None = None,
        limit: int | None = None,
    ) -> Hit | None:
        """A hit of a whole picture (a photo, or a video frame) on an indexed signal: a bank
        photo (pdq), a frame of a bank video (vpdq, with its time), or a frame's centre crop
        (vpdq-region crop90/crop80: a screenshot of her video, cut at its sides; the method
        vpdq-crop, within VARIANT_THRESHOLD like a photo's crops). Halves of video frames
        (the other vpdq-region signals) only match halves, never whole pictures."""
        if d is None:
            return None
        # a stored crop or rotation (of a photo or a video frame): within VARIANT_THRESHOLD
        cap = robust.VARIANT_THRESHOLD if limit is None else min(limit, robust.VARIANT_THRESHOLD)
        if d.signal_type == VPDQ_REGION.name:
            crop = d.extra.get("region")
            if crop not in video_variants.CROP_NAMES:
                return None
            details = {"stored_time": d.extra.get("ts"), "method": "vpdq-crop", "crop": crop}
            return self.hit(d, "vpdq", distance, transform, cap, details)
        if d.signal_type == VARIANT_SIGNAL:  # a banked photo's crop or rotation; not regions
            kind = d.extra.get("kind")
            if kind not in ("crop", "rotation"):
                return None
            details = {"method": robust.METHODS[kind], "variant": d.extra.get("name")}
            return self.hit(d, robust.METHODS[kind], distance, transform, cap, details)
        if d.signal_type == VPDQ.name:
            details = {"stored_time": d.extra.get("ts"), "inside_bars": bool(d.extra.get("inside"))}
            return self.hit(d, "vpdq", distance, transform, limit, details)
        return self.hit(d, "pdq", distance, transform, limit)

    def exact(self, hashes: Sequence[HasDigests]) -> list[list[Hit]]:
        """MD5/SHA-256 hits of each item (photos and videos alike)."""
        out: list[list[Hit]] = [[] for _ in hashes]
        with self.db.session() as s:
            by_type = {
                t: repository.exact_lookup(s, t, [getattr(h, t) for h in hashes])
                for t in EXACT_TYPES
            }
            ids = {sid for found in by_type.values() for sids in found.values() for sid in sids}
            described = repository.describe_signals(s, ids)
        for i, h in enumerate(hashes):
            for signal_type in EXACT_TYPES:
                for sid in by_type[signal_type].get(getattr(h, signal_type), []):
                    if (hit := self.hit(described.get(sid), signal_type)) is not None:
                        out[i].append(hit)
        return out

    def _near(
        self,
        hashes: Sequence[ImageHashes],
        candidates: Sequence[Candidates | None] | None = None,
        *,
        keep_all: bool = False,
    ) -> list[list[Hit]]:
        out: list[list[Hit]] = [[] for _ in hashes]
        if candidates is None or any(c is None for c in candidates):
            candidates = near_candidates(self.index, hashes, self.search_radius)
        sids = {sid for c in candidates for sid in (c or {})}
        voted = [self._votes(h) for h in hashes]
        with self.db.session() as s:
            described = repository.describe_signals(s, sids)
            extra_items = {i for v, _ in voted for i in v} - {d.item_id for d in described.values()}
            items = repository.describe_items(s, extra_items)
        for d in described.values():
            items.setdefault(
                d.item_id,
                repository.ItemInfo(
                    d.item_id, d.bank_name, d.pdq_threshold, d.case_number, d.label, d.media_type
                ),
            )
        cache: dict[int, Features | None] = {}
        for i, (h, c) in enumerate(zip(hashes, candidates, strict=True)):
            out[i] = self._judge(h, c or {}, described, items, voted[i], cache, keep_all)
        return out

    def scores(self, hashes: Sequence[ImageHashes]) -> list[list[Hit]]:
        """Every candidate's best verdict, matches or not (details["score"] <= 1.0 is a
        match): for calibration and benchmarks."""
        return self._near(hashes, keep_all=True)

    def _votes(self, h: ImageHashes) -> tuple[dict[int, int], set[int]]:
        """Votes per banked photo from the found picture's descriptors and its mirror
        image's (the higher of the two), and the photos the mirror image voted for more."""
        if self.features is None or h.features is None or not len(self.features):
            return {}, set()
        plain = self.features.votes(
            h.features.descriptors[: robust.QUERY_DESCRIPTORS], robust.DESCRIPTOR_RADIUS
        )
        mirrored: dict[int, int] = {}
        if h.mirrored_features is not None:
            mirrored = self.features.votes(
                h.mirrored_features.descriptors[: robust.QUERY_DESCRIPTORS],
                robust.DESCRIPTOR_RADIUS,
            )
        out = dict(plain)
        for item, n in mirrored.items():
            out[item] = max(n, out.get(item, 0))
        return out, {i for i, n in mirrored.items() if n > plain.get(i, 0)}

    def _stored_features(
        self, cache: dict[int, Features | None], ids: list[int]
    ) -> dict[int, Features]:
        missing = [i for i in ids if i not in cache]
        if missing:
            with self.db.session() as s:
                texts = repository.item_features(s, missing)
            for i in missing:
                try:
                    cache[i] = Features.from_text(texts[i]) if i in texts else None
                except FeatureFormatError:
                    cache[i] = None
        return {i: f for i in ids if (f := cache.get(i)) is not None}

    def _judge(
        self,
        h: ImageHashes,
        found: Candidates,
        described: dict[int, SignalHit],
        items: dict[int, repository.ItemInfo],
        voted: tuple[dict[int, int], set[int]],
        cache: dict[int, Features | None],
        keep_all: bool,
    ) -> list[Hit]:
        hits: list[Hit] = []
        per_item: dict[int, list[robust.Candidate]] = {}
        for sid, pairs in found.items():
            d = described.get(sid)
            if d is None or d.bank_name not in self.thresholds:
                continue
            for dist, name in pairs:
                if d.signal_type in _VIDEO_INDEXED:  # a frame of a banked video
                    if (
                        name in DIHEDRAL
                        and (hit := self.still_hit(d, dist, _INVERSE.get(name, name))) is not None
                    ):
                        hits.append(hit)
                    continue
                c = _candidate(d, dist, name)
                if c is not None:
                    per_item.setdefault(d.item_id, []).append(c)
        votes, mirrored_more = voted
        votes = {
            i: n for i, n in votes.items() if i in items and items[i].bank_name in self.thresholds
        }
        # the mirror image's keypoints are verified where it voted more, or where a flipped
        # orientation of the found picture came closest
        flipped = mirrored_more | {
            i
            for i, cands in per_item.items()
            if min(cands, key=lambda c: c.distance).query_name in _FLIPPED
        }
        verdicts = robust.judge(
            per_item,
            lambda item: self.thresholds[items[item].bank_name],
            h.features,
            lambda ids: self._stored_features(cache, ids),
            voted=votes,
            keep_all=keep_all,
            mirrored_features=h.mirrored_features,
            mirrored_for=flipped,
        )
        unrelated = [i for i, v in verdicts.items() if v.distance is None]
        whole: dict[int, str] = {}
        if unrelated:  # matched by keypoints alone: report the whole pictures' distance
            with self.db.session() as s:
                whole = repository.item_pdq(s, unrelated)
        for item_id, v in verdicts.items():
            info = items[item_id]
            if v.distance is None:
                v = replace(
                    v, distance=hamming(h.pdq.hex, whole[item_id]) if item_id in whole else 256
                )
            details = v.details()
            if v.method == "pdq-region" and h.features is not None:  # where it matched
                stored = self._stored_features(cache, [item_id]).get(item_id)
                check = verify(h.features, stored) if stored is not None else None
                if robust.accept_verification(check):
                    assert check is not None
                    details["local_features"] = check.to_json()
            transform = _INVERSE.get(v.transform, v.transform) if v.transform else None
            hits.append(
                Hit(
                    info.bank_name,
                    item_id,
                    info.case_number,
                    v.method,
                    v.distance if v.distance is not None else 0,
                    transform,
                    info.label,
                    details,
                )
            )
        return sorted(hits, key=lambda hit: (hit.distance, hit.bank, hit.bank_entry))


def _candidate(d: SignalHit, dist: int, query: str) -> robust.Candidate | None:
    """A robust-stage candidate from an index hit on a banked photo's hash."""
    if query in DIHEDRAL:
        q_kind, q_name = "pdq", query
    else:
        q_kind, _, q_name = query.partition(":")
    if d.signal_type == PDQ.name:
        s_kind, s_name = "pdq", "pdq"
    elif d.signal_type == VARIANT_SIGNAL:
        s_kind, s_name = str(d.extra.get("kind")), str(d.extra.get("name"))
    else:
        return None
    if not pdq_variants.compatible(q_kind, q_name, s_kind, s_name):
        return None
    return robust.Candidate(q_kind, q_name, s_kind, s_name, dist)


# Per photo: indexed signal id -> [(distance, query hash)], the query hash named by its
# dihedral transform ("original", "rotate90"...), or KIND:NAME for a variant
# ("trimmed:original", "deskewed:flip_horizontal", "region:top33").
Candidates = dict[int, list[tuple[int, str]]]


def _queries(h: ImageHashes) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if h.pdq.quality >= MIN_QUALITY:
        out += [(name, v.hex) for name, v in h.dihedral or (("original", h.pdq),)]
    for v in h.variants:
        out.append((f"{v.kind}:{v.name}", v.hash.hex))
    return out


def near_candidates(
    index: BinaryHashIndex, hashes: Sequence[ImageHashes], radius: int
) -> list[Candidates]:
    """The index search for photos, under all 8 transforms and their variants, needing
    nothing but the index: what a cluster worker computes next to the hashing."""
    out: list[Candidates] = [{} for _ in hashes]
    queries: list[str] = []
    owners: list[tuple[int, str]] = []
    for i, h in enumerate(hashes):
        for name, value in _queries(h):
            queries.append(value)
            owners.append((i, name))
    if not queries or len(index) == 0 or radius <= 0:
        return out
    results = index.search(hex_to_array(queries), radius)
    for (i, name), (ids, dists) in zip(owners, results, strict=True):
        for sid, dist in zip(ids.tolist(), dists.tolist(), strict=True):
            out[i].setdefault(sid, []).append((dist, name))
    return out


def lookup_hex(matcher: Matcher, value: str, threshold: int | None = None) -> list[Hit]:
    """Bank entries matching one hash given as hex: MD5 (32), or SHA-256 and PDQ (64)."""
    value = value.strip().lower()
    try:
        bytes.fromhex(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not hexadecimal") from exc
    kind = _EXACT_BY_LENGTH.get(len(value))
    if kind is None:
        raise ValueError("a hash is 32 (MD5) or 64 (PDQ, SHA-256) hex characters")
    found: list[Hit | None] = []
    with matcher.db.session() as s:
        sids = repository.exact_lookup(s, kind, [value]).get(value, [])
        found += [matcher.hit(d, kind) for d in repository.describe_signals(s, sids).values()]
    if kind == "sha256" and len(matcher.index):  # 64 hex characters may also be a PDQ hash
        radius = matcher.radius if threshold is None else threshold
        ids, dists = matcher.index.search(hex_to_array([value]), radius)[0]
        with matcher.db.session() as s:
            described = repository.describe_signals(s, ids.tolist())
        for sid, dist in zip(ids.tolist(), dists.tolist(), strict=True):
            found.append(matcher.still_hit(described.get(sid), dist, limit=threshold))
    hits = [h for h in found if h is not None and h.signal in EXACT_TYPES]
    near: dict[tuple[str, int], Hit] = {}  # one look-alike hit per entry, the whole photo's
    for h in sorted(
        (h for h in found if h is not None and h.signal not in EXACT_TYPES),
        key=lambda h: (h.signal != "pdq", h.distance),
    ):
        near.setdefault((h.bank, h.bank_entry), h)
    return sorted(hits + list(near.values()), key=lambda h: (h.distance, h.bank, h.bank_entry))
