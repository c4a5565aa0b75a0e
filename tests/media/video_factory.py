"""Ordinary test videos made in code with PyAV: moving abstract scenes, never people."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from rempart.samples import photo_like


def scene_frames(seed: int, seconds: float, fps: int, size: tuple[int, int]) -> list[np.ndarray]:
    """A slow pan across a large generated scene, changing scene every 4 seconds."""
    w, h = size
    frames = []
    scenes: dict[int, np.ndarray] = {}
    for i in range(int(seconds * fps)):
        t = i / fps
        k = int(t // 4)
        if k not in scenes:
            scenes[k] = np.asarray(photo_like(seed * 1000 + k, (w * 2, h * 2)))
        big = scenes[k]
        x = int((t % 4) / 4 * w)
        frames.append(np.ascontiguousarray(big[h // 2 : h // 2 + h, x : x + w]))
    return frames


def write_video(path: Path, frames: list[np.ndarray], fps: int = 10, codec: str = "libx264",
                audio: bool = False) -> Path:  # fmt: skip
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
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
