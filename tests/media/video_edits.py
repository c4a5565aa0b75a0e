"""The re-post edits of the video robust stage, made in code (issue 21 item 2): a clip
mirrored, inside a blurred vertical frame, cropped at a low bitrate, or shown small in a
corner of another clip. Used by tests/scan/test_video_robust.py and bench/video_bench.py, so
that the tests and the benchmark edit videos the same way. Ordinary footage only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageFilter

Edit = Callable[[np.ndarray, np.ndarray | None], np.ndarray]

FRAME_SCALE = 0.7  # the picture's width in the vertical frame
CROP_SIDE = 0.10  # cut from each side
PIP_MARGIN = 0.03  # the inset's distance from the frame's edges (share of each side)


def _even(n: float) -> int:
    return max(2, int(round(n / 2)) * 2)


def mirrored(rgb: np.ndarray, _other: np.ndarray | None = None) -> np.ndarray:
    return np.ascontiguousarray(rgb[:, ::-1])


def vertical_frame(rgb: np.ndarray, _other: np.ndarray | None = None) -> np.ndarray:
    """The picture at FRAME_SCALE of the width, centred in a 9:16 frame filled with an
    enlarged, blurred copy of itself (the usual short-video re-post layout)."""
    h, w = rgb.shape[:2]
    out_w = _even(w)
    out_h = _even(w * 16 / 9)
    src = Image.fromarray(rgb)
    cover = max(out_w / w, out_h / h)
    big = src.resize((_even(w * cover), _even(h * cover)), Image.Resampling.BILINEAR)
    left, top = (big.width - out_w) // 2, (big.height - out_h) // 2
    back = big.crop((left, top, left + out_w, top + out_h)).filter(
        ImageFilter.GaussianBlur(max(8, out_w // 20))
    )
    pw = _even(out_w * FRAME_SCALE)
    ph = _even(pw * h / w)
    back.paste(
        src.resize((pw, ph), Image.Resampling.BILINEAR), ((out_w - pw) // 2, (out_h - ph) // 2)
    )
    return np.asarray(back)


def cropped(rgb: np.ndarray, _other: np.ndarray | None = None) -> np.ndarray:
    h, w = rgb.shape[:2]
    dy, dx = round(h * CROP_SIDE), round(w * CROP_SIDE)
    out = rgb[dy : h - dy, dx : w - dx]
    return np.ascontiguousarray(out[: out.shape[0] // 2 * 2, : out.shape[1] // 2 * 2])


def picture_in_picture(rgb: np.ndarray, other: np.ndarray | None = None) -> np.ndarray:
    """`rgb` at half width and half height (1/4 of the area) in the top right corner of
    `other` (the background video's frame), PIP_MARGIN from its edges."""
    assert other is not None, "picture-in-picture needs the other video's frame"
    h, w = other.shape[:2]
    pw, ph = _even(w / 2), _even(h / 2)
    inset = np.asarray(Image.fromarray(rgb).resize((pw, ph), Image.Resampling.BILINEAR))
    out = other.copy()
    top, left = round(h * PIP_MARGIN), w - pw - round(w * PIP_MARGIN)
    out[top : top + ph, left : left + pw] = inset
    return out


EDITS: dict[str, tuple[Edit, int | None]] = {
    # name: (frame edit, bit rate in bit/s or None for the encoder's default quality)
    "mirrored": (mirrored, None),
    "vertical frame 70%": (vertical_frame, None),
    "crop 10% low bitrate": (cropped, 150_000),
    "picture-in-picture": (picture_in_picture, None),
}


def decoded(path: Path) -> tuple[Iterator[np.ndarray], float]:
    """The frames of a video (RGB) and its frame rate."""
    container = av.open(str(path))
    stream = container.streams.video[0]
    rate = float(stream.average_rate or 25)

    def frames() -> Iterator[np.ndarray]:
        try:
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="rgb24")
        finally:
            container.close()

    return frames(), rate


def write_frames(
    path: Path, frames: Iterator[np.ndarray], fps: float, bit_rate: int | None = None
) -> Path:
    """Encode RGB frames (H.264, or the codec the file name implies) at `fps`; sides are
    made even for yuv420p."""
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=rate)
        assert isinstance(stream, av.VideoStream)
        stream.pix_fmt = "yuv420p"
        if bit_rate is not None:
            stream.bit_rate = bit_rate
        started = False
        for i, rgb in enumerate(frames):
            rgb = np.ascontiguousarray(rgb[: rgb.shape[0] // 2 * 2, : rgb.shape[1] // 2 * 2])
            if not started:
                stream.width, stream.height = rgb.shape[1], rgb.shape[0]
                started = True
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            frame.time_base = 1 / rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def edit_video(
    source: Path | list[np.ndarray],
    edit: str,
    out: Path,
    *,
    fps: float = 10.0,
    other: Path | list[np.ndarray] | None = None,
) -> Path:
    """`source` (a file, or RGB frames at `fps`) re-posted with the named edit (EDITS),
    written to `out`. Picture-in-picture puts it over `other` (looped when shorter)."""
    fn, bit_rate = EDITS[edit]
    if isinstance(source, Path):
        frames, fps = decoded(source)
    else:
        frames = iter(source)
    backgrounds: list[np.ndarray] = []
    if other is not None:
        backgrounds = list(decoded(other)[0]) if isinstance(other, Path) else list(other)

    def edited() -> Iterator[np.ndarray]:
        for i, rgb in enumerate(frames):
            back = backgrounds[i % len(backgrounds)] if backgrounds else None
            yield fn(rgb, back)

    return write_frames(out, edited(), fps, bit_rate)
