"""Previews for reviewers: blurred and greyscale by default; the clear picture only on
request, one at a time, and every reveal is logged (who, when, which match).

A video match is shown by its keyframe at the matched moment (the start of its first
matched range), blurred the same way; a file found in a Telegram export by the file
(its locator's `#message=N` is where it was posted, not part of the path)."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageOps

from rempart.cases import media_rules
from rempart.cases.queue import split_ref
from rempart.cases.review import ReviewItem, get
from rempart.media.decode import decode_image, read_file_bytes
from rempart.media.errors import MediaError
from rempart.media.kinds import media_kind
from rempart.store import audit, media_store, review_copies
from rempart.store.db import Database
from rempart.store.repository import StoreError

PREVIEW_SIDE = review_copies.PREVIEW_SIDE


def blurred(image: Image.Image) -> Image.Image:
    """Greyscale, small, and blurred enough that nothing intimate can be made out, while the
    layout (a person, a room) stays visible for triage."""
    return review_copies.blurred(image)  # one rule, also for copies of a possible minor


def _picture(path: Path) -> Image.Image:
    data = read_file_bytes(path)
    return decode_image(data, path, reduce_for_hashing=False).image


def _keyframe(path: Path, at: float) -> Image.Image:
    """The video's frame at `at` seconds (one rule with the review copies' keyframe)."""
    return review_copies.keyframe(path, at)


def _review_copy(db: Database, ref: str) -> Image.Image | None:
    """The match's review copy (media that came as bytes: rempart.store.review_copies),
    decrypted with the media key; None when it has none."""
    kind, number = split_ref(ref)
    with db.session() as s:
        row = review_copies.of_ref(s, kind, number)
        if row is None:
            return None
        home, digest = review_copies.home_of(row), row.sha256
    data = media_store.load(home, digest)
    if data is None:
        raise OSError(f"its review copy {digest}.bin is missing")
    return Image.open(io.BytesIO(data))


def matched_moment(details: dict[str, object]) -> float:
    """Where in a video the match is: the start of its first matched range (0 if none)."""
    return review_copies.moment(details)


def show(db: Database, item: ReviewItem, out: Path, *, reveal: bool = False) -> None:
    """The preview of one match, for every front-end: blurred, or clear when asked and the
    rules allow it (media_rules.check_reveal: never a possible minor)."""
    write_preview(
        db, item.ref, item.file, item.case, out, reveal=reveal, at=matched_moment(item.details)
    )


def write_preview(
    db: Database,
    ref: str,
    locator: str,
    case: str | None,
    out: Path,
    *,
    reveal: bool = False,
    at: float = 0.0,
) -> None:
    if reveal:  # the rule is checked here too, on the match as stored now
        media_rules.check_reveal(get(db, ref))
    path = media_rules.file_of(locator)
    try:
        kept = _review_copy(db, ref)
        if kept is not None:
            picture = kept
        elif path.is_file() and media_kind(path) == "video":
            picture = _keyframe(path, at)
        else:
            picture = _picture(path)
    except (MediaError, OSError) as exc:
        raise StoreError(
            f"{ref}: no preview: {exc} (no review copy was kept for it: it was scanned "
            "before review copies, or could not be read again)"
        ) from exc
    if reveal:
        with db.session() as s:  # logged before anything is shown
            audit.record(s, "reveal", case=case, details={"match": ref, "file": locator})
        clear = ImageOps.grayscale(picture)
        clear.thumbnail((1024, 1024))
        clear.save(out)
    else:
        blurred(picture).save(out)
