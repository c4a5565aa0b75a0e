"""Matching hashed media against the banks: exact (MD5/SHA-256) and near (PDQ, 8 transforms).

A photo also matches a frame of a banked video (signal "vpdq", with the frame's time);
videos are matched by rempart.scan.video_match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select

from rempart.index.binary_index import BinaryHashIndex, hex_to_array
from rempart.signals.image_hashes import ImageHashes
from rempart.signals.pdq import MIN_QUALITY
from rempart.store import repository
from rempart.store.db import Database
from rempart.store.models import Bank
from rempart.store.repository import SignalHit, StoreError

# A dihedral variant T of the query matched the stored image, so the query is the stored image
# transformed by the inverse of T: that inverse is what we report.
_INVERSE = {"rotate90": "rotate270", "rotate270": "rotate90"}


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

    def __init__(self, db: Database, index: BinaryHashIndex, banks: Sequence[str] = ()) -> None:
        self.db = db
        self.index = index
        with db.session() as s:
            rows = s.execute(select(Bank.name, Bank.pdq_threshold)).all()
        thresholds = {name: int(t) for name, t in rows}
        for name in banks:
            if name not in thresholds:
                raise StoreError(f"no bank named {name!r} (see `rempart bank list`)")
        self.thresholds = {n: thresholds[n] for n in banks} if banks else thresholds
        self.radius = max(self.thresholds.values(), default=0)

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
        self, d: SignalHit | None, distance: int, transform: str | None = None,
        limit: int | None = None,
    ) -> Hit | None:  # fmt: skip
        """A hit of a whole picture (a photo, or a video frame) on an indexed signal: a bank
        photo (pdq) or a frame of a bank video (vpdq, with its time). Halves of video frames
        (vpdq-region) only match halves, never whole pictures."""
        if d is None or d.signal_type == "vpdq-region":
            return None
        if d.signal_type == "vpdq":
            details = {"stored_time": d.extra.get("ts"), "inside_bars": bool(d.extra.get("inside"))}
            return self.hit(d, "vpdq", distance, transform, limit, details)
        return self.hit(d, "pdq", distance, transform, limit)

    def exact(self, hashes: Sequence[HasDigests]) -> list[list[Hit]]:
        """MD5/SHA-256 hits of each item (photos and videos alike)."""
        out: list[list[Hit]] = [[] for _ in hashes]
        with self.db.session() as s:
            by_type = {
                t: repository.exact_lookup(s, t, [getattr(h, t) for h in hashes])
                for t in ("sha256", "md5")
            }
            ids = {sid for found in by_type.values() for sids in found.values() for sid in sids}
            described = repository.describe_signals(s, ids)
        for i, h in enumerate(hashes):
            for signal_type in ("sha256", "md5"):
                for sid in by_type[signal_type].get(getattr(h, signal_type), []):
                    if (hit := self.hit(described.get(sid), signal_type)) is not None:
                        out[i].append(hit)
        return out

    def _near(
        self,
        hashes: Sequence[ImageHashes],
        candidates: Sequence[Candidates | None] | None = None,
    ) -> list[list[Hit]]:
        out: list[list[Hit]] = [[] for _ in hashes]
        if candidates is None or any(c is None for c in candidates):
            candidates = near_candidates(self.index, hashes, self.radius)
        found: dict[tuple[int, int], tuple[int, str]] = {
            (i, sid): best for i, c in enumerate(candidates) for sid, best in (c or {}).items()
        }
        with self.db.session() as s:
            described = repository.describe_signals(s, {sid for _, sid in found})
        for (i, sid), (dist, name) in sorted(found.items(), key=lambda kv: kv[1][0]):
            hit = self.still_hit(described.get(sid), dist, _INVERSE.get(name, name))
            if hit is not None:
                out[i].append(hit)
        return out


# Per photo: indexed signal id -> (best distance, dihedral variant that reached it).
Candidates = dict[int, tuple[int, str]]


def near_candidates(
    index: BinaryHashIndex, hashes: Sequence[ImageHashes], radius: int
) -> list[Candidates]:
    """The index search for photos, under all 8 transforms, needing nothing but the index:
    what a cluster worker computes next to the hashing."""
    out: list[Candidates] = [{} for _ in hashes]
    queries: list[str] = []
    owners: list[tuple[int, str]] = []
    for i, h in enumerate(hashes):
        if h.pdq.quality < MIN_QUALITY:
            continue
        for name, variant in h.dihedral or (("original", h.pdq),):
            queries.append(variant.hex)
            owners.append((i, name))
    if not queries or len(index) == 0 or radius <= 0:
        return out
    results = index.search(hex_to_array(queries), radius)
    for (i, name), (ids, dists) in zip(owners, results, strict=True):
        for sid, dist in zip(ids.tolist(), dists.tolist(), strict=True):
            prev = out[i].get(sid)
            if prev is None or dist < prev[0]:
                out[i][sid] = (dist, name)
    return out


def lookup_hex(matcher: Matcher, value: str, threshold: int | None = None) -> list[Hit]:
    """Bank entries matching one hash given as hex: MD5 (32), or SHA-256 and PDQ (64)."""
    value = value.strip().lower()
    try:
        bytes.fromhex(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not hexadecimal") from exc
    kind = {32: "md5", 64: "sha256"}.get(len(value))
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
    hits = [h for h in found if h is not None]
    return sorted(hits, key=lambda h: (h.distance, h.bank, h.bank_entry))
