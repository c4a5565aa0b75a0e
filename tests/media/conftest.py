"""Fixtures for media tests: photo-like images (ordinary scenes) encoded in memory."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from PIL import Image

from rempart.samples import photo_like


def encode(img: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


@pytest.fixture
def jpeg_bytes() -> Callable[..., bytes]:
    """A photo-like JPEG: jpeg_bytes(seed=1, size=(320, 240), quality=90)."""

    def make(seed: int = 1, size: tuple[int, int] = (320, 240), quality: int = 90) -> bytes:
        return encode(photo_like(seed, size), "JPEG", quality=quality)

    return make
