"""PDQ, Meta's perceptual image hash, through pdqhash (Meta's C++ reference implementation).

Hex strings follow Meta's convention: bit 0 of the hash vector is the most significant bit
of the first hex digit, as python-threatexchange writes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pdqhash
from PIL import Image

from rempart.signals.types import PDQ

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


def hex_words(hexes: Sequence[str]) -> np.ndarray:
    """PDQ hashes as rows of four 64-bit words, for vectorised Hamming distances."""
    return np.frombuffer(bytes.fromhex("".join(hexes)), dtype=np.uint64).reshape(-1, 4)


def within(a: np.ndarray, b: np.ndarray, distance: int) -> np.ndarray:
    """Boolean matrix over rows of `hex_words`: Hamming distance <= distance, computed in
    blocks of 1024 rows of `a` to bound memory."""
    out = np.zeros((len(a), len(b)), dtype=bool)
    for i in range(0, len(a), 1024):
        blk = a[i : i + 1024]
        dist = np.zeros((len(blk), len(b)), dtype=np.uint16)
        for w in range(4):
            dist += np.bitwise_count(blk[:, w][:, None] ^ b[:, w][None, :])
        out[i : i + 1024] = dist <= distance
    return out


# This module's signal types (declared in signals/types.py's registry).
SIGNAL_TYPES = (PDQ,)
