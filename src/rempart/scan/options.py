"""The scan's types, in a module of their own: what a scan is asked to do (ScanOptions), what
hashing one item gives (Outcome) and what a scan found (ScanResult and its rows).

The pipeline, the hashing workers (hashing.py), the Dask cluster (cluster.py), the recording
(recording.py) and the reports all share them, so none of those has to import another for
its types (the pipeline <-> cluster import circle came from that).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rempart.faces.detect import DEFAULT_CNN_SECONDS, DEFAULT_DETECTOR, FaceFinding
from rempart.media.decode import DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_PIXELS
from rempart.media.errors import MediaError
from rempart.scan.face_match import FaceHit
from rempart.scan.matcher import Candidates, Hit
from rempart.signals.image_hashes import ImageHashes
from rempart.signals.vpdq import VideoHashes
from rempart.sources.base import MediaRef, SourceProblem

# One problem type for sources and scans: an item a scan skipped (or a Telegram export did
# not contain) is reported with the same fields a source uses for what it could not read.
Skipped = SourceProblem

# (done, total, locator) after each item
ProgressFn = Callable[[int, int, str], None]
# (locator, seconds hashed, duration or None; seconds -1 when the video is done)
VideoProgressFn = Callable[[str, float, float | None], None]


@dataclass(frozen=True)
class ScanOptions:
    banks: tuple[str, ...] = ()
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_bytes: int = DEFAULT_MAX_FILE_BYTES
    # Videos: one frame every `seconds_per_frame` (0: every frame), consecutive frames this
    # close dropped, and hashes of frame halves (they survive large logos).
    seconds_per_frame: float = 1.0
    video_dedupe: int | None = 0
    video_regions: bool = True
    # Faces (--faces): look for faces in photos, and in video frames every `face_seconds`.
    faces: bool = False
    face_seconds: float = 2.0
    # The face detector (hog, hog+cnn, cnn: rempart.faces.detect, --face-detector) and the
    # seconds of CNN time the scan may spend, its workers together (--face-cnn-seconds);
    # the key names this scan's CNN budget in the worker processes.
    face_detector: str = DEFAULT_DETECTOR
    face_cnn_seconds: float = DEFAULT_CNN_SECONDS
    face_budget_key: str = field(default_factory=lambda: secrets.token_hex(8))
    # Hashes of known content (by SHA-256) are reused from this folder instead of decoding.
    cache_dir: str | None = None
    # A Dask cluster to hash on: "local" (a cluster of `workers` processes) or an address.
    cluster: str | None = None
    # Photos: hash variants and local features for robust matching ("query": as a scan
    # looks them up, "stored": as a bank keeps them, None: whole-image hashes only).
    robust: str | None = "query"
    # What a bank keeps (`rempart hash`): photos decoded at full size, as her hashing page
    # decodes them (a browser has no reduced-size JPEG decoding), so both files are equal;
    # scans decode large JPEGs at a reduced size, which is faster.
    full_decode: bool = False
    # The report asked for (an absolute path) and its format, kept with the scan so that
    # `scan --resume` writes it when the scan was killed before it could.
    report: str | None = None
    report_format: str = "json"
    # Synthetic-media signals (C2PA, XMP, generator metadata, the invisible watermark where
    # it can survive) on found media, after hashing (scan/synthetic.py); --no-synthetic.
    synthetic: bool = True


@dataclass(frozen=True)
class MatchRow:
    file: str
    hit: Hit
    pdq_quality: int | None
    provenance: dict[str, Any] = field(default_factory=dict)
    # synthetic-media findings: the found item's, then the match's derivation (Finding JSON)
    synthetic: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class FaceRow:
    file: str
    hit: FaceHit


@dataclass(frozen=True)
class FaceNote:
    """A face found but not compared (too small or blurred)."""

    file: str
    box: tuple[int, int, int, int]
    status: str
    time: float | None


@dataclass
class ScanResult:
    scan_id: int
    started_at: datetime
    finished_at: datetime | None = None
    banks: tuple[str, ...] = ()
    files: int = 0
    hashed: int = 0
    videos: int = 0
    matches: list[MatchRow] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    low_quality: list[str] = field(default_factory=list)
    seconds: float = 0.0
    faces_looked: bool = False
    not_exported: list[Skipped] = field(default_factory=list)
    resumed_items: int = 0
    from_cache: int = 0  # known content: hashes reused, not decoded again
    faces_found: int = 0
    face_matches: list[FaceRow] = field(default_factory=list)
    faces_not_compared: list[FaceNote] = field(default_factory=list)
    # synthetic-media findings of the scanned items that have some, by locator
    synthetic: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def matched_files(self) -> int:
        return len({m.file for m in self.matches} | {m.file for m in self.face_matches})


@dataclass(frozen=True)
class Outcome:
    """What hashing one item gave: its hashes, or the error that stopped it."""

    ref: MediaRef
    hashes: ImageHashes | VideoHashes | None = None
    error: MediaError | None = None
    faces: tuple[FaceFinding, ...] | None = None  # when the scan looks for faces
    cached: bool = False  # hashes reused from the cache (known content, not decoded again)
    near: Candidates | None = None  # index search already done (by a cluster worker)
    synthetic: tuple[dict[str, Any], ...] | None = None  # None: not looked (--no-synthetic)
