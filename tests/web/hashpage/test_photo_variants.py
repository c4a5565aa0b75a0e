"""variants.js (her page's crop, rotation and region hashes) against
rempart.signals.pdq_variants.stored_variants on identical RGB pixels: the same list of (kind,
name, pdq, quality), in the same order, for generated photos of several sizes and real photos
(the threatexchange PDQ images and the faces set) decoded as Rempart decodes them. One bit of
difference and a crop of her photo would be found by the CLI's hash file but not the page's.

The JavaScript runs in Node in a subprocess (tests/web/hashpage/photo_variants.mjs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from tests.web.hashpage.nodejs import real_photos, rgb_jobs, rgb_of, run_node

from rempart.samples import photo_like
from rempart.signals.pdq_variants import stored_variants

SCRIPT = Path(__file__).with_name("photo_variants.mjs")


def generated() -> list[tuple[str, np.ndarray]]:
    sizes = [
        (640, 480),
        (479, 613),
        (1031, 257),
        (97, 131),
        (2000, 1501),
        (63, 400),
        (64, 64),
        (512, 512),
        (513, 1024),
        (3001, 2000),
    ]
    return [(f"photo_like{s}", rgb_of(photo_like(200 + k, s))) for k, s in enumerate(sizes)]


def js_variants(images: list[np.ndarray], tmp: Path) -> list[dict]:
    return run_node(SCRIPT, rgb_jobs(images, tmp), timeout=900)


def py_variants(rgb: np.ndarray) -> list[dict]:
    return [
        {"kind": v.kind, "name": v.name, "pdq": v.hash.hex, "quality": v.hash.quality}
        for v in stored_variants(Image.fromarray(rgb, "RGB"))
    ]


def test_variants_equal_python(tmp_path: Path) -> None:
    cases = generated() + real_photos(12)
    got = js_variants([rgb for _, rgb in cases], tmp_path)
    bad = []
    total = 0
    for (name, rgb), js in zip(cases, got, strict=True):
        want = py_variants(rgb)
        total += len(want)
        if js["variants"] != want:
            bad.append(f"{name} {rgb.shape}: {js['variants']} != {want}")
    assert total > 100  # the cases have real variants, not empty lists
    assert not bad, "\n".join(bad[:5])
