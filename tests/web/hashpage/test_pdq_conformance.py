"""pdq.js (her browser's PDQ) against pdqhash (Meta's C++ reference, what the CLI uses), bit
for bit on identical RGB pixels: every image of pdq-expected.csv decoded as Rempart decodes
it, plus generated photos of odd, tiny and flat sizes. Both the hash and the 8 rotations/flips
with their quality must be equal, or her page's hash file would not match the CLI's.

The JavaScript runs in Node in a subprocess (tests/web/hashpage/pdq_hash.mjs)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pdqhash
import pytest
from PIL import Image
from tests.web.hashpage.nodejs import THREATEXCHANGE, rgb_jobs, run_node

from rempart.media.decode import decode_image
from rempart.samples import photo_like
from rempart.signals.pdq import DIHEDRAL, bits_to_hex, hamming

TESTDATA = THREATEXCHANGE
SCRIPT = Path(__file__).with_name("pdq_hash.mjs")


def js_hashes(
    images: list[np.ndarray], tmp: Path, *, dihedral: bool = True, luma: bool = False
) -> list[dict]:
    return run_node(SCRIPT, rgb_jobs(images, tmp, dihedral=dihedral, luma=luma))


def reference(rgb: np.ndarray) -> tuple[tuple[str, int], list[tuple[str, int]]]:
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    bits, quality = pdqhash.compute(rgb)
    all_bits, qualities = pdqhash.compute_dihedral(rgb)
    dihedral = [
        (bits_to_hex(b), int(q))
        for b, q in zip(all_bits, np.broadcast_to(qualities, 8), strict=True)
    ]
    return (bits_to_hex(bits), int(quality)), dihedral


def assert_same(rgb: np.ndarray, js: dict, label: str) -> None:
    (hex_, quality), dihedral = reference(rgb)
    assert (js["pdq"]["hex"], js["pdq"]["quality"]) == (hex_, quality), label
    assert [d["name"] for d in js["dihedral"]] == list(DIHEDRAL), label
    got = [(d["hex"], d["quality"]) for d in js["dihedral"]]
    assert got == dihedral, label


def expected_rows() -> list[dict[str, str]]:
    path = TESTDATA / "pdq-expected.csv"
    if not path.is_file():
        pytest.fail(f"{path} is missing (the shared test data)")
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def full_decode(path: Path) -> np.ndarray:
    decoded = decode_image(path.read_bytes(), path, reduce_for_hashing=False)
    return np.asarray(decoded.image.convert("RGB"), dtype=np.uint8)


def test_every_reference_image_bit_for_bit(tmp_path: Path) -> None:
    rows = expected_rows()
    assert len(rows) >= 33
    images = [full_decode(TESTDATA / row["path"]) for row in rows]
    results = js_hashes(images, tmp_path)
    report = []
    for row, rgb, js in zip(rows, images, results, strict=True):
        assert_same(rgb, js, row["path"])
        distance = hamming(js["pdq"]["hex"], row["pdq_hex"])
        report.append(f"{row['path']}: {distance} bits from the CSV's expected hash")
        # The README's conformance rule for any hasher: within 16 bits of every row.
        assert distance <= 16, report[-1]
        if row.get("quality"):
            assert abs(js["pdq"]["quality"] - int(row["quality"])) <= 10, row["path"]
    print("\n".join(report))


ODD_SIZES = [
    (641, 479),
    (1003, 2),
    (63, 65),
    (64, 64),
    (127, 1025),
    (5, 5),
    (4, 9),
    (9, 4),
    (1, 1),
    (130, 5),
    (2048, 1537),
]


def test_generated_odd_tiny_and_flat_images(tmp_path: Path) -> None:
    images: list[np.ndarray] = []
    for seed, size in enumerate(ODD_SIZES):
        images.append(np.asarray(photo_like(seed + 1, size).convert("RGB"), dtype=np.uint8))
    for value in (0, 128, 255):
        images.append(np.full((200, 300, 3), value, dtype=np.uint8))
    images.append(np.full((64, 64, 3), 77, dtype=np.uint8))
    # Two-tone and noise images: many equal DCT coefficients, then extreme values.
    half = np.zeros((96, 96, 3), dtype=np.uint8)
    half[:, 48:] = 255
    images.append(half)
    images.append(np.random.default_rng(7).integers(0, 256, (333, 222, 3), dtype=np.uint8))
    results = js_hashes(images, tmp_path, luma=True)
    for rgb, js in zip(images, results, strict=True):
        assert_same(rgb, js, f"{rgb.shape[1]}x{rgb.shape[0]}")
        assert js["luma"] == {"pdq": js["pdq"], "dihedral": js["dihedral"]}
    # Under 5 pixels on a side the reference gives no hash: all zeros, quality 0.
    for size, js in zip(ODD_SIZES, results, strict=False):
        if min(size) < 5:
            assert js["pdq"] == {"hex": "0" * 64, "quality": 0}, size
            assert {d["quality"] for d in js["dihedral"]} == {0}, size


def test_a_rotated_picture_hashes_as_the_matching_dihedral_variant(tmp_path: Path) -> None:
    """The names of the 8 variants are the transforms they stand for, as in the CLI."""
    img = photo_like(31, (320, 200))
    turned = {
        "rotate90": img.transpose(Image.Transpose.ROTATE_90),
        "flip_horizontal": img.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "transpose": img.transpose(Image.Transpose.TRANSPOSE),
    }
    arrays = [np.asarray(img)] + [np.asarray(t) for t in turned.values()]
    results = js_hashes(arrays, tmp_path)
    variants = {d["name"]: d["hex"] for d in results[0]["dihedral"]}
    for (name, _), js in zip(turned.items(), results[1:], strict=True):
        assert hamming(variants[name], js["pdq"]["hex"]) <= 16, name


def test_a_48_megapixel_photo_bit_for_bit(tmp_path: Path) -> None:
    """Long rows and columns (filter windows of 63 and 47 pixels): float32 sums over 8000
    values must still round exactly as the reference's (the 8 variants share that path)."""
    small = np.asarray(photo_like(48, (1000, 750)), dtype=np.uint8)
    big = np.repeat(np.repeat(small, 8, axis=0), 8, axis=1)
    big[::3, ::5] ^= 0x55  # detail at full resolution
    (result,) = js_hashes([big], tmp_path, dihedral=False)
    bits, quality = pdqhash.compute(big)
    assert result["pdq"] == {"hex": bits_to_hex(bits), "quality": int(quality)}
