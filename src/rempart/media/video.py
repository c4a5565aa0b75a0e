"""Safe, streaming video decoding with PyAV (FFmpeg inside the wheel; no system FFmpeg).

Frames are decoded one at a time and only the sampled ones are converted to RGB, so memory
stays bounded whatever the length of the video. When sampling (not every frame), packets of
frames that will not be sampled are decoded with FFmpeg's ``skip_frame=NONREF``: frames no
other frame depends on are not decoded at all, which changes nothing in the sampled frames.
`iter_frames` yields each sampled frame as a `DecodedFrame` that converts its pixels only
when asked (RGB by libswscale, grey from that RGB), once, so every hash of a frame shares one
conversion. Every failure is a MediaError naming the file, with a short reason code.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from av.video.reformatter import VideoReformatter

from rempart.media.errors import MediaError
from rempart.media.kinds import VIDEO_EXTENSIONS, read_head, sniff

__all__ = [
    "VIDEO_EXTENSIONS",
    "DecodedFrame",
    "VideoInfo",
    "iter_frames",
    "iter_sampled_frames",
    "probe_video",
]

MAX_SIDE = 8192  # frames wider or taller than this are refused (absurd dimensions)
MAX_FRAME_PIXELS = 40_000_000  # and frames with more pixels than this
OPEN_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class VideoInfo:
    duration: float | None  # seconds, from the container (None when it does not say)
    fps: float | None  # average frame rate (None when unknown)
    width: int
    height: int
    codec: str


def _open(path: Path) -> av.container.InputContainer:
    try:
        if not path.exists():
            raise MediaError(path, "unreadable", "file not found")
        if not path.is_file():
            raise MediaError(path, "not-a-file", "not a regular file")
        if path.stat().st_size == 0:
            raise MediaError(path, "empty-file", "the file is empty (0 bytes)")
    except OSError as exc:
        raise MediaError(path, "unreadable", f"cannot read ({exc.strerror})") from exc
    try:
        return av.open(str(path), mode="r", timeout=OPEN_TIMEOUT_S)
    except av.error.InvalidDataError as exc:
        if sniff(read_head(path)) == "video":
            raise MediaError(
                path,
                "corrupt",
                "starts like a video but cannot be opened: truncated or damaged "
                f"(an MP4 cut before its index cannot be read) ({exc})",
            ) from exc
        raise MediaError(path, "not-a-video", "not a video Rempart can read") from exc
    except PermissionError as exc:
        raise MediaError(path, "unreadable", "permission denied") from exc
    except (av.error.FFmpegError, OSError) as exc:
        raise MediaError(path, "corrupt", f"cannot open the video ({exc})") from exc


def _video_stream(container: av.container.InputContainer, path: Path) -> av.video.VideoStream:
    if not container.streams.video:
        raise MediaError(path, "no-video-stream", "the file has no video stream")
    stream = container.streams.video[0]
    ctx = stream.codec_context
    width, height = int(ctx.width or 0), int(ctx.height or 0)
    if width <= 0 or height <= 0:
        raise MediaError(path, "corrupt", f"impossible frame size {width}x{height}")
    if max(width, height) > MAX_SIDE or width * height > MAX_FRAME_PIXELS:
        raise MediaError(
            path, "too-many-pixels", f"frames of {width}x{height} exceed the limit ({MAX_SIDE} px)"
        )
    return stream


def _rate(stream: av.video.VideoStream) -> Fraction | None:
    rate = stream.average_rate or stream.guessed_rate
    if not rate or rate <= 0:
        return None
    return Fraction(rate)


def probe_video(path: Path) -> VideoInfo:
    """Duration, frame rate, size and codec, from the headers (nothing is decoded)."""
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        duration = None
        if container.duration is not None and container.duration > 0:
            duration = float(container.duration) / 1_000_000
        elif stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        rate = _rate(stream)
        ctx = stream.codec_context
        return VideoInfo(
            duration, float(rate) if rate else None, int(ctx.width), int(ctx.height), ctx.name
        )
    finally:
        container.close()


def frame_step(fps: float | Fraction | None, seconds_per_frame: float) -> int:
    """vPDQ's sampling step: every `int(seconds_per_frame * fps)`-th frame (at least 1)."""
    if seconds_per_frame <= 0 or not fps:
        return 1
    return max(1, int(seconds_per_frame * float(fps)))


def grey_of(rgb: np.ndarray) -> np.ndarray:
    """The grey copy of RGB uint8 pixels (OpenCV's RGB2GRAY: (9798 R + 19235 G + 3735 B +
    2^14) >> 15, the luma rounded), C-contiguous: what `DecodedFrame.grey()` is, and what her
    hashing page computes (vpdq.js greyFromRgb)."""
    return np.asarray(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY))


class DecodedFrame:
    """One sampled frame: its number, time, and its pixels converted on demand, once.

    `rgb()`: RGB uint8 HxWx3, C-contiguous (libswscale, as Meta's vPDQ converts frames);
    `grey()`: uint8 HxW, the luma of that RGB (0.299 R + 0.587 G + 0.114 B, rounded: Meta's
    PDQ luma to the nearest integer), for the cheaper looks at a frame (bars, faces, edges).
    """

    __slots__ = ("_frame", "_grey", "_reformatter", "_rgb", "number", "time")

    def __init__(
        self,
        number: int,
        time: float,
        frame: av.VideoFrame,
        reformatter: VideoReformatter | None = None,
    ) -> None:
        self.number = number
        self.time = time
        self._frame = frame
        self._reformatter = reformatter
        self._rgb: np.ndarray | None = None
        self._grey: np.ndarray | None = None

    @property
    def width(self) -> int:
        return int(self._frame.width)

    @property
    def height(self) -> int:
        return int(self._frame.height)

    def rgb(self) -> np.ndarray:
        if self._rgb is None:
            if self._reformatter is None:
                rgb = self._frame.to_ndarray(format="rgb24")
            else:  # one libswscale context for the whole video, not one a frame
                rgb = self._reformatter.reformat(self._frame, format="rgb24").to_ndarray()
            self._rgb = np.ascontiguousarray(rgb)
        return self._rgb

    def grey(self) -> np.ndarray:
        if self._grey is None:
            self._grey = grey_of(self.rgb())
        return self._grey


def iter_sampled_frames(
    path: Path, *, seconds_per_frame: float = 1.0, threads: int = 0
) -> Generator[tuple[int, float, np.ndarray], None, None]:
    """(frame number, timestamp in seconds, RGB uint8 HxWx3) of the sampled frames
    (`iter_frames`, each converted to RGB)."""
    for frame in iter_frames(path, seconds_per_frame=seconds_per_frame, threads=threads):
        yield frame.number, frame.time, frame.rgb()


def iter_frames(
    path: Path, *, seconds_per_frame: float = 1.0, threads: int = 0
) -> Generator[DecodedFrame, None, None]:
    """The sampled frames of a video, each a `DecodedFrame` (number, time, pixels on demand).

    Sampling follows Meta's vPDQ: frame n is kept when n % step == 0, where
    step = int(seconds_per_frame * fps); `seconds_per_frame` 0 keeps every frame (as vPDQ's
    reference output). Timestamps are n / fps, as vPDQ writes them. Frame numbers count
    decoded frames from 0 when every frame is kept; when sampling, they come from each
    frame's presentation time (the same numbers for constant-rate video), so that frames
    nothing depends on can be skipped undecoded. `threads`: FFmpeg decoding threads, 0 = auto.
    A file that breaks off mid-way keeps the frames decoded before the break (the caller
    can compare the last timestamp with the duration); one that yields no frame at all
    raises MediaError.
    """
    if seconds_per_frame < 0:
        raise ValueError("seconds_per_frame must be >= 0")
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        stream.thread_count = max(0, threads)
        ctx = stream.codec_context
        rate = _rate(stream)
        tb = stream.time_base
        step = frame_step(rate, seconds_per_frame)
        by_pts = step > 1 and rate is not None and tb is not None
        start = stream.start_time if stream.start_time is not None else 0

        # frames per time-base tick
        per_tick = float(tb * rate) if by_pts and tb is not None and rate is not None else 0.0

        def number_of(pts: int | None) -> int | None:
            return None if pts is None else max(0, round((pts - start) * per_tick))

        reformatter = VideoReformatter()  # frames of one video share its scaler
        count = -1  # decoded frames so far, minus one
        next_due = 0
        yielded = False
        try:
            for packet in container.demux(stream):
                if by_pts:
                    n = number_of(packet.pts)
                    wanted = n is None or n % step == 0 or n >= next_due + step
                    ctx.skip_frame = "DEFAULT" if wanted else "NONREF"
                for frame in packet.decode():
                    count += 1
                    number = count
                    if by_pts:
                        n = number_of(frame.pts)
                        number = count if n is None else n
                        if number < next_due:
                            continue
                        next_due = (number // step + 1) * step
                    elif number % step:
                        continue
                    if rate is not None:
                        ts = float(number / rate)
                    elif frame.time is not None:
                        ts = float(frame.time)
                    else:
                        ts = float(number)
                    if frame.width * frame.height > MAX_FRAME_PIXELS or (
                        max(frame.width, frame.height) > MAX_SIDE
                    ):
                        raise MediaError(
                            path,
                            "too-many-pixels",
                            f"frame {number} of {frame.width}x{frame.height} exceeds the limit",
                        )
                    yielded = True
                    yield DecodedFrame(number, ts, frame, reformatter)
        except av.error.FFmpegError as exc:
            if count < 0:
                raise MediaError(path, "corrupt", f"no frame could be decoded ({exc})") from exc
            raise MediaError(
                path, "truncated", f"decoding stopped after frame {count} ({exc})"
            ) from exc
        if count < 0 or not yielded:
            raise MediaError(path, "empty-video", "the video has no decodable frames")
    finally:
        container.close()
