"""pillow.js (the Pillow operations her page applies before hashing a photo's variants and
keypoints) against Pillow itself, pixel for pixel: RGB -> L, reduce, bilinear resize, bilinear
rotation (about the centre and about another point), fractional crops and reduce_to, on
generated photos of several and odd sizes. A single differing pixel can move a variant's PDQ
hash, and her page's hash file must equal `rempart hash --out`'s.

The JavaScript runs in Node in a subprocess (tests/web/hashpage/photo_pillow.mjs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tests.web.hashpage.nodejs import run_node

from rempart.media.reduce import reduce_to
from rempart.samples import photo_like
from rempart.signals.pdq_variants import REGIONS, _crop

SCRIPT = Path(__file__).with_name("photo_pillow.mjs")


def run_js(jobs: list[tuple[Image.Image, list[list[Any]]]], tmp: Path) -> list[np.ndarray]:
    """Each (image, operations) through pillow.js; the results as arrays."""
    spec = []
    for k, (image, ops) in enumerate(jobs):
        src = tmp / f"{k}.in"
        src.write_bytes(np.asarray(image, dtype=np.uint8).tobytes())
        spec.append(
            {
                "in": str(src),
                "out": str(tmp / f"{k}.out"),
                "width": image.width,
                "height": image.height,
                "channels": len(image.getbands()),
                "ops": ops,
            }
        )
    meta = run_node(SCRIPT, spec)
    out = []
    for job, m in zip(spec, meta, strict=True):
        raw = np.frombuffer(Path(job["out"]).read_bytes(), dtype=np.uint8)
        shape = (m["height"], m["width"]) + ((m["channels"],) if m["channels"] > 1 else ())
        out.append(raw.reshape(shape))
    return out


def py_apply(image: Image.Image, ops: list[list[Any]]) -> Image.Image:
    for name, *args in ops:
        if name == "grey":
            image = image.convert("L")
        elif name == "reduce":
            image = image.reduce(args[0])
        elif name == "resize":
            image = image.resize((args[0], args[1]), Image.Resampling.BILINEAR)
        elif name == "rotate":
            center = tuple(args[1]) if len(args) > 1 and args[1] is not None else None
            image = image.rotate(args[0], resample=Image.Resampling.BILINEAR, center=center)
        elif name == "crop":
            image = _crop(image, tuple(args[0]))
        elif name == "reduce_to":
            image = reduce_to(image, args[0])
    return image


SIZES = [(640, 480), (479, 613), (1031, 257), (97, 131), (2000, 1501), (33, 1200)]


def cases() -> list[tuple[Image.Image, list[list[Any]]]]:
    jobs: list[tuple[Image.Image, list[list[Any]]]] = []
    for k, size in enumerate(SIZES):
        img = photo_like(100 + k, size)
        w, h = size
        jobs += [
            (img, [["grey"]]),
            (img, [["reduce", 2]]),
            (img, [["reduce", 3]]),
            (img, [["reduce", 4]]),
            (img, [["reduce", 7]]),
            (img, [["grey"], ["reduce", 5]]),
            (img, [["resize", max(1, w // 3 + 1), max(1, h // 2 - 1)]]),
            (img, [["resize", w * 2 - 3, h + 5]]),
            (img, [["resize", w, max(1, h // 4)]]),
            (img, [["grey"], ["resize", max(1, round(w * 0.71)), max(1, round(h * 0.71))]]),
            (img, [["reduce_to", 512]]),
            (img, [["reduce_to", 256]]),
            (img, [["grey"], ["reduce_to", 512]]),
        ]
        for deg in (-9, -6, -3, 3, 6, 9, 17.3):
            jobs.append((img, [["reduce_to", 512], ["rotate", deg]]))
        jobs.append((img, [["reduce_to", 512], ["rotate", -4.7, [w / 5, h / 3 + 0.25]]]))
        for box in list(REGIONS.values()) + [(0.025, 0.025, 0.975, 0.975), (0.1, 0.1, 0.9, 0.9)]:
            jobs.append((img, [["reduce_to", 512], ["crop", list(box)]]))
    return jobs


def test_pillow_ops_pixel_identical(tmp_path: Path) -> None:
    jobs = cases()
    got = run_js(jobs, tmp_path)
    bad = []
    for (image, ops), js in zip(jobs, got, strict=True):
        want = np.asarray(py_apply(image, ops), dtype=np.uint8)
        if want.shape != js.shape or not np.array_equal(want, js):
            diff = "shape" if want.shape != js.shape else int((want != js).sum())
            bad.append(f"{image.size} {ops}: {want.shape} vs {js.shape}, {diff}")
    assert not bad, "\n".join(bad[:20])


def test_resize_pass_order_pixel_identical(tmp_path: Path) -> None:
    """Pillow 13 resizes vertically first when the height shrinks much more than the width:
    random sizes on both sides of that rule (and the equality edge) stay identical."""
    rng = np.random.default_rng(7)
    jobs: list[tuple[Image.Image, list[list[Any]]]] = []
    for k in range(60):
        w, h = int(rng.integers(10, 300)), int(rng.integers(10, 300))
        ow, oh = int(rng.integers(3, w + 40)), int(rng.integers(3, h + 40))
        jobs.append((photo_like(k, (w, h)), [["resize", ow, oh]]))
    for w, h, ow, oh in ((100, 200, 90, 180), (120, 100, 121, 98), (120, 100, 121, 101)):
        jobs.append((photo_like(1, (w, h)), [["resize", ow, oh]]))
    got = run_js(jobs, tmp_path)
    bad = [
        f"{image.size} {ops}"
        for (image, ops), js in zip(jobs, got, strict=True)
        if not np.array_equal(np.asarray(py_apply(image, ops)), js)
    ]
    assert not bad, bad
