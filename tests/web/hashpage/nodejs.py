"""What the hash-page tests share: running one of this folder's Node scripts with JSON in and
out, the RGB files those scripts read, the shared test data's photos decoded as `rempart hash`
decodes them, and `rempart hash --out` itself. Each test compares her page's JavaScript with
the CLI's Python on the same input; one copy of this plumbing keeps the comparisons alike."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from rempart.media.decode import decode_image

ROOT = Path(__file__).resolve().parents[3]
TESTDATA = ROOT.parent / "shared" / "testdata"
THREATEXCHANGE = TESTDATA / "threatexchange"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp"}


def node() -> str:
    exe = shutil.which("node")
    if exe is None:
        pytest.fail("Node.js is missing: `make test` installs it")
    return exe


def run_node(script: Path, jobs: list[Any], *, timeout: int = 600) -> list[Any]:
    """`script`'s answer to `jobs` (one JSON array in on stdin, one out on stdout, one answer
    per job)."""
    done = subprocess.run(
        [node(), str(script)],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out: list[Any] = json.loads(done.stdout)
    assert len(out) == len(jobs)
    return out


def rgb_jobs(images: list[np.ndarray], tmp: Path, **options: bool) -> list[dict[str, Any]]:
    """Each RGB array written to a raw file in `tmp`; the jobs naming them (with `options`)."""
    jobs = []
    for k, rgb in enumerate(images):
        path = tmp / f"{k}.rgb"
        path.write_bytes(np.ascontiguousarray(rgb, dtype=np.uint8).tobytes())
        jobs.append({"rgb": str(path), "width": rgb.shape[1], "height": rgb.shape[0], **options})
    return jobs


def rgb_of(image: Image.Image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def real_photo_paths() -> list[Path]:
    """The faces set and the threatexchange PDQ JPEGs; skips the test if they are missing."""
    paths = sorted((TESTDATA / "faces").rglob("*.jp*g")) + sorted(
        (THREATEXCHANGE / "pdq" / "data").rglob("*.jpg")
    )
    if not paths:
        pytest.skip("shared test data missing")
    return paths


def real_photos(limit: int) -> list[tuple[str, np.ndarray]]:
    """`limit` real photos spread over the set, decoded as `rempart hash` decodes them (EXIF
    orientation, modes)."""
    paths = real_photo_paths()
    step = max(1, len(paths) // limit)
    return [(p.name, rgb_of(decode_image(p.read_bytes(), p).image)) for p in paths[::step][:limit]]


def reference_images() -> list[Path]:
    """Every image of the threatexchange PDQ and python-threatexchange sets."""
    found = [p for p in (THREATEXCHANGE / "pdq").rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES]
    resources = THREATEXCHANGE / "python-threatexchange"
    found += [p for p in resources.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES]
    if len(found) < 48:
        pytest.fail(f"the shared test data is missing ({len(found)} images found)")
    return sorted(found)


def cli_items(paths: list[Path], out: Path, *, timeout: int = 600) -> dict[str, dict[str, Any]]:
    """`rempart hash --out` on the same files, by SHA-256."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "rempart",
            "hash",
            *map(str, paths),
            "--out",
            str(out),
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr
    return {i["sha256"]: i for i in json.loads(out.read_text())["items"]}
