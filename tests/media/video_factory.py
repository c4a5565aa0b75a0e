"""Ordinary test videos made in code with PyAV: moving abstract scenes, never people."""

from __future__ import annotations

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
    return samples.write_video(path, frames, fps, codec, threads=1 if codec == "libvpx" else None)


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
