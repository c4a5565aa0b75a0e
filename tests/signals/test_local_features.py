"""Local features: ORB keypoints, their portable form, and geometric verification."""

from __future__ import annotations

import pytest
from PIL import Image, ImageOps

from rempart.samples import photo_like
from rempart.signals.local_features import FeatureFormatError, Features, extract, verify


def test_round_trip_of_the_text_form() -> None:
    f = extract(photo_like(1, (640, 480)))
    assert f is not None and 24 <= len(f) <= 400
    g = Features.from_text(f.to_text())
    assert (g.descriptors == f.descriptors).all()
    assert abs(g.points - f.points).max() <= 1 / 4095
    assert (g.width, g.height) == (f.width, f.height)


@pytest.mark.parametrize("bad", ["", "not base64!", "UlBPMQ==", "QUJDRA" * 10])
def test_damaged_text_is_refused(bad: str) -> None:
    with pytest.raises(FeatureFormatError):
        Features.from_text(bad)


def test_flat_and_tiny_pictures_have_no_features() -> None:
    assert extract(Image.new("RGB", (640, 480), (12, 200, 40))) is None
    assert extract(photo_like(2, (20, 20))) is None


def test_a_partly_replaced_copy_is_verified_and_located() -> None:
    img = photo_like(3, (640, 480))
    edited = img.copy()
    edited.paste(photo_like(99, (320, 300)), (160, 180))  # the middle and lower part replaced
    v = verify(extract(edited), extract(img))
    assert v is not None and v.inliers >= 20
    x0, y0, x1, y1 = v.stored_area
    assert (x1 - x0) * (y1 - y0) > 0.3  # keypoints agree around the replaced region
    assert abs(v.scale - 1) < 0.1 and abs(v.angle) < 2


def test_scale_and_rotation_are_measured() -> None:
    img = photo_like(4, (640, 480))
    small = img.resize((320, 240)).rotate(10, expand=True)
    v = verify(extract(small), extract(img))
    assert v is not None and v.inliers >= 15
    assert abs(v.angle - 10) < 2 and abs(v.scale - 0.5) < 0.05


def test_unrelated_pictures_do_not_verify() -> None:
    stored = [extract(photo_like(100 + k, (640, 480))) for k in range(10)]
    found = [extract(photo_like(200 + k, (480, 360))) for k in range(10)]
    worst = max((v.inliers if (v := verify(q, s)) else 0) for q in found for s in stored if q and s)
    assert worst < 12  # robust.MIN_INLIERS
    mirrored = extract(ImageOps.mirror(photo_like(100, (640, 480))))
    assert verify(mirrored, stored[0]) is None or verify(mirrored, stored[0]).inliers < 12


def test_pairs_equal_opencvs_matcher() -> None:
    """The C kernel's pairs equal OpenCV's brute-force matcher's (mutual best, first on
    ties, ratio test) on copies, mirror images and unrelated pictures, and on duplicates
    (ties everywhere)."""
    import numpy as np

    from rempart.signals.local_features import _pairs, _pairs_opencv

    feats = []
    for k in range(4):
        img = photo_like(700 + k, (400, 300))
        for copy in (img, ImageOps.mirror(img), img.resize((330, 250)).rotate(3)):
            f = extract(copy)
            assert f is not None
            feats.append(f.descriptors)
    feats.append(np.repeat(feats[0][:40], 3, axis=0))  # every distance tied three times
    found = 0
    for a in feats:
        for b in feats:
            ours = _pairs(a, b)
            assert np.array_equal(ours, _pairs_opencv(a, b))
            found += len(ours)
    assert found > 1000
    assert _pairs(feats[0][:1], feats[1]).shape == (0, 2)
