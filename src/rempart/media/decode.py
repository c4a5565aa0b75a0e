"""Safe image decoding for hashing.

- Limits first: file size and pixel count are checked before any pixel is decoded
  (decompression bombs), and every failure becomes a MediaError naming the file; no other
  exception and no warning leaves `decode_image`.
- Only well-known raster formats are decoded (`ALLOWED_FORMATS`): Pillow can also open
  formats whose decoders run external programs (EPS through Ghostscript) or that nobody
  shares photos in; those are `unsupported-format`.
- EXIF orientation is applied, so a rotated-by-metadata photo hashes as it is seen.
- Colour modes are brought to RGB the way Meta's reference (python-threatexchange) does, so
  hashes stay compatible with it; alpha is ignored there, and here (see docs/hashing.md).
- Animated and multi-picture images: the first frame is hashed, and a note says so.
- JPEGs are decoded at reduced size (DCT scaling, "draft" mode) when they are at least twice
  the 512 px PDQ works from on both sides: the hash stays within a few bits of the full
  decode at a fraction of the cost.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from rempart.media.errors import MediaError

try:  # HEIC/HEIF (and AVIF through Pillow), when pillow-heif is installed
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIF_SUPPORT = True
except ImportError:  # pragma: no cover - depends on the installation
    HEIF_SUPPORT = False

# 100 Mpx: above any phone or consumer camera (a 61 Mpx full-frame sensor, a 108 Mpx phone
# sensor bins to 12 Mpx by default); decoded as RGB it is 300 MB, what one worker may hold.
DEFAULT_MAX_PIXELS = 100_000_000
DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024
DRAFT_MIN_SIDE = 512  # PDQ works from 512x512 at most; draft decoding never goes below it

# Formats Rempart decodes. Anything else Pillow recognises is "unsupported-format".
ALLOWED_FORMATS = frozenset(
    {
        "JPEG",
        "MPO",
        "PNG",
        "GIF",
        "WEBP",
        "BMP",
        "DIB",
        "TIFF",
        "HEIF",
        "AVIF",
        "JPEG2000",
        "PPM",
        "TGA",
        "PSD",
        "ICO",
        "QOI",
        "PCX",
        "SGI",
    }
)

ImageFile.LOAD_TRUNCATED_IMAGES = False  # Pillow's default, stated: truncated data is an error
Image.MAX_IMAGE_PIXELS = None  # our own limit replaces Pillow's (which only warns below 2x)

_TRANSPOSE = {  # EXIF orientation -> the transform that shows the image upright
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif")


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image  # RGB, orientation applied; may be reduced for hashing
    width: int  # full-size dimensions after orientation
    height: int
    format: str | None
    frame_count: int
    notes: tuple[str, ...]


def read_file_bytes(path: Path, *, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> bytes:
    """The whole file, after checking it is a regular, non-empty file within the size limit.

    The file is opened non-blocking and checked on the open descriptor, so a FIFO or device
    (even one swapped in after a listing) is refused instead of blocking the reader.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    flags |= getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _open_error(path, exc) from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise MediaError(path, "not-a-file", f"{kind}, not an image file")
        if st.st_size == 0:
            raise MediaError(path, "empty-file", "the file is empty (0 bytes)")
        if st.st_size > max_bytes:
            raise MediaError(
                path, "too-large", f"file is {st.st_size} bytes, over the {max_bytes}-byte limit"
            )
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        if exc.errno == errno.EISDIR:
            raise MediaError(path, "not-a-file", "a folder, not an image file") from exc
        raise MediaError(path, "unreadable", f"cannot read the file ({exc.strerror})") from exc
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise MediaError(path, "too-large", f"file grew over the {max_bytes}-byte limit")
    if not data:
        raise MediaError(path, "empty-file", "the file is empty (0 bytes)")
    return data


def _open_error(path: Path | str, exc: OSError) -> MediaError:
    if exc.errno == errno.ELOOP:
        return MediaError(path, "not-a-file", "a symbolic link loop, not a file")
    if exc.errno == errno.EISDIR:
        return MediaError(path, "not-a-file", "a folder, not an image file")
    if exc.errno == errno.ENOENT:
        return MediaError(path, "unreadable", "file not found")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return MediaError(path, "unreadable", "permission denied")
    return MediaError(path, "unreadable", f"cannot open the file ({exc.strerror or exc})")


def decode_image(
    data: bytes,
    path: Path | str,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    reduce_for_hashing: bool = True,
) -> DecodedImage:
    """Decode image bytes to RGB for hashing; any failure is a MediaError naming `path`."""
    if not data:
        raise MediaError(path, "empty-file", "the file is empty (0 bytes)")
    with warnings.catch_warnings():
        # Pillow warns about odd metadata (corrupt EXIF, bad ICC profiles...): the pixels are
        # still good, so warnings are silenced here, never raised to the caller.
        warnings.simplefilter("ignore")
        try:
            img = Image.open(io.BytesIO(data))
        except UnidentifiedImageError as exc:
            raise _unidentified(path, data) from exc
        except Image.DecompressionBombError as exc:
            raise MediaError(path, "too-many-pixels", str(exc)) from exc
        except Exception as exc:  # hostile headers reach odd corners of decoders
            raise _damaged(path, exc, "cannot open the image") from exc
        try:
            return _decode_opened(img, path, max_pixels, reduce_for_hashing)
        except MediaError:
            raise
        except Image.DecompressionBombError as exc:
            raise MediaError(path, "too-many-pixels", str(exc)) from exc
        except Exception as exc:
            raise _damaged(path, exc, "the image data is damaged") from exc


def _unidentified(path: Path | str, data: bytes) -> MediaError:
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return MediaError(
            path, "unsupported-format", "HEIC/HEIF/AVIF image, but pillow-heif is not installed"
        )
    return MediaError(path, "not-an-image", "not an image file Rempart can read")


def _damaged(path: Path | str, exc: BaseException, what: str) -> MediaError:
    text = str(exc) or type(exc).__name__
    if "truncat" in text.lower():
        return MediaError(path, "truncated", f"the image data is cut short ({text})")
    if isinstance(exc, MemoryError):
        return MediaError(path, "too-many-pixels", "not enough memory to decode the image")
    return MediaError(path, "corrupt", f"{what} ({text})")


def _orientation(img: Image.Image, notes: list[str]) -> int:
    try:
        value = img.getexif().get(0x0112, 1)
    except Exception:  # a damaged EXIF block does not make the pixels unusable
        notes.append("EXIF unreadable: orientation not applied")
        return 1
    return value if isinstance(value, int) and value in _TRANSPOSE else 1


def _decode_opened(
    img: Image.Image, path: Path | str, max_pixels: int, reduce_for_hashing: bool
) -> DecodedImage:
    notes: list[str] = []
    fmt = img.format
    if fmt not in ALLOWED_FORMATS:
        raise MediaError(path, "unsupported-format", f"{fmt} images are not supported")
    width, height = img.size
    if width <= 0 or height <= 0:
        raise MediaError(path, "corrupt", f"impossible dimensions {width}x{height}")
    if width * height > max_pixels:
        raise MediaError(
            path,
            "too-many-pixels",
            f"{width}x{height} is {width * height} pixels, over the {max_pixels}-pixel limit "
            "(possible decompression bomb)",
        )
    frames = int(getattr(img, "n_frames", 1) or 1)
    if frames > 1:
        img.seek(0)
        if fmt == "MPO":
            notes.append(f"multi-picture file ({frames} images): first image hashed")
        else:
            notes.append(f"animated ({frames} frames): first frame hashed")
    if reduce_for_hashing and fmt in ("JPEG", "MPO") and min(width, height) >= 2 * DRAFT_MIN_SIDE:
        img.draft(None, (DRAFT_MIN_SIDE, DRAFT_MIN_SIDE))
    img.load()
    orientation = _orientation(img, notes)  # after load: PNG reads its EXIF chunk by loading
    rgb = _to_rgb(img, notes)
    if orientation != 1:
        rgb = rgb.transpose(_TRANSPOSE[orientation])
        if orientation >= 5:
            width, height = height, width
    return DecodedImage(rgb, width, height, fmt, frames, tuple(notes))


def _to_rgb(img: Image.Image, notes: list[str]) -> Image.Image:
    """RGB as Meta's reference hasher sees it, so hashes stay compatible with it.

    Alpha is ignored, not composited: python-threatexchange (and Meta's C++ hasher) hash the
    colour channels of RGBA and LA images as they are stored; compositing its LA test image
    on white or black moves the hash 60-68 bits from Meta's expected value.
    """
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        alpha_min = img.getchannel(img.getbands()[-1]).getextrema()[0]  # one band: a number
        if isinstance(alpha_min, int | float) and alpha_min < 255:
            notes.append("transparency ignored: colour channels hashed as Meta's reference does")
        return img.convert("RGB")
    if img.mode == "RGB":
        return img
    if img.mode == "F":
        values = np.nan_to_num(np.asarray(img, dtype=np.float32), nan=0.0, posinf=255.0)
        grey = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if img.mode == "LAB":
        from PIL import ImageCms

        lab = ImageCms.createProfile("LAB")
        srgb = ImageCms.createProfile("sRGB")
        out = ImageCms.profileToProfile(img, lab, srgb, outputMode="RGB")
        assert out is not None
        return out
    # L, 1, P, CMYK, YCbCr, HSV, I, I;16: Pillow's conversion, as the reference does (16-bit
    # values above 255 clip, which is what Meta's hasher computes too: quality 36 expected
    # for its 16-bit test image).
    return img.convert("RGB")
