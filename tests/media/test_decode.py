"""Bad and unusual image files: each is a MediaError naming the file, never a crash."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import pytest
from PIL import Image

from rempart.media.decode import decode_image, read_file_bytes
from rempart.media.errors import MediaError
from rempart.samples import photo_like
from rempart.signals.image_hashes import hash_image_file
from rempart.signals.pdq import hamming, pdq_hash


def _jpeg(seed: int = 1, size: tuple[int, int] = (320, 240)) -> bytes:
    buf = io.BytesIO()
    photo_like(seed, size).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _expect(path: Path, reason: str, **kw: int) -> MediaError:
    with pytest.raises(MediaError) as info:
        hash_image_file(path, **kw)
    assert info.value.reason == reason, str(info.value)
    assert str(path) in str(info.value)
    return info.value


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "e.jpg").write_bytes(b"")
    _expect(tmp_path / "e.jpg", "empty-file")


def test_not_an_image(tmp_path: Path) -> None:
    (tmp_path / "t.jpg").write_text("just some text, named like a photo")
    _expect(tmp_path / "t.jpg", "not-an-image")


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9])
def test_truncated_jpeg(tmp_path: Path, keep: float) -> None:
    data = _jpeg()
    (tmp_path / "cut.jpg").write_bytes(data[: int(len(data) * keep)])
    err = _expect_any(tmp_path / "cut.jpg")
    assert err.reason in ("truncated", "corrupt")


def _expect_any(path: Path) -> MediaError:
    with pytest.raises(MediaError) as info:
        hash_image_file(path)
    assert str(path) in str(info.value)
    return info.value


def test_truncated_png(tmp_path: Path) -> None:
    buf = io.BytesIO()
    photo_like(2, (200, 200)).save(buf, "PNG")
    (tmp_path / "cut.png").write_bytes(buf.getvalue()[:2000])
    assert _expect_any(tmp_path / "cut.png").reason in ("truncated", "corrupt")


def test_corrupt_data_after_a_valid_header(tmp_path: Path) -> None:
    buf = io.BytesIO()
    photo_like(2, (200, 200)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    data[data.index(b"IDAT") + 100] ^= 0xFF
    (tmp_path / "bad.png").write_bytes(bytes(data))
    _expect(tmp_path / "bad.png", "corrupt")
    jpeg = bytearray(_jpeg())
    jpeg[2:60] = b"\x00" * 58  # header destroyed
    (tmp_path / "bad.jpg").write_bytes(bytes(jpeg))
    _expect(tmp_path / "bad.jpg", "not-an-image")


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    Image.new("1", (30000, 30000)).save(tmp_path / "bomb.png")  # 900 Mpx, a tiny file
    assert (tmp_path / "bomb.png").stat().st_size < 2_000_000
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        err = _expect(tmp_path / "bomb.png", "too-many-pixels")
    assert "decompression bomb" in err.detail
    photo_like(1, (200, 200)).save(tmp_path / "ok.png")
    _expect(tmp_path / "ok.png", "too-many-pixels", max_pixels=100 * 100)


def test_size_limit(tmp_path: Path) -> None:
    (tmp_path / "big.jpg").write_bytes(_jpeg())
    _expect(tmp_path / "big.jpg", "too-large", max_bytes=1000)


def test_directory_and_symlink_loop_and_missing(tmp_path: Path) -> None:
    (tmp_path / "dir.jpg").mkdir()
    _expect(tmp_path / "dir.jpg", "not-a-file")
    os.symlink(tmp_path / "loop.jpg", tmp_path / "loop.jpg")
    _expect(tmp_path / "loop.jpg", "not-a-file")
    _expect(tmp_path / "missing.jpg", "unreadable")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "locked.jpg").write_bytes(_jpeg())
    (tmp_path / "locked.jpg").chmod(0)
    _expect(tmp_path / "locked.jpg", "unreadable")


def test_animated_gif_and_webp_hash_the_first_frame(tmp_path: Path) -> None:
    frames = [photo_like(10 + i, (160, 120)) for i in range(3)]
    for ext in ("gif", "webp"):
        path = tmp_path / f"anim.{ext}"
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
        h = hash_image_file(path)
        assert any("first frame hashed" in n for n in h.notes)
        assert hamming(h.pdq.hex, pdq_hash(frames[0]).hex) < hamming(
            h.pdq.hex, pdq_hash(frames[1]).hex
        )


def test_heic_when_pillow_heif_is_installed(tmp_path: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    img = photo_like(3, (320, 240))
    heif = pillow_heif.from_pillow(img)
    heif.save(tmp_path / "p.heic", quality=90)
    h = hash_image_file(tmp_path / "p.heic")
    assert h.format == "HEIF" and (h.width, h.height) == (320, 240)
    assert hamming(h.pdq.hex, pdq_hash(img).hex) <= 20


def test_png_with_transparency_is_hashed_and_noted(tmp_path: Path) -> None:
    img = photo_like(4, (200, 200)).convert("RGBA")
    img.putalpha(Image.linear_gradient("L").resize((200, 200)))
    img.save(tmp_path / "t.png")
    h = hash_image_file(tmp_path / "t.png")
    assert any("transparency" in n for n in h.notes)
    assert h.pdq.quality >= 50


def test_palette_with_transparency_and_16_bit_and_float(tmp_path: Path) -> None:
    base = photo_like(5, (200, 150))
    base.convert("P").save(tmp_path / "p.png", transparency=0)
    assert hash_image_file(tmp_path / "p.png").pdq.quality >= 50
    grey = base.convert("L")
    decoded = decode_image(_png(grey.convert("I;16")), "i16.png")
    assert decoded.image.mode == "RGB"
    f_img = grey.convert("F")
    buf = io.BytesIO()
    f_img.save(buf, "TIFF")
    assert decode_image(buf.getvalue(), "f.tiff").image.mode == "RGB"


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_tiny_and_flat_images_hash_with_low_quality(tmp_path: Path) -> None:
    Image.new("RGB", (300, 300), (128, 128, 128)).save(tmp_path / "flat.png")
    assert hash_image_file(tmp_path / "flat.png").pdq.quality < 50
    photo_like(6, (8, 8)).save(tmp_path / "tiny.png")
    hash_image_file(tmp_path / "tiny.png")  # no crash


def test_read_file_bytes_reads_whole_file(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"abc")
    assert read_file_bytes(tmp_path / "a.bin") == b"abc"


def test_media_error_survives_pickling_between_processes() -> None:
    import pickle

    err = pickle.loads(pickle.dumps(MediaError("a.jpg", "corrupt", "bad data")))
    assert (err.path, err.reason, str(err)) == ("a.jpg", "corrupt", "a.jpg: bad data")


def test_fifo_is_not_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.jpg")  # opening it would block forever
    _expect(tmp_path / "pipe.jpg", "not-a-file")
