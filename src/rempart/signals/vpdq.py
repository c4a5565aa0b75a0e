"""Video hashing compatible with Meta's vPDQ: a PDQ hash per sampled frame, and matching.

Text form, one line per frame, as Meta's vPDQ writes it:
    frame_number,quality,pdq_hex,timestamp_seconds      e.g. 0,100,e271...055c,0.000
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pdqhash

from rempart.media.errors import MediaError
from rempart.media.video import iter_sampled_frames, probe_video
from rempart.signals.pdq import DEFAULT_THRESHOLD, MIN_QUALITY, bits_to_hex, hamming

DEDUPE_DISTANCE = 0  # consecutive sampled frames this close keep only the first
CHUNK = 1 << 20


@dataclass(frozen=True)
class VpdqFrame:
    frame: int
    quality: int
    pdq_hex: str
    timestamp: float


@dataclass(frozen=True)
class VideoHashes:
    md5: str
    sha256: str
    frames: tuple[VpdqFrame, ...]
    duration: float | None
    width: int
    height: int
    notes: tuple[str, ...] = field(default=())


def file_digests(path: Path) -> tuple[str, str]:
    """MD5 and SHA-256 of a file, read in chunks (videos can be large)."""
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while block := fh.read(CHUNK):
                md5.update(block)
                sha.update(block)
    except OSError as exc:
        raise MediaError(path, "unreadable", f"cannot read ({exc.strerror})") from exc
    return md5.hexdigest(), sha.hexdigest()


def hash_frames(
    path: Path,
    *,
    seconds_per_frame: float = 1.0,
    dedupe_distance: int | None = DEDUPE_DISTANCE,
    progress: Callable[[float], None] | None = None,
) -> list[VpdqFrame]:
    frames: list[VpdqFrame] = []
    for number, ts, rgb in iter_sampled_frames(path, seconds_per_frame=seconds_per_frame):
        bits, quality = pdqhash.compute(np.ascontiguousarray(rgb))
        frame = VpdqFrame(number, int(quality), bits_to_hex(bits), ts)
        if (
            dedupe_distance is not None
            and frames
            and hamming(frames[-1].pdq_hex, frame.pdq_hex) <= dedupe_distance
        ):
            continue
        frames.append(frame)
        if progress is not None:
            progress(ts)
    return frames


def hash_video_file(
    path: Path,
    *,
    seconds_per_frame: float = 1.0,
    progress: Callable[[float], None] | None = None,
) -> VideoHashes:
    """Every hash of a video: MD5, SHA-256 and vPDQ frames. MediaError when unusable."""
    info = probe_video(path)
    frames = hash_frames(path, seconds_per_frame=seconds_per_frame, progress=progress)
    md5, sha256 = file_digests(path)
    notes: list[str] = []
    if (
        info.duration
        and frames
        and frames[-1].timestamp < info.duration - 2 * max(seconds_per_frame, 1.0)
    ):
        notes.append(
            f"decoded up to {frames[-1].timestamp:.1f} s of {info.duration:.1f} s: "
            "the file may be truncated"
        )
    return VideoHashes(md5, sha256, tuple(frames), info.duration, info.width, info.height,
                       tuple(notes))  # fmt: skip


def frames_to_text(frames: Iterable[VpdqFrame]) -> str:
    return "".join(f"{f.frame},{f.quality},{f.pdq_hex},{f.timestamp:.3f}\n" for f in frames)


def frames_from_text(text: str, source: str) -> list[VpdqFrame]:
    """Parse vPDQ text; a malformed line raises ValueError naming the source and line."""
    out: list[VpdqFrame] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.strip().split(",")
        try:
            if len(parts) != 4 or len(parts[2]) != 64:
                raise ValueError("expected frame,quality,pdq_hex,timestamp")
            int(parts[2], 16)
            frame = VpdqFrame(int(parts[0]), int(parts[1]), parts[2].lower(), float(parts[3]))
            if not 0 <= frame.quality <= 100 or frame.frame < 0:
                raise ValueError("quality or frame number out of range")
        except ValueError as exc:
            raise ValueError(f"{source}: line {lineno}: {exc}") from exc
        out.append(frame)
    return out


@dataclass(frozen=True)
class VpdqMatch:
    query_match_percent: float
    stored_match_percent: float
    query_ranges: list[tuple[float, float]]
    stored_ranges: list[tuple[float, float]]


def _ranges(frames: Sequence[VpdqFrame], matched: Sequence[bool], end: float) -> list:
    """Merge the time spans of matched frames (each frame lasts until the next one)."""
    out: list[tuple[float, float]] = []
    for i, f in enumerate(frames):
        if not matched[i]:
            continue
        stop = frames[i + 1].timestamp if i + 1 < len(frames) else max(end, f.timestamp)
        if out and abs(out[-1][1] - f.timestamp) < 1e-6:
            out[-1] = (out[-1][0], stop)
        else:
            out.append((f.timestamp, stop))
    return out


def match_videos(
    query: Sequence[VpdqFrame],
    stored: Sequence[VpdqFrame],
    *,
    distance: int = DEFAULT_THRESHOLD,
    quality: int = MIN_QUALITY,
) -> VpdqMatch:
    """vPDQ's two percentages over unique good-quality frame hashes, and matched time ranges.

    query_match_percent: share of the query's unique hashes within `distance` of some stored
    hash; stored_match_percent: the same the other way round (as Meta's vPDQ defines them).
    """
    q_good = [f for f in query if f.quality >= quality]
    s_good = [f for f in stored if f.quality >= quality]
    q_unique = sorted({f.pdq_hex for f in q_good})
    s_unique = sorted({f.pdq_hex for f in s_good})
    if not q_unique or not s_unique:
        return VpdqMatch(0.0, 0.0, [], [])
    qa = np.frombuffer(bytes.fromhex("".join(q_unique)), np.uint64).reshape(-1, 4)
    sa = np.frombuffer(bytes.fromhex("".join(s_unique)), np.uint64).reshape(-1, 4)
    dist = np.zeros((len(qa), len(sa)), dtype=np.int32)
    for w in range(4):
        dist += np.bitwise_count(qa[:, w][:, None] ^ sa[:, w][None, :])
    close = dist <= distance
    q_hit = dict(zip(q_unique, close.any(axis=1).tolist(), strict=True))
    s_hit = dict(zip(s_unique, close.any(axis=0).tolist(), strict=True))
    q_end = query[-1].timestamp + 1.0 if query else 0.0
    s_end = stored[-1].timestamp + 1.0 if stored else 0.0
    return VpdqMatch(
        100.0 * sum(q_hit.values()) / len(q_unique),
        100.0 * sum(s_hit.values()) / len(s_unique),
        _ranges(query, [q_hit.get(f.pdq_hex, False) and f.quality >= quality for f in query],
                q_end),
        _ranges(stored, [s_hit.get(f.pdq_hex, False) and f.quality >= quality for f in stored],
                s_end),
    )  # fmt: skip


def is_match(m: VpdqMatch, *, query_percent: float = 80.0, stored_percent: float = 0.0) -> bool:
    """Default: most of the query is in the stored video (a clip cut from it matches)."""
    return m.query_match_percent >= query_percent and m.stored_match_percent >= stored_percent
