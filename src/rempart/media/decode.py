"""Safe image decoding for hashing.

- Limits first: file size and pixel count are checked before any pixel is decoded
  (decompression bombs), and every failure becomes a MediaError naming the file.
- EXIF orientation is applied, so a rotated-by-metadata photo hashes as it is seen.
- Colour modes are brought to RGB the way Meta's reference (python-threatexchange) does, so
  hashes stay bit-compatible (alpha is ignored, as there).
- Animated images: the first frame is hashed, and a note says so.
- JPEGs are decoded at reduced size (DCT scaling, "draft" mode) when they are much larger
  than the 512 px PDQ works from: the hash stays within tolerance at a fraction of the cost.
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
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from rempart.media.errors import MediaError

try:  # HEIC/HEIF/AVIF, when pillow-heif is installed
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIF_SUPPORT = True
except ImportError:  # pragma: no cover - depends on the installation
    HEIF_SUPPORT = False

DEFAULT_MAX_PIXELS = 100_000_000
DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024
DRAFT_MIN_SIDE = 512  # PDQ works from at most 512x512; never decode JPEGs below that

ImageFile.LOAD_TRUNCATED_IMAGES = False
Image.MAX_IMAGE_PIXELS = None  # we enforce our own limit, before decoding, as an error

BACKGROUND = (255, 255, 255)


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image  # RGB, orientation applied; may be reduced for hashing
    width: int  # full-size dimensions after orientation
    height: int
    format: str | None
    frame_count: int
    notes: tuple[str, ...]


def read_file_bytes(path: Path, *, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> bytes:
    """The whole file, after checking it is a regular, non-empty file within the size limit."""
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise MediaError(path, "not-a-file", "symbolic link loop") from exc
        if exc.errno == errno.ENOENT:
            raise MediaError(path, "unreadable", "file not found") from exc
        raise MediaError(path, "unreadable", f"cannot read ({exc.strerror})") from exc
    if not stat.S_ISREG(st.st_mode):
        raise MediaError(path, "not-a-file", "not a regular file")
    if st.st_size == 0:
        raise MediaError(path, "empty-file", "the file is empty (0 bytes)")
    if st.st_size > max_bytes:
        raise MediaError(
            path, "too-large", f"file is {st.st_size} bytes, over the {max_bytes}-byte limit"
        )
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise MediaError(path, "unreadable", f"cannot read ({exc.strerror})") from exc
    if len(data) > max_bytes:
        raise MediaError(path, "too-large", f"file grew over the {max_bytes}-byte limit")
    if not data:
        raise MediaError(path, "empty-file", "the file is empty (0 bytes)")
    return data


def _to_rgb(img: Image.Image, notes: list[str]) -> Image.Image:
    """RGB as Meta's reference hasher sees it, so hashes stay bit-compatible with it.

    Alpha is dropped, not composited: python-threatexchange hashes the colour channels of
    RGBA and LA images as they are stored, and so does every platform using it.
    """
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        if img.getchannel("A").getextrema()[0] < 255:
            notes.append("transparency ignored: colour channels hashed as Meta's reference does")
        return img.convert("RGB")
    if img.mode == "RGB":
        return img
    if img.mode == "F":
        grey = np.clip(np.asarray(img, dtype=np.float32), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if img.mode == "LAB":
        from PIL import ImageCms

        lab = ImageCms.createProfile("LAB")
        srgb = ImageCms.createProfile("sRGB")
        return ImageCms.profileToProfile(img, lab, srgb, outputMode="RGB")  # type: ignore[return-value]
    # L, 1, P, CMYK, YCbCr, HSV, I, I;16: Pillow's conversion, as the reference does (16-bit
    # values above 255 clip, which is what Meta's hasher computes too).
    return img.convert("RGB")


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
    notes: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        warnings.simplefilter("ignore", UserWarning)
        try:
            img = Image.open(io.BytesIO(data))
        except UnidentifiedImageError as exc:
            raise MediaError(path, "not-an-image", "not an image Rempart can read") from exc
        except Image.DecompressionBombError as exc:
            raise MediaError(path, "too-many-pixels", str(exc)) from exc
        except (OSError, ValueError, SyntaxError) as exc:
            raise MediaError(path, "corrupt", f"cannot open the image ({exc})") from exc
        except Exception as exc:  # hostile files reach odd corners of decoders
            raise MediaError(path, "corrupt", f"cannot open the image ({exc!r})") from exc
        try:
            return _decode_opened(img, path, notes, max_pixels, reduce_for_hashing)
        except MediaError:
            raise
        except Image.DecompressionBombError as exc:
            raise MediaError(path, "too-many-pixels", str(exc)) from exc
        except OSError as exc:
            text = str(exc)
            if "truncated" in text:
                raise MediaError(
                    path, "truncated", f"the image data is cut short ({text})"
                ) from exc
            raise MediaError(path, "corrupt", f"the image data is damaged ({text})") from exc
        except Exception as exc:
            raise MediaError(path, "corrupt", f"the image data is damaged ({exc!r})") from exc


def _decode_opened(
    img: Image.Image,
    path: Path | str,
    notes: list[str],
    max_pixels: int,
    reduce_for_hashing: bool,
) -> DecodedImage:
    width, height = img.size
    if width <= 0 or height <= 0:
        raise MediaError(path, "corrupt", f"impossible dimensions {width}x{height}")
    if width * height > max_pixels:
        raise MediaError(
            path,
            "too-many-pixels",
            f"{width}x{height} is {width * height} pixels, over the {max_pixels} limit "
            "(possible decompression bomb)",
        )
    fmt = img.format
    frames = int(getattr(img, "n_frames", 1) or 1)
    if frames > 1:
        img.seek(0)
        notes.append(f"animated ({frames} frames): first frame hashed")
    orientation = img.getexif().get(0x0112, 1)
    if (
        reduce_for_hashing
        and fmt == "JPEG"
        and min(width, height) >= 2 * DRAFT_MIN_SIDE
        and img.mode in ("RGB", "L", "YCbCr")
    ):
        img.draft("RGB", (DRAFT_MIN_SIDE, DRAFT_MIN_SIDE))
    img.load()
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    oriented = ImageOps.exif_transpose(img) if orientation not in (None, 1) else img
    rgb = _to_rgb(oriented, notes)
    return DecodedImage(rgb, width, height, fmt, frames, tuple(notes))
