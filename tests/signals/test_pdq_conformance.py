"""PDQ conforms to Meta's reference hashes (../shared/testdata/threatexchange/pdq-expected.csv)."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np
import pdqhash
import pytest
from PIL import Image, ImageOps

from rempart.media.decode import decode_image
from rempart.signals.image_hashes import hash_image_file
from rempart.signals.pdq import DIHEDRAL, hamming, pdq_dihedral, pdq_hash
from tests.conftest import TESTDATA

TE = TESTDATA / "threatexchange"
CSV = TE / "pdq-expected.csv"

if not CSV.exists():  # CI has shared/ beside the checkout; a missing copy is an error
    raise RuntimeError(f"reference test data not found: {CSV} (see ../shared/testdata/README.md)")


def _expected() -> dict[str, list[tuple[str, int | None]]]:
    rows: dict[str, list[tuple[str, int | None]]] = defaultdict(list)
    with CSV.open() as fh:
        for row in csv.DictReader(fh):
            quality = int(row["quality"]) if row["quality"] else None
            rows[row["path"]].append((row["pdq_hex"], quality))
    return rows


EXPECTED = _expected()


@pytest.mark.parametrize("relpath", sorted(EXPECTED))
def test_every_reference_image_hashes_within_tolerance(relpath: str) -> None:
    path = TE / relpath
    assert path.exists(), f"reference image missing: {path}"
    got = hash_image_file(path)
    for expected_hex, expected_quality in EXPECTED[relpath]:
        tolerance = 10 if (expected_quality or 0) >= 80 else 16
        distance = hamming(got.pdq.hex, expected_hex)
        assert distance <= tolerance, f"{relpath}: {distance} bits from {expected_hex}"
        if expected_quality is not None:
            assert got.pdq.quality == expected_quality


def test_full_decode_is_bit_exact_with_meta_reference_conversion() -> None:
    # python-threatexchange: bits joined into a binary string, formatted as hex.
    for relpath in sorted(EXPECTED)[:8]:
        data = (TE / relpath).read_bytes()
        img = decode_image(data, relpath, reduce_for_hashing=False).image
        bits, quality = pdqhash.compute(np.asarray(img))
        bin_str = "".join(str(int(x)) for x in bits)
        reference = f"{int(bin_str, 2):064x}"
        assert pdq_hash(img).hex == reference


def test_exif_orientation_is_applied_to_reference_photos() -> None:
    folder = TE / "pdq/data/reg-test-input/exif-rotn"
    for path in sorted(folder.glob("*.jpg")):
        raw = Image.open(path)
        upright = ImageOps.exif_transpose(raw).convert("RGB")
        h = hash_image_file(path)
        assert (h.width, h.height) == upright.size
        assert hamming(h.pdq.hex, pdq_hash(upright).hex) <= 10, path.name


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_of_generated_photos(tmp_path: Path, orientation: int) -> None:
    from rempart.samples import photo_like

    original = photo_like(7, (640, 480))
    # store the pixels so that applying `orientation` shows the original again
    inverse = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
               4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
               6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
               8: Image.Transpose.ROTATE_270}  # fmt: skip
    stored = original.transpose(inverse[orientation]) if orientation in inverse else original
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "o.jpg"
    stored.save(path, quality=95, exif=exif)
    h = hash_image_file(path)
    assert (h.width, h.height) == (640, 480)
    assert hamming(h.pdq.hex, pdq_hash(original).hex) <= 10


def test_every_colour_mode_hashes_like_the_original() -> None:
    folder = TE / "pdq/data/misc-images/modes"
    original = hash_image_file(folder / "original.jpg").pdq.hex
    for path in sorted(folder.iterdir()):
        if path.suffix == ".md":
            continue
        h = hash_image_file(path)
        limit = 80 if path.stem == "1" else 40  # 1-bit is dithered: far, but must hash
        assert hamming(h.pdq.hex, original) <= limit, path.name
        assert (h.width, h.height) == (1600, 1004)


def test_dihedral_reference_images_match_under_the_named_transform() -> None:
    folder = TE / "pdq/data/reg-test-input/dih"
    original = dict(pdq_dihedral(decode_image((folder / "bridge-1-original.jpg").read_bytes(),
                                              "o").image))  # fmt: skip
    for path in sorted(folder.glob("bridge-*.jpg")):
        h = hash_image_file(path).pdq.hex
        best = min(DIHEDRAL, key=lambda name: hamming(h, original[name].hex))
        assert hamming(h, original[best].hex) <= 16, path.name


def test_draft_decoding_stays_within_tolerance_on_large_jpegs(tmp_path: Path) -> None:
    from rempart.samples import photo_like

    cases = [TE / "pdq/data/reg-test-input/exif-rotn/exif-rotn-1.jpg"]
    for i, size in enumerate([(4000, 3000), (2400, 1600), (1200, 1100)]):
        p = tmp_path / f"{i}.jpg"
        photo_like(40 + i, size).save(p, quality=90)
        cases.append(p)
    for p in cases:
        data = p.read_bytes()
        full = pdq_hash(decode_image(data, p, reduce_for_hashing=False).image)
        fast = decode_image(data, p)
        assert max(fast.image.size) < max(Image.open(p).size) or max(Image.open(p).size) < 1024
        assert hamming(pdq_hash(fast.image).hex, full.hex) <= 10, p.name
