"""Every hash of one image file, reading its bytes once: MD5, SHA-256 and PDQ; with
`robust`, also the PDQ variants (crops, rotations, regions; or, for a found picture, inside
its borders and turned upright) and the local features (signals.pdq_variants,
signals.local_features)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from rempart.media.decode import (
    DEFAULT_MAX_FILE_BYTES,
    DEFAULT_MAX_PIXELS,
    decode_image,
    read_file_bytes,
)
from rempart.signals.exact import digests
from rempart.signals.local_features import Features, extract
from rempart.signals.pdq import PdqHash, pdq_dihedral, pdq_hash
from rempart.signals.pdq_variants import (
    MIN_SIDE,
    Variant,
    query_variants,
    stored_variants,
    too_small,
    work_copy,
)

NOT_ENOUGH_CONTENT = "not enough content for crop, region and local-feature matching"


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
    variants: tuple[Variant, ...] = ()
    features: Features | None = None
    # found pictures: the features of the mirror image too (keypoint descriptors are not
    # mirror-symmetric), so a mirrored and partly edited copy still shares them
    mirrored_features: Features | None = None


def robust_signals(
    image: Image.Image, side: str
) -> tuple[tuple[Variant, ...], Features | None, Features | None, tuple[str, ...]]:
    """Variants and local features of a picture for the `side` ("stored": a banked picture,
    "query": a found one), with a note when the picture has too little for them."""
    if too_small(image):
        return (), None, None, (f"{NOT_ENOUGH_CONTENT} (smaller than {MIN_SIDE} pixels)",)
    work = work_copy(image)  # reduced once, for every variant and the features
    variants = tuple(stored_variants(work) if side == "stored" else query_variants(work))
    grey = work.convert("L")  # once for both: the mirror image's grey is the grey's mirror
    features = extract(grey)
    mirrored = (
        extract(grey.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
        if side == "query" and features
        else None
    )
    notes: tuple[str, ...] = ()
    if not variants and features is None:
        notes = (f"{NOT_ENOUGH_CONTENT} (too little detail: flat, or mostly border)",)
    return variants, features, mirrored, notes


def hash_image_bytes(
    data: bytes,
    path: Path | str,
    *,
    dihedral: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    robust: str | None = None,
    full_decode: bool = False,
) -> ImageHashes:
    """`robust`: None, "stored" (what `rempart hash` keeps) or "query" (what a scan looks
    up). What a bank keeps (`full_decode`, or the stored side) is decoded at full size, as
    her browser decodes it on her hashing page (it has no reduced-size JPEG decoding), so
    both give the same hashes; scans decode large JPEGs at a reduced size (faster, a few
    bits of PDQ apart at most)."""
    md5, sha256 = digests(data)
    full = full_decode or robust == "stored"
    decoded = decode_image(data, path, max_pixels=max_pixels, reduce_for_hashing=not full)
    return hash_image(
        decoded.image,
        md5=md5,
        sha256=sha256,
        size=(decoded.width, decoded.height),
        fmt=decoded.format,
        notes=decoded.notes,
        dihedral=dihedral,
        robust=robust,
    )


def hash_image(
    image: Image.Image,
    *,
    md5: str = "",
    sha256: str = "",
    size: tuple[int, int] | None = None,
    fmt: str | None = None,
    notes: tuple[str, ...] = (),
    dihedral: bool = False,
    robust: str | None = None,
) -> ImageHashes:
    """The perceptual hashes of a decoded picture (the exact digests are the caller's)."""
    if dihedral:
        orientations = tuple(pdq_dihedral(image))
        pdq = orientations[0][1]
    else:
        orientations, pdq = None, pdq_hash(image)
    variants: tuple[Variant, ...] = ()
    features = mirrored = None
    if robust is not None:
        variants, features, mirrored, more = robust_signals(image, robust)
        notes = notes + more
    width, height = size or image.size
    return ImageHashes(
        md5,
        sha256,
        pdq,
        width,
        height,
        fmt,
        notes,
        orientations,
        variants,
        features,
        mirrored,
    )


def hash_image_file(
    path: Path,
    *,
    dihedral: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
    robust: str | None = None,
) -> ImageHashes:
    """Hash one file; MediaError (naming the file) when it cannot be used."""
    data = read_file_bytes(path, max_bytes=max_bytes)
    return hash_image_bytes(data, path, dihedral=dihedral, max_pixels=max_pixels, robust=robust)
