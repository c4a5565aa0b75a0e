"""Reduced copies of a picture, pixel for pixel as Pillow makes them, at a lower cost.

The robust stage makes three reduced copies of every scanned picture (the 512-pixel work
copy, the border walk's 384-pixel grey copy, the regions' 256-pixel copy); Pillow's
bilinear resize and box reduction took about a tenth of the stage's CPU time. The kernel
`_resample.c` computes the same pixels (the same integer arithmetic, its coefficients from
the same double arithmetic, Pillow 13's order of the two passes) and reads the picture
where Pillow keeps it (signals.pixels). Both sides use these functions, so banked and
scanned copies stay what they were; tests/signals/test_resample.py compares them with
Pillow's on many sizes. Modes other than RGB and L, and a build without the kernel, go to
Pillow itself.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
from PIL import Image

from rempart.signals.pixels import pixels_of as _pixels

_kernel: ModuleType | None
try:
    from rempart.signals import _resample as _kernel
except ImportError:  # a checkout built before the kernel existed: Pillow does it all
    _kernel = None


def _native(image: Image.Image) -> bool:
    return _kernel is not None and image.mode in ("RGB", "L") and min(image.size) > 0


def _image(data: bytes, size: tuple[int, int], colour: bool) -> Image.Image:
    if colour:
        return Image.frombytes("RGB", size, data, "raw", "RGBX")
    return Image.frombytes("L", size, data)


def resize(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """`image.resize(size, Image.Resampling.BILINEAR)` of a reduction (no side larger)."""
    w, h = image.size
    if not _native(image) or size == image.size or not (0 < size[0] <= w and 0 < size[1] <= h):
        return image.resize(size, Image.Resampling.BILINEAR)
    assert _kernel is not None
    data, pixel = _pixels(image)
    out = _kernel.resize(data, w, h, w * pixel, pixel, size[0], size[1], False)
    return _image(out, size, image.mode == "RGB")


def resize_grey(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """`np.asarray(image.resize(size, BILINEAR).convert("L"))` of an RGB picture (or as it
    is when `size` is its size): (height, width) uint8."""
    w, h = image.size
    if not _native(image) or image.mode != "RGB" or not (0 < size[0] <= w and 0 < size[1] <= h):
        small = image if size == image.size else image.resize(size, Image.Resampling.BILINEAR)
        return np.asarray(small.convert("L"), dtype=np.uint8)
    assert _kernel is not None
    data, pixel = _pixels(image)
    if size == image.size:
        out = _kernel.grey(data, w, h, w * pixel, pixel)
    else:
        out = _kernel.resize(data, w, h, w * pixel, pixel, size[0], size[1], True)
    return np.frombuffer(out, dtype=np.uint8).reshape(size[1], size[0])


def reduce(image: Image.Image, factor: int) -> Image.Image:
    """`image.reduce(factor)`."""
    if not _native(image) or not 2 <= factor <= 2048:
        return image.reduce(factor)
    assert _kernel is not None
    w, h = image.size
    data, pixel = _pixels(image)
    out = _kernel.reduce(data, w, h, w * pixel, pixel, factor)
    return _image(out, (-(-w // factor), -(-h // factor)), image.mode == "RGB")


def reduce_to(image: Image.Image, side: int) -> Image.Image:
    """`rempart.media.reduce.reduce_to`: at most `side` pixels a side, a box reduction by a
    whole factor first, then bilinear for the rest; as it is when small enough already."""
    if max(image.size) <= side:
        return image
    factor = max(image.size) // side
    if factor >= 2:
        image = reduce(image, factor)
    if max(image.size) <= side:
        return image
    scale = side / max(image.size)
    return resize(image, (max(1, round(image.width * scale)), max(1, round(image.height * scale))))
