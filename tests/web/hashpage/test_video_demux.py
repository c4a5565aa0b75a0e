"""demux_mp4.js and demux_webm.js (her browser's video demuxers) against PyAV (FFmpeg's
demuxers, what the CLI reads videos with), in Node: the same frames' bytes in the same order,
the same key frames, and the frame rate and duration PyAV reports (the CLI's timestamps are
frame number / average rate); damaged files are clear errors, never a crash or a hang.
Files are read in slices (no read larger than a few MB)."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest
from tests.media.video_factory import scene_frames, write_video
from tests.web.hashpage.nodejs import THREATEXCHANGE, run_node

SAMPLES = THREATEXCHANGE / "tmk" / "sample-videos"
SCRIPT = Path(__file__).with_name("video_demux.mjs")


def demux_js(paths: list[Path]) -> list[dict[str, Any]]:
    return run_node(SCRIPT, [str(p) for p in paths], timeout=300)


def pyav(path: Path) -> dict[str, Any]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        packets = [p for p in c.demux(s) if p.size]
        rate = s.average_rate or s.guessed_rate
        return {
            "sizes": [p.size for p in packets],
            "keys": [i for i, p in enumerate(packets) if p.is_keyframe],
            "md5": hashlib.md5(b"".join(bytes(p) for p in packets)).hexdigest(),
            "rate": Fraction(rate),
            "width": s.codec_context.width,
            "height": s.codec_context.height,
            "duration": float(c.duration) / 1_000_000 if c.duration else None,
        }


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("demux")
    frames = scene_frames(5, 2.5, 12, (176, 144))
    return [
        write_video(folder / name, frames, fps=12, codec=codec)
        for name, codec in (
            ("h264.mp4", "libx264"),
            ("h264.mkv", "libx264"),
            ("vp8.webm", "libvpx"),
            ("vp9.webm", "libvpx-vp9"),
            ("vp9.mp4", "libvpx-vp9"),
            ("av1.webm", "libsvtav1"),
        )
    ]


def test_demuxers_equal_pyav(generated: list[Path]) -> None:
    paths = [*generated, *sorted(SAMPLES.glob("*.mp4"))[:6]]
    for path, got in zip(paths, demux_js(paths), strict=True):
        assert "error" not in got, (path.name, got)
        want = pyav(path)
        assert got["sizes"] == want["sizes"], path.name
        assert got["keys"] == want["keys"], path.name
        assert got["md5"] == want["md5"], path.name
        assert Fraction(got["rate"]["num"], got["rate"]["den"]) == want["rate"], path.name
        assert (got["width"], got["height"]) == (want["width"], want["height"]), path.name
        assert got["duration"] == pytest.approx(want["duration"], abs=1e-6), path.name
        assert got["largest"] <= 8 * 1024 * 1024, path.name  # read in slices


def test_damaged_files_are_errors(tmp_path: Path, generated: list[Path]) -> None:
    mp4 = generated[0].read_bytes()  # PyAV writes the index (moov) last
    webm = generated[2].read_bytes()
    cases = {
        "cut-before-index.mp4": mp4[: len(mp4) // 2],
        "only-ftyp.mp4": mp4[:32],
        "bad-box.mp4": mp4[:8] + b"\x00\x00\x00\x03junk" + bytes(64),
        "webm-header-only.webm": webm[:40],
        "webm-garbage.webm": b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 8,
    }
    paths = []
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        paths.append(tmp_path / name)
    for path, got in zip(paths, demux_js(paths), strict=True):
        assert "error" in got, (path.name, got)
        assert got["error"]["code"] == "undecodable", (path.name, got)
        assert got["error"]["message"], path.name


def test_webm_cut_mid_cluster_keeps_frames_before(tmp_path: Path, generated: list[Path]) -> None:
    data = generated[3].read_bytes()
    cut = tmp_path / "cut.webm"
    cut.write_bytes(data[: len(data) - 600])  # its last frames (the first is most of it)
    (got,) = demux_js([cut])
    assert "error" not in got, got
    full = pyav(generated[3])
    assert 0 < len(got["sizes"]) < len(full["sizes"])
    assert got["sizes"] == full["sizes"][: len(got["sizes"])]
