"""Ordinary test videos made in code with PyAV: moving abstract scenes, never people."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from rempart.samples import scene_frames, write_video

__all__ = ["scene_frames", "write_audio_only", "write_video"]


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
