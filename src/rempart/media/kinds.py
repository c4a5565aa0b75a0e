"""Is a file an image, a video, or neither? By extension, else by its first bytes.

Animated GIFs are videos (every frame matters); a GIF of one frame is an image. Telegram's
round video messages are MP4 and its video stickers WebM, so both are videos here.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Literal

from PIL import Image

Kind = Literal["image", "video"]

# Containers handled as video (animated GIFs too, found by their content).
VIDEO_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".mp4",
        ".m4v",
        ".mov",
        ".webm",
        ".mkv",
        ".avi",
        ".3gp",
        ".mpg",
        ".mpeg",
        ".ts",
        ".wmv",
        ".flv",
    }
)

IMAGE_EXTENSIONS = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".png",
        ".gif",
        ".webp",
        ".bmp",
        ".tif",
        ".tiff",
        ".heic",
        ".heif",
        ".avif",
        ".ico",
        ".ppm",
        ".pgm",
        ".pbm",
        ".tga",
    }
)

_IMAGE_MAGIC = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
)
_IMAGE_BRANDS = (b"heic", b"heix", b"mif1", b"avif", b"msf1")  # ISO-BMFF still images
_EBML = b"\x1a\x45\xdf\xa3"  # Matroska and WebM


def read_head(path: Path, size: int = 16) -> bytes:
    """The first bytes of a file (empty when it cannot be read)."""
    try:
        with path.open("rb") as fh:
            return fh.read(size)
    except OSError:
        return b""


def sniff(head: bytes) -> Kind | None:
    """The kind of media whose file starts with these (at least 12) bytes."""
    if head.startswith(_IMAGE_MAGIC):
        return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image"
    if head[4:8] == b"ftyp":
        return "image" if head[8:12] in _IMAGE_BRANDS else "video"
    if head.startswith(_EBML) or head.startswith(b"FLV\x01"):
        return "video"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video"
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):  # MPEG program / elementary
        return "video"
    return None


def is_animated_gif(source: Path | bytes) -> bool:
    """A GIF (a file, or its bytes) with more than one frame (header parsing only; stops at
    the second frame)."""
    head = source[:6] if isinstance(source, bytes) else read_head(source, 6)
    if not head.startswith((b"GIF87a", b"GIF89a")):
        return False
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as im:
            return bool(getattr(im, "is_animated", False))
    except Exception:  # a broken GIF: the image decoder reports it properly
        return False


def media_kind(path: Path) -> Kind | None:
    """ "image", "video" or None (not media). Extension first, then the file's first bytes;
    GIFs are videos when animated."""
    suffix = path.suffix.lower()
    if suffix == ".gif" or (suffix not in IMAGE_EXTENSIONS and suffix not in VIDEO_EXTENSIONS):
        kind = sniff(read_head(path)) if suffix != ".gif" else "image"
        if kind == "image" and is_animated_gif(path):
            return "video"
        return kind
    return "video" if suffix in VIDEO_EXTENSIONS else "image"
