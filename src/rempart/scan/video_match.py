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

The robust stage (signals/video_variants.py, docs/video.md): a scanned frame is also looked
up mirrored or turned (the whole frame's 7 other rotations/flips), as the picture inside a
frame or border, and as an inset in a corner; her frames' centre crops are in the bank. A bank
video that the plain rule does not match is matched by one robust method when enough frames
agree on it *consistently*: the same method and transform on every frame, and the stored
times in the same order as the scanned ones (the longest such run counts). The same shares
and the 10-second rule then apply to those frames, with at least MIN_ROBUST_FRAMES of them
(all the usable frames of a shorter clip, at least 2), the scanned share lowered to 50%: a
short clip has few frames (`robust_run_passes`).
The hit says how (`details["method"]`: vpdq-mirrored, vpdq-rotated, vpdq-inside-frame,
vpdq-crop, vpdq-pip; `details["transform"]`).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from rempart.index.binary_index import hex_to_array
from rempart.scan.matcher import Hit, Matcher
from rempart.signals import video_variants
from rempart.signals.pdq import MIN_QUALITY
from rempart.signals.vpdq import VideoHashes
from rempart.store import repository
from rempart.store.models import ItemSignal


@dataclass(frozen=True)
class VideoRule:
    query_percent: float = 80.0  # share of the scanned video's frames found in hers
    stored_percent: float = 80.0  # share of her video's seconds found in the scanned one
    min_seconds: float = 10.0  # or this many seconds of matching frames


# Robust methods: at least this many consistent frames, each within ROBUST_THRESHOLD (or the
# bank's threshold when lower); a run of them stays consistent while the stored time does not
# go back by more than ROBUST_SLACK seconds (still scenes repeat frames). A scanned clip with
# fewer usable frames than MIN_ROBUST_FRAMES (a 4-second clip whose last seconds are a plain
# wall) is matched by all of them, but never by fewer than SHORT_CLIP_FRAMES.
MIN_ROBUST_FRAMES = 3
SHORT_CLIP_FRAMES = 2
# The share of the scanned clip's usable frames a consistent run must hold when it is shorter
# than the rule's seconds (clips under 20 s): 80% of 5-8 frames left clips found in 5 of 7 or
# 4 of 8 frames unmatched, while no frame of a different clip or an unrelated video met a
# robust stream on the sample clips (docs/video.md). Longer clips meet the 10-second rule first.
ROBUST_QUERY_PERCENT = 50.0
ROBUST_THRESHOLD = 31
ROBUST_SLACK = 0.5
# The most direct first: the report names the first method that matches.
ROBUST_METHODS = ("vpdq-mirrored", "vpdq-inside-frame", "vpdq-crop", "vpdq-pip", "vpdq-rotated")


@dataclass
class _Found:
    distance: int = 1 << 30
    plain: bool = False  # found by a plain hash (whole, inside bars, a half)
    whole_times: set[float] = field(default_factory=set)  # query frames matched whole
    half_times: set[float] = field(default_factory=set)  # query frames matched by a half
    stored_times: set[float] = field(default_factory=set)
    is_video: bool = False
    hit: Hit | None = None
    # robust: (method, transform) -> [(query time, stored time, distance)]
    robust: dict[tuple[str, str], list[tuple[float, float, int]]] = field(default_factory=dict)


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
    """(hex, time, kind) of every usable hash of the video: kind whole, inside, a half, or a
    robust stream (signals/video_variants: "whole/flip_horizontal", "frame/original", ...)."""
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
            robust = _robust_method(kind, d.signal_type, d.extra)
            if robust is not None:
                if d.media_type == "video" and (hit := matcher.hit(d, "vpdq", dist)) is not None:
                    limit = min(ROBUST_THRESHOLD, matcher.thresholds[hit.bank])
                    stored_ts = d.extra.get("ts")
                    if dist <= limit and isinstance(stored_ts, int | float):
                        f = found.setdefault((hit.bank, hit.bank_entry), _Found())
                        f.robust.setdefault(robust, []).append((ts, float(stored_ts), dist))
                        if f.hit is None:
                            f.is_video, f.hit, f.distance = True, hit, 1 << 30
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
            f.plain = True
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
        distance, transform = f.distance, None
        if f.is_video:
            have = seconds.get(item_id, set())
            found_s = {int(t) for t in f.stored_times} & have
            s_pct = 100.0 * len(found_s) / max(1, len(have))
            details["stored_percent"] = round(s_pct, 1)
            details["stored_ranges"] = merge_times(f.stored_times, 1.0)
            details["frames_by_halves_only"] = len(f.half_times - f.whole_times)
            ok = f.plain and (
                q_pct >= rule.query_percent
                or s_pct >= rule.stored_percent
                or len(times) * step >= rule.min_seconds
            )
            if ok:
                details["method"] = "vpdq"
            else:
                verdict = _robust_verdict(f, rule, query_times, have, step, video)
                if verdict is None:
                    continue
                details, distance, transform = verdict
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
                distance,
                transform,
                f.hit.label,
                details,
            )
        )
    return sorted(hits, key=lambda h: (h.distance, h.bank, h.bank_entry))


def _robust_method(kind: str, signal_type: str, extra: dict[str, object]) -> tuple[str, str] | None:
    """(method, transform) when a query hash of this kind meeting a stored hash of this type
    is a robust-stage pair, else None. Whole frames (as found, inside bars, or turned) meet her
    frames' crops; turned frames, pictures inside a frame and insets meet her whole frames
    (and their insides)."""
    stream = video_variants.stream_kind(kind)
    if signal_type == "vpdq-region":
        region = str(extra.get("region"))
        if region not in video_variants.CROP_NAMES:
            return None
        if kind in ("whole", "inside"):
            return "vpdq-crop", "original"
        if stream == "whole":  # mirrored (or turned) and cropped
            return "vpdq-crop", video_variants.transform_of(kind)
        return None
    if signal_type != "vpdq" or not stream or stream == "crop":
        return None
    transform = video_variants.transform_of(kind)
    if stream == "whole":
        flipped = video_variants.is_flipped([transform])
        return ("vpdq-mirrored" if flipped else "vpdq-rotated"), transform
    if stream == "frame":
        return "vpdq-inside-frame", transform
    return "vpdq-pip", transform


def consistent(pairs: Sequence[tuple[float, float, int]]) -> list[tuple[float, float, int]]:
    """The longest run of (query time, stored time, distance) pairs, at most one per query
    time, whose stored times go forward with the query times (back by at most ROBUST_SLACK:
    a still scene repeats its frames)."""
    # best pair per (query time, stored time); then longest non-decreasing subsequence of
    # stored time over query time (patience sorting), ties of a query time never chained
    by_key: dict[tuple[float, float], tuple[float, float, int]] = {}
    for q, s, d in pairs:
        if (q, s) not in by_key or d < by_key[(q, s)][2]:
            by_key[(q, s)] = (q, s, d)
    ordered = sorted(by_key.values(), key=lambda p: (p[0], -p[1]))
    # tails[k]: the lowest "furthest stored time so far" of a run of length k + 1 (a run
    # never goes back by more than the slack from the furthest time it reached)
    tails: list[float] = []
    tail_idx: list[int] = []
    parent: list[int] = [-1] * len(ordered)
    for i, (_, s, _) in enumerate(ordered):
        k = bisect.bisect_right(tails, s + ROBUST_SLACK)  # runs this pair may extend
        reach = max(s, tails[k - 1]) if k > 0 else s
        if k == len(tails):
            tails.append(reach)
            tail_idx.append(i)
        elif reach < tails[k]:
            tails[k], tail_idx[k] = reach, i
        else:
            continue
        parent[i] = tail_idx[k - 1] if k > 0 else -1
    out: list[tuple[float, float, int]] = []
    i = tail_idx[-1] if tail_idx else -1
    while i >= 0:
        out.append(ordered[i])
        i = parent[i]
    out.reverse()
    # one pair per query time
    seen: set[float] = set()
    return [p for p in out if not (p[0] in seen or seen.add(p[0]))]  # type: ignore[func-returns-value]


def robust_run_passes(
    frames: int, q_pct: float, s_pct: float, query_frames: int, step: float, rule: VideoRule
) -> bool:
    """Whether a consistent run of `frames` scanned frames (q_pct of the scanned clip's
    `query_frames` usable frames, s_pct of her seconds) is a match: at least
    MIN_ROBUST_FRAMES frames (all of a shorter clip's, at least SHORT_CLIP_FRAMES), and then
    the rule's shares or seconds, the scanned share lowered to ROBUST_QUERY_PERCENT (or the
    rule's own when lower): a short clip has few frames to lose (5 of 7 is 71%, 4 of 8 50%)."""
    need = max(SHORT_CLIP_FRAMES, min(MIN_ROBUST_FRAMES, query_frames))
    if frames < need:
        return False
    return (
        q_pct >= min(rule.query_percent, ROBUST_QUERY_PERCENT)
        or s_pct >= rule.stored_percent
        or frames * step >= rule.min_seconds
    )


def _flat_only(video: VideoHashes, method: str, transform: str) -> set[float]:
    """Times at which a robust method's own stream has hashes but none usable (quality under
    MIN_QUALITY): an inset or a framed picture too dark or flat to hash on a frame whose
    whole picture is usable (picture-in-picture over a bright video). Those frames do not
    count against the method: her dark seconds cannot be found in any copy."""
    kind = {"vpdq-inside-frame": "frame", "vpdq-pip": "pip"}.get(method)
    if kind is None:  # the whole frame's flips and crops: the whole frame's quality
        return set()
    stream = video.regions.get(f"{kind}/{transform}", ())
    flat = {f.timestamp for f in stream if f.quality < MIN_QUALITY}
    return flat - {f.timestamp for f in stream if f.quality >= MIN_QUALITY}


def _robust_verdict(
    f: _Found,
    rule: VideoRule,
    query_times: set[float],
    have: set[int],
    step: float,
    video: VideoHashes,
) -> tuple[dict[str, object], int, str | None] | None:
    """The first robust method (ROBUST_METHODS' order; per method the transform with the
    most consistent frames) whose frames pass the rule: (details, distance, transform)."""
    for method in ROBUST_METHODS:
        best: tuple[list[tuple[float, float, int]], str] | None = None
        for (m, transform), pairs in f.robust.items():
            if m != method:
                continue
            run = consistent(pairs)
            if best is None or len(run) > len(best[0]):
                best = (run, transform)
        if best is None:
            continue
        run, transform = best
        times = {q for q, _, _ in run}
        stored = {s for _, s, _ in run}
        usable = query_times - _flat_only(video, method, transform)
        q_pct = 100.0 * len(times & usable) / max(1, len(usable))
        s_pct = 100.0 * len({int(s) for s in stored} & have) / max(1, len(have))
        if not robust_run_passes(len(times), q_pct, s_pct, len(usable), step, rule):
            continue
        details: dict[str, object] = {
            "matched_frames": len(times),
            "query_percent": round(q_pct, 1),
            "query_ranges": merge_times(times, step, _frame_ends(video, step)),
            "stored_percent": round(s_pct, 1),
            "stored_ranges": merge_times(stored, 1.0),
            "frames_by_halves_only": 0,
            "method": method,
            "transform": transform,
        }
        name = transform if method in ("vpdq-mirrored", "vpdq-rotated") else None
        return details, min(d for _, _, d in run), name
    return None
