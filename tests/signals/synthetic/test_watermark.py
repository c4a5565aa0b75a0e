"""The invisible-watermark reader: round trips for every payload and channel order on
lossless PNG, its false-alarm bound, no false alarm on real and generated photos, the
JPEG results measured (not asserted: the mark is fragile), and hostile input never crashes."""

from __future__ import annotations

import glob
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import pywt  # type: ignore[import-untyped]
from PIL import Image

from rempart.samples import photo_like
from rempart.signals.synthetic import watermark as wm
from rempart.signals.synthetic.base import DEFAULT_LIMITS, Unreadable, inspect_file
from tests.signals.synthetic.wm_embed import embed

TESTDATA = Path(__file__).resolve().parents[4] / "shared" / "testdata"
REAL = sorted(
    p
    for pattern in ("faces/face_recognition-examples/**/*", "threatexchange/**/*")
    for p in glob.glob(str(TESTDATA / pattern), recursive=True)
    if p.lower().endswith((".jpg", ".jpeg", ".png", ".gif", ".webp", ".tif", ".tiff", ".bmp"))
    and "exif-rotn-" not in p  # eight 12-megapixel turns of one photo: one is read below
) + [str(TESTDATA / "threatexchange/pdq/data/reg-test-input/exif-rotn/exif-rotn-1.jpg")]


def _png(img: Image.Image, path: Path) -> Path:
    img.save(path, "PNG")
    return path


def test_threshold_keeps_false_alarms_under_one_in_a_million() -> None:
    assert wm.TESTS == 8  # 4 payloads x 2 channel orders
    assert wm.false_alarm_per_image() < wm.MAX_FALSE_ALARM
    for p in wm.PAYLOADS:
        n, k = len(p.bits), wm.threshold(p)
        assert wm.TESTS * wm.binomial_tail(n, k) < 1e-6 <= wm.TESTS * wm.binomial_tail(n, k - 1)
        assert k > max(sum(p.bits), n - sum(p.bits))  # an all-zero (flat) reading never passes
    assert {p.name: len(p.bits) for p in wm.PAYLOADS} == {
        "StableDiffusionV1": 136,
        "SDV2": 32,
        "SDXL": 48,
        "InvokeAI": 64,
    }
    assert wm.PAYLOADS[1].bits[:8] == (0, 1, 0, 1, 0, 0, 1, 1)  # "S", most significant first


def test_haar_band_is_pywavelets_dwt2() -> None:
    channel = np.asarray(photo_like(8, (64, 48)).convert("L"))
    approx, _ = pywt.dwt2(channel, "haar")
    assert np.allclose(wm.haar_approximation(channel), approx, rtol=0, atol=1e-9)


@pytest.mark.parametrize("order", wm.ORDERS)
@pytest.mark.parametrize("payload", wm.PAYLOADS, ids=lambda p: p.name)
def test_round_trip_on_lossless_png(tmp_path: Path, payload: wm.Payload, order: str) -> None:
    seed = 500 + wm.PAYLOADS.index(payload) * 2 + wm.ORDERS.index(order)
    path = _png(embed(photo_like(seed, (512, 384)), payload.bits, order), tmp_path / "m.png")
    findings = wm.detect(path, "png", DEFAULT_LIMITS)
    assert len(findings) == 1
    f = findings[0]
    assert (f.type, f.indicates, f.strength) == ("invisible-watermark", "ai-generated", "fragile")
    assert f.evidence["payload"] == payload.name and f.evidence["channel_order"] == order
    assert f.evidence["bits_matched"] >= f.evidence["threshold"] == wm.threshold(payload)
    assert f.evidence["false_alarm_per_image"] < 1e-6
    assert "absent does not mean not generated" in f.evidence["note"]
    # the unmarked photo: nothing
    assert (
        wm.detect(_png(photo_like(seed, (512, 384)), tmp_path / "o.png"), "png", DEFAULT_LIMITS)
        == []
    )


def test_inspect_file_runs_the_watermark_detector(tmp_path: Path) -> None:
    sdxl = wm.PAYLOADS[2]
    path = _png(embed(photo_like(77, (400, 400)), sdxl.bits, "rgb"), tmp_path / "sdxl.png")
    findings, problem = inspect_file(path)
    assert problem is None
    assert [f.evidence.get("payload") for f in findings if f.type == "invisible-watermark"] == [
        "SDXL"
    ]


def test_jpeg_results_are_measured(capsys: pytest.CaptureFixture[str]) -> None:
    """Fragile by design: the figures are printed (docs/synthetic.md), not asserted."""
    found = {"png": 0, "q90": 0, "q90-444": 0, "q75": 0}
    total = 0
    for seed in range(3):
        base = photo_like(600 + seed, (512, 384))
        for payload in wm.PAYLOADS:
            img = embed(base, payload.bits, "bgr")
            total += 1
            for name, kw in (
                ("png", None),
                ("q90", {"quality": 90}),
                ("q90-444", {"quality": 90, "subsampling": 0}),
                ("q75", {"quality": 75}),
            ):
                buf = io.BytesIO()
                img.save(buf, "PNG") if kw is None else img.save(buf, "JPEG", **kw)
                hits = wm.read_image(Image.open(io.BytesIO(buf.getvalue())))
                found[name] += bool(hits) and hits[0].payload == payload
    with capsys.disabled():
        print(f"\nwatermark found after re-encoding, of {total}: {found}")
    assert found["png"] == total


def _negatives(images: list[np.ndarray]) -> int:
    return sum(len(wm.found(wm.read_array(a))) for a in images)


def test_no_false_alarm_on_real_photos() -> None:
    assert len(REAL) >= 20, TESTDATA
    hits = {p: wm.read_file(Path(p)) for p in REAL}
    assert not {p: h for p, h in hits.items() if h}


def test_no_false_alarm_on_generated_photos() -> None:
    images = [np.asarray(photo_like(20000 + s, (256, 256))) for s in range(80)]
    assert _negatives(images) == 0


@pytest.mark.slow
def test_no_false_alarm_on_500_generated_photos() -> None:
    sizes = ((256, 256), (320, 240), (512, 384))
    images = [np.asarray(photo_like(30000 + s, sizes[s % 3])) for s in range(500)]
    assert _negatives(images) == 0


def _png_header_only(path: Path, width: int, height: int) -> Path:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )
    return path


def test_hostile_input_never_crashes(tmp_path: Path) -> None:
    sd1 = wm.PAYLOADS[0]
    cases = {
        "one_pixel.png": Image.new("RGB", (1, 1), (10, 20, 30)),
        "tiny.png": photo_like(1, (40, 30)),
        "grey.png": photo_like(2, (512, 512)).convert("L"),
        "flat.png": Image.new("RGB", (512, 512), (90, 90, 90)),
        "alpha.png": photo_like(3, (512, 512)).convert("RGBA"),
        "sixteen.png": Image.fromarray(
            np.asarray(photo_like(4, (300, 300)).convert("L"), dtype=np.uint16) * 257
        ),
        "thin.png": photo_like(5, (4000, 3)),
    }
    for name, img in cases.items():
        assert wm.detect(_png(img, tmp_path / name), "png", DEFAULT_LIMITS) == [], name
    # a marked picture with an alpha channel is still read (alpha ignored)
    marked = embed(photo_like(6, (512, 384)), sd1.bits).convert("RGBA")
    assert wm.detect(_png(marked, tmp_path / "marked_alpha.png"), "png", DEFAULT_LIMITS)
    # enormous dimensions: not decoded, nothing found, no error
    huge = _png_header_only(tmp_path / "huge.png", 100_000, 100_000)
    assert wm.detect(huge, "png", DEFAULT_LIMITS) == []
    assert wm.detect(huge, "bmff", DEFAULT_LIMITS) == []  # videos: not read
    broken = tmp_path / "broken.png"
    broken.write_bytes(_png(photo_like(7, (300, 300)), tmp_path / "whole.png").read_bytes()[:300])
    with pytest.raises(Unreadable, match="invisible watermark"):
        wm.detect(broken, "png", DEFAULT_LIMITS)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(Unreadable):
        wm.detect(empty, "png", DEFAULT_LIMITS)
