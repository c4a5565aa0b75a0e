"""PDQ variants: stored crops, rotations and regions; found pictures inside borders and
turned upright; which may meet which."""

from __future__ import annotations

from PIL import Image, ImageOps

from rempart.samples import photo_like
from rempart.signals.pdq import DIHEDRAL, hamming, pdq_hash
from rempart.signals.pdq_variants import (
    ANGLES,
    CROP_SCALES,
    REGIONS,
    compatible,
    deskew,
    query_variants,
    rotate_filled,
    stored_variants,
    work_copy,
)


def test_stored_variants_are_named_and_detailed() -> None:
    variants = stored_variants(photo_like(1, (640, 480)))
    names = {v.name for v in variants}
    assert {f"crop{round(s * 100)}" for s in CROP_SCALES} <= names
    assert {f"rot{a:+d}" for a in ANGLES} <= names
    assert {v.kind for v in variants} == {"crop", "rotation", "region"}
    assert all(v.hash.quality >= 50 for v in variants)  # low-detail variants are dropped
    assert names - {v.name for v in variants if v.kind != "region"} <= set(REGIONS)


def test_tiny_and_flat_pictures_get_no_variants() -> None:
    assert stored_variants(photo_like(2, (60, 200))) == []
    assert query_variants(photo_like(2, (200, 50))) == []
    flat = Image.new("RGB", (640, 480), (200, 10, 10))
    assert stored_variants(flat) == [] and query_variants(flat) == []


def test_a_padded_copy_is_hashed_inside_its_pad() -> None:
    img = photo_like(3, (640, 480))
    canvas = Image.new("RGB", (900, 700), (0, 0, 0))
    canvas.paste(img, (130, 110))
    trimmed = {v.name: v.hash for v in query_variants(canvas) if v.kind == "trimmed"}
    assert set(trimmed) == set(DIHEDRAL)  # inside the pad, under its 8 rotations/flips
    assert hamming(trimmed["original"].hex, pdq_hash(img).hex) <= 20
    mirrored = ImageOps.mirror(canvas)
    flipped = {v.name: v.hash for v in query_variants(mirrored) if v.kind == "trimmed"}
    assert hamming(flipped["flip_horizontal"].hex, pdq_hash(img).hex) <= 24


def test_any_tilt_with_corners_is_turned_back_upright() -> None:
    img = photo_like(4, (640, 480))
    for angle in (4, -7, 10, 23):
        upright = deskew(work_copy(img.rotate(angle, expand=True)))
        assert upright is not None, angle
        assert hamming(pdq_hash(upright).hex, pdq_hash(img).hex) <= 40, angle
    assert deskew(work_copy(img)) is None  # not tilted


def test_a_rotation_cut_to_fill_meets_the_stored_rotation() -> None:
    img = photo_like(5, (640, 480))
    stored = {v.name: v.hash for v in stored_variants(img)}
    copy = work_copy(rotate_filled(img, 6))
    assert hamming(pdq_hash(copy).hex, stored["rot+6"].hex) <= 20


def test_compatibility_rules() -> None:
    assert compatible("pdq", "original", "crop", "crop90")
    assert compatible("trimmed", "original", "pdq", "pdq")
    assert compatible("region", "top33", "region", "top33")
    assert not compatible("region", "top33", "region", "top50")
    assert not compatible("region", "top33", "pdq", "pdq")
    assert not compatible("pdq", "original", "region", "top33")
