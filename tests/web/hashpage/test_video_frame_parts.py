"""The pieces of her page's video hashes (vpdq.js) against the CLI's, on single frames of the
sizes videos come in, cheaply (no video coding): the grey copy the halves are hashed from
(OpenCV's RGB2GRAY), the frame's and its grey copy's (the crops') copies scaled to fit
384 px (OpenCV's INTER_AREA: its general path, and its fast path for whole factors, 2x2
rounded otherwise than the rest), the centre crops crop90/crop80 (from the grey copy:
signals/video_variants.bank_hashes) and the halves (vpdq.frame_hashes).
test_video_vpdq.py and test_video_browser.py compare whole videos; HD frames there are few
and costly, so the scaling's cases are covered here."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
from tests.web.hashpage.nodejs import rgb_jobs, run_node

from rempart.media.video import grey_of
from rempart.samples import photo_like
from rempart.signals import video_layout, video_variants
from rempart.signals.vpdq import frame_hashes

SCRIPT = Path(__file__).with_name("video_frame_parts.mjs")
# (width, height): 16:9 HD (general path), 2x (fast, 2x2), 5x (fast), square, portrait SD,
# a size not worth scaling, odd sizes
SIZES = ((1280, 720), (768, 432), (1920, 1080), (1080, 1080), (480, 720), (250, 142), (402, 771))


def frames() -> list[np.ndarray]:
    out = []
    rng = np.random.default_rng(5)
    for k, (w, h) in enumerate(SIZES):
        # a photo-like scene made at a quarter size and enlarged (cheap at 1920x1080)
        small = np.asarray(photo_like(40 + k, (max(8, w // 4), max(8, h // 4))).convert("RGB"))
        rgb = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        if k % 2:  # noise makes ties and rounding differences likely
            rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        if k == 0:  # letterboxed: the halves come from the picture inside the bars
            rgb[: h // 8] = 0
            rgb[h - h // 8 :] = 0
        out.append(rgb)
    return out


def test_frame_parts_equal_cli(tmp_path: Path) -> None:
    images = frames()
    got = run_node(SCRIPT, rgb_jobs(images, tmp_path))
    for rgb, answer in zip(images, got, strict=True):
        size = f"{rgb.shape[1]}x{rgb.shape[0]}"
        assert answer["grey"] == hashlib.md5(grey_of(rgb).tobytes()).hexdigest(), size
        small = video_layout.scaled(rgb, video_variants.BANK_SIDE)
        want_area = [small.shape[1], small.shape[0], hashlib.md5(small.tobytes()).hexdigest()]
        assert answer["area"] == want_area, size
        grey_small = video_layout.scaled(grey_of(rgb), video_variants.BANK_SIDE)
        want_area = [grey_small.shape[1], grey_small.shape[0], _md5(grey_small)]
        assert answer["areaGrey"] == want_area, size  # the crops' copy: grey (one channel)
        crops = [list(c) for c in video_variants.bank_hashes(rgb)]
        assert [list(c) for c in video_variants.bank_hashes(grey_of(rgb))] == crops, size
        assert answer["crops"] == crops, size
        assert answer["cropsGrey"] == crops, size
        halves = frame_hashes(rgb, inside=False, halves=True).halves
        assert answer["halves"] == {k: list(v) for k, v in halves.items()}, size


def _md5(pixels: np.ndarray) -> str:
    return hashlib.md5(pixels.tobytes()).hexdigest()


def test_grey_is_the_page_arithmetic() -> None:
    """OpenCV's grey copy is the 15-bit fixed point vpdq.js computes, for every colour (an
    OpenCV that changed it would split the page's halves from the CLI's)."""
    v = np.arange(256, dtype=np.int32)
    r, g, b = v[:, None, None], v[None, :, None], v[None, None, :]
    want = (r * 9798 + g * 19235 + b * 3735 + (1 << 14)) >> 15
    rgb = np.empty((256, 256, 256, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = r, g, b
    got = grey_of(rgb.reshape(4096, 4096, 3))
    assert np.array_equal(got, want.reshape(4096, 4096).astype(np.uint8))
