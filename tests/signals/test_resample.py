"""Reduced copies from the C kernel (signals.resample) against Pillow's own, pixel for pixel:
the robust stage's work copy, the border walk's grey copy and the regions' copy must stay
exactly what Pillow made (banked hashes and her page's pillow.js follow Pillow)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from rempart.media.reduce import reduce_to as pillow_reduce_to
from rempart.samples import photo_like
from rempart.signals import pixels, resample


def _pictures() -> list[Image.Image]:
    rng = np.random.default_rng(22)
    out = []
    for k in range(36):
        w, h = int(rng.integers(2, 420)), int(rng.integers(2, 420))
        if k % 3 == 0:  # noise: every rounding shows
            img = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        else:
            img = photo_like(k, (w, h))
        out.append(img.convert("L") if k % 4 == 0 else img)
    # the robust stage's own sizes, and a tall one whose height shrinks first (Pillow 13)
    out += [photo_like(1, (1024, 768)), photo_like(2, (512, 384)), photo_like(3, (120, 900))]
    return out


def _same(a: Image.Image | np.ndarray, b: Image.Image | np.ndarray) -> bool:
    return np.array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("copied", [False, True])
def test_every_reduced_copy_is_pillows(copied: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if copied:  # pixels from tobytes (3 bytes a pixel) instead of Pillow's own RGBX rows
        monkeypatch.setattr(pixels, "borrowed", lambda image: None)  # pixels_of copies
    rng = np.random.default_rng(5)
    for img in _pictures():
        w, h = img.size
        sizes = [(int(rng.integers(1, w + 1)), int(rng.integers(1, h + 1))) for _ in range(2)]
        sizes += [(w, max(1, h // 3)), (max(1, w // 2), h), (max(1, w - 1), max(1, h // 5))]
        for size in sizes:
            want = img.resize(size, Image.Resampling.BILINEAR)
            assert _same(resample.resize(img, size), want), (img.mode, img.size, size)
            if img.mode == "RGB":
                assert _same(resample.resize_grey(img, size), want.convert("L")), (img.size, size)
        for factor in (2, 3, int(rng.integers(4, 9))):
            assert _same(resample.reduce(img, factor), img.reduce(factor)), (img.size, factor)
        for side in (512, 384, 256, 64):
            assert _same(resample.reduce_to(img, side), pillow_reduce_to(img, side)), img.size
        if img.mode == "RGB":
            assert _same(resample.resize_grey(img, img.size), img.convert("L"))


def test_other_modes_go_to_pillow() -> None:
    img = photo_like(4, (300, 200)).convert("RGBA")
    assert _same(
        resample.resize(img, (150, 100)), img.resize((150, 100), Image.Resampling.BILINEAR)
    )
    assert resample.reduce(img, 2).mode == "RGBA"
