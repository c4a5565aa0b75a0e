"""Streaming video decoding: probing, vPDQ-style sampling, skipped frames, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rempart.media import video
from rempart.media.errors import MediaError
from rempart.media.video import (
    VIDEO_EXTENSIONS,
    frame_step,
    iter_sampled_frames,
    probe_video,
)
from tests.media.video_factory import scene_frames, write_audio_only, write_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 s at 10 frames/s, H.264 with B-frames (x264 defaults)."""
    return write_video(
        tmp_path_factory.mktemp("v") / "clip.mp4", scene_frames(7, 12, 10, (160, 120))
    )


def test_extensions() -> None:
    assert {".mp4", ".mov", ".webm", ".mkv", ".avi", ".m4v"} <= VIDEO_EXTENSIONS
    assert ".gif" not in VIDEO_EXTENSIONS  # a GIF is a video only when animated (kinds.py)


def test_probe(clip: Path) -> None:
    info = probe_video(clip)
    assert (info.width, info.height, info.codec) == (160, 120, "h264")
    assert info.fps == 10 and info.duration is not None and abs(info.duration - 12) < 0.5


def test_frame_step_is_vpdq_s() -> None:
    assert frame_step(30, 1.0) == 30 and frame_step(29.97, 1.0) == 29
    assert frame_step(30, 0) == 1 and frame_step(0.5, 1.0) == 1 and frame_step(None, 1.0) == 1


def test_one_frame_per_second_numbers_and_timestamps(clip: Path) -> None:
    got = [(n, ts) for n, ts, _ in iter_sampled_frames(clip)]
    assert got == [(10 * k, float(k)) for k in range(12)]
    half = [n for n, _, _ in iter_sampled_frames(clip, seconds_per_frame=0.5)]
    assert half == list(range(0, 120, 5))


def test_skipped_frames_change_nothing_in_sampled_frames(clip: Path) -> None:
    """Sampling skips undecoded frames nothing depends on: sampled pixels are identical."""
    every = {n: rgb for n, _, rgb in iter_sampled_frames(clip, seconds_per_frame=0)}
    assert sorted(every) == list(range(120))
    for n, _, rgb in iter_sampled_frames(clip, seconds_per_frame=1.0, threads=2):
        assert rgb.shape == (120, 160, 3) and rgb.dtype == np.uint8
        assert np.array_equal(rgb, every[n]), n


def test_sampling_is_lazy(clip: Path) -> None:
    frames = iter_sampled_frames(clip)
    number, ts, rgb = next(frames)
    assert (number, ts) == (0, 0.0) and rgb.shape == (120, 160, 3)
    frames.close()  # type: ignore[attr-defined]


def _reason(path: Path, **kw: float) -> str:
    with pytest.raises(MediaError) as info:
        list(iter_sampled_frames(path, **kw))  # type: ignore[arg-type]
    assert str(path) in str(info.value)
    return info.value.reason


def test_bad_files(tmp_path: Path, clip: Path) -> None:
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert _reason(tmp_path / "empty.mp4") == "empty-file"
    (tmp_path / "text.mp4").write_text("not a video at all\n" * 200)
    assert _reason(tmp_path / "text.mp4") in {"not-a-video", "corrupt"}
    (tmp_path / "noise.mkv").write_bytes(np.random.default_rng(1).bytes(50_000))
    assert _reason(tmp_path / "noise.mkv") in {"not-a-video", "corrupt", "empty-video"}
    assert _reason(write_audio_only(tmp_path / "audio.mp4")) == "no-video-stream"
    assert _reason(tmp_path / "missing.mp4") == "unreadable"
    (tmp_path / "dir.mp4").mkdir()
    assert _reason(tmp_path / "dir.mp4") == "not-a-file"
    (tmp_path / "head.mp4").write_bytes(clip.read_bytes()[:3000])  # index at the end: cut off
    assert _reason(tmp_path / "head.mp4") in {"not-a-video", "corrupt", "truncated", "empty-video"}
    with pytest.raises(MediaError) as info:
        probe_video(tmp_path / "audio.mp4")
    assert info.value.reason == "no-video-stream"


def test_zero_length_video(tmp_path: Path) -> None:
    """A container with a video stream but no frame at all."""
    import av

    path = tmp_path / "zero.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        out.start_encoding()  # writes the header; no frame follows
    assert path.stat().st_size > 0
    assert _reason(path) in {"empty-video", "corrupt", "not-a-video"}


def test_absurd_dimensions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clip: Path) -> None:
    monkeypatch.setattr(video, "MAX_SIDE", 100)
    assert _reason(clip) == "too-many-pixels"
    with pytest.raises(MediaError) as info:
        probe_video(clip)
    assert info.value.reason == "too-many-pixels" and "160x120" in str(info.value)
    monkeypatch.setattr(video, "MAX_SIDE", 8192)
    monkeypatch.setattr(video, "MAX_FRAME_PIXELS", 160 * 120 - 1)
    assert _reason(clip) == "too-many-pixels"


def test_negative_rate_refused(clip: Path) -> None:
    with pytest.raises(ValueError):
        next(iter_sampled_frames(clip, seconds_per_frame=-1))
