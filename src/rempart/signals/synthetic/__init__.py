"""Synthetic-media signals: evidence that a picture or video was generated or altered by AI,
from what the file itself declares (C2PA manifests, XMP digital source type, generator
metadata) and, from other modules listed in `base.DETECTORS`, marks left in the pixels.

Evidence, never a verdict: no finding means "no signal found", never "real". See
docs/synthetic.md.
"""

from rempart.signals.synthetic.base import (
    DEFAULT_LIMITS,
    DETECTORS,
    Finding,
    Limits,
    Problem,
    Unreadable,
    inspect_file,
    source_type_indicates,
)

__all__ = [
    "DEFAULT_LIMITS",
    "DETECTORS",
    "Finding",
    "Limits",
    "Problem",
    "Unreadable",
    "inspect_file",
    "source_type_indicates",
]
