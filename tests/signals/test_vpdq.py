"""vPDQ-compatible video hashing: matching rule, ranges, formats, bars, bad videos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rempart.media.errors import MediaError
from rempart.signals.vpdq import VpdqFrame, content_box, hash_video_file
from rempart.signals.vpdq_match import is_match, match_video_hashes, match_videos
from rempart.signals.vpdq_text import (
    frames_from_json,
    frames_from_text,
    frames_to_json,
    frames_to_text,
)
from tests.conftest import TESTDATA
from tests.media.video_factory import scene_frames, write_video

REFERENCE = TESTDATA / "threatexchange" / "vpdq" / "sample-hashes"
A = "f" * 64
B = "0" * 64
A1 = "7" + "f" * 63  # 1 bit from A
A31 = "0" * 7 + "8" + "f" * 56  # 31 bits from A
A32 = "0" * 8 + "f" * 56  # 32 bits from A


def fr(i: int, hex_: str, quality: int = 100) -> VpdqFrame:
    return VpdqFrame(i, quality, hex_, float(i))


def test_vpdq_percentages_unique_hashes_quality_and_inclusive_distance() -> None:
    # query: A twice (counted once), a low-quality frame (ignored), B (not in stored)
    query = [fr(0, A), fr(1, A), fr(2, A32, quality=10), fr(3, B)]
    stored = [fr(0, A31), fr(1, A1), fr(2, "3" * 64)]
    m = match_videos(query, stored)
    assert m.query_match_percent == 50.0  # A matched (A31 at 31 counts), B not
    assert m.stored_match_percent == pytest.approx(200 / 3)  # A31 and A1 match A
    assert match_videos(query, stored, distance=30).stored_match_percent == pytest.approx(100 / 3)
    assert match_videos([fr(0, A32)], [fr(0, A)]).query_match_percent == 0.0
    assert match_videos([fr(0, A, 49)], [fr(0, A)]) == match_videos([], [fr(0, A)])
    assert match_videos([], []).query_match_percent == 0.0


def test_ranges_merge_consecutive_matched_frames() -> None:
    stored = [fr(i, A if 3 <= i <= 6 or i == 9 else B[:-1] + str(i % 10)) for i in range(12)]
    stored = [VpdqFrame(f.frame, f.quality, f.pdq_hex, float(f.frame)) for f in stored]
    query = [fr(0, A1), fr(1, A1)]
    m = match_videos(query, stored)
    assert m.stored_ranges == [(3.0, 7.0), (9.0, 10.0)]
    assert m.query_ranges == [(0.0, 2.0)]
    assert is_match(m) and not is_match(m, stored_percent=50)


def test_text_format_matches_meta_reference_byte_for_byte() -> None:
    ref = (REFERENCE / "chair-19-sd-bar.txt").read_text()
    frames = frames_from_text(ref, "chair")
    assert frames_to_text(frames) == ref
    assert frames[1] == VpdqFrame(1, 100, frames[1].pdq_hex, 0.033)


@pytest.mark.parametrize(
    "bad",
    [
        "1,100,zz,0.1",
        "1,100," + "a" * 63 + ",0.1",
        "1,101," + "a" * 64 + ",0.1",
        "-1,100," + "a" * 64 + ",0.1",
        "1,100," + "a" * 64 + ",nan",
        "1,100," + "a" * 64 + ",0.1,extra",
        "x,100," + "a" * 64 + ",0.1",
    ],
)
def test_malformed_text_names_source_and_line(bad: str) -> None:
    with pytest.raises(ValueError, match="bad.txt: line 2"):
        frames_from_text("0,100," + "a" * 64 + ",0.000\n" + bad + "\n", "bad.txt")


def test_json_form_is_threatexchange_s() -> None:
    frames = [fr(0, A), VpdqFrame(1, 80, B, 1.5)]
    text = frames_to_json(frames)
    assert json.loads(text) == [f"{A},100,0.000", f"{B},80,1.500"]
    assert frames_from_json(text, "x.json") == [VpdqFrame(0, 100, A, 0.0), frames[1]]
    for bad in ("{}", "[1]", '["a,1"]', "nope", f'["{A},200,0"]'):
        with pytest.raises(ValueError, match="x.json"):
            frames_from_json(bad, "x.json")


def test_threatexchange_reads_our_json() -> None:
    vpdq_util = pytest.importorskip("threatexchange.extensions.vpdq.vpdq_util")
    frames = frames_from_text((REFERENCE / "doorknob-hd-no-bar.txt").read_text(), "doorknob")
    theirs = vpdq_util.json_to_vpdq(frames_to_json(frames))
    assert [(f.pdq_hex, f.quality) for f in theirs] == [(f.pdq_hex, f.quality) for f in frames]


@pytest.fixture(scope="module")
def long_video(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    frames = scene_frames(3, 60, 10, (320, 240))
    return write_video(tmp_path_factory.mktemp("v") / "long.mp4", frames), frames


def test_hash_video_file(long_video: tuple[Path, list[np.ndarray]]) -> None:
    path, _ = long_video
    seen: list[float] = []
    h = hash_video_file(path, progress=seen.append)
    assert 50 <= len(h.frames) <= 60 and len(seen) == 60 and seen[-1] == 59.0
    assert [f.frame for f in h.frames[:3]] == [0, 10, 20]
    assert h.duration is not None and abs(h.duration - 60) < 1
    assert (h.width, h.height) == (320, 240) and not h.notes and not h.trimmed_frames
    import hashlib

    data = path.read_bytes()
    assert (h.md5, h.sha256) == (hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest())


def test_a_10_second_clip_is_found_and_located(
    long_video: tuple[Path, list[np.ndarray]], tmp_path: Path
) -> None:
    path, frames = long_video
    # 30 s..40 s (10 s, not 20: the VP8 encoding was most of this test's time)
    clip = write_video(tmp_path / "clip.webm", frames[300:400], codec="libvpx")
    stored, query = hash_video_file(path), hash_video_file(clip)
    m = match_videos(query.frames, stored.frames)
    assert is_match(m), m
    assert m.query_match_percent >= 90 and m.stored_match_percent < 50
    assert len(m.stored_ranges) == 1, m.stored_ranges
    (start, end), *_ = m.stored_ranges
    assert 29 <= start <= 31 and 39 <= end <= 41, m.stored_ranges
    assert m.query_ranges[0][0] <= 1 and m.query_ranges[-1][1] >= 9
    other = write_video(tmp_path / "other.mp4", scene_frames(99, 10, 10, (320, 240)))
    assert not is_match(match_videos(hash_video_file(other).frames, stored.frames))


def test_black_bars_are_trimmed_for_a_second_hash(tmp_path: Path) -> None:
    content = scene_frames(11, 8, 10, (180, 240))
    bars = [np.pad(f, ((0, 0), (70, 70), (0, 0))) for f in content]  # pillarbox to 320x240
    assert content_box(bars[0]) == (0, 240, 70, 250)
    assert content_box(content[0]) is None
    assert content_box(np.zeros((240, 320, 3), np.uint8)) is None
    plain = hash_video_file(write_video(tmp_path / "plain.mp4", content))
    barred = hash_video_file(write_video(tmp_path / "bars.mp4", bars))
    assert len(barred.trimmed_frames) == len(barred.frames) and not plain.trimmed_frames
    assert not is_match(match_videos(barred.frames, plain.frames))  # plain vPDQ misses it
    assert is_match(match_video_hashes(barred, plain))
    assert is_match(match_video_hashes(plain, barred))


def test_truncated_video_raises_or_keeps_what_decoded(tmp_path: Path) -> None:
    path = write_video(tmp_path / "full.mkv", scene_frames(5, 30, 10, (320, 240)))
    data = path.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError) as info:
        hash_video_file(cut)
    assert info.value.reason == "truncated" and str(cut) in str(info.value)
    h = hash_video_file(cut, allow_truncated=True)
    assert 5 <= len(h.frames) < 30 and h.notes


def test_bad_videos_raise_media_errors(tmp_path: Path) -> None:
    (tmp_path / "empty.mov").write_bytes(b"")
    (tmp_path / "text.mp4").write_text("not a video " * 100)
    for name, reasons in (
        ("empty.mov", {"empty-file"}),
        ("text.mp4", {"not-a-video", "corrupt"}),
        ("missing.mp4", {"unreadable"}),
    ):
        with pytest.raises(MediaError) as info:
            hash_video_file(tmp_path / name)
        assert info.value.reason in reasons and name in str(info.value)


def test_reference_variants_match_and_other_clips_do_not() -> None:
    """On Meta's every-frame reference hashes: re-encodes, grey, sepia, small logo match."""

    def frames(name: str) -> list[VpdqFrame]:
        return frames_from_text((REFERENCE / f"{name}.txt").read_text(), name)

    orig = frames("chair-orig-22-sd-bar")
    for variant in (
        "chair-22-sd-grey-bar",
        "chair-22-sd-sepia-bar",
        "chair-22-with-small-logo-bar",
        "chair-19-sd-bar",
        "chair-20-sd-bar",
    ):
        assert is_match(match_videos(frames(variant), orig)), variant
    for other in ("pattern-hd-no-bar", "doorknob-hd-no-bar", "test-padded-dimensions"):
        assert not is_match(match_videos(frames(other), orig)), other
        assert not is_match(match_videos(orig, frames(other))), other
