"""Ordinary, photo-like sample images and videos made in code, for the demo, tests and
benchmarks.

Scenes of sky, ground, shapes and texture: nothing resembling a person's body. Each seed
gives a different, reproducible picture; videos pan slowly across such scenes.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def photo_like(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A reproducible RGB scene with structure at several scales (so PDQ quality is high)."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    top, bottom = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    t = (yy / max(h - 1, 1))[..., None]
    base = top * (1 - t) + bottom * t
    wave = np.sin(xx / w * rng.uniform(2, 9) + rng.uniform(0, 6)) * np.cos(
        yy / h * rng.uniform(2, 9) + rng.uniform(0, 6)
    )
    base += (wave[..., None] * rng.uniform(20, 60, 3)).astype(np.float32)
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(8, 20))):
        x0, y0 = rng.uniform(-0.1, 1.0) * w, rng.uniform(-0.1, 1.0) * h
        x1, y1 = x0 + rng.uniform(0.05, 0.5) * w, y0 + rng.uniform(0.05, 0.5) * h
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = int(rng.integers(0, 3))
        if kind == 0:
            draw.ellipse([x0, y0, x1, y1], fill=colour)
        elif kind == 1:
            draw.rectangle([x0, y0, x1, y1], fill=colour)
        else:
            pts = [(float(rng.uniform(0, w)), float(rng.uniform(0, h))) for _ in range(3)]
            draw.polygon(pts, fill=colour)
    img = img.filter(ImageFilter.GaussianBlur(radius=max(w, h) / 400))
    noise = rng.normal(0, 6, (h, w, 3))
    arr = np.clip(np.asarray(img, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(arr, "RGB")


def scene_frames(seed: int, seconds: float, fps: int, size: tuple[int, int]) -> list[np.ndarray]:
    """Frames of a slow pan across a large generated scene, changing scene every 4 seconds."""
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


def write_video(
    path: Path,
    frames: list[np.ndarray],
    fps: int = 10,
    codec: str = "libx264",
    threads: int | None = None,
) -> Path:
    """Encode RGB frames into a video file (container from the file name) with PyAV;
    `threads`: the encoder's thread count (None: the codec's default)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        if not isinstance(stream, av.VideoStream):
            raise ValueError(f"{codec!r} is not a video codec")
        if threads is not None:
            stream.codec_context.thread_count = threads
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


def paste_region(
    source: Image.Image,
    box: tuple[int, int, int, int],
    target: Image.Image,
    at: tuple[int, int],
    *,
    scale: float = 1.0,
    feather: int = 8,
) -> Image.Image:
    """A copy of `target` with the `box` region of `source` pasted at `at`, resized by
    `scale`, its edges blended over `feather` pixels: how a benign face-swap composite (a
    face pasted onto another photo) is simulated in tests and benchmarks."""
    left, top, right, bottom = box
    region = source.convert("RGB").crop(box)
    if scale != 1.0:
        size = (max(1, round((right - left) * scale)), max(1, round((bottom - top) * scale)))
        region = region.resize(size, Image.Resampling.LANCZOS)
    mask = Image.new("L", region.size, 0)
    inset = min(feather, region.size[0] // 4, region.size[1] // 4)
    ImageDraw.Draw(mask).ellipse(
        (inset, inset, region.size[0] - inset, region.size[1] - inset), fill=255
    )
    if inset:
        mask = mask.filter(ImageFilter.GaussianBlur(inset / 2))
    out = target.convert("RGB").copy()
    out.paste(region, at, mask)
    return out
