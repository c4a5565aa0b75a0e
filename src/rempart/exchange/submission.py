"""The hash-submission file: what `rempart hash` writes on the victim's device.

It carries, per media file, only hashes and dimensions: PDQ hex and quality, MD5, SHA-256,
width and height; for a photo, the PDQ hashes of its crops, rotations and regions and its
local features (keypoint positions and ORB descriptors, base64), for robust matching; for a
video, its duration and its frame hashes (vPDQ, in python-threatexchange's JSON form), the
hashes of the picture inside black bars and of the halves of each frame. No pixels, and no
path unless the user asked for it. See docs/formats.md for the documented schema.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rempart import __version__
from rempart.exchange.consent import ConsentRecord, FormatError
from rempart.signals.image_hashes import ImageHashes
from rempart.signals.local_features import FeatureFormatError, Features
from rempart.signals.pdq import PdqHash
from rempart.signals.pdq_variants import REGIONS as IMAGE_REGIONS
from rempart.signals.pdq_variants import Variant
from rempart.signals.types import REGISTRY
from rempart.signals.video_variants import CROP_NAMES
from rempart.signals.vpdq import REGIONS, VideoHashes, VpdqFrame
from rempart.signals.vpdq_text import frames_from_list, frames_to_list

FORMAT = "rempart-hash-submission"
VERSION = 1
MAX_SUBMISSION_BYTES = 256 * 1024 * 1024
STORED_VARIANT_KINDS = ("crop", "rotation", "region")
MAX_VARIANTS = 64
_VARIANT_NAME = re.compile(r"^[a-z0-9+-]{1,16}$")

# pdq: 64, md5: 32, sha256: 64 hex characters (signals/types.py)
_HEX = {
    name: re.compile(rf"^[0-9a-f]{{{length}}}$") for name, length in REGISTRY.hex_chars().items()
}


@dataclass(frozen=True)
class SubmissionItem:
    md5: str
    sha256: str
    pdq: str | None
    pdq_quality: int | None
    width: int | None
    height: int | None
    media_type: str = "image"
    path: str | None = None
    # Videos only:
    duration: float | None = None
    frames: tuple[VpdqFrame, ...] = ()  # vPDQ frames
    inside: tuple[VpdqFrame, ...] = ()  # picture inside black bars, for frames with bars
    regions: dict[str, tuple[VpdqFrame, ...]] = field(default_factory=dict)  # frame halves
    seconds_per_frame: float | None = None  # sampling used (0: every frame)
    # Photos only, for robust matching: PDQ of crops, rotations, regions; local features.
    variants: tuple[Variant, ...] = ()
    features: str | None = None  # Features.to_text()

    @classmethod
    def from_video(cls, h: VideoHashes, path: str | None = None) -> SubmissionItem:
        """The submission entry of a hashed video (no PDQ of its own: its frames)."""
        return cls(
            md5=h.md5,
            sha256=h.sha256,
            pdq=None,
            pdq_quality=None,
            width=h.width,
            height=h.height,
            media_type="video",
            path=path,
            duration=h.duration,
            frames=h.frames,
            inside=h.trimmed_frames,
            regions=h.regions,
            seconds_per_frame=h.seconds_per_frame,
        )

    @classmethod
    def from_image(cls, h: ImageHashes, path: str | None = None) -> SubmissionItem:
        """The submission entry of a hashed photo (with its variants and local features when
        they were computed)."""
        return cls(
            md5=h.md5,
            sha256=h.sha256,
            pdq=h.pdq.hex,
            pdq_quality=h.pdq.quality,
            width=h.width,
            height=h.height,
            path=path,
            variants=h.variants,
            features=h.features.to_text() if h.features is not None else None,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "media_type": self.media_type,
            "pdq": self.pdq,
            "pdq_quality": self.pdq_quality,
            "md5": self.md5,
            "sha256": self.sha256,
            "width": self.width,
            "height": self.height,
        }
        if self.media_type == "video":
            out["duration"] = self.duration
            out["seconds_per_frame"] = self.seconds_per_frame
            out["vpdq"] = frames_to_list(self.frames)
            if self.inside:
                out["vpdq_inside"] = frames_to_list(self.inside)
            halves = {k: v for k, v in self.regions.items() if k in REGIONS}
            if halves:
                out["vpdq_regions"] = {k: frames_to_list(v) for k, v in halves.items()}
            crops = {k: v for k, v in self.regions.items() if k in CROP_NAMES}
            if crops:  # the robust stage's centre crops of her frames (older readers skip it)
                out["vpdq_crops"] = {k: frames_to_list(v) for k, v in crops.items()}
        if self.variants:
            out["pdq_variants"] = [
                {"kind": v.kind, "name": v.name, "pdq": v.hash.hex, "quality": v.hash.quality}
                for v in self.variants
            ]
        if self.features is not None:
            out["local_features"] = self.features
        if self.path is not None:
            out["path"] = self.path
        return out


@dataclass
class Submission:
    items: list[SubmissionItem]
    consent: ConsentRecord | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    generator: str = f"rempart {__version__}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "created_at": self.created_at.isoformat(timespec="seconds"),
            "generator": self.generator,
            "items": [item.to_json() for item in self.items],
        }
        if self.consent is not None:
            out["consent"] = self.consent.to_json()
        return out

    def write(self, path: Path) -> None:
        """Write atomically: a half-written submission file never replaces a good one."""
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)


def _hex_field(raw: dict[str, Any], key: str, where: str, *, required: bool) -> str | None:
    value = raw.get(key)
    if value is None:
        if required:
            raise FormatError(f"{where}: missing '{key}'")
        return None
    if not isinstance(value, str) or not _HEX[key].match(value.lower()):
        raise FormatError(f"{where}: '{key}' is not a valid {key} hex value")
    return value.lower()


def _int_field(raw: dict[str, Any], key: str, where: str, lo: int, hi: int) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise FormatError(f"{where}: '{key}' must be an integer from {lo} to {hi}")
    return value


def parse_item(raw: Any, where: str) -> SubmissionItem:
    if not isinstance(raw, dict):
        raise FormatError(f"{where}: an item must be a JSON object")
    md5 = _hex_field(raw, "md5", where, required=False)
    sha256 = _hex_field(raw, "sha256", where, required=False)
    pdq = _hex_field(raw, "pdq", where, required=False)
    if md5 is None and sha256 is None and pdq is None:
        raise FormatError(f"{where}: no hash (pdq, md5 or sha256)")
    media_type = raw.get("media_type", "image")
    if media_type not in ("image", "video"):
        raise FormatError(f"{where}: unknown media_type {media_type!r}")
    path = raw.get("path")
    video: dict[str, Any] = {}
    if media_type == "video":
        video = _video_fields(raw, where)
    elif any(k in raw for k in ("vpdq", "vpdq_inside", "vpdq_regions", "vpdq_crops")):
        raise FormatError(f"{where}: frame hashes (vpdq) on an item that is not a video")
    else:
        video = _robust_fields(raw, where)
    return SubmissionItem(
        md5=md5 or "",
        sha256=sha256 or "",
        pdq=pdq,
        pdq_quality=_int_field(raw, "pdq_quality", where, 0, 100),
        width=_int_field(raw, "width", where, 1, 10**7),
        height=_int_field(raw, "height", where, 1, 10**7),
        media_type=media_type,
        path=path if isinstance(path, str) else None,
        **video,
    )


def _robust_fields(raw: dict[str, Any], where: str) -> dict[str, Any]:
    """A photo's PDQ variants and local features, validated."""
    out: dict[str, Any] = {}
    listed = raw.get("pdq_variants", [])
    if not isinstance(listed, list) or len(listed) > MAX_VARIANTS:
        raise FormatError(f"{where}: 'pdq_variants' must be a list of at most {MAX_VARIANTS}")
    variants = []
    for k, v in enumerate(listed):
        at = f"{where}: pdq_variants[{k}]"
        if not isinstance(v, dict):
            raise FormatError(f"{at}: must be a JSON object")
        kind, name = v.get("kind"), v.get("name")
        if kind not in STORED_VARIANT_KINDS:
            raise FormatError(f"{at}: 'kind' must be one of {', '.join(STORED_VARIANT_KINDS)}")
        if (
            not isinstance(name, str)
            or not _VARIANT_NAME.match(name)
            or (kind == "region" and name not in IMAGE_REGIONS)
        ):
            raise FormatError(f"{at}: unknown variant name {name!r}")
        pdq = _hex_field(v, "pdq", at, required=True)
        quality = _int_field(v, "quality", at, 0, 100)
        variants.append(Variant(kind, name, PdqHash(str(pdq), 100 if quality is None else quality)))
    out["variants"] = tuple(variants)
    text = raw.get("local_features")
    if text is not None:
        if not isinstance(text, str):
            raise FormatError(f"{where}: 'local_features' must be a base64 string")
        try:
            Features.from_text(text)
        except FeatureFormatError as exc:
            raise FormatError(f"{where}: {exc}") from exc
        out["features"] = text
    return out


def _video_fields(raw: dict[str, Any], where: str) -> dict[str, Any]:
    def frames(value: Any, what: str) -> tuple[VpdqFrame, ...]:
        try:
            return tuple(frames_from_list(value, f"{where}: {what}"))
        except ValueError as exc:
            raise FormatError(str(exc)) from exc

    out: dict[str, Any] = {
        "frames": frames(raw.get("vpdq", []), "vpdq"),
        "inside": frames(raw.get("vpdq_inside", []), "vpdq_inside"),
    }
    regions = raw.get("vpdq_regions", {})
    if not isinstance(regions, dict) or not set(regions) <= set(REGIONS):
        raise FormatError(f"{where}: 'vpdq_regions' must map {', '.join(REGIONS)} to lists")
    out["regions"] = {k: frames(v, f"vpdq_regions.{k}") for k, v in regions.items()}
    crops = raw.get("vpdq_crops", {})
    if not isinstance(crops, dict) or not set(crops) <= set(CROP_NAMES):
        raise FormatError(f"{where}: 'vpdq_crops' must map {', '.join(CROP_NAMES)} to lists")
    out["regions"].update({k: frames(v, f"vpdq_crops.{k}") for k, v in crops.items()})
    for key in ("duration", "seconds_per_frame"):
        value = raw.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e7
        ):
            raise FormatError(f"{where}: '{key}' must be a number of seconds")
        out[key] = None if value is None else float(value)
    return out


def parse_submission(data: Any, name: str) -> Submission:
    if not isinstance(data, dict):
        raise FormatError(f"{name}: the top level must be a JSON object")
    if data.get("format") != FORMAT:
        raise FormatError(f"{name}: not a Rempart hash-submission file (format is not {FORMAT!r})")
    if data.get("version") != VERSION:
        raise FormatError(f"{name}: unsupported version {data.get('version')!r}")
    items_raw = data.get("items")
    if not isinstance(items_raw, list):
        raise FormatError(f"{name}: 'items' must be a list")
    items = [parse_item(raw, f"{name}: item {i + 1}") for i, raw in enumerate(items_raw)]
    consent_raw = data.get("consent")
    consent = ConsentRecord.parse(consent_raw, f"{name}: consent") if consent_raw else None
    return Submission(items=items, consent=consent)


def read_submission(path: Path) -> Submission:
    """Read and validate a submission file; FormatError names the file and what is wrong."""
    try:
        size = path.stat().st_size
        if size > MAX_SUBMISSION_BYTES:
            raise FormatError(
                f"{path}: file is {size} bytes, over the {MAX_SUBMISSION_BYTES} limit"
            )
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FormatError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path}: not UTF-8 text") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(
            f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}"
        ) from exc
    return parse_submission(data, str(path))
