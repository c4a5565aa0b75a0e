"""PDQ, Meta's perceptual image hash, through pdqhash (Meta's C++ reference implementation).

Hex strings follow Meta's convention: bit 0 of the hash vector is the most significant bit
of the first hex digit, as python-threatexchange writes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pdqhash
from PIL import Image

MIN_QUALITY = 50  # below this, "too little detail to hash": never used for near matching
DEFAULT_THRESHOLD = 31  # Meta's PDQ_CONFIDENT_MATCH_THRESHOLD

# The order in which pdqhash.compute_dihedral returns the 8 variants, named by the
# transform applied to the image (checked against real rotations in the tests):
# rotate90/270 are counter-clockwise as in PIL's Image.rotate; flip_horizontal mirrors
# left-right; transpose swaps axes about the main diagonal, transverse about the other.
DIHEDRAL: tuple[str, ...] = (
    "original",
    "rotate90",
    "rotate180",
    "rotate270",
    "flip_vertical",
    "flip_horizontal",
    "transpose",
    "transverse",
)


@dataclass(frozen=True)
class PdqHash:
    hex: str
    quality: int


def bits_to_hex(bits: np.ndarray) -> str:
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()


def _array(image: Image.Image) -> np.ndarray:
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


def pdq_hash(image: Image.Image) -> PdqHash:
    bits, quality = pdqhash.compute(_array(image))
    return PdqHash(bits_to_hex(bits), int(quality))


def pdq_dihedral(image: Image.Image) -> list[tuple[str, PdqHash]]:
    """The hash of the image under all 8 rotations/flips, from one DCT; the first is as-is."""
    all_bits, qualities = pdqhash.compute_dihedral(_array(image))
    return [
        (name, PdqHash(bits_to_hex(bits), int(q)))
        for name, bits, q in zip(DIHEDRAL, all_bits, np.broadcast_to(qualities, 8), strict=True)
    ]


def hamming(a_hex: str, b_hex: str) -> int:
    return (int(a_hex, 16) ^ int(b_hex, 16)).bit_count()
