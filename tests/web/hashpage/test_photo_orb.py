"""orb.js (OpenCV's ORB ported to JavaScript for her page) against OpenCV itself on the same
grey work copy: the pyramid's INTER_LINEAR_EXACT resize pixel for pixel, the detected
keypoints (position, level, Harris response, angle), and the stored features of
local_features.extract (positions and descriptors, the RPO1 text). The share of identical
keypoints and descriptors is measured and printed; a lower share would mean her page's
features match fewer copies than the CLI's.

The JavaScript runs in Node in a subprocess (tests/web/hashpage/photo_orb.mjs)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image
from tests.web.hashpage.nodejs import real_photo_paths, run_node

from rempart.media.decode import decode_image
from rempart.media.reduce import reduce_to
from rempart.samples import photo_like
from rempart.signals.local_features import _ORB, WORK_SIDE, Features, extract
from rempart.signals.pdq_variants import work_copy

SCRIPT = Path(__file__).with_name("photo_orb.mjs")


def run_js(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return run_node(SCRIPT, jobs, timeout=900)


def works() -> list[tuple[str, Image.Image]]:
    """RGB work copies (what the stored side extracts features from) of real and generated
    photos."""
    paths = real_photo_paths()
    out = [(p.name, work_copy(decode_image(p.read_bytes(), p).image)) for p in paths[::2]]
    out += [(f"photo_like{k}", work_copy(photo_like(k, (800, 600)))) for k in range(6)]
    # regression: sizes whose pyramid level falls on a tie (297 / 1.2 = 247.5 -> 248 in
    # OpenCV 5, 486 / 1.44 = 337.5 -> 338; 291 / 1.2 = 242.5 -> 242, ties to even)
    out += [(f"tie{s}", photo_like(1041, s)) for s in ((297, 332), (486, 300), (291, 300))]
    return out


def grey_file(image: Image.Image, path: Path) -> tuple[np.ndarray, dict[str, Any]]:
    grey = np.ascontiguousarray(np.asarray(reduce_to(image.convert("L"), WORK_SIDE)))
    path.write_bytes(grey.tobytes())
    return grey, {"grey": str(path), "width": grey.shape[1], "height": grey.shape[0]}


def test_pyramid_resize_pixel_identical(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    jobs, wants = [], []
    for k in range(12):
        w, h = int(rng.integers(20, 520)), int(rng.integers(20, 520))
        _, job = grey_file(photo_like(k, (w, h)), tmp_path / f"{k}.grey")
        to = (
            (max(1, round(w / 1.2)), max(1, round(h / 1.2)))
            if k % 3
            else (int(rng.integers(1, 600)), int(rng.integers(1, 600)))
        )
        jobs.append({**job, "mode": "resize", "to": list(to), "out": str(tmp_path / f"{k}.out")})
        grey = np.frombuffer(Path(job["grey"]).read_bytes(), np.uint8).reshape(h, w)
        wants.append(cv2.resize(grey, to, interpolation=cv2.INTER_LINEAR_EXACT))
    run_js(jobs)
    for job, want in zip(jobs, wants, strict=True):
        got = np.frombuffer(Path(job["out"]).read_bytes(), np.uint8).reshape(want.shape)
        assert np.array_equal(got, want), (job["width"], job["height"], job["to"])


def test_blur_like_opencvs_float_filter(tmp_path: Path) -> None:
    """ORB blurs each level in place inside its pyramid buffer, which takes OpenCV's float
    separable filter (what sepFilter2D gives on 8-bit pixels), not GaussianBlur's bit-exact
    one; one pixel off by one flips a BRIEF test. Regression: photo_like(81) at 900 x 700
    had a pixel at 165.49998 in a float32 sum without fused multiply-adds, 166 in OpenCV."""
    kernel = cv2.getGaussianKernel(7, 2, cv2.CV_32F)
    jobs, wants = [], []
    images = [work_copy(photo_like(81, (900, 700)))] + [
        photo_like(k, (int(w), int(h)))
        for k, (w, h) in enumerate(np.random.default_rng(5).integers(8, 400, (8, 2)))
    ]
    for k, image in enumerate(images):
        grey, job = grey_file(image, tmp_path / f"{k}.grey")
        jobs.append({**job, "mode": "blur", "out": str(tmp_path / f"{k}.out")})
        wants.append(cv2.sepFilter2D(grey, -1, kernel, kernel, borderType=cv2.BORDER_REFLECT_101))
    run_js(jobs)
    for job, want in zip(jobs, wants, strict=True):
        got = np.frombuffer(Path(job["out"]).read_bytes(), np.uint8).reshape(want.shape)
        assert int((got != want).sum()) == 0, (job["width"], job["height"])


def test_keypoints_and_features_like_opencv(tmp_path: Path) -> None:
    cases = works()
    jobs, greys = [], []
    for k, (_, image) in enumerate(cases):
        grey, job = grey_file(image, tmp_path / f"{k}.grey")
        greys.append(grey)
        jobs.append({**job, "mode": "detect"})
        jobs.append(
            {**job, "mode": "extract", "image_width": image.width, "image_height": image.height}
        )
    got = run_js(jobs)
    kp_total = kp_same = pts_total = pts_same = desc_same = texts_same = with_features = 0
    for k, (name, image) in enumerate(cases):
        detected, extracted = got[2 * k], got[2 * k + 1]
        want = {
            (np.float32(p.pt[0]), np.float32(p.pt[1]), p.octave): (
                np.float32(p.response),
                np.float32(p.angle),
            )
            for p in _ORB.detect(greys[k], None)
        }
        mine = {
            (np.float32(x), np.float32(y), o): (np.float32(r), np.float32(a))
            for x, y, r, a, o in detected["keypoints"]
        }
        kp_total += len(want)
        kp_same += sum(1 for key, v in mine.items() if want.get(key) == v)
        stored = extract(image)
        assert (stored is None) == (extracted["text"] is None), name
        if stored is None:
            continue
        with_features += 1
        js = Features.from_text(extracted["text"])
        texts_same += extracted["text"] == stored.to_text()
        if name.startswith("tie"):  # a level one pixel narrower changes most keypoints
            assert extracted["text"] == stored.to_text(), name
        cv_pairs = Counter(
            (tuple(p), d.tobytes())
            for p, d in zip(np.rint(stored.points * 4095), stored.descriptors, strict=True)
        )
        js_pairs = Counter(
            (tuple(p), d.tobytes())
            for p, d in zip(np.rint(js.points * 4095), js.descriptors, strict=True)
        )
        pts_total += len(stored)
        pts_same += sum(
            (
                Counter(p for p, _ in cv_pairs.elements())
                & Counter(p for p, _ in js_pairs.elements())
            ).values()
        )
        desc_same += sum((cv_pairs & js_pairs).values())
    print(
        f"\nORB in JS vs OpenCV on {len(cases)} work copies: keypoints identical "
        f"{kp_same}/{kp_total}; stored features identical {texts_same}/{with_features}; "
        f"positions {pts_same}/{pts_total}, descriptors {desc_same}/{pts_total}"
    )
    assert with_features >= 20
    assert kp_same >= 0.98 * kp_total
    assert pts_same >= 0.98 * pts_total and desc_same >= 0.98 * pts_total
