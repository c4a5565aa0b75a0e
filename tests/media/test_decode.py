"""Bad and unusual image files: each is a MediaError naming the file, never a crash."""

from __future__ import annotations

import io
import os
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rempart.media import decode as decode_module
from rempart.media.decode import decode_image, read_file_bytes
from rempart.media.errors import MediaError
from rempart.samples import photo_like
from rempart.signals.image_hashes import hash_image_file
from rempart.signals.pdq import hamming, pdq_hash
from tests.media.conftest import encode


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


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "TIFF", "BMP", "WEBP"])
@pytest.mark.parametrize("keep", [0.05, 0.5, 0.95])
def test_truncated_files(tmp_path: Path, fmt: str, keep: float) -> None:
    data = encode(photo_like(2, (200, 150)), fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(data[: int(len(data) * keep)])
    err = _expect_any(path)
    # libwebp only says it cannot decode; every other decoder says the data ends early
    assert err.reason == ("corrupt" if fmt == "WEBP" else "truncated"), str(err)


def _expect_any(path: Path) -> MediaError:
    with pytest.raises(MediaError) as info:
        hash_image_file(path)
    assert str(path) in str(info.value)
    return info.value


def test_zero_bytes_in_memory() -> None:
    with pytest.raises(MediaError) as info:
        decode_image(b"", "mem.jpg")
    assert info.value.reason == "empty-file" and str(info.value).startswith("mem.jpg: ")


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
    # 144 Mpx in a tiny file: between Pillow's limit and twice it, where Pillow only warns
    Image.new("1", (12000, 12000)).save(tmp_path / "bomb.png")
    assert (tmp_path / "bomb.png").stat().st_size < 500_000
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


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file: see the next test")
def test_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "locked.jpg").write_bytes(_jpeg())
    (tmp_path / "locked.jpg").chmod(0)
    _expect(tmp_path / "locked.jpg", "unreadable")


def test_permission_denied_is_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "locked.jpg").write_bytes(_jpeg())

    def denied(path: object, flags: int, *args: object) -> int:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(decode_module.os, "open", denied)
    err = _expect(tmp_path / "locked.jpg", "unreadable")
    assert "permission denied" in err.detail


def test_dangling_symlink_is_unreadable_and_a_good_symlink_is_followed(tmp_path: Path) -> None:
    os.symlink(tmp_path / "gone.jpg", tmp_path / "dangling.jpg")
    _expect(tmp_path / "dangling.jpg", "unreadable")
    (tmp_path / "real.jpg").write_bytes(_jpeg())
    os.symlink(tmp_path / "real.jpg", tmp_path / "link.jpg")
    assert hash_image_file(tmp_path / "link.jpg") == hash_image_file(tmp_path / "real.jpg")


def test_device_file_is_not_a_file() -> None:
    _expect(Path("/dev/null"), "not-a-file")


def test_eps_and_other_formats_outside_the_allowlist_are_refused(tmp_path: Path) -> None:
    # Pillow would decode EPS by running Ghostscript on it: never for untrusted files.
    eps = (
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n"
        b"newpath 0 0 moveto 100 100 lineto stroke\nshowpage\n%%EOF\n"
    )
    (tmp_path / "x.jpg").write_bytes(eps)
    err = _expect(tmp_path / "x.jpg", "unsupported-format")
    assert "EPS" in err.detail
    Image.new("1", (64, 64), 1).save(tmp_path / "x.xbm", "XBM")
    _expect(tmp_path / "x.xbm", "unsupported-format")


def test_heic_without_pillow_heif_is_unsupported_not_garbage() -> None:
    err = decode_module._unidentified("p.heic", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00")
    assert err.reason == "unsupported-format" and "pillow-heif" in err.detail
    assert decode_module._unidentified("p.heic", b"hello world, not an image").reason == (
        "not-an-image"
    )


def test_header_claiming_huge_dimensions_is_refused_before_decoding() -> None:
    data = bytearray(_png(photo_like(1, (64, 64))))
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = (200_000).to_bytes(4, "big") + (100_000).to_bytes(4, "big")
    data[ihdr + 17 : ihdr + 21] = zlib.crc32(data[ihdr : ihdr + 17]).to_bytes(4, "big")
    with pytest.raises(MediaError) as info:
        decode_image(bytes(data), "claims.png")
    assert info.value.reason == "too-many-pixels"
    assert "20000000000 pixels" in info.value.detail


def test_no_warning_escapes_on_damaged_metadata() -> None:
    good = _jpeg()
    # an EXIF block that ends early: Pillow warns "Corrupt EXIF data" and reads the pixels
    app1 = b"Exif\x00\x00" + b"II*\x00\x08\x00\x00\x00\xff\xff" + b"\x01" * 30
    bad = good[:2] + b"\xff\xe1" + (len(app1) + 2).to_bytes(2, "big") + app1 + good[2:]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        decoded = decode_image(bad, "odd-exif.jpg")
    assert hamming(pdq_hash(decoded.image).hex, pdq_hash(decode_image(good, "g").image).hex) == 0


def test_float_image_with_nan_and_inf_hashes_without_warnings(tmp_path: Path) -> None:
    values = np.asarray(photo_like(5, (200, 150)).convert("L"), dtype=np.float32)
    values[:10] = np.nan
    values[10:20] = np.inf
    values[20:30] = -1000.0
    Image.fromarray(values, "F").save(tmp_path / "f.tiff")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = hash_image_file(tmp_path / "f.tiff")
    assert h.pdq.quality >= 50 and (h.width, h.height) == (200, 150)


def test_every_reason_code_is_documented() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "hashing.md").read_text()
    for reason in (
        "empty-file",
        "not-an-image",
        "corrupt",
        "truncated",
        "too-many-pixels",
        "too-large",
        "unreadable",
        "not-a-file",
        "unsupported-format",
    ):
        assert f"`{reason}`" in doc


@pytest.mark.parametrize("ext", ["gif", "webp", "png"])  # png: APNG
def test_animated_images_hash_the_first_frame(tmp_path: Path, ext: str) -> None:
    frames = [photo_like(10 + i, (160, 120)) for i in range(3)]
    path = tmp_path / f"anim.{ext}"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    h = hash_image_file(path)
    assert "animated (3 frames): first frame hashed" in h.notes
    first = hamming(h.pdq.hex, pdq_hash(frames[0]).hex)
    assert first <= 24  # GIF is quantised to 256 colours; WebP is lossy
    assert all(hamming(h.pdq.hex, pdq_hash(f).hex) > first + 30 for f in frames[1:])
    assert decode_image(path.read_bytes(), path).frame_count == 3


def test_multi_picture_jpeg_hashes_the_first_image(tmp_path: Path) -> None:
    first, second = photo_like(20, (640, 480)), photo_like(21, (640, 480))
    path = tmp_path / "phone.jpg"
    first.save(path, "MPO", save_all=True, append_images=[second], quality=92)
    h = hash_image_file(path)
    assert h.format == "MPO"
    assert h.notes == ("multi-picture file (2 images): first image hashed",)
    assert hamming(h.pdq.hex, pdq_hash(first).hex) <= 10


def test_heic_when_pillow_heif_is_installed(tmp_path: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    img = photo_like(3, (320, 240))
    pillow_heif.from_pillow(img).save(tmp_path / "p.heic", quality=90)
    h = hash_image_file(tmp_path / "p.heic")
    assert h.format == "HEIF" and (h.width, h.height) == (320, 240)
    assert hamming(h.pdq.hex, pdq_hash(img).hex) <= 16
    # a phone HEIC shot sideways: stored turned, with an irot box (written from the EXIF
    # orientation) that libheif applies; the EXIF tag is reset, so nothing turns it twice
    exif = Image.Exif()
    exif[0x0112] = 6
    stored = img.transpose(Image.Transpose.ROTATE_90)
    stored.save(tmp_path / "r.heic", quality=90, exif=exif.tobytes())
    assert b"irot" in (tmp_path / "r.heic").read_bytes()
    r = hash_image_file(tmp_path / "r.heic")
    assert (r.width, r.height) == (320, 240)
    assert hamming(r.pdq.hex, pdq_hash(img).hex) <= 16


def test_png_transparency_is_ignored_as_meta_does_and_noted(tmp_path: Path) -> None:
    """Alpha is ignored (colour channels hashed as stored), never composited: that is what
    Meta's reference hashers do, and the LA.png conformance row depends on it."""
    colour = photo_like(4, (200, 200))
    img = colour.convert("RGBA")
    img.putalpha(Image.linear_gradient("L").resize((200, 200)))
    img.save(tmp_path / "t.png")
    h = hash_image_file(tmp_path / "t.png")
    assert "transparency ignored: colour channels hashed as Meta's reference does" in h.notes
    assert h.pdq == pdq_hash(colour)
    colour.convert("RGBA").save(tmp_path / "opaque.png")  # opaque alpha: no note, same hash
    o = hash_image_file(tmp_path / "opaque.png")
    assert o.notes == () and o.pdq == h.pdq


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
    assert hash_image_file(tmp_path / "flat.png").pdq.quality == 0
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
