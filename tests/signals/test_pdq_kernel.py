"""Rempart's PDQ kernel (_pdq.c) equals Meta's reference binding (pdqhash) bit for bit: every
hash and quality, plain and under the 8 rotations/flips, on photos, noise, grey pictures,
odd and tiny sizes, the reference's own test images, and rectangles of a shared luma."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pdqhash
import pytest
from PIL import Image

from rempart.samples import photo_like
from rempart.signals import _pdq
from rempart.signals.pdq import DIHEDRAL, Luma, PdqHash, pdq_dihedral, pdq_hash

TE_DATA = Path(__file__).resolve().parents[3] / "shared/testdata/threatexchange/pdq/data"


def _reference(rgb: np.ndarray) -> PdqHash:
    bits, quality = pdqhash.compute(np.ascontiguousarray(rgb))
    return PdqHash(np.packbits(np.asarray(bits, np.uint8)).tobytes().hex(), int(quality))


def _reference_dihedral(rgb: np.ndarray) -> list[tuple[str, PdqHash]]:
    all_bits, quality = pdqhash.compute_dihedral(np.ascontiguousarray(rgb))
    return [
        (name, PdqHash(np.packbits(np.asarray(b, np.uint8)).tobytes().hex(), int(quality)))
        for name, b in zip(DIHEDRAL, all_bits, strict=True)
    ]


SIZES = [(1, 1), (4, 9), (5, 5), (6, 7), (64, 64), (63, 65), (100, 7), (129, 300), (333, 777)]
SIZES += [(640, 480), (1024, 768), (257, 1031)]


@pytest.mark.parametrize("size", SIZES)
def test_equals_the_reference(size: tuple[int, int]) -> None:
    photo = photo_like(sum(size), size)
    noise = np.random.default_rng(sum(size)).integers(0, 256, (size[1], size[0], 3), np.uint8)
    for img in (photo, Image.fromarray(noise), photo.convert("L")):
        rgb = np.asarray(img.convert("RGB"))
        assert pdq_hash(img) == _reference(rgb)
        assert pdq_dihedral(img) == _reference_dihedral(rgb)


def test_reference_images() -> None:
    files = sorted(p for p in TE_DATA.rglob("*") if p.suffix.lower() in (".jpg", ".png"))
    if not files:
        pytest.skip(f"Meta's test images are not in {TE_DATA}")
    for path in [p for p in files if p.stat().st_size < 150_000][:25]:  # not the 12 Mpx ones
        with Image.open(path) as opened:
            img = opened.convert("RGB")
        rgb = np.asarray(img)
        assert pdq_dihedral(img) == _reference_dihedral(rgb), path.name


def test_rectangles_of_a_shared_luma() -> None:
    img = photo_like(7, (256, 192))
    luma = Luma(img)
    rng = np.random.default_rng(3)
    boxes = [(0, 0, 256, 192), (0, 0, 256, 38), (128, 0, 256, 192), (64, 48, 192, 144)]
    for _ in range(20):
        (left, right), (top, bottom) = (
            sorted(rng.integers(0, 257, 2)),
            sorted(rng.integers(0, 193, 2)),
        )
        boxes.append((int(left), int(top), int(right), int(bottom)))
    for box in boxes:
        crop = np.asarray(img.crop(box))
        if crop.size == 0:
            assert luma.hash(box) == PdqHash("0" * 64, 0)
            continue
        assert luma.hash(box) == _reference(crop), box
        assert luma.dihedral(box) == _reference_dihedral(crop), box


def test_rectangles_outside_the_picture_are_what_a_crop_gives() -> None:
    img = photo_like(8, (100, 80))
    box = (-10, 20, 60, 120)  # PIL pads a crop beyond the picture with black
    assert Luma(img).hash(box) == _reference(np.asarray(img.crop(box)))


def test_bad_geometry_is_refused_not_read_out_of_bounds() -> None:
    data = bytes(30 * 20 * 3)
    with pytest.raises(ValueError):
        _pdq.hash_pixels(data, 30, 20, 90, 3, 0, 0, 31, 20, False)
    with pytest.raises(ValueError):
        _pdq.hash_pixels(data[:-1], 30, 20, 90, 3, 0, 0, 30, 20, False)
    with pytest.raises(ValueError):
        _pdq.hash_luma(bytes(16), 30, 20, 0, 0, 30, 20, False)
    with pytest.raises(ValueError):
        _pdq.luma(data, 30, 21, 90, 3)


def test_pixels_borrowed_from_pillow_hash_as_the_copied_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 22: the kernel reads Pillow's own RGBX rows (signals.pixels) instead of a
    `tobytes` copy; every hash and the luma of shared rectangles are the copy's, for RGB
    and grey pictures, odd sizes, and a picture Pillow keeps in several blocks (not lent:
    copied as before)."""
    from rempart.signals import pixels
    from rempart.signals.pixels import borrowed

    pictures = [photo_like(k, size) for k, size in enumerate(((97, 61), (640, 480), (5, 300)))]
    pictures += [photo_like(7, (333, 257)).convert("L"), Image.new("RGB", (3000, 2500), "red")]
    assert borrowed(pictures[1]) is not None and borrowed(pictures[3]) is not None
    assert borrowed(pictures[-1]) is None  # 30 MB in several blocks: Pillow lends none

    def hashes() -> list[object]:
        out: list[object] = []
        for p in pictures:
            out.append(pdq_dihedral(p))
            luma = Luma(p)
            out.append(luma.dihedral((1, 2, p.width - 1, p.height // 2)))
        return out

    lent = hashes()
    monkeypatch.setattr(pixels, "borrowed", lambda image: None)  # pixels_of copies
    assert hashes() == lent
