"""One frame's hashes on the PDQ kernel (issue 22's faster video hashing): the whole frame and
the picture inside bars bit for bit as Meta's pdqhash, bar detection as the line-by-line rule,
the halves and the bank side's centre crops from the grey copy within a few bits of the same
from RGB, and decoded frames converted once."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pdqhash
import pytest

from rempart.media.video import iter_frames, iter_sampled_frames
from rempart.samples import photo_like
from rempart.signals import video_layout, video_variants
from rempart.signals.pdq import bits_to_hex, hamming
from rempart.signals.vpdq import (
    BAR_MAX_LEVEL,
    BAR_MIN_FRACTION,
    CONTENT_MIN_FRACTION,
    REGIONS,
    content_box,
    frame_hashes,
    pdq_of,
    region_hashes,
)
from tests.media.video_factory import scene_frames, write_video


def _meta(rgb: np.ndarray) -> tuple[str, int]:
    bits, quality = pdqhash.compute(np.ascontiguousarray(rgb))
    return bits_to_hex(bits), int(quality)


def _bar_depth_before(lines: np.ndarray) -> int:
    coarse = lines[::4].max(axis=(1, 2)) <= BAR_MAX_LEVEL
    run = len(coarse) if coarse.all() else int(np.argmin(coarse))
    if run == 0:
        return 0
    depth = 4 * (run - 1) + 1
    while depth < len(lines) and lines[depth].max() <= BAR_MAX_LEVEL:
        depth += 1
    return depth


def _reference_box(rgb: np.ndarray) -> tuple[int, int, int, int] | None:
    """content_box as it was before it read its samples once per side (the reference)."""
    h, w = rgb.shape[:2]
    if h < 32 or w < 32:
        return None
    rows = rgb[:, ::4]
    cols = rgb[::4].transpose(1, 0, 2)
    top, bottom = _bar_depth_before(rows), _bar_depth_before(rows[::-1])
    left, right = _bar_depth_before(cols), _bar_depth_before(cols[::-1])
    top, bottom = (v if v >= BAR_MIN_FRACTION * h else 0 for v in (top, bottom))
    left, right = (v if v >= BAR_MIN_FRACTION * w else 0 for v in (left, right))
    if not (top or bottom or left or right):
        return None
    if h - top - bottom < CONTENT_MIN_FRACTION * h or w - left - right < CONTENT_MIN_FRACTION * w:
        return None
    return top, h - bottom, left, w - right


def _barred(seed: int, size: tuple[int, int], bars: tuple[int, int, int, int]) -> np.ndarray:
    """A photo-like picture of `size` (w, h) with black bars (top, bottom, left, right); the
    bars. pixels vary between 0 and BAR_MAX_LEVEL."""
    w, h = size
    rgb = np.asarray(photo_like(seed, size).convert("RGB")).copy()
    rng = np.random.default_rng(seed)
    top, bottom, left, right = bars
    for sl in (
        np.s_[:top, :],
        np.s_[h - bottom :, :],
        np.s_[:, :left],
        np.s_[:, w - right :],
    ):
        part = rgb[sl]
        part[...] = rng.integers(0, BAR_MAX_LEVEL + 1, part.shape, dtype=np.uint8)
    return rgb


@pytest.mark.parametrize(
    ("size", "bars"),
    [
        ((320, 240), (30, 30, 0, 0)),  # letterbox
        ((321, 243), (0, 0, 41, 37)),  # pillarbox, odd sizes (h - 1 and w - 1 not % 4)
        ((322, 242), (13, 0, 0, 22)),  # one bar each way, not on a 4-line grid
        ((300, 200), (5, 0, 0, 0)),  # thinner than BAR_MIN_FRACTION: no bar
        ((300, 200), (90, 90, 0, 0)),  # mostly black: left alone
        ((64, 48), (0, 0, 0, 0)),
    ],
)
def test_content_box_finds_the_bars_it_found_before(
    size: tuple[int, int], bars: tuple[int, int, int, int]
) -> None:
    rgb = _barred(sum(size) + sum(bars), size, bars)
    assert content_box(rgb) == _reference_box(rgb)
    # one bright sample (one channel) on a bar line stops the bar there
    if bars[0] > 8:
        rgb[8, 8] = (0, 0, BAR_MAX_LEVEL + 1)
        assert content_box(rgb) == _reference_box(rgb)
        box = content_box(rgb)
        assert box is None or box[0] < bars[0]


def test_whole_and_inside_hashes_are_metas_bit_for_bit() -> None:
    rgb = _barred(7, (360, 240), (24, 24, 0, 0))
    got = frame_hashes(rgb, inside=True, halves=True)
    assert got.box == (24, 216, 0, 360)
    assert got.whole == _meta(rgb)
    assert got.inside == _meta(rgb[24:216])
    assert pdq_of(rgb, got.box) == got.inside  # a rectangle hashed where it lies
    assert set(got.halves) == set(REGIONS)
    plain = frame_hashes(_barred(8, (360, 240), (0, 0, 0, 0)), inside=True, halves=False)
    assert plain.inside is None and plain.halves == {} and plain.box is None


def test_halves_from_the_grey_copy_are_within_a_few_bits_of_rgb_halves() -> None:
    for seed in range(2):
        rgb = np.asarray(photo_like(100 + seed, (640, 400)).convert("RGB"))
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        from_grey, from_rgb = region_hashes(grey), region_hashes(rgb)
        for name in REGIONS:
            assert hamming(from_grey[name][0], from_rgb[name][0]) <= 8, (seed, name)
            assert abs(from_grey[name][1] - from_rgb[name][1]) <= 2
        # frame_hashes makes the grey copy itself when none is given: the same halves
        assert (
            frame_hashes(rgb, halves=True).halves
            == frame_hashes(rgb, halves=True, grey=grey).halves
        )


def test_crops_from_the_grey_copy_are_within_a_few_bits_of_rgb_crops() -> None:
    """Banks made before hold crops hashed from the RGB frame's 384-px copy; bank_hashes now
    scales the grey copy (a third of the work): the two stay within a few bits (on the 14
    sample videos at 1 frame/s: max 4, mean 0.6 bits), so old banks still match."""
    for seed in range(2):
        rgb = np.asarray(photo_like(110 + seed, (960, 540)).convert("RGB"))
        small = video_layout.scaled(rgb, video_variants.BANK_SIDE)
        sh, sw = small.shape[:2]
        got = video_variants.bank_hashes(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        assert got == video_variants.bank_hashes(rgb)  # an RGB frame is made grey first
        for (name, keep), (got_name, value, quality) in zip(video_variants.CROPS, got, strict=True):
            dy, dx = round(sh * (1 - keep) / 2), round(sw * (1 - keep) / 2)
            (from_rgb,), q = video_variants.pdq_box(small, (dx, dy, sw - dx, sh - dy))
            assert got_name == name
            assert hamming(value, from_rgb) <= 8, (seed, name)
            assert abs(quality - q) <= 2


def test_decoded_frames_convert_once_and_match_the_rgb_iterator(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", scene_frames(3, 3, 10, (160, 120)))
    decoded = list(iter_frames(video, seconds_per_frame=1.0, threads=1))
    plain = list(iter_sampled_frames(video, seconds_per_frame=1.0, threads=1))
    assert [(d.number, d.time) for d in decoded] == [(n, t) for n, t, _ in plain]
    with av.open(str(video)) as container:  # each frame converted on its own by PyAV
        alone = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    for d, (_, _, rgb) in zip(decoded, plain, strict=True):
        assert np.array_equal(rgb, alone[d.number])  # the shared scaler changes no pixel
        assert (d.width, d.height) == (160, 120)
        assert d.rgb() is d.rgb() and np.array_equal(d.rgb(), rgb)
        assert d.rgb().flags.c_contiguous
        assert np.array_equal(d.grey(), cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
