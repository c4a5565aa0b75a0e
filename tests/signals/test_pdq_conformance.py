"""PDQ conforms to Meta's reference hashes (../shared/testdata/threatexchange/pdq-expected.csv).

Also: EXIF orientation on Meta's rotated photos, every colour mode of misc-images/modes, the
8 dihedral transforms under their names, and draft (reduced-size) JPEG decoding.
"""

from __future__ import annotations

import csv
import functools
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_file

from rempart.media.decode import decode_image
from rempart.samples import photo_like
from rempart.signals.image_hashes import hash_image_file
from rempart.signals.pdq import DIHEDRAL, hamming, pdq_dihedral, pdq_hash
from tests.signals.conftest import THREATEXCHANGE as TE

CSV = TE / "pdq-expected.csv"

if not CSV.exists():  # CI has shared/ beside the checkout; a missing copy is an error
    raise RuntimeError(f"reference test data not found: {CSV} (see ../shared/testdata/README.md)")


def _expected() -> dict[str, list[tuple[str, int | None]]]:
    rows: dict[str, list[tuple[str, int | None]]] = defaultdict(list)
    with CSV.open() as fh:
        for row in csv.DictReader(fh):
            quality = int(row["quality"]) if row["quality"] else None
            rows[row["path"]].append((row["pdq_hex"], quality))
    return rows


EXPECTED = _expected()


@pytest.mark.parametrize("relpath", sorted(EXPECTED))
def test_every_reference_image_hashes_within_tolerance(relpath: str) -> None:
    # python-threatexchange's resources are in testdata/threatexchange/python-threatexchange/
    path = TE / relpath
    assert path.exists(), f"reference image missing: {path}"
    got = hash_image_file(path)
    for expected_hex, expected_quality in EXPECTED[relpath]:
        tolerance = 10 if (expected_quality or 0) >= 80 else 16
        distance = hamming(got.pdq.hex, expected_hex)
        assert distance <= tolerance, f"{relpath}: {distance} bits from {expected_hex}"
        if expected_quality is not None:
            assert got.pdq.quality == expected_quality, relpath


def test_hex_is_bit_identical_to_python_threatexchange() -> None:
    """Same pixels in, same hex out as threatexchange's own conversion of pdqhash's bits."""
    for relpath in sorted(EXPECTED):
        path = TE / relpath
        img = Image.open(path)
        if img.mode not in ("RGB", "L") or img.format != "JPEG":
            continue  # threatexchange feeds other modes to pdqhash differently (see docs)
        expected_hex, expected_quality = pdq_from_file(path)
        got = pdq_hash(decode_image(path.read_bytes(), path, reduce_for_hashing=False).image)
        assert (got.hex, got.quality) == (expected_hex, expected_quality), relpath


def test_exif_orientation_is_applied_to_meta_rotated_photos() -> None:
    """exif-rotn-{1,3,6,8}.jpg: four shots of one desk, stored sideways/upside down with an
    orientation tag. They are separate shots (framing differs), so their PDQ hashes are
    114-136 bits apart even when upright; what must hold is that each comes out upright:
    its low-resolution picture correlates with the upright shot best as decoded, not turned.
    """
    folder = TE / "pdq/data/reg-test-input/exif-rotn"

    def thumb(img: Image.Image) -> np.ndarray:
        a = np.asarray(img.convert("L").resize((24, 24), Image.Resampling.BOX), dtype=float)
        a -= a.mean()
        return a / np.linalg.norm(a)

    decoded = {p.name: decode_image(p.read_bytes(), p) for p in sorted(folder.glob("*.jpg"))}
    assert len(decoded) == 4
    reference = thumb(decoded["exif-rotn-1.jpg"].image)
    for name, d in decoded.items():
        assert (d.width, d.height) == ((4032, 3024) if name[-5] in "13" else (3024, 4032))
        turns = {
            "as decoded": d.image,
            "rotate90": d.image.transpose(Image.Transpose.ROTATE_90),
            "rotate180": d.image.transpose(Image.Transpose.ROTATE_180),
            "rotate270": d.image.transpose(Image.Transpose.ROTATE_270),
        }
        score = {k: float((thumb(v) * reference).sum()) for k, v in turns.items()}
        best = max(score, key=score.__getitem__)
        assert best == "as decoded", f"{name}: {score}"
        assert score["as decoded"] > 0.4 and all(
            v < 0.35 for k, v in score.items() if k != "as decoded"
        ), f"{name}: {score}"
        # and the hash is that of the upright picture
        assert hash_image_file(folder / name).pdq.hex == pdq_hash(d.image).hex


_STORE_FOR = {  # the transform that stores pixels so that `orientation` shows them upright
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_of_generated_photos(tmp_path: Path, orientation: int) -> None:
    original = photo_like(7, (640, 480))
    stored = original.transpose(_STORE_FOR[orientation]) if orientation > 1 else original
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "o.jpg"
    stored.save(path, quality=95, exif=exif)
    h = hash_image_file(path)
    assert (h.width, h.height) == (640, 480)
    assert hamming(h.pdq.hex, pdq_hash(original).hex) <= 10
    # without the orientation applied it would be far (except the identity)
    if orientation > 1:
        assert hamming(pdq_hash(stored).hex, pdq_hash(original).hex) > 40


def test_every_colour_mode_hashes_like_the_original() -> None:
    """misc-images/modes: original.jpg converted by Pillow to every mode (see its README)."""
    folder = TE / "pdq/data/misc-images/modes"
    original = hash_image_file(folder / "original.jpg").pdq.hex
    files = [p for p in sorted(folder.iterdir()) if p.suffix != ".md"]
    assert len(files) == 14
    for path in files:
        h = hash_image_file(path)
        limit = 80 if path.stem == "1" else 16  # 1-bit is dithered: far, but must hash
        assert hamming(h.pdq.hex, original) <= limit, path.name
        assert (h.width, h.height) == (1600, 1004), path.name
        assert h.pdq.quality >= 50, path.name


_PIL = {
    "original": None,
    "rotate90": Image.Transpose.ROTATE_90,  # counter-clockwise, as Image.rotate(90)
    "rotate180": Image.Transpose.ROTATE_180,
    "rotate270": Image.Transpose.ROTATE_270,
    "flip_vertical": Image.Transpose.FLIP_TOP_BOTTOM,
    "flip_horizontal": Image.Transpose.FLIP_LEFT_RIGHT,
    "transpose": Image.Transpose.TRANSPOSE,
    "transverse": Image.Transpose.TRANSVERSE,
}


@pytest.mark.parametrize("seed", [3, 8])
def test_dihedral_names_are_the_transforms_they_say(seed: int) -> None:
    img = photo_like(seed, (640, 480))
    variants = pdq_dihedral(img)
    assert [name for name, _ in variants] == list(DIHEDRAL)
    assert set(DIHEDRAL) == set(_PIL)
    assert variants[0][1] == pdq_hash(img)
    for name, h in variants:
        actual = {k: pdq_hash(img if t is None else img.transpose(t)).hex for k, t in _PIL.items()}
        distances = {k: hamming(h.hex, v) for k, v in actual.items()}
        assert min(distances, key=distances.__getitem__) == name, distances
        assert distances[name] <= 16
        assert sorted(distances.values())[1] >= 60


def test_meta_dihedral_reference_images_match_under_the_named_transform() -> None:
    folder = TE / "pdq/data/reg-test-input/dih"
    expected = {  # Meta's file names: flipx mirrors about the x axis (top-bottom), etc.
        "bridge-1-original.jpg": "original",
        "bridge-2-rotate-90.jpg": "rotate90",
        "bridge-3-rotate-180.jpg": "rotate180",
        "bridge-4-rotate-270.jpg": "rotate270",
        "bridge-5-flipx.jpg": "flip_vertical",
        "bridge-6-flipy.jpg": "flip_horizontal",
        "bridge-7-flip-plus-1.jpg": "transpose",
        "bridge-8-flip-minus-1.jpg": "transverse",
    }
    original = decode_image((folder / "bridge-1-original.jpg").read_bytes(), "original").image
    variants = dict(pdq_dihedral(original))
    for filename, name in expected.items():
        h = hash_image_file(folder / filename).pdq.hex
        assert hamming(h, variants[name].hex) <= 16, filename
        assert all(hamming(h, v.hex) > 60 for k, v in variants.items() if k != name), filename


def _draft_vs_full(data: bytes, name: str) -> tuple[int, tuple[int, int], tuple[int, int]]:
    full = decode_image(data, name, reduce_for_hashing=False)
    fast = decode_image(data, name)
    return (
        hamming(pdq_hash(fast.image).hex, pdq_hash(full.image).hex),
        fast.image.size,
        full.image.size,
    )


def test_draft_decoding_of_reference_photos_stays_within_tolerance() -> None:
    drafted = 0
    for path in sorted(TE.glob("pdq/data/**/*.jpg")):
        distance, fast_size, full_size = _draft_vs_full(path.read_bytes(), path.name)
        drafted += fast_size != full_size
        assert min(fast_size) >= 512 or fast_size == full_size, path.name
        assert distance <= 6, f"{path.name}: {distance} bits from the full decode"
    assert drafted >= 4  # the 4032x3024 exif-rotn photos decode at 1008x756


@functools.cache
def _large_scene() -> Image.Image:
    return photo_like(43, (4000, 3000))


def _large_photo(size: tuple[int, int]) -> Image.Image:
    """A photo-like picture of `size`: one 4000x3000 scene (4 CPU-s to make) scaled down
    (turned for a portrait size), instead of a new scene per size (11 CPU-s for the seven)."""
    scene = _large_scene()
    if size[1] > size[0]:
        scene = scene.transpose(Image.Transpose.ROTATE_90)
    return scene if scene.size == size else scene.resize(size, Image.Resampling.LANCZOS)


@pytest.mark.parametrize(
    ("size", "fmt", "mode"),
    [
        ((4000, 3000), "JPEG", "RGB"),
        ((1536, 2048), "JPEG", "RGB"),
        ((2592, 1944), "JPEG", "RGB"),
        ((1200, 1100), "JPEG", "RGB"),
        ((2048, 1536), "JPEG", "L"),
        ((2048, 1536), "JPEG", "CMYK"),
        ((2048, 1536), "MPO", "RGB"),
    ],
)
def test_draft_decoding_of_large_generated_photos(
    tmp_path: Path, size: tuple[int, int], fmt: str, mode: str
) -> None:
    from tests.media.conftest import encode

    img = _large_photo(size).convert(mode)
    extra = {}
    if fmt == "MPO":  # a second frame: the same scene upside down
        second = _large_photo(size).transpose(Image.Transpose.FLIP_TOP_BOTTOM)
        extra = {"save_all": True, "append_images": [second]}
    data = encode(img, fmt, quality=90, **extra)
    distance, fast_size, full_size = _draft_vs_full(data, f"{size}.jpg")
    assert full_size == size
    assert fast_size != full_size and min(fast_size) >= 512
    assert distance <= 8, f"{distance} bits from the full decode"
