"""Reduced copies of a decoded picture, for the analyses that need no more detail."""

from __future__ import annotations

from PIL import Image


def reduce_to(image: Image.Image, side: int) -> Image.Image:
    """The picture (same mode) with at most `side` pixels a side: a box reduction by a whole
    factor first (fast, and a good filter), then bilinear for the rest; as it is when it
    is small enough already."""
    if max(image.size) <= side:
        return image
    factor = max(image.size) // side
    if factor >= 2:
        image = image.reduce(factor)
    if max(image.size) <= side:
        return image
    scale = side / max(image.size)
    return image.resize(
        (max(1, round(image.width * scale)), max(1, round(image.height * scale))),
        Image.Resampling.BILINEAR,
    )
