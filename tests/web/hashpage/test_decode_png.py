"""decode.js's own PNG path (fast-png + pngToRgb), used where the browser's canvas would lose
colour under transparency or scale 16-bit samples, against rempart.media.decode (Pillow): the
same RGB bytes for RGBA, LA, palette with transparency, grey and RGB with a tRNS colour key,
1/2/4-bit grey, 16-bit grey (clipped by Pillow), 16-bit RGB/RGBA/LA (high byte), every EXIF
orientation, and the reference PNGs. Also readHeader on every reference image: dimensions,
orientation and frames as Pillow reads them (AVIF and HEIC sizes too, for the pixel limit).
The JavaScript runs in Node (tests/web/hashpage/decode_png.mjs)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pillow_heif
from PIL import Image
from tests.web.hashpage import nodejs

from rempart.media.decode import decode_image
from rempart.samples import photo_like

SCRIPT = Path(__file__).with_name("decode_png.mjs")
TESTDATA = nodejs.THREATEXCHANGE
NOTE = "transparency ignored: colour channels hashed as Meta's reference does"


def run_node(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return nodejs.run_node(SCRIPT, jobs)


def pillow_rgb(path: Path) -> tuple[np.ndarray, tuple[str, ...]]:
    decoded = decode_image(path.read_bytes(), path, reduce_for_hashing=False)
    return np.asarray(decoded.image.convert("RGB"), dtype=np.uint8), decoded.notes


def with_alpha(seed: int, size: tuple[int, int]) -> Image.Image:
    """A photo with graded transparency, fully transparent areas keeping their colour."""
    img = photo_like(seed, size).convert("RGBA")
    w, h = size
    alpha = np.fromfunction(lambda y, x: x * 255 // max(w - 1, 1), (h, w)).astype(np.uint8)
    alpha[: h // 4] = 0
    img.putalpha(Image.fromarray(alpha, "L"))
    return img


def pillow_pngs(tmp: Path) -> list[Path]:
    out = []
    rgba = with_alpha(1, (173, 91))
    for name, img, kw in (
        ("rgba", rgba, {}),
        ("la", rgba.convert("LA"), {}),
        ("rgb-trns", photo_like(2, (120, 80)), {"transparency": (10, 20, 30)}),
        ("l-trns", photo_like(3, (120, 80)).convert("L"), {"transparency": 77}),
        ("p-trns", photo_like(4, (120, 80)).convert("P"), {"transparency": 5}),
        (
            "p4-trns",
            photo_like(5, (121, 81)).convert("P", colors=16),
            {"bits": 4, "transparency": 3},
        ),
        ("one-bit", photo_like(6, (99, 61)).convert("1"), {}),
        (
            "i16",
            Image.fromarray((np.arange(90 * 70).reshape(70, 90) * 13 % 1400).astype(np.uint16)),
            {},
        ),
        ("rgba-interlaced", with_alpha(7, (64, 48)), {"optimize": False}),
    ):
        path = tmp / f"{name}.png"
        img.save(path, **kw)
        out.append(path)
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        path = tmp / f"rgba-orientation-{orientation}.png"
        with_alpha(10 + orientation, (50, 30)).save(path, exif=exif.tobytes())
        out.append(path)
    return out


def fast_png_jobs(tmp: Path) -> tuple[list[Path], list[dict[str, Any]]]:
    """16-bit and 2/4-bit PNGs, which Pillow does not write, written by fast-png."""
    rng = np.random.default_rng(3)
    paths, jobs = [], []
    specs: list[tuple[str, int, int, np.ndarray]] = [
        ("rgb16", 3, 16, rng.integers(0, 65536, (40, 50, 3), dtype=np.uint16)),
        ("rgba16", 4, 16, rng.integers(0, 65536, (40, 50, 4), dtype=np.uint16)),
        ("la16", 2, 16, rng.integers(0, 65536, (40, 50, 2), dtype=np.uint16)),
        ("grey16", 1, 16, rng.integers(0, 1000, (40, 50, 1), dtype=np.uint16)),
    ]
    for name, channels, depth, samples in specs:
        raw = tmp / f"{name}.raw"
        raw.write_bytes(samples.astype("<u2").tobytes())
        path = tmp / f"{name}.png"
        jobs.append(
            {
                "mode": "encode",
                "out": str(path),
                "width": 50,
                "height": 40,
                "channels": channels,
                "depth": depth,
                "samples": str(raw),
            }
        )
        paths.append(path)
    for depth in (2, 4):
        values = rng.integers(0, 1 << depth, (30, 37), dtype=np.uint8)
        per_byte = 8 // depth
        padded = np.zeros((30, -(-37 // per_byte) * per_byte), dtype=np.uint8)
        padded[:, :37] = values
        packed = np.zeros((30, padded.shape[1] // per_byte), dtype=np.uint8)
        for k in range(per_byte):
            packed |= padded[:, k::per_byte] << (8 - depth * (k + 1))
        raw = tmp / f"grey{depth}.raw"
        raw.write_bytes(packed.tobytes())
        path = tmp / f"grey{depth}.png"
        jobs.append(
            {
                "mode": "encode",
                "out": str(path),
                "width": 37,
                "height": 30,
                "channels": 1,
                "depth": depth,
                "samples": str(raw),
            }
        )
        paths.append(path)
    return paths, jobs


def reference_pngs() -> list[Path]:
    found = sorted((TESTDATA / "pdq").rglob("*.png"))
    found += sorted((TESTDATA / "python-threatexchange").rglob("*.png"))
    assert len(found) >= 8, "the shared test data is missing"
    return found


def test_own_png_decoding_equals_pillow(tmp_path: Path) -> None:
    generated, encode_jobs = fast_png_jobs(tmp_path)
    run_node(encode_jobs)
    paths = pillow_pngs(tmp_path) + generated + reference_pngs()
    jobs = [
        {"mode": "decode", "path": str(p), "out": str(tmp_path / f"out{k}.rgb")}
        for k, p in enumerate(paths)
    ]
    results = run_node(jobs)
    for path, job, got in zip(paths, jobs, results, strict=True):
        expected, notes = pillow_rgb(path)
        assert (got["width"], got["height"]) == (expected.shape[1], expected.shape[0]), path
        rgb = np.frombuffer(Path(job["out"]).read_bytes(), dtype=np.uint8)
        rgb = rgb.reshape(expected.shape)
        differ = int(np.count_nonzero(np.any(rgb != expected, axis=2)))
        assert differ == 0, f"{path.name}: {differ} pixels differ from Pillow's"
        assert got["alphaBelow255"] == (NOTE in notes), path.name


def test_headers_as_pillow_reads_them(tmp_path: Path) -> None:
    with (TESTDATA / "pdq-expected.csv").open(newline="") as fh:
        paths = {TESTDATA / row["path"] for row in csv.DictReader(fh)}
    for ext in ("*.jpg", "*.jpeg", "*.png", "*.webp", "*.gif"):
        paths.update((TESTDATA / "pdq").rglob(ext))
    gif = tmp_path / "anim.gif"
    frames = [photo_like(k, (40, 30)) for k in range(3)]
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100)
    webp = tmp_path / "o5.webp"
    exif = Image.Exif()
    exif[0x0112] = 5
    photo_like(9, (40, 30)).save(webp, exif=exif.tobytes())
    avif = tmp_path / "photo.avif"
    photo_like(10, (96, 72)).save(avif, quality=70)
    heic = tmp_path / "photo.heic"
    pillow_heif.from_pillow(photo_like(11, (100, 64))).save(heic, quality=70)
    ordered = sorted(paths) + [avif, heic, gif, webp]
    results = run_node([{"mode": "header", "path": str(p)} for p in ordered])
    for path, got in zip(ordered, results, strict=True):
        header = got["header"]
        pillow_heif.register_heif_opener()
        with Image.open(path) as img:
            assert (header["width"], header["height"]) == img.size, path.name
            orientation = img.getexif().get(0x0112, 1)
            if path.suffix == ".png":
                img.load()
                orientation = img.getexif().get(0x0112, 1)
            assert header["orientation"] == (orientation if orientation in range(2, 9) else 1)
            assert header["frames"] == getattr(img, "n_frames", 1), path.name
    assert results[-2]["header"]["frames"] == 3
    # A size claimed in an AVIF's 'ispe' box is read before any decoding (the pixel limit).
    raw = bytearray(avif.read_bytes())
    at = raw.index(b"ispe") + 8
    raw[at : at + 8] = (11_000).to_bytes(4, "big") + (10_000).to_bytes(4, "big")
    claimed = tmp_path / "claimed.avif"
    claimed.write_bytes(bytes(raw))
    (got,) = run_node([{"mode": "header", "path": str(claimed)}])
    assert (got["header"]["width"], got["header"]["height"]) == (11_000, 10_000)
    assert results[-1]["header"]["orientation"] == 5


def test_truncated_and_unknown_files(tmp_path: Path) -> None:
    jpeg = (TESTDATA / "pdq/data/bridge-mods/aaa-orig.jpg").read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(jpeg[: len(jpeg) // 2])
    png = tmp_path / "cut.png"
    buf = (TESTDATA / "pdq/data/misc-images/c.png").read_bytes()
    png.write_bytes(buf[: len(buf) // 2])
    text = tmp_path / "notes.txt"
    text.write_text("not a picture at all, just words\n" * 10)
    heic = tmp_path / "photo.heic"
    heic.write_bytes(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + bytes(64))
    results = run_node([{"mode": "header", "path": str(p)} for p in (cut, png, text, heic)])
    assert results[0]["header"]["truncated"] is True
    assert results[1]["header"]["truncated"] is True
    assert results[2]["header"]["format"] is None
    assert results[3]["header"]["format"] == "heic"
