"""Pairwise matching of two videos' vPDQ frame hashes, as Meta's vPDQ defines it: the two
percentages, the matched time ranges, the decision, and the variant on the pictures inside
black bars.

Kept apart from hashing (signals/vpdq.py) because it works on hashes alone, already computed
or read back from text: nothing is decoded or hashed here. It is the reference two-video
comparison (bench/video_bench.py, the tests against Meta's samples); the scan matches videos
through the bank's index instead (scan/video_match.py). See docs/video.md, "Matching".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rempart.signals.pdq import DEFAULT_THRESHOLD, MIN_QUALITY, hex_words, within
from rempart.signals.vpdq import VideoHashes, VpdqFrame

# Default decision of is_match (python-threatexchange's VPDQ signal type uses the same two
# numbers):
QUERY_MATCH_PERCENT = 80.0  # share of the query's frames found in the stored video
STORED_MATCH_PERCENT = 0.0  # share of the stored video's frames found in the query


@dataclass(frozen=True)
class VpdqMatch:
    query_match_percent: float
    stored_match_percent: float
    query_ranges: list[tuple[float, float]]
    stored_ranges: list[tuple[float, float]]


def _unique_good(frames: Sequence[VpdqFrame], quality: int) -> list[str]:
    """vPDQ's filtering: first occurrence of each hash, then the quality filter."""
    seen: set[str] = set()
    out: list[str] = []
    for f in frames:
        if f.pdq_hex in seen:
            continue
        seen.add(f.pdq_hex)
        if f.quality >= quality:
            out.append(f.pdq_hex)
    return out


def _ranges(
    frames: Sequence[VpdqFrame], matched: Sequence[bool], end: float
) -> list[tuple[float, float]]:
    """Merge consecutive matched frames into (start, end) seconds; a frame lasts until the
    next sampled frame (the last one until `end`)."""
    out: list[tuple[float, float]] = []
    prev_matched = False
    for i, f in enumerate(frames):
        if not matched[i]:
            prev_matched = False
            continue
        stop = frames[i + 1].timestamp if i + 1 < len(frames) else max(end, f.timestamp)
        if out and prev_matched:
            out[-1] = (out[-1][0], stop)
        else:
            out.append((f.timestamp, stop))
        prev_matched = True
    return out


def _frame_step(frames: Sequence[VpdqFrame]) -> float:
    gaps = [b.timestamp - a.timestamp for a, b in zip(frames, frames[1:], strict=False)]
    gaps = [g for g in gaps if g > 0]
    return float(min(gaps)) if gaps else 1.0


def match_videos(
    query: Sequence[VpdqFrame],
    stored: Sequence[VpdqFrame],
    *,
    distance: int = DEFAULT_THRESHOLD,
    quality: int = MIN_QUALITY,
) -> VpdqMatch:
    """vPDQ's two percentages, and the matched time ranges on both sides.

    As Meta's vPDQ (python-threatexchange's brute matcher): each side keeps the first
    occurrence of each distinct hash, then drops frames of quality < `quality`;
    query_match_percent is the share of those query hashes within `distance` (inclusive)
    of some stored hash, stored_match_percent the same the other way round. Ranges: the
    matched sampled frames (same rule), consecutive ones merged, in seconds.
    """
    q_unique, s_unique = _unique_good(query, quality), _unique_good(stored, quality)
    if not q_unique or not s_unique:
        return VpdqMatch(0.0, 0.0, [], [])
    close = within(hex_words(q_unique), hex_words(s_unique), distance)
    q_hit = dict(zip(q_unique, np.any(close, axis=1).tolist(), strict=True))
    s_hit = dict(zip(s_unique, np.any(close, axis=0).tolist(), strict=True))
    q_end = query[-1].timestamp + _frame_step(query)
    s_end = stored[-1].timestamp + _frame_step(stored)
    return VpdqMatch(
        100.0 * sum(q_hit.values()) / len(q_unique),
        100.0 * sum(s_hit.values()) / len(s_unique),
        _ranges(
            query, [f.quality >= quality and q_hit.get(f.pdq_hex, False) for f in query], q_end
        ),
        _ranges(
            stored, [f.quality >= quality and s_hit.get(f.pdq_hex, False) for f in stored], s_end
        ),
    )


def is_match(
    m: VpdqMatch,
    *,
    query_percent: float = QUERY_MATCH_PERCENT,
    stored_percent: float = STORED_MATCH_PERCENT,
) -> bool:
    """Match when >= 80% of the query's frames are in the stored video (and >= 0% the other
    way): a short clip cut from a long stored video matches; a long video that merely
    contains the stored clip does not, unless the caller also checks the reverse direction
    (`is_match(match_videos(stored, query))`) or lowers `query_percent`.
    These are python-threatexchange's defaults for the VPDQ signal type."""
    return m.query_match_percent >= query_percent and m.stored_match_percent >= stored_percent


def content_frames(frames: Sequence[VpdqFrame], trimmed: Sequence[VpdqFrame]) -> list[VpdqFrame]:
    """Per sampled frame, the inside-bars hash when the frame has bars, else the plain one."""
    inside = {f.frame: f for f in trimmed}
    return [inside.get(f.frame, f) for f in frames]


def match_video_hashes(
    query: VideoHashes,
    stored: VideoHashes,
    *,
    distance: int = DEFAULT_THRESHOLD,
    quality: int = MIN_QUALITY,
) -> VpdqMatch:
    """The better (by query share, then stored share) of plain vPDQ matching and matching
    of the pictures inside black bars (identical to plain vPDQ when neither has bars)."""
    plain = match_videos(query.frames, stored.frames, distance=distance, quality=quality)
    if not query.trimmed_frames and not stored.trimmed_frames:
        return plain
    inside = match_videos(
        content_frames(query.frames, query.trimmed_frames),
        content_frames(stored.frames, stored.trimmed_frames),
        distance=distance,
        quality=quality,
    )
    key = lambda m: (m.query_match_percent, m.stored_match_percent)  # noqa: E731
    return max(plain, inside, key=key)
