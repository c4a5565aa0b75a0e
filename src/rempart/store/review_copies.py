"""Review copies: what a reviewer sees of a match whose media came as bytes.

Why: an archive member, a downloaded file or a Telegram export file inside an archive is
gone once the scan is over, so its match had no preview and no reveal. For the matched item
only (not every scanned file), the scan keeps a small greyscale copy (longest side
COPY_SIDE px; a video's frame at the matched moment), never the original bytes, encrypted
under the media key exactly as preserved media is (REMPART_HOME/evidence/<sha256>.bin,
AES-256-GCM, rempart.store.media_store's format, so backups and `rempart keys rotate
--media` cover it). One `ReviewCopy` row per match names the file.

The copy goes with its match's review: a rejection ('not-her') and a withdrawal delete the
rows and the files (`discard*` return the files, `unlink` removes those no row needs any
more). Whether it may be shown clear is decided elsewhere (rempart.cases.media_rules:
never a possible minor); this module only keeps, finds and deletes.

It lives in store/ because scans (below cases/) write it; the encryption, the key and the
files are rempart.store.media_store's (the same key file, mode check and file format).
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterable
from pathlib import Path

from PIL import Image, ImageFilter, ImageOps
from sqlalchemy import select
from sqlalchemy.orm import Session

from rempart.media.decode import decode_image
from rempart.media.errors import MediaError
from rempart.media.video import iter_sampled_frames
from rempart.store import media_store
from rempart.store.models import BankItem, FaceMatch, FaceTemplate, Match, ReviewCopy

COPY_SIDE = 512  # longest side of a review copy, in pixels
PREVIEW_SIDE = 320  # longest side of a blurred preview (rempart.cases.preview)


def keyframe(path: Path, at: float) -> Image.Image:
    """The video's frame at `at` seconds (the last one before, when it ends earlier)."""
    frame = None
    frames = iter_sampled_frames(path, seconds_per_frame=0.25)
    try:
        for _, ts, rgb in frames:
            frame = rgb
            if ts >= at:
                break
    finally:
        frames.close()
    if frame is None:
        raise MediaError(path, "corrupt", "no frame could be decoded")
    return Image.fromarray(frame)


def blurred(image: Image.Image) -> Image.Image:
    """Greyscale, small, and blurred enough that nothing intimate can be made out, while the
    layout (a person, a room) stays visible for triage (every blurred preview is this)."""
    small = ImageOps.grayscale(image)
    small.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    radius = max(6, max(small.size) // 18)
    return small.filter(ImageFilter.GaussianBlur(radius))


def small_grey(picture: Image.Image) -> Image.Image:
    """The review copy's picture: greyscale, longest side at most COPY_SIDE."""
    grey = ImageOps.grayscale(picture)
    grey.thumbnail((COPY_SIDE, COPY_SIDE))
    return grey


def picture_of(data: bytes, name: Path, *, video: bool, at: float = 0.0) -> Image.Image:
    """The picture a review copy is made from: the image, or the video's frame at `at`
    (bytes go to a private temporary file for the video decoder, deleted at once)."""
    if not video:
        return decode_image(data, name, reduce_for_hashing=False).image
    with tempfile.TemporaryDirectory(prefix="rempart-copy-") as folder:
        path = Path(folder) / f"media{name.suffix.lower()[:10]}"
        path.write_bytes(data)
        return keyframe(path, at)


def seal(home: Path, picture: Image.Image) -> tuple[Path, str]:
    """Encode the copy (PNG) and keep it encrypted like preserved media; returns its file
    and SHA-256."""
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    digest = media_store.preserve(home, buffer.getvalue())
    return media_store.stored_path(home, digest), digest


def keep(
    s: Session,
    home: Path,
    picture: Image.Image,
    *,
    match_id: int | None = None,
    face_match_id: int | None = None,
) -> ReviewCopy | None:
    """Keep the review copy of one match (once: None when it has one already)."""
    known = s.scalar(
        select(ReviewCopy).where(
            ReviewCopy.match_id == match_id
            if match_id is not None
            else ReviewCopy.face_match_id == face_match_id
        )
    )
    if known is not None:
        return None
    grey = small_grey(picture)
    path, digest = seal(home, grey)
    row = ReviewCopy(
        match_id=match_id,
        face_match_id=face_match_id,
        path=str(path),
        sha256=digest,
        width=grey.width,
        height=grey.height,
    )
    s.add(row)
    return row


def of_ref(s: Session, kind: str, number: int) -> ReviewCopy | None:
    """The review copy of match `m<number>` (kind 'm') or face match `f<number>`."""
    column = ReviewCopy.match_id if kind == "m" else ReviewCopy.face_match_id
    return s.scalar(select(ReviewCopy).where(column == number))


def _open(row: ReviewCopy) -> bytes:
    """The copy's PNG, decrypted with the media key (or the pending one, mid-rotation)."""
    keys = media_store.existing_keys(home_of(row))
    data = media_store.open_blob(keys, Path(row.path).read_bytes(), row.sha256)
    if data is None:
        raise OSError(f"{row.path}: the review copy does not decrypt (altered, or another key)")
    return data


def blur_kept(s: Session, kind: str, number: int) -> list[Path]:
    """A match flagged as possibly showing a minor (organisation not authorised): its copy
    is replaced by its blurred preview, so nothing clearer is kept; returns the old file
    (for `unlink` after the commit)."""
    row = of_ref(s, kind, number)
    if row is None:
        return []
    old = Path(row.path)
    picture = blurred(Image.open(io.BytesIO(_open(row))))
    path, digest = seal(home_of(row), picture)
    row.path, row.sha256 = str(path), digest
    row.width, row.height = picture.width, picture.height
    s.flush()
    return [old] if old != path else []


def home_of(row: ReviewCopy) -> Path:
    """The working folder a copy is kept in (REMPART_HOME/evidence/<sha256>.bin)."""
    return Path(row.path).parents[1]


def _drop(s: Session, rows: Iterable[ReviewCopy]) -> list[Path]:
    paths = []
    for row in rows:
        paths.append(Path(row.path))
        s.delete(row)
    s.flush()
    return paths


def discard(s: Session, kind: str, number: int) -> list[Path]:
    """Delete one match's copy row; returns its file (for `unlink` after the commit)."""
    row = of_ref(s, kind, number)
    return _drop(s, [row] if row is not None else [])


def discard_for_bank_items(s: Session, item_ids: Iterable[int]) -> list[Path]:
    """Delete the copies of every match of these bank entries (a withdrawal)."""
    ids = list(item_ids)
    if not ids:
        return []
    rows = s.scalars(
        select(ReviewCopy)
        .join(Match, ReviewCopy.match_id == Match.id)
        .where(Match.bank_item_id.in_(ids))
    ).all()
    return _drop(s, rows)


def discard_for_templates(s: Session, template_ids: Iterable[int]) -> list[Path]:
    """Delete the copies of every face match of these face templates (a withdrawal)."""
    ids = list(template_ids)
    if not ids:
        return []
    rows = s.scalars(
        select(ReviewCopy)
        .join(FaceMatch, ReviewCopy.face_match_id == FaceMatch.id)
        .where(FaceMatch.template_id.in_(ids))
    ).all()
    return _drop(s, rows)


def discard_for_case(s: Session, case_id: int) -> list[Path]:
    """Delete the copies of every match and face match of a case (a whole withdrawal)."""
    items = s.scalars(select(BankItem.id).where(BankItem.case_id == case_id)).all()
    templates = s.scalars(select(FaceTemplate.id).where(FaceTemplate.case_id == case_id)).all()
    return discard_for_bank_items(s, items) + discard_for_templates(s, templates)


def unlink(s: Session, paths: Iterable[Path]) -> int:
    """Delete the files of discarded copies that no other copy row still names (two matches
    of the same content share one file); returns how many went. Call after the commit."""
    gone = 0
    for path in set(paths):
        if s.scalar(select(ReviewCopy.id).where(ReviewCopy.path == str(path)).limit(1)):
            continue
        try:
            path.unlink()
            gone += 1
        except FileNotFoundError:
            pass
    return gone


def moment(details: dict[str, object] | None) -> float:
    """Where in a video a match is: the start of its first matched range (0 if none)."""
    ranges = (details or {}).get("query_ranges")
    try:
        return max(0.0, float(ranges[0][0]))  # type: ignore[index]
    except (TypeError, ValueError, IndexError, KeyError):
        return 0.0
