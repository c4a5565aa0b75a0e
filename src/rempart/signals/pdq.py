"""PDQ, Meta's perceptual image hash, bit for bit as Meta's C++ reference (pdqhash, which
python-threatexchange uses) computes it, through Rempart's own kernel (_pdq.c): the same
arithmetic, streamed, with the luma read from the picture's bytes and no full-size float
copies, several times faster than the reference binding on the same pixels. `Luma` keeps a
picture's luma once for hashing many rectangles of it (the robust stage's regions).
tests/signals/test_pdq_kernel.py checks the kernel against pdqhash, and the conformance
tests against Meta's expected hashes.

Hex strings follow Meta's convention: bit 0 of the hash vector is the most significant bit
of the first hex digit, as python-threatexchange writes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from rempart.signals import _pdq
from rempart.signals.pixels import pixels_of
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


Box = tuple[int, int, int, int]  # left, top, right, bottom, in pixels
_NOTHING = "0" * 64  # Meta's hash of a picture under 5 pixels a side (quality 0)


def _pixels(image: Image.Image) -> tuple[Any, int]:
    """The picture's bytes as the reference hashes them (RGB; grey as it is: Meta's luma of
    a grey pixel is its value), and the bytes per pixel: Pillow's own memory where it lends
    it (RGBX rows, signals.pixels), else a copy."""
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    return pixels_of(image)


def _named(raw: bytes, quality: int) -> list[tuple[str, PdqHash]]:
    return [
        (name, PdqHash(raw[32 * k : 32 * k + 32].hex(), quality))
        for k, name in enumerate(DIHEDRAL[: len(raw) // 32])
    ]


def _of_image(image: Image.Image, dihedral: bool) -> list[tuple[str, PdqHash]]:
    w, h = image.size
    if not w or not h:
        return [(name, PdqHash(_NOTHING, 0)) for name in DIHEDRAL[: 8 if dihedral else 1]]
    data, pixel = _pixels(image)
    return _named(*_pdq.hash_pixels(data, w, h, w * pixel, pixel, 0, 0, w, h, dihedral))


def pdq_hash(image: Image.Image) -> PdqHash:
    return _of_image(image, False)[0][1]


def pdq_dihedral(image: Image.Image) -> list[tuple[str, PdqHash]]:
    """The hash of the image under all 8 rotations/flips, from one DCT; the first is as-is."""
    return _of_image(image, True)


class Luma:
    """A picture's luma (Meta's float luma), computed once: the hashes of rectangles of it
    equal those of the cropped pictures, without a crop or a conversion each."""

    def __init__(self, image: Image.Image) -> None:
        self.image = image
        self.width, self.height = image.size
        data, pixel = _pixels(image)
        self._luma = (
            _pdq.luma(data, self.width, self.height, self.width * pixel, pixel)
            if self.width and self.height
            else b""
        )

    def _hashes(self, box: Box, dihedral: bool) -> list[tuple[str, PdqHash]]:
        left, top, right, bottom = box
        if not (0 <= left < right <= self.width and 0 <= top < bottom <= self.height):
            return _of_image(self.image.crop(box), dihedral)  # what a crop would give
        raw, quality = _pdq.hash_luma(
            self._luma, self.width, self.height, left, top, right, bottom, dihedral
        )
        return _named(raw, quality)

    def hash(self, box: Box) -> PdqHash:
        """The hash of the rectangle `box` of the picture."""
        return self._hashes(box, False)[0][1]

    def dihedral(self, box: Box) -> list[tuple[str, PdqHash]]:
        """The rectangle's hash under all 8 rotations/flips, as `pdq_dihedral`."""
        return self._hashes(box, True)


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
