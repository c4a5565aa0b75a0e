"""A test-only embedder of the dwtDct invisible watermark, so the decoder in
rempart.signals.synthetic.watermark can be checked on round trips.

Why it lives in tests: Rempart reads provenance marks, it never writes them. Marking an
ordinary generated photo (rempart.samples.photo_like) with a provenance watermark is the
inverse of the decoder, written from the same published description: U channel of YUV, one
Haar level, 4x4 blocks of the approximation band in raster order, block n carries bit n mod L
in its largest-magnitude coefficient (the first excepted), quantised with step 36 to 9 (bit 0)
or 27 (bit 1) modulo 36. Like the reference encoder, the horizontal and vertical detail
bands are handed back swapped and the result is cut to 8 bits.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import pywt  # type: ignore[import-untyped]
from PIL import Image

SCALE = 36.0
BLOCK = 4


def _mark_band(band: np.ndarray, bits: Sequence[int]) -> None:
    br, bc = band.shape[0] // BLOCK, band.shape[1] // BLOCK
    n = 0
    for i in range(br):
        for j in range(bc):
            block = band[i * BLOCK : (i + 1) * BLOCK, j * BLOCK : (j + 1) * BLOCK]
            flat = block.reshape(-1)
            pos = int(np.argmax(np.abs(flat[1:]))) + 1
            value = float(flat[pos])
            level = (abs(value) // SCALE + 0.25 + 0.5 * bits[n % len(bits)]) * SCALE
            flat[pos] = level if value >= 0 else -level
            block[...] = flat.reshape(BLOCK, BLOCK)
            n += 1


def embed_bgr(bgr: np.ndarray, bits: Sequence[int]) -> np.ndarray:
    """The marked copy of an HxWx3 uint8 array taken as BGR."""
    rows, cols = bgr.shape[0] // 4 * 4, bgr.shape[1] // 4 * 4
    yuv = cv2.cvtColor(np.ascontiguousarray(bgr), cv2.COLOR_BGR2YUV)
    approx, (h, v, d) = pywt.dwt2(yuv[:rows, :cols, 1].astype(np.float64), "haar")
    _mark_band(approx, bits)
    back = pywt.idwt2((approx, (v, h, d)), "haar")
    yuv[:rows, :cols, 1] = np.clip(back, 0, 255).astype(np.uint8)
    out: np.ndarray = cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR)
    return out


def embed(img: Image.Image, bits: Sequence[int], order: str = "bgr") -> Image.Image:
    """A marked copy of an RGB picture, as a generator would save it: "bgr" for callers that
    convert RGB to BGR first (SD scripts, InvokeAI), "rgb" for those that hand RGB over as
    if it were BGR (the diffusers SDXL watermarker)."""
    rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    if order == "bgr":
        marked = embed_bgr(rgb[:, :, ::-1], bits)[:, :, ::-1]
    else:
        marked = embed_bgr(rgb, bits)
    return Image.fromarray(np.ascontiguousarray(marked), "RGB")
