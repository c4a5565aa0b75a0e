"""Every hash of one image file, reading its bytes once: MD5, SHA-256 and PDQ."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rempart.media.decode import (
    DEFAULT_MAX_FILE_BYTES,
    DEFAULT_MAX_PIXELS,
    decode_image,
    read_file_bytes,
)
from rempart.signals.exact import digests
from rempart.signals.pdq import PdqHash, pdq_dihedral, pdq_hash


@dataclass(frozen=True)
class ImageHashes:
    md5: str
    sha256: str
    pdq: PdqHash
    width: int
    height: int
    format: str | None
    notes: tuple[str, ...]
    dihedral: tuple[tuple[str, PdqHash], ...] | None = None


def hash_image_bytes(
    data: bytes,
    path: Path | str,
    *,
    dihedral: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> ImageHashes:
    md5, sha256 = digests(data)
    decoded = decode_image(data, path, max_pixels=max_pixels)
    if dihedral:
        variants = tuple(pdq_dihedral(decoded.image))
        pdq = variants[0][1]
    else:
        variants, pdq = None, pdq_hash(decoded.image)
    return ImageHashes(
        md5, sha256, pdq, decoded.width, decoded.height, decoded.format, decoded.notes, variants
    )


def hash_image_file(
    path: Path,
    *,
    dihedral: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> ImageHashes:
    """Hash one file; MediaError (naming the file) when it cannot be used."""
    data = read_file_bytes(path, max_bytes=max_bytes)
    return hash_image_bytes(data, path, dihedral=dihedral, max_pixels=max_pixels)
