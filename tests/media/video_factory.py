"""Ordinary test videos made in code with PyAV: moving abstract scenes, never people."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from rempart import samples
from rempart.samples import scene_frames

__all__ = ["scene_frames", "write_audio_only", "write_video"]


def write_video(
    path: Path, frames: list[np.ndarray], fps: int = 10, codec: str = "libx264"
) -> Path:
    """rempart.samples.write_video, except that libvpx (VP8) encodes on one thread: its
    threads wait for each other by spinning, which on a loaded 2-core machine cost about 6x
    the CPU (100 frames at 480x360: 11.5 s instead of 1.8 s) for the same encoder settings."""
    if codec != "libvpx":
        return samples.write_video(path, frames, fps, codec)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        assert isinstance(stream, av.VideoStream)
        stream.codec_context.thread_count = 1
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        for i, arr in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def write_audio_only(path: Path) -> Path:
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=44100)
        samples = np.zeros((1, 1024 * 20), dtype=np.float32)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = 44100
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path
