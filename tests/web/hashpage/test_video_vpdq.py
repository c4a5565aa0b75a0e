"""vpdq.js (her browser's video hashes) against the CLI's bank side on the same decoded frames.

PyAV decodes every frame (as rempart.media.video does) and hands its YUV planes to Node
(tests/web/hashpage/video_vpdq.mjs), where vpdq.js turns them into RGB as FFmpeg's swscale
does for PyAV's `to_ndarray("rgb24")` and hashes them as `rempart hash --out` does (every
frame, inside black bars, four halves, each stream dropping a frame within 8 bits of the last
one kept; the halves from the frame's grey copy; the centre crops crop90 and crop80 of the
robust stage's stored side). Both must be equal bit for bit: the RGB bytes of every frame, and
the frame lists of the hash file.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from tests.media.video_factory import scene_frames, write_video
from tests.web.hashpage.nodejs import ROOT, THREATEXCHANGE, node

from rempart.signals.vpdq import BANK_DEDUPE_DISTANCE, hash_video_file

SAMPLES = THREATEXCHANGE / "tmk" / "sample-videos"
SCRIPT = Path(__file__).with_name("video_vpdq.mjs")


def tight_planes(frame: av.VideoFrame) -> bytes:
    """Y, U and V of a yuv420p frame without the line padding."""
    w, h = frame.width, frame.height
    cw, ch = (w + 1) // 2, (h + 1) // 2
    out = []
    for plane, (pw, ph) in zip(frame.planes, ((w, h), (cw, ch), (cw, ch)), strict=True):
        arr = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
        out.append(np.ascontiguousarray(arr[:ph, :pw]).tobytes())
    return b"".join(out)


def run_js(frames: Iterator[av.VideoFrame], header: dict[str, Any]) -> dict[str, Any]:
    """Stream frames to video_vpdq.mjs; returns its answer (frames converted, hashes)."""
    proc = subprocess.Popen(
        [node(), str(SCRIPT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdin is not None
    proc.stdin.write((json.dumps(header) + "\n").encode())
    for frame in frames:
        proc.stdin.write(tight_planes(frame))
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()
    return dict(json.loads(out))


def decoded(path: Path) -> tuple[list[av.VideoFrame], dict[str, Any]]:
    """Every frame of a video as rempart.media.video decodes it, with the header for Node."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        frames = [f for packet in container.demux(stream) for f in packet.decode()]
    first = frames[0]
    assert first.format.name == "yuv420p"
    header = {
        "width": first.width,
        "height": first.height,
        "colorspace": int(first.colorspace),
        "fullRange": int(first.color_range) == 2,
        "hash": True,
        "timestamps": [float(n / Fraction(rate)) for n in range(len(frames))],
    }
    return frames, header


def cli_item(path: Path) -> dict[str, Any]:
    """The frame lists `rempart hash --out` writes for this video (the bank side)."""
    h = hash_video_file(
        path,
        seconds_per_frame=0.0,
        dedupe_distance=BANK_DEDUPE_DISTANCE,
        regions=True,
        robust="stored",
    )
    from rempart.exchange.submission import SubmissionItem

    item = SubmissionItem.from_video(h).to_json()
    keys = ("vpdq", "vpdq_inside", "vpdq_regions", "vpdq_crops")
    return {k: item[k] for k in keys if k in item}


@pytest.fixture(scope="module")
def barred_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated 3 s clip, letterboxed (black bars top and bottom), 10 frames/s."""
    frames = []
    for f in scene_frames(7, 3.0, 10, (320, 192)):
        out = np.zeros((240, 320, 3), np.uint8)
        out[24:216] = f
        frames.append(out)
    return write_video(tmp_path_factory.mktemp("vpdq") / "barred.mp4", frames, fps=10)


# (An HD sample, doorknob-hd-no-bar, is compared through the real page in
# test_video_browser.py.)
@pytest.mark.parametrize("name", ["barred", "pattern-sd-with-large-logo-bar.mp4"])
def test_vpdq_js_equals_cli(name: str, barred_clip: Path) -> None:
    path = barred_clip if name == "barred" else SAMPLES / name
    if not path.is_file():
        pytest.fail(f"{path} is missing (../shared/testdata)")
    frames, header = decoded(path)
    expected_md5 = [hashlib.md5(f.to_ndarray(format="rgb24").tobytes()).hexdigest() for f in frames]
    got = run_js(iter(frames), header)
    assert got["frames"] == len(frames)
    bad = [i for i, (a, b) in enumerate(zip(got["md5"], expected_md5, strict=True)) if a != b]
    assert not bad, f"{len(bad)} frames' RGB differ from PyAV's, first {bad[:5]}"
    expected = cli_item(path)
    assert got["result"]["vpdq"] == expected["vpdq"]
    assert got["result"].get("vpdq_inside") == expected.get("vpdq_inside")
    assert got["result"]["vpdq_regions"] == expected["vpdq_regions"]
    assert expected.get("vpdq_crops"), "the CLI keeps centre crops of her frames"
    assert got["result"].get("vpdq_crops") == expected["vpdq_crops"]
    if name == "barred":
        assert expected.get("vpdq_inside"), "the barred clip must have inside-bars hashes"


def synthetic_frame(w: int, h: int, seed: int, colorspace: int, color_range: int) -> Any:
    rng = np.random.default_rng(seed)
    frame = av.VideoFrame(w, h, "yuv420p")
    for plane, (pw, ph) in zip(
        frame.planes,
        ((w, h), ((w + 1) // 2, (h + 1) // 2), ((w + 1) // 2, (h + 1) // 2)),
        strict=True,
    ):
        buf = np.zeros((len(bytes(plane)) // plane.line_size, plane.line_size), np.uint8)
        buf[:ph, :pw] = rng.integers(0, 256, (ph, pw), dtype=np.uint8)
        plane.update(buf.tobytes())
    frame.colorspace = colorspace
    frame.color_range = color_range
    return frame


@pytest.mark.parametrize(
    ("colorspace", "color_range"),
    [(2, 1), (1, 1), (5, 1), (6, 1), (9, 1), (4, 1), (7, 1), (2, 2), (1, 2)],
)
def test_yuv_to_rgb_every_value(colorspace: int, color_range: int) -> None:
    """Random YUV (every Y, U, V value many times over) converted in each colour matrix and
    range: the same RGB bytes as PyAV's, widths that are and are not multiples of 8."""
    for w, h in ((512, 256), (250, 130), (33, 18)):
        frame = synthetic_frame(w, h, colorspace * 10 + color_range, colorspace, color_range)
        header = {
            "width": w,
            "height": h,
            "colorspace": colorspace,
            "fullRange": color_range == 2,
            "hash": False,
            "timestamps": [0.0],
        }
        got = run_js(iter([frame]), header)
        want = hashlib.md5(frame.to_ndarray(format="rgb24").tobytes()).hexdigest()
        assert got["md5"] == [want], (w, h, colorspace, color_range)
