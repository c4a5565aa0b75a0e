"""Lookups for a caller, against the banks it may see: hashes (PDQ near, MD5/SHA-256 exact),
one or hundreds at a time, and media files (hashed here: every signal type)."""

from __future__ import annotations

import re
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rempart.access.tenancy import visible_banks, visible_case_numbers
from rempart.api.auth import Principal
from rempart.api.index_keeper import IndexKeeper
from rempart.media.errors import MediaError
from rempart.media.kinds import is_animated_gif, sniff
from rempart.media.video import probe_video
from rempart.scan.matcher import Hit, Matcher
from rempart.scan.video_match import match_video
from rempart.signals.image_hashes import hash_image_bytes
from rempart.signals.types import REGISTRY
from rempart.signals.vpdq import hash_video_file
from rempart.store import repository
from rempart.store.db import Database
from rempart.store.repository import SignalHit, StoreError

# Accepted names (HMA's video_md5 is the MD5 of the file, as here): pdq, md5, sha256,
# video_md5 (signals/types.py's lookup names).
SIGNAL_TYPES = REGISTRY.lookup_names()
_LENGTH = {kind: REGISTRY[kind].hex_chars or 0 for kind in set(SIGNAL_TYPES.values())}
_HEX = {kind: re.compile(rf"^[0-9a-f]{{{n}}}$") for kind, n in _LENGTH.items()}
_NEAR = {kind for kind in _LENGTH if REGISTRY[kind].index == "pdq"}  # pdq
_EXACT = tuple(k for k in REGISTRY.family("exact-digest") if k in _LENGTH)  # md5, sha256


@dataclass(frozen=True)
class Query:
    signal_type: str  # pdq, md5 or sha256
    value: str


def parse_query(signal_type: str, value: str) -> Query:
    """A query, or ValueError saying what is wrong."""
    kind = SIGNAL_TYPES.get(str(signal_type).strip().lower())
    if kind is None:
        raise ValueError(f"unknown signal type {signal_type!r}: one of {', '.join(SIGNAL_TYPES)}")
    value = str(value).strip().lower()
    if not _HEX[kind].match(value):
        raise ValueError(f"a {kind} hash is {_LENGTH[kind]} hexadecimal characters")
    return Query(kind, value)


class LookupService:
    def __init__(
        self,
        db: Database,
        keeper: IndexKeeper,
        ttl: float = 2.0,
        media_slots: int = 2,
        max_video_seconds: float = 600.0,
    ) -> None:
        self.db = db
        # Decoding is the costly part (a 100 Mpx picture holds 300 MB while it is hashed):
        # a few at a time per process, the others wait their turn.
        self._media_slots = threading.BoundedSemaphore(max(1, media_slots))
        self.max_video_seconds = max_video_seconds
        self.keeper = keeper
        self.ttl = ttl
        self._matchers: dict[tuple[str, int | None], tuple[float, int, Matcher | None]] = {}
        self._lock = threading.Lock()
        self._described: dict[int, SignalHit] = {}
        self._described_version = -1

    def _describe(self, ids: set[int]) -> dict[int, SignalHit]:
        """What each signal id is (bank, entry, case), cached until the index changes (a
        change of any entry bumps the keeper's version). Only what is not cached is read,
        on a plain connection (no ORM session: a matched lookup's read cost ~8x more)."""
        version = self.keeper.version
        if self._described_version != version:
            self._described, self._described_version = {}, version
        cache = self._described
        out = {i: cache[i] for i in ids if i in cache}
        missing = ids - out.keys()
        if missing:
            with self.db.engine.connect() as conn:
                fresh = repository.describe_signals(conn, missing)
            if len(cache) < 200_000 and self._described_version == version:
                cache.update(fresh)
            out.update(fresh)
        return out

    def invalidate(self) -> None:
        """Banks or shares changed: forget the cached bank lists at once."""
        with self._lock:
            self._matchers.clear()

    def matcher(self, p: Principal) -> Matcher | None:
        """A Matcher over the banks this caller may see (None: it may see none), cached for
        `ttl` seconds and rebuilt when the index changes."""
        key = (p.role, p.tenant_id)
        now = time.monotonic()
        version = self.keeper.version
        cached = self._matchers.get(key)
        if cached is not None and cached[0] > now and cached[1] == version:
            return cached[2]
        with self.keeper.reading() as index:
            with self.db.session() as s:
                banks = visible_banks(s, p)
            try:
                m = (
                    Matcher(self.db, index, tuple(sorted(banks)), features=self.keeper.features())
                    if banks
                    else None
                )
            except StoreError:  # a bank was deleted meanwhile: try again next time
                m = None
        with self._lock:
            self._matchers[key] = (now + self.ttl, version, m)
        return m

    def hashes(
        self, p: Principal, queries: list[Query], threshold: int | None = None
    ) -> list[list[Hit]]:
        """Hits per query, best first, in the banks this caller may see."""
        out: list[list[Hit]] = [[] for _ in queries]
        m = self.matcher(p)
        if m is None or not queries:
            return out
        near = [i for i, q in enumerate(queries) if q.signal_type in _NEAR]
        found: list[tuple[int, int, int]] = []  # (query, signal id, distance)
        radius = m.radius if threshold is None else threshold
        if near:
            # values checked by parse_query (64 hex characters each): one fromhex for all
            wanted_hex = "".join([queries[i].value for i in near])
            arr = np.frombuffer(bytes.fromhex(wanted_hex), np.uint8).reshape(len(near), 32)
            for i, (ids, dists) in zip(near, self.keeper.search(arr, radius), strict=True):
                if len(ids):
                    found += [
                        (i, sid, d) for sid, d in zip(ids.tolist(), dists.tolist(), strict=True)
                    ]
        exact: list[tuple[int, int, str]] = []
        exact_idx = {
            kind: [i for i, q in enumerate(queries) if q.signal_type == kind] for kind in _EXACT
        }
        if any(exact_idx.values()):
            with self.db.engine.connect() as conn:
                for kind, idx in exact_idx.items():
                    if idx:
                        by_value = repository.exact_lookup(
                            conn, kind, [queries[i].value for i in idx]
                        )
                        exact += [
                            (i, sid, kind)
                            for i in idx
                            for sid in by_value.get(queries[i].value, [])
                        ]
        described: dict[int, SignalHit] = {}
        if found or exact:
            described = self._describe({sid for _, sid, _ in found} | {sid for _, sid, _ in exact})
        for i, sid, kind in exact:
            if (hit := m.hit(described.get(sid), kind)) is not None:
                out[i].append(hit)
        for i, sid, dist in found:
            if (hit := m.still_hit(described.get(sid), dist, limit=threshold)) is not None:
                out[i].append(hit)
        return [_best(hits) for hits in out]

    def hash(self, data: bytes, name: str) -> MediaHashes:
        """Hash a picture or video (bytes), a few at a time; MediaError when unusable."""
        with self._media_slots:
            return hash_media(data, name, self.max_video_seconds)

    def media(self, p: Principal, data: bytes, name: str) -> tuple[dict[str, Any], list[Hit]]:
        """Hash a picture or video (bytes) and match it; MediaError when unusable."""
        hashes = self.hash(data, name)
        m = self.matcher(p)
        if m is None:
            return hashes.summary, []
        with self.keeper.reading():
            if hashes.video is not None:
                hits = m.exact([hashes.video])[0] + match_video(m, hashes.video)
            else:
                assert hashes.image is not None
                hits = m.match_hashes([hashes.image])[0]
        return hashes.summary, _best(hits)


def _best(hits: list[Hit]) -> list[Hit]:
    best: dict[tuple[str, int], Hit] = {}
    for h in hits:
        key = (h.bank, h.bank_entry)
        if key not in best or h.distance < best[key].distance:
            best[key] = h
    return sorted(best.values(), key=lambda h: (h.distance, h.bank, h.bank_entry))


@dataclass
class MediaHashes:
    summary: dict[str, Any]
    image: Any = None
    video: Any = None


def hash_media(data: bytes, name: str, max_video_seconds: float = 600.0) -> MediaHashes:
    """Every hash of a picture (PDQ under 8 transforms, MD5, SHA-256) or video (vPDQ frames,
    MD5, SHA-256); MediaError when the bytes are not usable media, or a video is longer
    than `max_video_seconds` (or does not say how long it is)."""
    if not data:
        raise MediaError(name, "empty-file", "the upload is empty")
    kind = sniff(data[:16])
    if kind == "video" or (kind == "image" and data[:4] == b"GIF8" and is_animated_gif(data)):
        with tempfile.TemporaryDirectory(prefix="rempart-api-") as tmp:
            path = Path(tmp) / "upload"
            path.write_bytes(data)
            info = probe_video(path)
            if info.duration is None or info.duration > max_video_seconds:
                length = "unknown" if info.duration is None else f"{info.duration:.0f} s"
                raise MediaError(
                    name,
                    "too-long",
                    f"video length {length}: the API hashes videos up to "
                    f"{max_video_seconds:.0f} s; hash longer ones with "
                    "`rempart hash` and look up the hashes",
                )
            video = hash_video_file(
                path, seconds_per_frame=1.0, regions=True, info=info, robust="query"
            )
        summary = {
            "media_type": "video",
            "md5": video.md5,
            "sha256": video.sha256,
            "width": video.width,
            "height": video.height,
            "duration": video.duration,
            "vpdq_frames": len(video.frames),
        }
        return MediaHashes(summary, video=video)
    h = hash_image_bytes(data, name, dihedral=True, robust="query")
    summary = {
        "media_type": "image",
        "pdq": h.pdq.hex,
        "pdq_quality": h.pdq.quality,
        "md5": h.md5,
        "sha256": h.sha256,
        "width": h.width,
        "height": h.height,
    }
    return MediaHashes(summary, image=h)


def present(hits: list[Hit], p: Principal, cases: set[str]) -> list[dict[str, Any]]:
    """Hits as JSON for this caller: a platform never sees case numbers or labels; a
    caseworker only those of her organisation's cases."""
    out = []
    for h in hits:
        row: dict[str, Any] = {
            "bank": h.bank,
            "bank_entry": h.bank_entry,
            "signal": h.signal,
            "distance": h.distance,
            "transform": h.transform,
        }
        if p.role in ("admin", "caseworker"):
            row["case"] = h.case if h.case in cases else None
            row["label"] = h.label if h.case in cases or p.role == "admin" else None
        if h.details:
            row["details"] = h.details
        out.append(row)
    return out


def visible_cases(db: Database, p: Principal, hits: list[list[Hit]]) -> set[str]:
    numbers = {h.case for hs in hits for h in hs if h.case}
    if not numbers:
        return set()
    with db.session() as s:
        return visible_case_numbers(s, p, numbers)
