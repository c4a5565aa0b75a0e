"""What each registered signal type computes from one media file (signals/types.py names
these functions by dotted path in `SignalType.compute`).

Why a module of its own: the registry must stay import-cheap (no numpy, PIL or OpenCV when
the command line starts), so it names these functions instead of importing them; each is a
thin door onto the module that computes the type (pdq.py through image_hashes.py, exact.py,
vpdq.py, pdq_variants.py, local_features.py, the synthetic detectors), returning the values
as they are stored: lowercase hex, or an assertion's `indicates`. They serve the conformance
test (tests/signals/test_signal_types.py) and any caller that wants "this type's values of
this file"; the scan and `rempart hash` keep their own single-pass hashing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from rempart.signals.exact import file_digests
from rempart.signals.image_hashes import hash_image_file
from rempart.signals.synthetic.base import inspect_file
from rempart.signals.vpdq import hash_video_file


def pdq(path: Path) -> list[str]:
    return [hash_image_file(path).pdq.hex]


def md5(path: Path) -> list[str]:
    return [file_digests(path)[0]]


def sha256(path: Path) -> list[str]:
    return [file_digests(path)[1]]


def vpdq(path: Path) -> list[str]:
    return [f.pdq_hex for f in hash_video_file(path).frames]


def vpdq_region(path: Path) -> list[str]:
    halves = hash_video_file(path, regions=True).regions
    return [f.pdq_hex for frames in halves.values() for f in frames]


def pdq_variant(path: Path) -> list[str]:
    return [v.hash.hex for v in hash_image_file(path, robust="stored").variants]


def local_features(path: Path) -> list[str]:
    """The stored value: the SHA-256 of the features' text form (as bank_import keeps it)."""
    features = hash_image_file(path, robust="stored").features
    if features is None:
        return []
    return [hashlib.sha256(features.to_text().encode("ascii")).hexdigest()]


def _assertion(path: Path, name: str) -> list[str]:
    findings, _ = inspect_file(path)
    return [f.indicates for f in findings if f.type == name]


def c2pa(path: Path) -> list[str]:
    return _assertion(path, "c2pa")


def xmp(path: Path) -> list[str]:
    return _assertion(path, "xmp")


def generator_metadata(path: Path) -> list[str]:
    return _assertion(path, "generator-metadata")


def invisible_watermark(path: Path) -> list[str]:
    return _assertion(path, "invisible-watermark")
