"""vPDQ's two written forms of a video's frame hashes, read and written.

Kept apart from hashing (signals/vpdq.py) because these forms are fixed outside Rempart
(Meta's vPDQ, python-threatexchange) and their users hash nothing: `rempart hash --format
vpdq` writes the text form, hash-submission files (exchange/submission.py) carry the JSON
form, and the tests read Meta's sample files through it.

Text form, one line per frame, as Meta's vPDQ writes it (see docs/video.md):
    frame_number,quality,pdq_hex,timestamp_seconds      e.g. 0,100,e271...055c,0.000
JSON form (hash-submission files), as python-threatexchange's VPDQ signal type writes it:
    ["e271...055c,100,0.000", ...]                       (pdq_hex,quality,timestamp)
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from rempart.signals.vpdq import VpdqFrame


def frames_to_text(frames: Iterable[VpdqFrame]) -> str:
    """vPDQ's text form: `frame,quality,pdq_hex,timestamp` with 3 decimals, one per line."""
    return "".join(f"{f.frame},{f.quality},{f.pdq_hex},{f.timestamp:.3f}\n" for f in frames)


def _check(frame: VpdqFrame) -> VpdqFrame:
    if len(frame.pdq_hex) != 64:
        raise ValueError("the PDQ hash must be 64 hex digits")
    int(frame.pdq_hex, 16)
    if not 0 <= frame.quality <= 100:
        raise ValueError(f"quality {frame.quality} out of 0..100")
    if frame.frame < 0 or not frame.timestamp >= 0 or frame.timestamp == float("inf"):
        raise ValueError("negative frame number or bad timestamp")
    return frame


def frames_from_text(text: str, source: str) -> list[VpdqFrame]:
    """Parse vPDQ text; a malformed line raises ValueError naming the source and line.

    Also reads Meta's older 3-field lines (`frame,quality,pdq_hex`, timestamp 0).
    """
    out: list[VpdqFrame] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        try:
            if len(parts) not in (3, 4):
                raise ValueError("expected frame,quality,pdq_hex,timestamp")
            ts = float(parts[3]) if len(parts) == 4 else 0.0
            out.append(_check(VpdqFrame(int(parts[0]), int(parts[1]), parts[2].lower(), ts)))
        except ValueError as exc:
            raise ValueError(f"{source}: line {lineno}: {exc}: {line[:100]!r}") from exc
    return out


def frames_to_json(frames: Iterable[VpdqFrame]) -> str:
    """JSON list of `pdq_hex,quality,timestamp` strings (python-threatexchange's VPDQ form)."""
    return json.dumps(frames_to_list(frames))


def frames_to_list(frames: Iterable[VpdqFrame]) -> list[str]:
    """The JSON form as a Python list (to embed in a larger JSON document)."""
    return [f"{f.pdq_hex},{f.quality},{f.timestamp:.3f}" for f in frames]


def frames_from_json(text: str, source: str) -> list[VpdqFrame]:
    """Parse the JSON form; frame numbers are the positions in the list."""
    try:
        items = json.loads(text or "[]")
    except json.JSONDecodeError as exc:
        raise ValueError(f"{source}: not JSON ({exc})") from exc
    return frames_from_list(items, source)


def frames_from_list(items: object, source: str) -> list[VpdqFrame]:
    """Parse the JSON form already loaded: a list of 'pdq_hex,quality,timestamp' strings."""
    if not isinstance(items, list):
        raise ValueError(f"{source}: expected a JSON list of 'pdq_hex,quality,timestamp'")
    out: list[VpdqFrame] = []
    for i, item in enumerate(items):
        try:
            if not isinstance(item, str) or len(parts := item.split(",")) != 3:
                raise ValueError("expected 'pdq_hex,quality,timestamp'")
            out.append(_check(VpdqFrame(i, int(parts[1]), parts[0].lower(), float(parts[2]))))
        except ValueError as exc:
            raise ValueError(f"{source}: item {i}: {exc}: {str(item)[:100]!r}") from exc
    return out
