"""What every synthetic-media signal returns, and the one function that runs them all.

Why one result type: a C2PA claim, an XMP field, a generator's PNG text and an invisible
watermark are different kinds of evidence, but the caseworker, the scan report and the
`rempart inspect` JSON read them the same way: what kind of signal (`type`), what it points
at (`indicates`), how much weight it can bear (`strength`), and the evidence itself.

The rule, in code as in docs/synthetic.md: a finding is evidence, never a verdict. No
finding means "no signal found" (metadata is stripped by most re-encodes and by messengers),
never "real" or "not generated". Nothing here touches the network.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from rempart.signals.types import LEARNED_DETECTOR as LEARNED_DETECTOR_TYPE
from rempart.signals.types import REGISTRY

Indicates = Literal["ai-generated", "ai-modified", "provenance-invalid"]
Strength = Literal["strong", "weak", "fragile"]

# The IPTC digital source type vocabulary (https://cv.iptc.org/newscodes/digitalsourcetype/)
# as C2PA actions and XMP Iptc4xmpExt:DigitalSourceType carry it. Only the terms that name a
# trained model are flagged; `algorithmicMedia` (made by an algorithm that was NOT trained,
# e.g. a fractal or procedural render) and `compositeSynthetic` (a composite with some
# synthetic element, CGI included) say nothing about AI and are not flagged. The table is in
# docs/synthetic.md.
IPTC_NAMESPACES = (
    "http://cv.iptc.org/newscodes/digitalsourcetype/",
    "https://cv.iptc.org/newscodes/digitalsourcetype/",
)
SOURCE_TYPE_INDICATES: dict[str, Indicates] = {
    "trainedAlgorithmicMedia": "ai-generated",
    "compositeWithTrainedAlgorithmicMedia": "ai-modified",
}


def source_type_term(value: object) -> str | None:
    """The IPTC term of a digital source type URI (None when it is not one)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    for namespace in IPTC_NAMESPACES:
        if text.startswith(namespace):
            term = text[len(namespace) :].strip("/")
            return term or None
    return None


def source_type_indicates(value: object) -> Indicates | None:
    """What a digital source type URI indicates, or None (not flagged). Exact: the full IPTC
    URI is required, and only the two trained-model terms are flagged."""
    term = source_type_term(value)
    return SOURCE_TYPE_INDICATES.get(term) if term else None


@dataclass(frozen=True)
class Finding:
    """One signal found in one file: evidence, never a verdict."""

    type: str
    indicates: Indicates
    strength: Strength
    evidence: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The `rempart inspect` JSON of this signal: type, indicates, strength, then the
        evidence fields (an evidence field never overrides those three)."""
        head: dict[str, Any] = {
            "type": self.type,
            "indicates": self.indicates,
            "strength": self.strength,
        }
        return head | {k: v for k, v in self.evidence.items() if k not in head}


@dataclass(frozen=True)
class Problem:
    """A file (or a part of it) that could not be read: named, never a crash."""

    file: str
    reason: str

    def as_json(self) -> dict[str, str]:
        return {"file": self.file, "reason": self.reason}


@dataclass(frozen=True)
class Limits:
    """Bounds on what a hostile file can make the readers do."""

    max_xmp_bytes: int = 1 << 20  # one XMP packet
    max_text_bytes: int = 1 << 20  # one PNG text chunk, after decompression
    max_chunk_bytes: int = 8 << 20  # one PNG text chunk as stored
    max_chunks: int = 10_000  # PNG chunks walked
    max_head_bytes: int = 4 << 20  # bytes searched for an XMP packet in other formats
    max_manifest_bytes: int = 16 << 20  # a C2PA manifest store (its JSON report)


DEFAULT_LIMITS = Limits()


class Unreadable(Exception):
    """Raised by a detector for input it refuses or cannot read (the reason is reported for
    the file; the other detectors still run). `findings`: what the detector had found in
    the parts it could read (kept)."""

    def __init__(self, reason: str, findings: list[Finding] | None = None) -> None:
        super().__init__(reason)
        self.findings = list(findings or [])


# Each detector module has `detect(path: Path, kind: str, limits: Limits) -> list[Finding]`
# and raises Unreadable for bad input. Another detector is an assertion type registered in
# signals/types.py with its `detector` module: c2pa, xmp, metadata, watermark, in order.
DETECTORS: tuple[str, ...] = REGISTRY.detectors()

# The optional learned detector (an ONNX model an organisation brings; learned.py): off by
# default, in a run only while this variable names its config. When it is unset, learned.py
# is not imported and no model is read.
LEARNED_DETECTOR_ENV = "REMPART_LEARNED_DETECTOR"
LEARNED_DETECTOR = str(LEARNED_DETECTOR_TYPE.detector)  # rempart.signals.synthetic.learned


def detectors() -> tuple[str, ...]:
    """The detectors of a run: DETECTORS, then the learned one when REMPART_LEARNED_DETECTOR
    is set (docs/synthetic.md, "Learned detector (optional)")."""
    if os.environ.get(LEARNED_DETECTOR_ENV, "").strip():
        return (*DETECTORS, LEARNED_DETECTOR)
    return DETECTORS


Detector = Callable[[Path, str, Limits], list[Finding]]


def file_kind(head: bytes) -> str | None:
    """The container, from the first bytes: jpeg, png, webp, gif, tiff, bmff (MP4, MOV,
    HEIF, AVIF) or None (not a format the detectors read)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[4:8] == b"ftyp":
        return "bmff"
    return None


def _detector(name: str) -> Detector:
    return cast(Detector, importlib.import_module(name).detect)


def inspect_file(
    path: Path, *, limits: Limits = DEFAULT_LIMITS
) -> tuple[list[Finding], Problem | None]:
    """Every detector's findings for one file, and what could not be read (None when all was
    read). A detector's refusal (a bomb, a lying size, a corrupt manifest) is reported and the
    other detectors still run; no exception escapes for bad input."""
    name = str(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        return [], Problem(name, f"cannot read: {exc.strerror or exc}")
    kind = file_kind(head)
    if kind is None:
        return [], Problem(
            name, "unsupported format (not JPEG, PNG, WebP, GIF, TIFF, MP4/MOV/HEIF)"
        )
    findings: list[Finding] = []
    reasons: list[str] = []
    for module in detectors():
        try:
            findings.extend(_detector(module)(path, kind, limits))
        except Unreadable as exc:
            findings.extend(exc.findings)
            reasons.append(str(exc))
        except OSError as exc:
            reasons.append(f"cannot read: {exc.strerror or exc}")
    return findings, (Problem(name, "; ".join(reasons)) if reasons else None)
