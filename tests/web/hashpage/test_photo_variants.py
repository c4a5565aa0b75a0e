"""variants.js (her page's crop, rotation and region hashes) against
rempart.signals.pdq_variants.stored_variants on identical RGB pixels: the same list of (kind,
name, pdq, quality), in the same order, for generated photos of several sizes and real photos
(the threatexchange PDQ images and the faces set) decoded as Rempart decodes them. One bit of
difference and a crop of her photo would be found by the CLI's hash file but not the page's.

The JavaScript runs in Node in a subprocess (tests/web/hashpage/photo_variants.mjs)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rempart.media.decode import decode_image
from rempart.samples import photo_like
from rempart.signals.pdq_variants import stored_variants

ROOT = Path(__file__).resolve().parents[3]
TESTDATA = ROOT.parent / "shared" / "testdata"
SCRIPT = Path(__file__).with_name("photo_variants.mjs")


def node() -> str:
    exe = shutil.which("node")
    if exe is None:
        pytest.fail("Node.js is missing: `make test` installs it")
    return exe


def rgb_of(image: Image.Image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def real_photos(limit: int) -> list[tuple[str, np.ndarray]]:
    """Real photos decoded as `rempart hash` decodes them (EXIF orientation, modes)."""
    paths = sorted((TESTDATA / "faces").rglob("*.jp*g")) + sorted(
        (TESTDATA / "threatexchange" / "pdq" / "data").rglob("*.jpg")
    )
    if not paths:
        pytest.skip("shared test data missing")
    step = max(1, len(paths) // limit)
    out = []
    for p in paths[::step][:limit]:
        decoded = decode_image(p.read_bytes(), p)
        out.append((p.name, rgb_of(decoded.image)))
    return out


def generated() -> list[tuple[str, np.ndarray]]:
    sizes = [(640, 480), (479, 613), (1031, 257), (97, 131), (2000, 1501), (63, 400),
             (64, 64), (512, 512), (513, 1024), (3001, 2000)]  # fmt: skip
    return [(f"photo_like{s}", rgb_of(photo_like(200 + k, s))) for k, s in enumerate(sizes)]


def js_variants(images: list[np.ndarray], tmp: Path) -> list[dict]:
    jobs = []
    for k, rgb in enumerate(images):
        path = tmp / f"{k}.rgb"
        path.write_bytes(rgb.tobytes())
        jobs.append({"rgb": str(path), "width": rgb.shape[1], "height": rgb.shape[0]})
    done = subprocess.run(
        [node(), str(SCRIPT)], input=json.dumps(jobs), capture_output=True, text=True,
        cwd=ROOT, timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert len(out) == len(images)
    return out


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
