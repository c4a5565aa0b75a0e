"""PDQ wrapper: hex convention, quality, Hamming distance, speed of the bit packing."""

from __future__ import annotations

import time

import numpy as np
import pdqhash
import pytest
from PIL import Image

from rempart.samples import photo_like
from rempart.signals.pdq import (
    DEFAULT_THRESHOLD,
    DIHEDRAL,
    MIN_QUALITY,
    PdqHash,
    bits_to_hex,
    hamming,
    pdq_dihedral,
    pdq_hash,
)


def _reference_hex(bits: np.ndarray) -> str:
    """python-threatexchange's conversion: bits joined into a binary string, as hex."""
    return f"{int(''.join(str(int(b)) for b in bits), 2):064x}"


def test_constants() -> None:
    assert (MIN_QUALITY, DEFAULT_THRESHOLD) == (50, 31)
    assert DIHEDRAL[0] == "original" and len(set(DIHEDRAL)) == 8


@pytest.mark.parametrize("seed", range(5))
def test_hex_bit_order_is_meta_convention(seed: int) -> None:
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2, 256).astype(np.int64)
    assert bits_to_hex(bits) == _reference_hex(bits)
    one = np.zeros(256, dtype=np.int64)
    one[0] = 1  # bit 0 is the most significant bit of the first hex digit
    assert bits_to_hex(one) == "8" + "0" * 63


def test_pdq_hash_matches_pdqhash_and_is_lowercase_hex() -> None:
    img = photo_like(1, (320, 240))
    bits, quality = pdqhash.compute(np.asarray(img))
    h = pdq_hash(img)
    assert h == PdqHash(_reference_hex(bits), int(quality))
    assert len(h.hex) == 64 and h.hex == h.hex.lower() and isinstance(h.quality, int)


def test_any_mode_is_accepted() -> None:
    img = photo_like(2, (320, 240))
    assert pdq_hash(img.convert("L")) == pdq_hash(img.convert("L").convert("RGB"))
    assert pdq_hash(img.convert("RGBA")) == pdq_hash(img)


def test_flat_image_has_quality_zero() -> None:
    assert pdq_hash(Image.new("RGB", (256, 256), (90, 120, 200))).quality == 0


def test_hamming() -> None:
    assert hamming("0" * 64, "f" * 64) == 256
    assert hamming("8" + "0" * 63, "0" * 64) == 1
    h = pdq_hash(photo_like(3)).hex
    assert hamming(h, h) == 0 and hamming(h.upper(), h) == 0


def test_dihedral_first_is_the_original_hash() -> None:
    img = photo_like(4, (400, 300))
    variants = pdq_dihedral(img)
    assert [n for n, _ in variants] == list(DIHEDRAL)
    assert variants[0][1] == pdq_hash(img)
    assert len({h.hex for _, h in variants}) == 8


def test_bit_packing_is_cheap() -> None:
    bits = np.random.default_rng(0).integers(0, 2, 256).astype(np.int64)
    t0 = time.perf_counter()
    for _ in range(10_000):
        bits_to_hex(bits)
    assert (time.perf_counter() - t0) / 10_000 < 50e-6  # well under the ~5 ms of a hash
