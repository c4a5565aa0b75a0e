"""The invisible watermark that Stable Diffusion's reference scripts (v1, v2), SDXL and
InvokeAI put in the pictures they generate, read without torch and without the
invisible-watermark package.

Why here: a found picture that still carries one of these marks was made by one of those
generators, which is evidence a takedown or a complaint can cite. The mark is fragile (a
JPEG re-encode, a resize or a screenshot usually erases it), so a found mark is strong and
an absent one says nothing: "absent does not mean not generated".

How the mark is written (the "dwtDct" method of the invisible-watermark package, re-derived
here from its published description, no code taken from it): the picture, in BGR channel
order, is converted to YUV; the U channel (the first chroma channel; the reference encoder
skips Y and, through its loop bound, never reaches V), cut to a multiple of 4 pixels, gets
a one-level Haar wavelet transform (PyWavelets' dwt2; computed here directly, see
haar_approximation); its approximation band is cut into 4x4 blocks in raster
order and block n carries payload bit n mod L. In each block the coefficient of largest
magnitude, the first one excepted, is quantised with step 36 so that its magnitude modulo 36
falls at 9 (bit 0) or 27 (bit 1). Despite the name no DCT is applied to the block in this
method. Reading it back: the same coefficient's magnitude modulo 36 above 18 votes 1; the
votes of all blocks carrying bit i are averaged and the bit is 1 when the average is above
the picture's average vote (the reference decoder cuts at one half: see ADAPTIVE below).

Which picture order was marked depends on the caller: the SD v1/v2 scripts and InvokeAI
convert RGB to BGR first; the diffusers SDXL watermarker hands its RGB array to the encoder as
if it were BGR. Both orders are read.

When is it found: a payload of L bits is reported when at least `threshold(L)` of its bits
match. Under the null hypothesis (an unmarked picture gives fair, independent bits) the chance
that one (payload, channel order) test reaches k of L is the binomial tail P(X >= k),
X ~ Bin(L, 1/2); with TESTS tests per picture, the Bonferroni bound TESTS * P(X >= k) is
the false-alarm probability per picture, and the threshold is the smallest k that keeps it
under MAX_FALSE_ALARM (1e-6). A flat chroma channel (a greyscale picture, a flat colour)
decodes to all zeros, which is not independent bits: the threshold is also kept above the
number of zeros (and of ones) in each payload, so such a picture can never reach it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from rempart.media.decode import decode_image, read_file_bytes
from rempart.media.errors import MediaError
from rempart.signals.synthetic.base import Finding, Limits, Unreadable

# ADAPTIVE: the reference decoder cuts each bit's average vote at one half. Quantising a
# block's largest coefficient down (bit 0: to 9 modulo 36) often leaves a neighbour as the
# largest, whose residue then reads 1 at random, so votes lean to 1 and a fixed half loses
# bits; cutting at the picture's own average vote keeps them (80 of 80 lossless round trips
# on generated photos against 62 of 80 with the fixed half: docs/synthetic.md, "Watermark").
# Under the null hypothesis the bits stay fair.
SCALE = 36.0  # quantisation step of the reference encoder for the U channel
BLOCK = 4
MIN_PIXELS = 256 * 256  # the reference encoder refuses smaller pictures
MAX_PIXELS = 40_000_000  # beyond this the picture is not read (memory); noted, not an error
MAX_FALSE_ALARM = 1e-6
ORDERS = ("bgr", "rgb")  # the channel order the marked array had when it was encoded
NOTE = "fragile: absent does not mean not generated"


def _bytes_bits(text: bytes) -> tuple[int, ...]:
    """Bits of a byte string, most significant first (numpy's unpackbits order)."""
    return tuple(int(b) for b in np.unpackbits(np.frombuffer(text, dtype=np.uint8)))


def _int_bits(value: int) -> tuple[int, ...]:
    """The bits of an integer as Python's bin() writes them (no leading zeros)."""
    return tuple(int(c) for c in bin(value)[2:])


@dataclass(frozen=True)
class Payload:
    name: str
    generator: str
    bits: tuple[int, ...]


PAYLOADS: tuple[Payload, ...] = (
    Payload(
        "StableDiffusionV1",
        "Stable Diffusion v1 (reference scripts)",
        _bytes_bits(b"StableDiffusionV1"),
    ),
    Payload("SDV2", "Stable Diffusion v2 (reference scripts)", _bytes_bits(b"SDV2")),
    Payload(
        "SDXL",
        "Stable Diffusion XL (reference code, diffusers)",
        _int_bits(0b101100111110110010010000011110111011000110011110),
    ),
    Payload("InvokeAI", "InvokeAI", _bytes_bits(b"InvokeAI")),
)
TESTS = len(PAYLOADS) * len(ORDERS)


def binomial_tail(n: int, k: int) -> float:
    """P(X >= k) for X ~ Bin(n, 1/2), exact."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    return sum(math.comb(n, i) for i in range(k, n + 1)) / 2.0**n


@cache
def threshold(payload: Payload) -> int:
    """Matching bits needed: the smallest k with TESTS * P(X >= k) < MAX_FALSE_ALARM, and
    more than the payload's count of zeros or of ones (a flat channel reads all zeros)."""
    n = len(payload.bits)
    k = next(k for k in range(n + 1) if TESTS * binomial_tail(n, k) < MAX_FALSE_ALARM)
    ones = sum(payload.bits)
    return max(k, max(ones, n - ones) + 1)


def false_alarm(payload: Payload) -> float:
    """The Bonferroni bound this payload's threshold keeps under MAX_FALSE_ALARM:
    TESTS * P(X >= threshold)."""
    return TESTS * binomial_tail(len(payload.bits), threshold(payload))


def false_alarm_per_image() -> float:
    """The chance that an unmarked picture (fair independent bits) passes any of the TESTS
    tests: at most the sum of their tails (Bonferroni), itself under MAX_FALSE_ALARM."""
    return sum(len(ORDERS) * binomial_tail(len(p.bits), threshold(p)) for p in PAYLOADS)


@dataclass(frozen=True)
class Reading:
    payload: Payload
    order: str
    matched: int  # bits equal to the payload's

    @property
    def found(self) -> bool:
        return self.matched >= threshold(self.payload)

    def evidence(self) -> dict[str, object]:
        return {
            "payload": self.payload.name,
            "generator": self.payload.generator,
            "channel_order": self.order,
            "bits_matched": self.matched,
            "bits": len(self.payload.bits),
            "threshold": threshold(self.payload),
            "false_alarm_per_image": float(f"{false_alarm_per_image():.3g}"),
            "method": "dwtDct (U channel, Haar DWT, 4x4 blocks, step 36)",
            "note": NOTE,
        }


def haar_approximation(channel: np.ndarray) -> np.ndarray:
    """The approximation band of a one-level 2-D Haar transform (pywt.dwt2's cA, to the last
    bit: (a + b + c + d) / 2 over each 2x2 cell), in integers then halved: 20-30 times faster
    than pywt.dwt2, which also computes the three detail bands this reader never uses."""
    s = channel.astype(np.int32)
    out: np.ndarray = (s[0::2, 0::2] + s[0::2, 1::2] + s[1::2, 0::2] + s[1::2, 1::2]) * 0.5
    return out


def block_votes(bgr: np.ndarray) -> np.ndarray:
    """Each 4x4 block's vote (0 or 1), in raster order, for an HxWx3 uint8 array taken as BGR."""
    rows, cols = bgr.shape[0] // 4 * 4, bgr.shape[1] // 4 * 4
    yuv = cv2.cvtColor(np.ascontiguousarray(bgr[:rows, :cols]), cv2.COLOR_BGR2YUV)
    approx = haar_approximation(yuv[:, :, 1])
    br, bc = approx.shape[0] // BLOCK, approx.shape[1] // BLOCK
    blocks = (
        approx[: br * BLOCK, : bc * BLOCK]
        .reshape(br, BLOCK, bc, BLOCK)
        .transpose(0, 2, 1, 3)
        .reshape(br * bc, BLOCK * BLOCK)
    )
    rest = np.abs(blocks[:, 1:])
    peak = rest[np.arange(len(rest)), np.argmax(rest, axis=1)]
    votes: np.ndarray = (np.mod(peak, SCALE) > SCALE / 2).astype(np.float64)
    return votes


def decode_bits(votes: np.ndarray, length: int, *, reference: bool = False) -> np.ndarray:
    """The payload bits from the blocks' votes: bit i is 1 when the average vote of the
    blocks carrying it is above the average of all votes (`reference=True`: above one
    half, as the reference decoder reads it; see ADAPTIVE)."""
    index = np.arange(len(votes)) % length
    counts = np.bincount(index, minlength=length)
    sums = np.bincount(index, weights=votes, minlength=length)
    means = np.divide(sums, counts, out=np.zeros(length), where=counts > 0)
    cut = 127 / 255 if reference else float(votes.mean()) if len(votes) else 0.5
    bits: np.ndarray = means > cut
    return bits


def read_array(rgb: np.ndarray) -> list[Reading]:
    """Every (payload, channel order) reading of an HxWx3 uint8 RGB array; [] when the
    picture is smaller than the reference encoder accepts."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] * rgb.shape[1] < MIN_PIXELS:
        return []
    rgb = rgb.astype(np.uint8, copy=False)
    out: list[Reading] = []
    for order in ORDERS:
        # "bgr": the marked array was true BGR, so the file's RGB is reversed back to it;
        # "rgb": the encoder was handed RGB as if it were BGR
        array = rgb[:, :, ::-1] if order == "bgr" else rgb
        votes = block_votes(array)
        for payload in PAYLOADS:
            n = len(payload.bits)
            if len(votes) < n:
                continue
            bits = decode_bits(votes, n)
            matched = int(np.sum(bits == np.array(payload.bits, dtype=bool)))
            out.append(Reading(payload, order, matched))
    return out


def found(readings: Iterable[Reading]) -> list[Reading]:
    """The readings over their threshold, best (most bits matched, relatively) first."""
    hits = [r for r in readings if r.found]
    return sorted(hits, key=lambda r: -r.matched / len(r.payload.bits))


def read_image(img: Image.Image) -> list[Reading]:
    """The found watermarks of a decoded picture (any mode: converted to RGB 8 bits)."""
    if img.width * img.height > MAX_PIXELS:
        return []
    if img.mode != "RGB":
        if img.mode in ("I;16", "I;16B", "I;16L", "I"):
            wide = np.asarray(img, dtype=np.float64)
            img = Image.fromarray(np.clip(wide / 256.0, 0, 255).astype(np.uint8), "L")
        img = img.convert("RGB")
    return found(read_array(np.asarray(img, dtype=np.uint8)))


def finding(reading: Reading) -> Finding:
    """A found mark as a synthetic-media finding: ai-generated, labelled fragile."""
    return Finding("invisible-watermark", "ai-generated", "fragile", reading.evidence())


def read_file(path: Path) -> list[Reading]:
    """The found watermarks of an image file; [] when it is too small or too large to carry
    or to read one. A MediaError when it cannot be decoded."""
    data = read_file_bytes(path)
    try:
        decoded = decode_image(data, path, reduce_for_hashing=False, max_pixels=MAX_PIXELS)
    except MediaError as exc:
        if exc.reason == "too-many-pixels":
            return []
        raise
    return read_image(decoded.image)


def detect(path: Path, kind: str, limits: Limits) -> list[Finding]:
    """The `base.DETECTORS` entry: the best found mark of a picture (none for a video);
    an undecodable picture is Unreadable, with the decoder's reason."""
    if kind == "bmff":  # MP4/MOV/HEIF: the reference scripts mark still pictures only
        return []
    try:
        hits = read_file(path)
    except MediaError as exc:
        raise Unreadable(f"invisible watermark: {exc.detail}") from exc
    return [finding(hits[0])] if hits else []
