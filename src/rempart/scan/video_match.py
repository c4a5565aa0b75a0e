"""Matching a scanned video against the banks, through the same PDQ index as photos.

Every sampled frame of the scanned video is looked up whole, inside black bars, and by its
four halves. A frame matches a bank entry when one of its hashes is within the bank's
threshold of one of the entry's hashes of the same kind (whole against whole frames and
photos; a half against the same half). Then, per bank entry:

- a bank **photo** matches when at least one frame shows it (a still in the video);
- a bank **video** matches when the two vPDQ shares pass (`VideoRule`): the share of the
  scanned video's frames found in the bank video (a clip cut from her video), or the share
  of the bank video's seconds found in the scanned one (her video inside a compilation), or
  at least `min_seconds` of matching frames (a part of her video inside a longer one).

Each hit carries which time ranges matched on both sides.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from rempart.index.binary_index import hex_to_array
from rempart.scan.matcher import Hit, Matcher
from rempart.signals.pdq import MIN_QUALITY
from rempart.signals.vpdq import VideoHashes
from rempart.store import repository
from rempart.store.models import ItemSignal


@dataclass(frozen=True)
class VideoRule:
    query_percent: float = 80.0  # share of the scanned video's frames found in hers
    stored_percent: float = 80.0  # share of her video's seconds found in the scanned one
    min_seconds: float = 10.0  # or this many seconds of matching frames


@dataclass
class _Found:
    distance: int = 1 << 30
    whole_times: set[float] = field(default_factory=set)  # query frames matched whole
    half_times: set[float] = field(default_factory=set)  # query frames matched by a half
    stored_times: set[float] = field(default_factory=set)
    is_video: bool = False
    hit: Hit | None = None


def merge_times(
    times: Iterable[float], step: float, until: dict[float, float] | None = None
) -> list[tuple[float, float]]:
    """Times merged into (start, end) ranges: a time t covers [t, until[t]) (by default
    [t, t + step)), and ranges less than a step apart join."""
    out: list[tuple[float, float]] = []
    for t in sorted(set(times)):
        end = (until or {}).get(t, t + step)
        if out and t - out[-1][1] <= step:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((t, end))
    return [(round(a, 3), round(b, 3)) for a, b in out]


def _frame_ends(video: VideoHashes, step: float) -> dict[float, float]:
    """Each sampled frame lasts until the next one kept (repeated frames are dropped), the
    last one until the end of the video."""
    times = sorted({f.timestamp for f in video.frames})
    ends = dict(zip(times, times[1:], strict=False))
    if times:
        ends[times[-1]] = max(times[-1] + step, video.duration or 0.0)
    return ends


def _queries(video: VideoHashes) -> list[tuple[str, float, str]]:
    """(hex, time, kind) of every usable hash of the video: kind whole, inside or a half."""
    out = [(f.pdq_hex, f.timestamp, "whole") for f in video.frames if f.quality >= MIN_QUALITY]
    out += [
        (f.pdq_hex, f.timestamp, "inside") for f in video.trimmed_frames if f.quality >= MIN_QUALITY
    ]
    for region, frames in video.regions.items():
        out += [(f.pdq_hex, f.timestamp, region) for f in frames if f.quality >= MIN_QUALITY]
    return out


def _stored_seconds(matcher: Matcher, item_ids: Sequence[int]) -> dict[int, set[int]]:
    """Per bank video, the whole seconds that have a usable whole-frame hash."""
    out: dict[int, set[int]] = {i: set() for i in item_ids}
    with matcher.db.session() as s:
        rows = s.execute(
            select(ItemSignal.item_id, ItemSignal.extra).where(
                ItemSignal.item_id.in_(list(item_ids)),
                ItemSignal.signal_type == "vpdq",
                ItemSignal.quality >= MIN_QUALITY,
            )
        ).all()
    for item_id, extra in rows:
        ts = (extra or {}).get("ts")
        if isinstance(ts, int | float) and math.isfinite(ts):
            out[item_id].add(int(ts))
    return out


def match_video(matcher: Matcher, video: VideoHashes, rule: VideoRule | None = None) -> list[Hit]:
    """Bank entries the video matches, best first, one hit per entry."""
    rule = rule or VideoRule()
    queries = _queries(video)
    if not matcher.thresholds or not queries or len(matcher.index) == 0:
        return []
    step = video.seconds_per_frame or 1.0
    query_times = {t for _, t, kind in queries if kind in ("whole", "inside")}
    results = matcher.index.search(hex_to_array([q[0] for q in queries]), matcher.radius)
    sids = {sid for ids, _ in results for sid in ids.tolist()}
    with matcher.db.session() as s:
        described = repository.describe_signals(s, sids)
    found: dict[tuple[str, int], _Found] = {}
    for (_, ts, kind), (ids, dists) in zip(queries, results, strict=True):
        for sid, dist in zip(ids.tolist(), dists.tolist(), strict=True):
            d = described.get(sid)
            if d is None:
                continue
            if kind in ("whole", "inside"):
                hit = matcher.still_hit(d, dist)
            elif d.signal_type == "vpdq-region" and d.extra.get("region") == kind:
                hit = matcher.hit(d, "vpdq", dist)
            else:
                hit = None
            if hit is None:
                continue
            f = found.setdefault((hit.bank, hit.bank_entry), _Found())
            f.is_video = f.is_video or d.media_type == "video"
            (f.whole_times if kind in ("whole", "inside") else f.half_times).add(ts)
            stored_ts = d.extra.get("ts")
            if isinstance(stored_ts, int | float):
                f.stored_times.add(float(stored_ts))
            if dist < f.distance:
                f.distance, f.hit = dist, hit
    seconds = _stored_seconds(matcher, [k[1] for k, f in found.items() if f.is_video])
    hits: list[Hit] = []
    for (_, item_id), f in found.items():
        assert f.hit is not None
        times = f.whole_times | f.half_times
        q_pct = 100.0 * len(times & query_times) / max(1, len(query_times))
        details: dict[str, object] = {
            "matched_frames": len(times),
            "query_percent": round(q_pct, 1),
            "query_ranges": merge_times(times, step, _frame_ends(video, step)),
        }
        if f.is_video:
            have = seconds.get(item_id, set())
            found_s = {int(t) for t in f.stored_times} & have
            s_pct = 100.0 * len(found_s) / max(1, len(have))
            details["stored_percent"] = round(s_pct, 1)
            details["stored_ranges"] = merge_times(f.stored_times, 1.0)
            details["frames_by_halves_only"] = len(f.half_times - f.whole_times)
            ok = (
                q_pct >= rule.query_percent
                or s_pct >= rule.stored_percent
                or len(times) * step >= rule.min_seconds
            )
            if not ok:
                continue
            signal = "vpdq"
        else:
            details["kind"] = "photo in video"
            signal = "pdq"
        hits.append(
            Hit(
                f.hit.bank,
                f.hit.bank_entry,
                f.hit.case,
                signal,
                f.distance,
                None,
                f.hit.label,
                details,
            )
        )
    return sorted(hits, key=lambda h: (h.distance, h.bank, h.bank_entry))
